// The service unit with real processes: an incarnation, the restart loop and its limit, a stop, a
// restart on request, and the status snapshot along the way.
// Long sleeps here are 61 s, not 30: a black-box test counts every `sleep 30` on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, Options } from '../../../src/cli/options';
import type { TsinitEvent } from '../../../src/event-catalogue';
import type { EventLog } from '../../../src/events';
import { Reaper } from '../../../src/process/reaper';
import { Service, serviceConfig } from '../../../src/init/service';

const TERM = 15;
const USR1 = 10;

function unit(command: string[], o: Partial<Options> = {}) {
  const events: TsinitEvent[] = [];
  const reaper = new Reaper();
  reaper.start();
  const service = new Service(serviceConfig({ ...DEFAULTS, command, ...o }, TERM), {
    reaper,
    events: { emit: (e: TsinitEvent) => void events.push(e) } as unknown as EventLog,
    output: null,
    terminal: { fd: null, gaveTo: () => undefined, stopWithService: () => undefined },
    onFatal: (reason) => assert.fail(`unexpected fatal: ${reason}`),
  });
  const of = (type: string) => events.filter((e) => e.type === type) as Array<TsinitEvent & { pid: number }>;
  /** Waits (with its own deadline) until `n` incarnations have started; says what it saw if not. */
  const started = async (n: number) => {
    for (let i = 0; i < 2000 && of('started').length < n; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(of('started').length, n, `waited for ${n} starts, saw: ${events.map((e) => e.type).join(' ')}`);
    return of('started')[n - 1].pid;
  };
  return { service, events, of, started, done: () => reaper.stop() };
}

test('one incarnation: its status is the result; the snapshot follows it', async () => {
  const u = unit(['sleep', '61']);
  assert.equal(u.service.status().state, 'idle');
  const result = u.service.run();
  const pid = await u.started(1);
  const s = u.service.status();
  assert.equal(s.state, 'running');
  assert.equal(s.pid, pid);
  assert.ok(s.uptimeMs !== null && s.uptimeMs >= 0);
  u.service.kill('the test');
  assert.deepEqual(await result, { code: null, signal: 9 });
  assert.deepEqual(u.service.status(), {
    state: 'exited', pid: null, uptimeMs: null, restarts: 0, lastExit: { code: null, signal: 9 }, stopping: null,
  });
  assert.deepEqual(u.of('killing')[0], { type: 'killing', reason: 'the test', pids: [pid] });
  u.done();
});

test('the restart loop: on-failure restarts up to the limit, then gives up with the last status', async () => {
  const u = unit(['sh', '-c', 'exit 4'], {
    restart: 'on-failure', restartLimit: { count: 2, windowMs: 60_000 }, restartDelayMs: 1, restartDelayMaxMs: 1,
  });
  assert.deepEqual(await u.service.run(), { code: 4, signal: null });
  assert.equal(u.of('started').length, 3);
  assert.deepEqual(u.of('restart').map((e) => (e as Extract<TsinitEvent, { type: 'restart' }>).attempt), [1, 2]);
  assert.equal(u.of('restart-gave-up').length, 1);
  assert.equal(u.service.status().restarts, 2);
  u.done();
});

test('stop: the signal to the running incarnation, and no restart after it', async () => {
  const u = unit(['sleep', '61'], { restart: 'always', restartDelayMs: 1, restartDelayMaxMs: 1 });
  const result = u.service.run();
  const pid = await u.started(1);
  u.service.stop('received SIGTERM', TERM);
  assert.equal(u.service.status().state, 'stopping');
  assert.deepEqual(await result, { code: null, signal: TERM });
  assert.deepEqual(u.of('stopping')[0], { type: 'stopping', reason: 'received SIGTERM', signal: TERM, pid });
  assert.equal(u.of('started').length, 1);
  assert.equal(u.service.status().stopping, 'received SIGTERM');
  u.done();
});

test('restart on request: the stop signal now, the next incarnation at once, whatever the policy', async () => {
  const u = unit(['sleep', '61'], { restart: 'no' });
  const result = u.service.run();
  const first = await u.started(1);
  assert.equal(u.service.restart(), true);
  assert.equal(u.service.restart(), false, 'one restart at a time');
  const second = await u.started(2);
  assert.notEqual(second, first);
  assert.deepEqual(u.of('restart-asked')[0], { type: 'restart-asked', pid: first, signal: TERM });
  assert.equal(u.service.status().restarts, 1);
  u.service.stop('received SIGTERM', TERM);
  assert.deepEqual(await result, { code: null, signal: TERM });
  assert.equal(u.service.restart(), false, 'nothing to restart after the end');
  u.done();
});

test('forward: a signal reaches the incarnation and is reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-service-test-'));
  const mark = join(dir, 'usr1');
  // The service waits in `wait`, which a trapped signal interrupts at once.
  const u = unit(['sh', '-c', `trap 'echo got > ${mark}; exit 0' USR1; echo ready > ${dir}/ready; sleep 61 & wait`]);
  const result = u.service.run();
  const pid = await u.started(1);
  for (let i = 0; i < 2000; i++) {
    try {
      readFileSync(join(dir, 'ready'));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  u.service.forward(USR1, USR1);
  assert.deepEqual(await result, { code: 0, signal: null });
  assert.equal(readFileSync(mark, 'utf8'), 'got\n');
  assert.deepEqual(u.of('signal-forwarded')[0], { type: 'signal-forwarded', signal: USR1, as: USR1, pid, group: true });
  u.done();
});
