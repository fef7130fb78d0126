// The health probes against real processes, process groups and HTTP servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthCmdProbe, HealthHttpProbe, parseHealthUrl } from '../../../src/supervise/probes';
import { withReaper } from '../../helpers/with-reaper';
import { listProcesses } from '../../../src/sys/proc';
const fdCount = () => readdirSync('/proc/self/fd').length;


function groupAlive(pgid: number): number[] {
  return listProcesses().filter((p) => p.pgrp === pgid && p.state !== 'Z').map((p) => p.pid);
}


/** Waits until `cond` holds, checking every 10 ms, failing after 10 s: SIGKILL is delivered asynchronously. */
async function eventually(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

test('HealthCmdProbe: exit 0 is success, exit 3 a failure with its output, 127 unknown', () =>
  withReaper(async (reaper) => {
    const probe = (cmd: string) => new HealthCmdProbe(cmd, { timeoutMs: 10_000, reaper }).run();
    assert.equal((await probe('true')).result, 'success');
    assert.deepEqual(await probe('echo "db down" >&2; exit 3'), { result: 'failure', detail: 'exit 3: db down' });
    const missing = await probe('/no/such/health-check');
    assert.equal(missing.result, 'unknown');
    assert.match(missing.detail ?? '', /could not run \(exit 127\).*not found/);
  }));

test('HealthCmdProbe: a timeout kills the whole process group and reaps it', () =>
  withReaper(async (reaper) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsinit-probe-'));
    const pidFile = join(dir, 'pgid');
    try {
      const probe = new HealthCmdProbe(`sleep 60 & echo $$ > ${pidFile}; sleep 60`, { timeoutMs: 300, reaper });
      const outcome = await probe.run();
      assert.equal(outcome.result, 'timeout');
      assert.match(outcome.detail ?? '', /no exit within 300ms/);
      const pgid = Number(readFileSync(pidFile, 'utf8'));
      // The group got SIGKILL: the leader is reaped; the background sleep dies as soon as the kernel
      // delivers the signal and is then reaped as an orphan.
      await eventually('the probe group is gone', () => groupAlive(pgid).length === 0);
      await eventually('every child of the test is reaped', () => {
        reaper.reap();
        return !listProcesses().some((p) => p.ppid === process.pid);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('HealthCmdProbe: a process the probe left in the background is killed after the probe exits', () =>
  withReaper(async (reaper) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsinit-probe-'));
    const pidFile = join(dir, 'bg');
    try {
      const outcome = await new HealthCmdProbe(`sleep 60 & echo $! > ${pidFile}`, { timeoutMs: 10_000, reaper }).run();
      assert.equal(outcome.result, 'success');
      const bg = Number(readFileSync(pidFile, 'utf8'));
      await eventually('the background sleep is gone', () => !listProcesses().some((p) => p.pid === bg && p.state !== 'Z'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('HealthCmdProbe: one in flight; a spawn failure (EMFILE) is unknown, not dead', () =>
  withReaper(async (reaper) => {
    const probe = new HealthCmdProbe('sleep 0.2', { timeoutMs: 10_000, reaper });
    const a = probe.run();
    const b = probe.run();
    assert.equal(a, b);
    assert.equal(probe.inFlight, true);
    await a;
    assert.equal(probe.inFlight, false);
    assert.equal(probe.runs, 1);
    // Use up every fd: the pipe for the next probe cannot be made.
    const held: number[] = [];
    let outcome;
    try {
      try {
        for (;;) held.push(openSync('/dev/null', 'r'));
      } catch {
        // EMFILE: the limit is reached
      }
      outcome = await new HealthCmdProbe('true', { timeoutMs: 10_000, reaper }).run();
    } finally {
      for (const fd of held) closeSync(fd);
    }
    assert.equal(outcome.result, 'unknown');
    assert.match(outcome.detail ?? '', /EMFILE/);
  }));

test('HealthCmdProbe: 200 probes leave the fd count unchanged', () =>
  withReaper(async (reaper) => {
    const probe = new HealthCmdProbe('echo ok', { timeoutMs: 10_000, reaper });
    await probe.run();
    const before = fdCount();
    for (let i = 0; i < 200; i++) assert.equal((await probe.run()).result, 'success');
    await new Promise((r) => setImmediate(r));
    assert.equal(fdCount(), before);
  }));

async function withServer(
  handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void,
  run: (url: string, server: Server) => Promise<void>,
): Promise<void> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    await run(`http://127.0.0.1:${port}/healthz`, server);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test('HealthHttpProbe: 200-399 healthy, 500 a failure; Connection: close, no agent', async () => {
  let status = 200;
  const seen: Array<string | undefined> = [];
  await withServer(
    (req, res) => {
      seen.push(req.headers.connection);
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end('body');
    },
    async (url) => {
      const probe = new HealthHttpProbe(url, { timeoutMs: 5000 });
      assert.deepEqual(await probe.run(), { result: 'success', detail: 'HTTP 200' });
      status = 302;
      assert.equal((await probe.run()).result, 'success');
      status = 503;
      assert.deepEqual(await probe.run(), { result: 'failure', detail: 'HTTP 503' });
    },
  );
  assert.deepEqual(seen, ['close', 'close', 'close']);
});

test('HealthHttpProbe: a server that hangs is a timeout; a closed port is a failure', async () => {
  await withServer(
    () => undefined, // never answers
    async (url) => {
      const outcome = await new HealthHttpProbe(url, { timeoutMs: 200 }).run();
      assert.deepEqual(outcome, { result: 'timeout', detail: 'no answer within 200ms' });
      // By name too: once the name has resolved, no answer is the service's.
      const byName = await new HealthHttpProbe(url.replace('127.0.0.1', 'localhost'), { timeoutMs: 200 }).run();
      assert.deepEqual(byName, { result: 'timeout', detail: 'no answer within 200ms' });
    },
  );
  // A port nobody listens on: take one, then close it.
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  assert.deepEqual(await new HealthHttpProbe(`http://127.0.0.1:${port}/`, { timeoutMs: 5000 }).run(), {
    result: 'failure',
    detail: 'ECONNREFUSED',
  });
});

test('HealthHttpProbe: a name that does not resolve (or whose lookup hangs) is unknown, not dead', async () => {
  const outcome = await new HealthHttpProbe('http://no-such-host.invalid/', { timeoutMs: 5000 }).run();
  assert.equal(outcome.result, 'unknown');
  assert.match(outcome.detail ?? '', /ENOTFOUND|EAI_AGAIN|looking up no-such-host.invalid/);
});

test('HealthHttpProbe: 300 probes, some against a hanging server, leave no fd and no socket behind', async () => {
  let hang = false;
  await withServer(
    (_req, res) => {
      if (!hang) res.end('ok');
    },
    async (url, server) => {
      // A generous timeout where the server answers (a loaded machine must not fail the test), a
      // short one where it never will (the outcome cannot depend on timing).
      const answered = new HealthHttpProbe(url, { timeoutMs: 10_000 });
      const hanging = new HealthHttpProbe(url, { timeoutMs: 50 });
      await answered.run();
      const before = fdCount();
      for (let i = 0; i < 300; i++) {
        hang = i % 10 === 9;
        const o = await (hang ? hanging : answered).run();
        assert.equal(o.result, hang ? 'timeout' : 'success');
      }
      await new Promise((r) => setImmediate(r));
      assert.equal(fdCount(), before);
      const open = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
      assert.ok(open <= 1, `server still holds ${open} connections`);
    },
  );
});

test('parseHealthUrl: http and https only', () => {
  assert.equal(parseHealthUrl('http://127.0.0.1:8080/healthz').port, '8080');
  assert.throws(() => parseHealthUrl('ftp://x/'), /http:\/\/ or https:\/\//);
  assert.throws(() => parseHealthUrl('127.0.0.1:8080'), /http:\/\/ or https:\/\/|invalid URL/);
});
