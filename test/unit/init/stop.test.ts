// The stop sequence on a fake clock, with a fake service, logger, terminal and tree: which step
// happens when, with which deadline, and which exit code comes out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stop, StopConfig } from '../../../src/init/stop';
import type { EventLog } from '../../../src/events';
import type { TsinitEvent } from '../../../src/event-catalogue';
import type { Reaper } from '../../../src/process/reaper';
import type { TerminateOptions } from '../../../src/process/tree';
import { FakeClock, settle } from '../../helpers/fake-clock';

const TERM = 15;

function world(cfg: Partial<StopConfig> = {}, o: { running?: boolean; logger?: boolean; loggerFailed?: boolean } = {}) {
  const clock = new FakeClock();
  const log: string[] = [];
  const events: TsinitEvent[] = [];
  let end!: () => void;
  const service = {
    isRunning: o.running ?? true,
    done: new Promise<void>((r) => (end = r)),
    current: () => ({ pid: 42 }),
    stop: (reason: string, sig: number) => log.push(`stop ${sig} ${reason} @${clock.now()}`),
    kill: (reason: string) => log.push(`kill ${reason} @${clock.now()}`),
  };
  const output = o.logger
    ? {
      pids: () => [7],
      closeInput: () => void log.push(`input closed @${clock.now()}`),
      drain: async () => void log.push(`drain @${clock.now()}`),
      failed: o.loggerFailed ?? false,
    }
    : null;
  const trees: TerminateOptions[] = [];
  const stop = new Stop(
    { killAfterMs: 5000, keepOrphans: false, stopSignal: TERM, ...cfg },
    {
      events: { emit: (e: TsinitEvent) => void events.push(e), close: () => log.push('events closed') } as unknown as EventLog,
      reaper: { reap: () => 0, reapedOrphans: 0 } as unknown as Reaper,
      service,
      output,
      terminal: { restore: () => log.push('terminal restored') },
      clock,
      terminateTree: async (t) => {
        trees.push(t);
        log.push(`tree killAt=${t.killAt} spare=${[...t.spare()].join(',')} @${clock.now()}`);
      },
    },
  );
  return { clock, log, events, stop, trees, exit: () => end() };
}

const service = (code: number | null, signal: number | null = null) => ({
  kind: 'service' as const, status: { code, signal }, remapToZero: new Set<number>(),
});

test('1-2: the stop signal now; the service ends before --kill-after, so it is never killed', async () => {
  const w = world();
  await w.clock.advance(100);
  w.stop.request('received SIGTERM', undefined, 3);
  assert.deepEqual(w.log, ['stop 3 received SIGTERM @100']);
  assert.equal(w.stop.requested?.at, 100);
  await w.clock.advance(4000);
  w.exit();
  await w.clock.advance(10_000);
  assert.deepEqual(w.log, ['stop 3 received SIGTERM @100']);
});

test('2: still running at --kill-after: SIGKILL then, saying why', async () => {
  const w = world();
  w.stop.request('received SIGTERM');
  await w.clock.advance(4999);
  assert.equal(w.log.length, 1);
  await w.clock.advance(1);
  assert.deepEqual(w.log, ['stop 15 received SIGTERM @0', 'kill still running 5000ms after the stop signal @5000']);
});

test('2: a second stop signal kills at once, and the later deadline kills no more', async () => {
  const w = world();
  w.stop.request('received SIGINT', undefined, 2);
  await w.clock.advance(300);
  w.stop.hurryUp('second SIGINT during the stop');
  await settle();
  assert.deepEqual(w.log, ['stop 2 received SIGINT @0', 'kill second SIGINT during the stop @300']);
  w.exit();
  await w.clock.advance(10_000);
  assert.equal(w.log.length, 2);
});

test('1: only the first request counts', async () => {
  const w = world();
  w.stop.request('timeout', 124);
  w.stop.request('received SIGTERM');
  assert.deepEqual(w.stop.requested, { reason: 'timeout', exitCode: 124, at: 0 });
  assert.equal(w.log.length, 1);
});

test('1: no incarnation running (start-up, restart delay): the unit is told, no deadline is armed', async () => {
  const w = world({}, { running: false });
  w.stop.request('received SIGTERM');
  await w.clock.advance(60_000);
  assert.deepEqual(w.log, ['stop 15 received SIGTERM @0']);
});

