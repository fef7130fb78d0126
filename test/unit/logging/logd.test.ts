// `tsinit logd`'s own arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLogdArgs } from '../../../src/logging/logd';
import { UsageError } from '../../../src/values';

test('logd arguments: defaults, sizes, both option forms, and errors', () => {
  assert.deepEqual(parseLogdArgs(['/d']), { dir: '/d', maxBytes: 10 * 1024 * 1024, keep: 10, stderrFd: null, maxLine: 65536, stdout: null });
  assert.deepEqual(parseLogdArgs(['--max-bytes', '1M', '/d', '--keep=3', '--max-line', '4k']), {
    dir: '/d', maxBytes: 1024 * 1024, keep: 3, stderrFd: null, maxLine: 4096, stdout: null,
  });
  assert.equal(parseLogdArgs(['/d', '--stdout', 'json']).stdout, 'json');
  assert.equal(parseLogdArgs(['/d', '--stdout=raw']).stdout, 'raw');
  assert.equal(parseLogdArgs(['--stderr-fd', '2', '/d'].slice(2)).stderrFd, null);
  for (const bad of [[], ['a', 'b'], ['/d', '--keep'], ['/d', '--keep', '-1'], ['/d', '--max-bytes', '1k'], ['/d', '--frob', '1'],
    ['/d', '--stderr-fd', '2'], ['/d', '--stderr-fd', '999'], ['/d', '--stdout', 'xml']]) {
    assert.throws(() => parseLogdArgs(bad), UsageError, JSON.stringify(bad));
  }
});
