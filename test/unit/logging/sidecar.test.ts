// The logger's restart backoff: at once the first time, then 10 ms doubling per restart within the
// last second, never above a second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loggerRestartDelay } from '../../../src/logging/sidecar';

test('loggerRestartDelay', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 7, 8, 50].map(loggerRestartDelay), [0, 10, 20, 40, 80, 640, 1000, 1000]);
  assert.equal(loggerRestartDelay(-1), 0);
});
