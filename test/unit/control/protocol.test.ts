// The request protocol: one line, one command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequest } from '../../../src/control/protocol';

test('requests: the four commands, and anything else refused with a reason', () => {
  assert.deepEqual(parseRequest('status\n'), { cmd: 'status' });
  assert.deepEqual(parseRequest(' restart '), { cmd: 'restart' });
  assert.deepEqual(parseRequest('stop'), { cmd: 'stop' });
  assert.deepEqual(parseRequest('signal HUP'), { cmd: 'signal', signal: 'HUP' });
  assert.match((parseRequest('signal') as { error: string }).error, /usage: signal SIG/);
  assert.match((parseRequest('rm -rf /') as { error: string }).error, /unknown request 'rm -rf \/'/);
  assert.match((parseRequest('') as { error: string }).error, /unknown request/);
});
