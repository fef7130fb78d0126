// --user USER[:GROUP]: the /etc/passwd and /etc/group parsers and the resolution of names and numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGroup, parsePasswd, resolveCredentials } from '../../../src/process/users';

test('users: names and numbers, the primary group, supplementary groups', () => {
  const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  const groups = parseGroup('root:x:0:\napp:x:1000:\nvideo:x:44:app,other\naudio:x:29:other\n');
  assert.deepEqual(resolveCredentials('app', passwd, groups), { uid: 1000, gid: 1000, groups: [1000, 44], name: 'app', home: '/home/app' });
  assert.deepEqual(resolveCredentials('1000:video', passwd, groups), { uid: 1000, gid: 44, groups: [44], name: 'app', home: '/home/app' });
  assert.deepEqual(resolveCredentials('4242:4243', passwd, groups), { uid: 4242, gid: 4243, groups: [4243] });
  assert.throws(() => resolveCredentials('nobody-here', passwd, groups), /unknown user/);
  assert.throws(() => resolveCredentials('app:nogroup', passwd, groups), /unknown group/);
  assert.throws(() => resolveCredentials('app:', passwd, groups), /invalid user/);
});
