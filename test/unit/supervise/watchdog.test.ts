// The watchdog's decisions on a fake clock: `t` is the only time there is, advanced by the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOGGING, ProbeConfig, recommendedTickMs, Watchdog, WatchdogConfig } from '../../../src/supervise/watchdog';
import { WatchdogEvent } from '../../../src/event-catalogue';

const TICK = 100;

class Harness {
  t = 0;
  events: Array<WatchdogEvent & { at: number }> = [];
  readonly w: Watchdog;
  constructor(cfg: Partial<WatchdogConfig> = {}) {
    this.w = new Watchdog({
      periodMs: 1000,
      startTimeoutMs: 5000,
      tickMs: TICK,
      maxKills: { count: 100, windowMs: 3_600_000 },
      ...cfg,
    });
    this.w.start(this.t);
  }
  /** Ticks every TICK ms up to and including `until`, as setInterval would. */
  runUntil(until: number, each?: (t: number) => void): void {
    while (this.t + TICK <= until) {
      this.t += TICK;
      each?.(this.t);
      this.tick();
    }
  }
  tick(): WatchdogEvent[] {
    const out = this.w.tick(this.t);
    for (const e of out) this.events.push({ ...e, at: this.t });
    return out;
  }
  /** tsinit does not run for `ms`: no tick, no input. */
  stall(ms: number): void {
    this.t += ms;
  }
  of(type: WatchdogEvent['type']) {
    return this.events.filter((e) => e.type === type);
  }
  kills() {
    return this.events.filter((e) => e.type === 'kill') as Array<Extract<WatchdogEvent, { type: 'kill' }> & { at: number }>;
  }
}

test('start phase: no READY=1 and no heartbeat within the start timeout -> kill (start-timeout)', () => {
  const h = new Harness();
  h.runUntil(4900);
  assert.equal(h.kills().length, 0);
  h.runUntil(5000);
  const [k] = h.kills();
  assert.equal(k.cause, 'start-timeout');
  assert.equal(k.at, 5000);
  assert.equal(k.silentMs, 5000);
  assert.equal(k.lastBeatAt, null);
  assert.equal(h.w.phase, 'killed');
});

test('without a start timeout, the start phase waits as long as it takes', () => {
  const h = new Harness({ startTimeoutMs: 0 });
  h.runUntil(100_000);
  assert.equal(h.events.length, 0);
});

test('the first heartbeat marks the service started; the period counts from each heartbeat', () => {
  const h = new Harness();
  h.runUntil(2500, (t) => {
    if (t === 2000) h.w.beat(t, 'fd');
  });
  assert.deepEqual(h.of('started'), [{ type: 'started', via: 'fd', afterMs: 2000, at: 2000 }]);
  assert.equal(h.w.phase, 'running');
  // beats every 500 ms until 6000, then silence
  h.runUntil(10_000, (t) => {
    if (t <= 6000 && t % 500 === 0) h.w.beat(t, 'fd');
  });
  const kills = h.kills();
  assert.equal(kills.length, 1);
  assert.equal(kills[0].cause, 'no-heartbeat');
  assert.equal(kills[0].at, 7000); // last beat 6000 + period 1000, seen by the tick at 7000
  assert.equal(kills[0].silentMs, 1000);
  assert.equal(kills[0].lastBeatAt, 6000);
  assert.equal(kills[0].source, 'fd');
});

test('READY=1 marks the service started and arms the heartbeat deadline', () => {
  const h = new Harness();
  h.runUntil(300, (t) => t === 300 && h.w.ready(t));
  assert.deepEqual(h.of('started').map((e) => e.type === 'started' && e.via), ['notify']);
  h.runUntil(1300);
  assert.equal(h.kills()[0].at, 1300);
});

test('a healthy service beating at half the period is never killed', () => {
  const h = new Harness();
  h.runUntil(60_000, (t) => t % 500 === 0 && h.w.beat(t, 'notify'));
  assert.equal(h.kills().length, 0);
});

