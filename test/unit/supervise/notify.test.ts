import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  execWithWatchdogPid, makeOwnPrivateDirectory, notifyAccess, NotifyMessage, notifyEnv, NotifySocket, parseNotify, usecToMs,
} from '../../../src/supervise/notify';
import * as libc from '../../../src/sys/libc';

test('parseNotify: the assignments systemd defines', () => {
  const m = parseNotify(
    'READY=1\nSTATUS=Processing requests: 3\nMAINPID=4242\nWATCHDOG=1\nEXTEND_TIMEOUT_USEC=5000000\nWATCHDOG_USEC=30000000\nERRNO=2',
  );
  assert.deepEqual(m, {
    ready: true,
    reloading: false,
    stopping: false,
    watchdog: 'ping',
    extendTimeoutUsec: 5_000_000,
    watchdogUsec: 30_000_000,
    status: 'Processing requests: 3',
    errno: 2,
    // tsinit finds a daemon by observation and the pidfile (--daemon); MAINPID= is not acted upon
    ignored: ['MAINPID=4242'],
  });
});

test('parseNotify: STOPPING, RELOADING, trigger (which wins over a ping in the same datagram)', () => {
  const m = parseNotify(Buffer.from('WATCHDOG=trigger\nWATCHDOG=1\nSTOPPING=1\nRELOADING=1\n'));
  assert.equal(m.watchdog, 'trigger');
  assert.equal(m.stopping, true);
  assert.equal(m.reloading, true);
  assert.equal(m.ready, false);
});

test('parseNotify: invalid and unknown assignments are ignored, never half-applied', () => {
  const m = parseNotify('READY=0\nWATCHDOG=2\nMAINPID=abc\nMAINPID=0\nEXTEND_TIMEOUT_USEC=-1\nFDSTORE=1\ngarbage\n=x\n\n');
  assert.deepEqual(m, {
    ready: false,
    reloading: false,
    stopping: false,
    watchdog: null,
    ignored: ['READY=0', 'WATCHDOG=2', 'MAINPID=abc', 'MAINPID=0', 'EXTEND_TIMEOUT_USEC=-1', 'FDSTORE=1', 'garbage', '=x'],
  });
});

test('parseNotify: STATUS keeps "=" in its value; an empty datagram is nothing', () => {
  assert.equal(parseNotify('STATUS=a=b').status, 'a=b');
  assert.deepEqual(parseNotify(''), { ready: false, reloading: false, stopping: false, watchdog: null, ignored: [] });
});

test('usecToMs rounds up: a deadline is never shortened', () => {
  assert.equal(usecToMs(30_000_000), 30_000);
  assert.equal(usecToMs(1), 1);
  assert.equal(usecToMs(0), 0);
});

test('notifyEnv: NOTIFY_SOCKET always, WATCHDOG_USEC with a watchdog, WATCHDOG_PID only when known', () => {
  assert.deepEqual(notifyEnv({ socketPath: '/run/x' }), { NOTIFY_SOCKET: '/run/x' });
  assert.deepEqual(notifyEnv({ socketPath: '/run/x', watchdogMs: 1500 }), {
    NOTIFY_SOCKET: '/run/x',
    WATCHDOG_USEC: '1500000',
  });
  assert.deepEqual(notifyEnv({ socketPath: '/run/x', watchdogMs: 1500, watchdogPid: 7 }), {
    NOTIFY_SOCKET: '/run/x',
    WATCHDOG_USEC: '1500000',
    WATCHDOG_PID: '7',
  });
});

test('execWithWatchdogPid: the command runs with WATCHDOG_PID = its own pid, arguments intact', () => {
  const argv = execWithWatchdogPid(['/bin/sh', '-c', 'echo "$WATCHDOG_PID $$ $1|$2"', 'x', 'a b', '$HOME']);
  const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' }).trim();
  const m = /^(\d+) (\d+) a b\|\$HOME$/.exec(out);
  assert.ok(m, out);
  assert.equal(m[1], m[2]);
});

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

