// The child's argv and environment as bytes (pure parts of process/environment.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childEnvironment, rawCommand, splitNul, userVariables } from '../../../src/process/environment';

const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));
const text = (list: Buffer[]) => list.map((x) => x.toString('latin1'));

test('splitNul: entries of /proc/self/environ, with or without a final NUL', () => {
  assert.deepEqual(text(splitNul(b('A=1\0B=2\0'))), ['A=1', 'B=2']);
  assert.deepEqual(text(splitNul(b('A=1\0B='))), ['A=1', 'B=']);
  assert.deepEqual(splitNul(b('')), []);
});

test('childEnvironment: TSINIT_* go, the rest stays byte for byte and in order', () => {
  const env = [b('PATH=/bin'), b('TSINIT_KILL_AFTER=3s'), b([0x56, 0x3d, 0xff, 0x80]), b('a.b=dotted'), b('noequals'), b('TSINIT_WATCHDOG_FD=5')];
  assert.deepEqual(childEnvironment(env), [b('PATH=/bin'), b([0x56, 0x3d, 0xff, 0x80]), b('a.b=dotted'), b('noequals')]);
});

test('childEnvironment: the shim\'s saved NODE_OPTIONS becomes NODE_OPTIONS again, empty or not', () => {
  assert.deepEqual(text(childEnvironment([b('X=1'), b('TSINIT_SHIM_NODE_OPTIONS=--require x')])), ['X=1', 'NODE_OPTIONS=--require x']);
  assert.deepEqual(text(childEnvironment([b('TSINIT_SHIM_NODE_OPTIONS=')])), ['NODE_OPTIONS=']);
  // without the shim (node dist/tsinit.js), NODE_OPTIONS is simply inherited
  assert.deepEqual(text(childEnvironment([b('NODE_OPTIONS=--x')])), ['NODE_OPTIONS=--x']);
});

test('childEnvironment: options set variables in place or at the end, null removes', () => {
  const env = [b('HOME=/root'), b('USER=root'), b('PATH=/bin'), b('HOME=/dup')];
  assert.deepEqual(
    text(childEnvironment(env, { HOME: '/var/lib/postgresql', USER: null, NOTIFY_SOCKET: '/run/n.sock' })),
    ['HOME=/var/lib/postgresql', 'PATH=/bin', 'NOTIFY_SOCKET=/run/n.sock'],
  );
  // an option's TSINIT_ variable is given even though inherited ones are not
  assert.deepEqual(text(childEnvironment([b('TSINIT_WATCHDOG_FD=9')], { TSINIT_WATCHDOG_FD: '3' })), ['TSINIT_WATCHDOG_FD=3']);
});

test('rawCommand: the tail of the raw argv when it is the command, else the strings', () => {
  const raw = [b('node'), b('--inspect-port=x'), b('/bin/tsinit'), b('-v'), b('--'), b('sh'), b([0xff, 0x41])];
  assert.deepEqual(rawCommand(['sh', '\ufffdA'], raw), [b('sh'), b([0xff, 0x41])]);
  assert.deepEqual(text(rawCommand(['echo', 'x'], raw)), ['echo', 'x']);
  assert.deepEqual(text(rawCommand(['a'], [])), ['a']);
});

test('userVariables: from the passwd entry; a bare uid gets HOME=/ and no name', () => {
  assert.deepEqual(userVariables({ name: 'postgres', home: '/var/lib/postgresql' }), { HOME: '/var/lib/postgresql', USER: 'postgres', LOGNAME: 'postgres' });
  assert.deepEqual(userVariables({}), { HOME: '/', USER: null, LOGNAME: null });
  assert.deepEqual(userVariables(undefined), {});
});