test('self-stall: tsinit stopped for 3x the period; beats queued meanwhile are read after the first tick -> no kill', () => {
  const h = new Harness();
  h.runUntil(2000, (t) => t % 500 === 0 && h.w.beat(t, 'fd'));
  // Stopped at 2050, 950 ms before the deadline of 3000; resumed 3 periods later.
  h.t = 2050;
  h.stall(3000);
  // After SIGCONT Node runs its overdue timer first: the tick comes before the queued beats are read.
  h.tick();
  assert.equal(h.kills().length, 0);
  const [stall] = h.of('stall');
  assert.ok(stall.type === 'stall' && stall.stalledMs === 2950, JSON.stringify(stall));
  // Then the poll phase reads what the service wrote while tsinit was stopped.
  h.w.beat(h.t + 1, 'fd');
  let n = 0;
  h.runUntil(20_000, (t) => ++n % 5 === 0 && h.w.beat(t, 'fd'));
  assert.equal(h.kills().length, 0);
});

test('self-stall right before the deadline: the service still gets the resume grace', () => {
  const h = new Harness({ resumeGraceMs: 1000 });
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'fd'));
  h.runUntil(1900); // deadline 2000, 100 ms of watching left
  h.stall(10_000); // tick at 11900, late by 9900: the deadline moves to 11900, the grace keeps it at 12900
  h.tick();
  assert.equal(h.w.deadline, 12_900);
  h.runUntil(12_800);
  assert.equal(h.kills().length, 0);
  h.w.beat(12_850, 'fd');
  h.runUntil(13_500);
  assert.equal(h.kills().length, 0);
});

test('a service that really died during a stall is still killed after it, late by the stall only', () => {
  const h = new Harness({ periodMs: 3000 });
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'fd'));
  h.runUntil(1500); // deadline 4000; 2500 ms of watching left
  h.stall(5000); // the next tick comes at 6600 instead of 1600: late by 5000
  h.runUntil(20_000);
  const [k] = h.kills();
  assert.equal(k.at, 9000); // 4000 + 5000
  assert.equal(k.silentMs, 8000);
});

test('small timer jitter is ignored; a stall under stallReportMs moves the deadline silently', () => {
  const h = new Harness({ resumeGraceMs: 100 });
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'fd'));
  h.t += TICK + 30; // 30 ms late: jitter
  h.tick();
  assert.equal(h.w.deadline, 2000);
  h.t += TICK + 400; // 400 ms late: moved, not reported
  h.tick();
  assert.equal(h.w.deadline, 2400);
  assert.equal(h.of('stall').length, 0);
});

test('unknown never counts as dead: reported once per cause, a miss is "cannot tell", no kill', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'fd'));
  h.runUntil(5000, (t) => t % 300 === 0 && h.w.unknown(t, 'fd', 'read: EIO'));
  assert.equal(h.kills().length, 0);
  assert.deepEqual(
    h.of('unknown').map((e) => e.type === 'unknown' && `${e.source}: ${e.reason}`),
    ['fd: read: EIO'],
  );
  const tell = h.of('cannot-tell');
  assert.ok(tell.length >= 3, `one per period of silence, got ${tell.length}`);
  assert.ok(tell[0].type === 'cannot-tell' && tell[0].cause === 'no-heartbeat' && tell[0].at === 2000);
  // A different cause is reported again.
  h.w.unknown(h.t, 'fd', 'read: EMFILE');
  assert.equal(h.tick().filter((e) => e.type === 'unknown').length, 1);
});

test('a checker that recovers says so; a later real silence is a kill again', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'fd'));
  h.w.unknown(1100, 'file', 'stat: EACCES');
  h.runUntil(1500);
  h.w.sourceOk(1500, 'file');
  h.runUntil(1600);
  const [r] = h.of('recovered');
  assert.ok(r.type === 'recovered' && r.source === 'file' && r.failures === 1 && r.afterMs === 400);
  // The failure at 1100 is over: the deadline at 2000 is a real miss.
  h.runUntil(3000);
  assert.equal(h.kills()[0].at, 2000);
});

test('an old checker failure, before the last heartbeat, does not protect a hung service', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'notify'));
  h.w.unknown(1050, 'file', 'stat: EIO');
  h.runUntil(1500, (t) => t === 1500 && h.w.beat(t, 'notify'));
  h.runUntil(5000);
  assert.equal(h.kills()[0].at, 2500);
});