function withSocket(run: (sock: NotifySocket, got: NotifyMessage[], path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-notify-test-'));
  const path = join(dir, 'notify.sock');
  const got: NotifyMessage[] = [];
  const sock = NotifySocket.open(path, {
    onMessage: (m) => got.push(m),
    onUnknown: (r) => assert.fail(`unexpected unknown: ${r}`),
  }, { pollMs: 0 });
  try {
    run(sock, got, path);
  } finally {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Sends each message as one datagram to the socket at `path`, with util-linux's logger(1): its syslog
 * header comes first, on a line of its own, which the parser ignores like any line it does not know.
 */
function sendDatagrams(path: string, ...messages: string[]): void {
  for (const m of messages) execFileSync('logger', ['--socket', path, '--socket-errors=on', '--', `header\n${m}`]);
}

test('NotifySocket: real datagrams, as sd_notify sends them', () => {
  withSocket((sock, got, path) => {
    assert.equal(sock.poll(), 0, 'nothing waiting');
    sendDatagrams(path, 'READY=1\nSTATUS=up', 'WATCHDOG=1', 'WATCHDOG=trigger');
    // The datagrams are in the socket's queue once sendto has returned: no waiting needed.
    assert.equal(sock.poll(), 3);
    assert.deepEqual(got.map((m) => [m.ready, m.status, m.watchdog]), [
      [true, 'up', null],
      [false, undefined, 'ping'],
      [false, undefined, 'trigger'],
    ]);
  });
});

test('NotifySocket: the kernel gives each sender\'s credentials to accept(); a refused datagram is never applied', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-notify-test-'));
  const path = join(dir, 'notify.sock');
  const got: NotifyMessage[] = [];
  const senders: Array<libc.PeerCredentials | null> = [];
  const refused: string[] = [];
  let allow = true;
  const sock = NotifySocket.open(path, {
    onMessage: (m) => got.push(m),
    onUnknown: (r) => assert.fail(r),
    onRefused: (r) => refused.push(r),
  }, { pollMs: 0, accept: (s) => (senders.push(s), allow ? null : 'not you') });
  try {
    libc.sendDatagram(path, Buffer.from('READY=1'));
    allow = true;
    sock.poll();
    allow = false;
    libc.sendDatagram(path, Buffer.from('WATCHDOG=trigger'));
    sock.poll();
    assert.deepEqual(senders, [
      { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() },
      { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() },
    ]);
    assert.equal(got.length, 1);
    assert.deepEqual(refused, ['not you']);
    assert.equal(sock.refused, 1);
  } finally {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notifyAccess: the service\'s tree as its uid or root; everyone else refused, with the reason', () => {
  // pid -> [ppid, pgrp]: 1 tsinit; 10 the service (group 10); 11 its child; 12 a grandchild in a group of
  // its own; 20 a process of the same group reparented to tsinit; 30 an unrelated process.
  const table: Record<number, [number, number]> = { 1: [0, 1], 10: [1, 10], 11: [10, 10], 12: [11, 12], 20: [1, 10], 30: [1, 30] };
  const proc = (pid: number) => (table[pid] ? { ppid: table[pid][0], pgrp: table[pid][1] } : null);
  const service = { pid: 10, uid: 65534 };
  const from = (pid: number, uid = 65534) => notifyAccess({ pid, uid, gid: uid }, service, proc);
  assert.equal(from(10), null);
  assert.equal(from(11), null);
  assert.equal(from(12), null, 'a descendant in a group of its own');
  assert.equal(from(20), null, 'a member of the service\'s process group');
  assert.equal(from(12, 0), null, 'root within the tree');
  assert.equal(from(30), 'sender pid 30 is not a process of the service (pid 10)');
  assert.equal(from(11, 1000), "sender pid 11 runs as uid 1000, not the service's uid 65534");
  assert.equal(from(99), 'sender pid 99 exited before tsinit could check it');
  assert.equal(from(0), "the sender is outside tsinit's PID namespace");
  assert.equal(notifyAccess(null, service, proc), 'the kernel attached no sender credentials');
});

test('NotifySocket: the socket file is private to the service (0600)', () => {
  withSocket((_sock, _got, path) => {
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });
});

test('NotifySocket: close() closes the fd and removes the socket; no fd leaks over many sockets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-notify-test-'));
  const path = join(dir, 'n.sock');
  const before = fdCount();
  for (let i = 0; i < 50; i++) {
    const s = NotifySocket.open(path, { onMessage: () => undefined, onUnknown: () => undefined }, { pollMs: 0 });
    s.close();
    s.close(); // idempotent
  }
  assert.equal(fdCount(), before);
  assert.equal(existsSync(path), false);
  rmSync(dir, { recursive: true, force: true });
});

test('NotifySocket: a stale socket at the path is replaced; a regular file there is never removed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-notify-test-'));
  const path = join(dir, 'n.sock');
  const first = NotifySocket.open(path, { onMessage: () => undefined, onUnknown: () => undefined }, { pollMs: 0 });
  // first's socket file is still there, as a killed tsinit would leave it.
  const second = NotifySocket.open(path, { onMessage: () => undefined, onUnknown: () => undefined }, { pollMs: 0 });
  first.close();
  second.close();
  const file = join(dir, 'file');
  writeFileSync(file, 'precious');
  assert.throws(() => NotifySocket.open(file, { onMessage: () => undefined, onUnknown: () => undefined }, { pollMs: 0 }), /EADDRINUSE/);
  assert.equal(existsSync(file), true);
  rmSync(dir, { recursive: true, force: true });
});

test('NotifySocket: polls by itself with a timer (unref: it never keeps tsinit alive)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-notify-test-'));
  const path = join(dir, 'n.sock');
  let resolve!: (m: NotifyMessage) => void;
  const first = new Promise<NotifyMessage>((r) => (resolve = r));
  const sock = NotifySocket.open(path, { onMessage: (m) => resolve(m), onUnknown: () => undefined }, { pollMs: 10 });
  // Keep the test's event loop alive until the message arrives (the socket's own timer does not).
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    sendDatagrams(path, 'READY=1');
    assert.equal((await first).ready, true);
  } finally {
    clearInterval(keepAlive);
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('makeOwnPrivateDirectory: only a real directory of tsinit\'s uid that no one else can write; set to 0711', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-notify-test-'));
  try {
    const own = join(dir, 'own');
    mkdirSync(own, { mode: 0o700 });
    assert.equal(makeOwnPrivateDirectory(own), true);
    assert.equal(statSync(own).mode & 0o7777, 0o711);
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.equal(makeOwnPrivateDirectory(open), false, 'writable by others');
    symlinkSync(own, join(dir, 'link'));
    assert.equal(makeOwnPrivateDirectory(join(dir, 'link')), false, 'a link');
    if (process.getuid!() === 0) {
      const theirs = join(dir, 'theirs');
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, 65534, 65534);
      assert.equal(makeOwnPrivateDirectory(theirs), false, 'another uid\'s');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
