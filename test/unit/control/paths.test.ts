// Where the control socket lives: the server's one (PID 1 only by default) and the ones a client tries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientSockets, serverSocket } from '../../../src/control/paths';

test('socket paths: PID 1 only by default; root in /run, others in XDG_RUNTIME_DIR or /tmp; off; explicit', () => {
  assert.deepEqual(serverSocket(undefined, { uid: 0, pid1: true, env: {} }), { path: '/run/tsinit/control.sock', isDefault: true });
  assert.equal(serverSocket(undefined, { uid: 0, pid1: false, env: {} }), null, 'nested: never takes the default');
  assert.deepEqual(serverSocket(undefined, { uid: 1000, pid1: true, env: { XDG_RUNTIME_DIR: '/run/user/1000' } }), { path: '/run/user/1000/tsinit/control.sock', isDefault: true });
  assert.deepEqual(serverSocket(undefined, { uid: 1000, pid1: true, env: {} }), { path: '/tmp/tsinit-1000/control.sock', isDefault: true });
  assert.equal(serverSocket(false, { uid: 0, pid1: true, env: {} }), null);
  assert.deepEqual(serverSocket('/x/s', { uid: 0, pid1: false, env: {} }), { path: '/x/s', isDefault: false });
  assert.deepEqual(clientSockets(undefined, { uid: 0, pid1: false, env: {} }), ['/run/tsinit/control.sock']);
  assert.deepEqual(clientSockets(undefined, { uid: 0, pid1: false, env: { TSINIT_CONTROL_SOCKET: '/y' } }), ['/y']);
  assert.deepEqual(clientSockets('/z', { uid: 0, pid1: false, env: { TSINIT_CONTROL_SOCKET: '/y' } }), ['/z']);
  assert.deepEqual(clientSockets(undefined, { uid: 5, pid1: false, env: { XDG_RUNTIME_DIR: '/r' } }), ['/r/tsinit/control.sock', '/tmp/tsinit-5/control.sock']);
});