test('EXTEND_TIMEOUT_USEC extends the start timeout and the heartbeat deadline, never shortens them', () => {
  const h = new Harness();
  h.runUntil(4000, (t) => t === 4000 && h.w.extend(t, 3000));
  h.runUntil(6900);
  assert.equal(h.kills().length, 0);
  h.w.extend(6900, 10); // shorter than what is left: no effect
  h.runUntil(7000);
  assert.equal(h.kills()[0].cause, 'start-timeout');
  assert.equal(h.kills()[0].at, 7000);

  const g = new Harness();
  g.runUntil(1000, (t) => t === 1000 && g.w.beat(t, 'notify'));
  g.w.extend(1500, 5000);
  g.runUntil(6400);
  assert.equal(g.kills().length, 0);
  g.runUntil(6500);
  assert.equal(g.kills()[0].at, 6500);
});

test('WATCHDOG=trigger: killed at the next tick, even while heartbeats flow', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t % 200 === 0 && h.w.beat(t, 'notify'));
  h.w.trigger(1050);
  h.w.beat(1060, 'notify');
  h.runUntil(1100);
  assert.equal(h.kills().length, 1);
  assert.equal(h.kills()[0].cause, 'trigger');
  assert.equal(h.kills()[0].at, 1100);
});

test('WATCHDOG_USEC= changes the period at runtime; 0 turns the deadline off', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'notify'));
  h.w.setPeriod(1000, 3000);
  h.runUntil(3900);
  assert.equal(h.kills().length, 0);
  h.w.setPeriod(3900, 0);
  h.runUntil(50_000);
  assert.equal(h.kills().length, 0);
});

test('a WATCHDOG_USEC= override ends with its incarnation', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'notify'));
  h.w.setPeriod(1000, 0);
  h.runUntil(5000);
  assert.equal(h.kills().length, 0);
  h.w.stop();
  h.w.start(h.t);
  h.w.beat(h.t, 'notify');
  h.runUntil(h.t + 1000);
  assert.equal(h.kills().length, 1);
});

test('no stall is seen while nothing is watched (the caller may stop ticking between incarnations)', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'fd'));
  h.w.stop();
  h.t += 60_000; // a long restart backoff without ticks
  h.w.beat(h.t, 'fd'); // a late write of the old incarnation
  h.tick();
  h.w.start(h.t);
  h.runUntil(h.t + 500);
  assert.equal(h.of('stall').length, 0);
});

test('STOPPING=1: the watchdog stands down; stop() and a new start() re-arm it', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'notify'));
  h.w.stopping(1000);
  h.runUntil(20_000);
  assert.equal(h.kills().length, 0);
  h.w.stop();
  h.w.start(h.t);
  h.runUntil(h.t + 5000);
  assert.equal(h.kills().length, 1);
});

test('after a kill nothing more happens until the next start', () => {
  const h = new Harness();
  h.runUntil(1000, (t) => t === 1000 && h.w.beat(t, 'fd'));
  h.runUntil(30_000);
  assert.equal(h.kills().length, 1);
  h.w.beat(30_000, 'fd');
  h.w.trigger(30_000);
  h.runUntil(40_000);
  assert.equal(h.kills().length, 1);
  assert.equal(h.w.probeDue(40_000), false);
});

test('--watchdog-max-kills 2/1h: the third hang is reported loudly at every period, not killed; the window slides', () => {
  const h = new Harness({ maxKills: { count: 2, windowMs: 3_600_000 } });
  const hangOnce = () => {
    h.w.start(h.t);
    h.w.beat(h.t, 'fd');
    h.runUntil(h.t + 1000);
  };
  hangOnce();
  hangOnce();
  assert.equal(h.kills().length, 2);
  hangOnce();
  assert.equal(h.kills().length, 2);
  h.runUntil(h.t + 3000);
  const limited = h.of('kill-limited');
  assert.equal(limited.length, 4, 'one per period of further silence');
  assert.ok(limited[0].type === 'kill-limited' && limited[0].kills === 2 && limited[0].windowMs === 3_600_000);
  assert.equal(h.w.phase, 'running');
  // An hour after the first kill, killing is allowed again.
  h.runUntil(3_600_000 + 1000);
  assert.equal(h.kills().length, 3);
});