test('3-6: leftovers by the stop deadline, the logger drained, the terminal back, the exit code', async () => {
  const w = world({}, { logger: true });
  w.stop.request('received SIGTERM');
  await w.clock.advance(1200);
  w.exit();
  const code = await w.stop.finish(service(null, TERM));
  assert.equal(code, 143);
  assert.deepEqual(w.log, [
    'stop 15 received SIGTERM @0',
    // tsinit lets go of the log pipe first: the logger's EOF need not wait for the leftovers' stop
    'input closed @1200',
    // the leftovers get what is left of the stop's --kill-after, the logger is spared
    'tree killAt=5000 spare=7 @1200',
    'drain @1200',
    'terminal restored',
    // then the logger's own leftovers, a second
    'tree killAt=2200 spare= @1200',
    'events closed',
  ]);
  assert.deepEqual(w.events.at(-1), { type: 'exit', code: 143, reason: 'received SIGTERM' });
  assert.equal(w.trees[0].hurry?.aborted, false);
});

test('3: a service that ended by itself gives its leftovers a whole --kill-after; a second signal hurries them', async () => {
  const w = world();
  await w.clock.advance(700);
  const done = w.stop.finish(service(3));
  assert.equal(await done, 3);
  assert.equal(w.trees[0].killAt, 5700);
  assert.deepEqual(w.events.at(-1), { type: 'exit', code: 3, reason: 'service exited with 3' });
  w.stop.request('received SIGINT');
  w.stop.hurryUp('second SIGINT during the stop');
  assert.equal(w.trees[0].hurry?.aborted, true);
});

test('3, 5: --keep-orphans leaves the tree alone', async () => {
  const w = world({ keepOrphans: true });
  assert.equal(await w.stop.finish(service(0)), 0);
  assert.equal(w.trees.length, 0);
});

test('6: a logger that failed for good makes the run fail with 125', async () => {
  const w = world({}, { logger: true, loggerFailed: true });
  assert.equal(await w.stop.finish(service(0)), 125);
  assert.deepEqual(w.events.at(-1), { type: 'exit', code: 125, reason: 'the logger kept failing' });
});

test('--timeout: at the deadline a timeout event, a report, and a stop that exits 124', async () => {
  const w = world();
  w.stop.armTimeout(2000, 124);
  await w.clock.advance(1999);
  assert.equal(w.stop.requested, null);
  await w.clock.advance(1);
  assert.deepEqual(w.events[0], { type: 'timeout', afterMs: 2000, pid: 42 });
  assert.deepEqual(w.log, ['stop 15 timeout @2000']);
  w.exit();
  assert.equal(await w.stop.finish(service(null, TERM)), 124);
  assert.deepEqual(w.events.at(-1), { type: 'exit', code: 124, reason: 'timeout' });
});

test('--timeout never fires once the run is over', async () => {
  const w = world();
  w.stop.armTimeout(2000, 124);
  await w.stop.finish(service(0));
  await w.clock.advance(5000);
  assert.equal(w.stop.requested, null);
});

test('an internal error stops like a signal and waits at most --kill-after for the service', async () => {
  const w = world();
  let waited = false;
  const aborting = w.stop.abort().then(() => (waited = true));
  assert.deepEqual(w.stop.requested, { reason: 'internal error', exitCode: 125, at: 0 });
  await w.clock.advance(5000);
  assert.equal(w.log.at(-1), 'kill still running 5000ms after the stop signal @5000');
  assert.equal(waited, false);
  await w.clock.advance(100);
  await aborting;
  assert.equal(waited, true);
});

test('3-6 run once: an internal error\'s stop and the run\'s own end share one finish', async () => {
  const w = world({}, { logger: true });
  const first = w.stop.finish({ kind: 'failed', exitCode: 125, reason: 'internal error' });
  const second = w.stop.finish(service(0));
  assert.equal(await first, 125);
  assert.equal(await second, 125);
  assert.equal(w.log.filter((l) => l.startsWith('drain')).length, 1);
  assert.equal(w.events.filter((e) => e.type === 'exit').length, 1);
});
