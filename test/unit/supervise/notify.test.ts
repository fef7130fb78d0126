import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  execWithWatchdogPid, NotifyMessage, notifyEnv, NotifySocket, parseNotify, usecToMs,
} from '../../../src/supervise/notify';

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