test('recommendedTickMs: a tenth of the period, within 50 ms..1 s', () => {
  assert.equal(recommendedTickMs(1000), 100);
  assert.equal(recommendedTickMs(100), 50);
  assert.equal(recommendedTickMs(60_000), 1000);
});

// ---- probes ----------------------------------------------------------------------------------

const PROBE: ProbeConfig = { source: 'health-cmd', intervalMs: 1000, timeoutMs: 300, failureThreshold: 3 };

function probeHarness(over: Partial<WatchdogConfig> = {}) {
  return new Harness({ periodMs: 0, startTimeoutMs: 10_000, probe: PROBE, ...over });
}

test('probes: due at the start, then every interval, never two in flight', () => {
  const h = probeHarness();
  assert.equal(h.w.probeDue(0), true);
  h.w.probeStarted(0);
  assert.equal(h.w.probeDue(0), false);
  // A slow probe (the runner's timeout is its business): no second one while it runs.
  h.runUntil(1500);
  assert.equal(h.w.probeDue(1500), false);
  h.w.probeFinished(1500, { result: 'success' });
  assert.equal(h.w.probeDue(1500), true); // the interval since its start has passed
  h.w.probeStarted(1500);
  h.w.probeFinished(1510, { result: 'success' });
  assert.equal(h.w.probeDue(2400), false);
  assert.equal(h.w.probeDue(2500), true);
});

test('probes: a new start() while a probe of the old incarnation runs does not allow a second one', () => {
  const h = probeHarness();
  h.w.probeStarted(0);
  h.w.stop();
  h.w.start(50);
  assert.equal(h.w.probeDue(5000), false);
  h.w.probeFinished(5000, { result: 'timeout', detail: 'timed out' });
  assert.equal(h.w.probeDue(5000), true);
});

/** Drives probes as the orchestrator would, answering each with `answer(t)`. */
function driveProbes(h: Harness, until: number, answer: (t: number) => Parameters<Watchdog['probeFinished']>[1]) {
  h.runUntil(until, (t) => {
    if (h.w.probeDue(t)) {
      h.w.probeStarted(t);
      h.w.probeFinished(t + 10, answer(t));
    }
  });
}

test('probes: the first success marks started; failures before it do not count', () => {
  const h = probeHarness();
  driveProbes(h, 5000, (t) => (t < 3000 ? { result: 'failure', detail: 'exit 1' } : { result: 'success' }));
  assert.equal(h.kills().length, 0);
  const failed = h.of('probe-failed');
  assert.ok(failed.length >= 3);
  assert.ok(failed.every((e) => e.type === 'probe-failed' && !e.counting && e.consecutive === 0));
  assert.deepEqual(h.of('started').map((e) => e.type === 'started' && e.via), ['health-cmd']);
});

test('probes: failureThreshold consecutive failures after the start -> kill; a success in between resets', () => {
  const h = probeHarness();
  const answers = ['success', 'failure', 'failure', 'success', 'failure', 'failure', 'failure'];
  let i = 0;
  driveProbes(h, 20_000, () => {
    const r = answers[Math.min(i++, answers.length - 1)];
    return r === 'success' ? { result: 'success' } : { result: 'failure', detail: 'HTTP 503' };
  });
  const [k] = h.kills();
  assert.equal(h.kills().length, 1);
  assert.equal(k.cause, 'probe-failures');
  assert.equal(k.source, 'health-cmd');
  assert.match(k.detail, /3 consecutive failed probes \(last: HTTP 503\)/);
  assert.equal(k.at, 6100); // the 7th probe (started 6000) finished at 6010, next tick 6100
});

test('probes: unknown results neither count nor reset; reported once', () => {
  const h = probeHarness();
  const answers: Array<Parameters<Watchdog['probeFinished']>[1]> = [
    { result: 'success' },
    { result: 'failure', detail: 'exit 1' },
    { result: 'unknown', detail: 'spawn: EMFILE' },
    { result: 'unknown', detail: 'spawn: EMFILE' },
    { result: 'failure', detail: 'exit 1' },
    { result: 'unknown', detail: 'spawn: EMFILE' },
    { result: 'failure', detail: 'exit 1' },
  ];
  let i = 0;
  driveProbes(h, 6000, () => answers[i++]); // probes at 100, 1100, ... 5100
  assert.equal(h.kills().length, 0);
  // The third real failure (the unknowns between did not reset the count) is the kill.
  driveProbes(h, 7000, () => answers[i++]);
  assert.equal(i, answers.length);
  assert.equal(h.kills().length, 1);
  assert.equal(h.kills()[0].at, 6100);
  assert.equal(h.of('unknown').length, 2, 'once, and again after a real answer recovered it');
  assert.equal(h.of('recovered').length, 2);
});

