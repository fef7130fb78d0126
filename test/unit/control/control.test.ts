// tsinit's side of the control socket, on a real socket in a temporary directory, with a fake
// service unit, signal dispatch and stop: each command becomes its call, its answer is what that
// call made tsinit say, and a stop under way refuses all but signals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Commanded, Control, statusConfig } from '../../../src/control/control';
import type { Response } from '../../../src/control/protocol';
import type { UnitStatus } from '../../../src/control/status';
import { DEFAULTS, Options } from '../../../src/cli/options';
import { EventLog } from '../../../src/events';

const SIGHUP = 1;
const opts = (o: Partial<Options> = {}): Options => ({ ...DEFAULTS, command: ['app', '--flag'], ...o });
const running: UnitStatus = { state: 'running', pid: 42, uptimeMs: 1000, restarts: 0, lastExit: null, stopping: null };

function ask(path: string, line: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    let text = '';
    const sock = net.connect({ path }, () => sock.write(`${line}\n`));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('end', () => resolve(JSON.parse(text) as Response));
    sock.on('error', reject);
  });
}

/** A Control listening in a fresh directory; `unit` is what the service unit says of itself. */
async function world(t: { after(fn: () => void): void }, unit: () => UnitStatus) {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-control-'));
  const path = join(dir, 'control.sock');
  const events = new EventLog(false);
  const calls: string[] = [];
  let restartable = true;
  const commanded: Commanded = {
    service: {
      restart: () => {
        calls.push('restart');
        if (restartable) events.emit({ type: 'restart-asked', pid: 42, signal: 15 });
        return restartable;
      },
    },
    signals: {
      receive: (sig) => {
        calls.push(`signal ${sig}`);
        if (sig === SIGHUP) events.emit({ type: 'signal-forwarded', signal: sig, as: sig, pid: 42, group: true });
      },
    },
    stop: { request: (reason) => void calls.push(`stop: ${reason}`) },
  };
  const control = new Control(opts({ controlSocket: path }), events, unit);
  const listening = new Promise<void>((resolve) => events.subscribe((e) => e.type === 'control-listening' && resolve()));
  control.listen(commanded);
  await listening;
  t.after(() => {
    control.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, calls, control, refuseRestart: () => (restartable = false) };
}

test('statusConfig: the command, readiness, the probe and the logger, from the options', () => {
  assert.deepEqual(statusConfig(opts()), {
    command: 'app --flag', readiness: false, probe: null, probeThreshold: DEFAULTS.healthFailures, watchdogMs: null, logger: 'none',
  });
  const probed = statusConfig(opts({ healthHttp: 'http://127.0.0.1/', logDir: '/l', watchdogMs: 500 }));
  assert.deepEqual([probed.readiness, probed.probe, probed.watchdogMs, probed.logger], [true, 'health-http', 500, 'logd']);
  assert.equal(statusConfig(opts({ notify: true, logger: 'cat' })).readiness, true);
  assert.equal(statusConfig(opts({ logger: 'cat' })).logger, 'command');
});

test('each command becomes its call, and answers with what it made tsinit say', async (t) => {
  const w = await world(t, () => running);
  assert.deepEqual(await ask(w.path, 'restart'), { ok: true, message: 'restarting service (pid 42) as asked; sending SIGTERM' });
  assert.deepEqual(await ask(w.path, 'signal HUP'), { ok: true, message: 'forwarded SIGHUP to process group 42' });
  assert.deepEqual(await ask(w.path, 'stop'), { ok: true, message: 'stop: nothing to do (the service is running)' });
  assert.deepEqual(w.calls, ['restart', `signal ${SIGHUP}`, 'stop: stop asked through the control socket']);
  const status = await ask(w.path, 'status');
  assert.equal(status.status?.service.pid, 42);
  assert.equal(status.status?.tsinit.controlSocket, w.path);
});

test('a restart with nothing running is refused, and says why', async (t) => {
  const w = await world(t, () => running);
  w.refuseRestart();
  assert.deepEqual(await ask(w.path, 'restart'), { ok: false, message: 'the service is not running' });
});

test('during a stop only signals are carried out; restart and stop are refused with the stop\'s reason', async (t) => {
  const w = await world(t, () => ({ ...running, state: 'stopping', stopping: 'received SIGTERM' }));
  assert.deepEqual(await ask(w.path, 'restart'), { ok: false, message: 'tsinit is stopping (received SIGTERM)' });
  assert.deepEqual(await ask(w.path, 'stop'), { ok: false, message: 'tsinit is stopping (received SIGTERM)' });
  assert.equal((await ask(w.path, 'signal HUP')).ok, true);
  assert.deepEqual(w.calls, [`signal ${SIGHUP}`]);
});

test('--control-socket off: nothing listens, and status says there is no socket', () => {
  const control = new Control(opts({ controlSocket: false }), new EventLog(false), () => running);
  control.listen({ service: { restart: () => true }, signals: { receive: () => undefined }, stop: { request: () => undefined } });
  assert.equal(control.status().tsinit.controlSocket, null);
  control.close();
});