test('probes: a timeout that overlaps a stall of tsinit is unknown, a plain timeout is a failure', () => {
  const h = probeHarness();
  h.w.probeStarted(0);
  h.w.probeFinished(10, { result: 'success' });
  h.runUntil(1000);
  h.w.probeStarted(1000);
  h.stall(5000); // the probe's timeout timer fires late, after the stall
  h.w.probeFinished(h.t, { result: 'timeout', detail: 'no answer within 300ms' });
  h.tick();
  assert.equal(h.of('probe-failed').length, 0);
  const [u] = h.of('unknown');
  assert.ok(u.type === 'unknown' && /stalled/.test(u.reason));
  h.runUntil(h.t + 100);
  h.w.probeStarted(h.t);
  h.runUntil(h.t + 300);
  h.w.probeFinished(h.t, { result: 'timeout', detail: 'no answer within 300ms' });
  h.tick();
  assert.equal(h.of('probe-failed').length, 1);
});

test('probes: a probe the runner never finishes is reported unknown once, never a kill', () => {
  const h = probeHarness();
  h.w.probeStarted(0);
  h.w.probeFinished(10, { result: 'success' });
  h.runUntil(1000);
  h.w.probeStarted(1000);
  h.runUntil(60_000);
  assert.equal(h.kills().length, 0);
  const unknown = h.of('unknown');
  assert.equal(unknown.length, 1);
  assert.ok(unknown[0].type === 'unknown' && /still running/.test(unknown[0].reason));
});

test('probes with a heartbeat deadline: a success is a heartbeat; a deadline miss with a failing checker is "cannot tell"', () => {
  const h = probeHarness({ periodMs: 3000 });
  driveProbes(h, 10_000, (t) => (t < 2000 ? { result: 'success' } : { result: 'unknown', detail: 'connect: EMFILE' }));
  assert.equal(h.kills().length, 0);
  assert.ok(h.of('cannot-tell').length >= 2);
});

// ---- the sources and probes that feed the watchdog (real pipes, files, processes, sockets) --------
// Effectful, so they wait for outcomes (never for a fixed time) and check that nothing leaks.

test('blocked by logging: a missed heartbeat and failed probes while the log pipe is full are reported, never killed', () => {
  const h = new Harness();
  h.w.beat(h.t, 'fd');
  // From 500 on, the log pipe is full at every tick (the caller's check).
  h.runUntil(3000, (t) => t >= 500 && h.w.unknown(t, LOGGING, 'the log pipe is full'));
  assert.equal(h.kills().length, 0);
  const tell = h.of('cannot-tell');
  assert.ok(tell.length >= 1 && tell.every((e) => e.type === 'cannot-tell' && e.source === LOGGING), JSON.stringify(tell));
  assert.equal(h.of('unknown').length, 1, 'said once');
  // Logging flows again: the next miss is the service's own.
  h.w.sourceOk(h.t, LOGGING);
  h.runUntil(6000);
  assert.equal(h.kills().length, 1);

  const p = probeHarness();
  driveProbes(p, 20_000, (t) => (t < 1000 ? { result: 'success' } : { result: 'failure', detail: 'HTTP 503' }));
  const killedAt = p.kills()[0]?.at;
  assert.ok(killedAt !== undefined);
  const q = probeHarness();
  driveProbes(q, 20_000, (t) => {
    if (t >= 1000) q.w.unknown(t, LOGGING, 'the log pipe is full');
    return t < 1000 ? { result: 'success' } : { result: 'failure', detail: 'HTTP 503' };
  });
  assert.equal(q.kills().length, 0, 'failed probes while blocked by logging');
  assert.ok(q.of('cannot-tell').some((e) => e.type === 'cannot-tell' && e.cause === 'probe-failures'));
});
