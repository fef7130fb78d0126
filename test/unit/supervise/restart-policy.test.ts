import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultResetAfterMs, RestartPolicy, RestartPolicyConfig } from '../../../src/supervise/restart-policy';

function policy(over: Partial<RestartPolicyConfig> = {}): RestartPolicy {
  return new RestartPolicy({
    policy: 'on-failure',
    successExit: new Set([0]),
    limit: { count: 5, windowMs: 10_000 },
    delayMs: 100,
    delayMaxMs: 30_000,
    ...over,
  });
}

/** A run that lasted `ms` and ended at `end`. */
const run = (exitCode: number, end: number, ms = 5, failure?: boolean) => ({
  exitCode,
  startedAt: end - ms,
  exitedAt: end,
  failure,
});

test('no: never restarts, whatever the code', () => {
  const p = policy({ policy: 'no' });
  assert.deepEqual(p.decide(run(3, 1000)), { restart: false, reason: 'policy', restarts: 0, windowMs: 10_000 });
  assert.equal(p.decide(run(0, 2000)).restart, false);
  assert.equal(p.decide(run(137, 3000, 5, true)).restart, false);
});

test('on-failure: restarts a failure, not a success', () => {
  const p = policy();
  assert.equal(p.decide(run(0, 1000)).restart, false);
  const d = p.decide(run(3, 2000));
  assert.deepEqual(d, { restart: true, delayMs: 100, attempt: 1, limit: 5 });
});

test('on-failure: --success-exit codes count as success; a signal death (128+N) is a failure', () => {
  const p = policy({ successExit: new Set([0, 143]) });
  assert.equal(p.decide(run(143, 1000)).restart, false);
  assert.equal(p.decide(run(137, 2000)).restart, true);
});

test('on-failure: a watchdog kill is a failure even if the service then exits 0', () => {
  const p = policy();
  assert.equal(p.isFailure({ exitCode: 0, failure: true }), true);
  assert.equal(p.decide(run(0, 1000, 5, true)).restart, true);
});

test('always: restarts successes too', () => {
  const p = policy({ policy: 'always' });
  assert.equal(p.decide(run(0, 1000)).restart, true);
  assert.equal(p.decide(run(1, 2000)).restart, true);
});

test('backoff doubles from the first delay up to the cap', () => {
  const p = policy({ limit: { count: 100, windowMs: 1000 }, delayMs: 100, delayMaxMs: 1000 });
  const delays: number[] = [];
  let t = 0;
  for (let i = 0; i < 7; i++) {
    t += 2000; // outside each other's window, so the limit never applies
    const d = p.decide(run(1, t));
    assert.ok(d.restart);
    delays.push(d.delayMs);
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
});

test('a first delay of 0 stays 0 (no NaN, no Infinity)', () => {
  const p = policy({ limit: { count: 10_000, windowMs: 1 }, delayMs: 0, delayMaxMs: 0 });
  for (let i = 1; i <= 2000; i++) {
    const d = p.decide(run(1, i * 10));
    assert.ok(d.restart);
    assert.equal(d.delayMs, 0);
  }
});

test('the backoff resets after a run that stayed up resetAfterMs, judged from its own timestamps', () => {
  const p = policy({ limit: { count: 100, windowMs: 1000 }, delayMs: 100, delayMaxMs: 10_000, resetAfterMs: 60_000 });
  let t = 0;
  for (const expected of [100, 200, 400]) {
    t += 5000;
    const d = p.decide(run(1, t, 10));
    assert.ok(d.restart && d.delayMs === expected);
  }
  // Up for 59.999 s: still the crash loop.
  t += 100_000;
  let d = p.decide(run(1, t, 59_999));
  assert.ok(d.restart && d.delayMs === 800);
  // Up for 60 s: healthy; its crash starts over at the first delay.
  t += 100_000;
  d = p.decide(run(1, t, 60_000));
  assert.ok(d.restart && d.delayMs === 100);
  t += 5000;
  d = p.decide(run(1, t, 10));
  assert.ok(d.restart && d.delayMs === 200);
});

test('supervisord#1285: a late decision does not make a 5 ms run look healthy', () => {
  // The caller decides long after the exit (its timer ran late): only the run's own start and exit
  // times count, and they say 5 ms.
  const p = policy({ delayMs: 100, delayMaxMs: 10_000, resetAfterMs: 1000 });
  p.decide(run(1, 1000, 5));
  const d = p.decide({ exitCode: 1, startedAt: 2000, exitedAt: 2005 });
  assert.ok(d.restart && d.delayMs === 200);
});

test('limit 3/10s: a crash loop gets exactly 3 restarts (4 starts), then gives up', () => {
  const p = policy({ limit: { count: 3, windowMs: 10_000 } });
  const out = [1000, 1200, 1500, 2000].map((t) => p.decide(run(3, t)));
  assert.deepEqual(
    out.map((d) => (d.restart ? `restart ${d.attempt}/${d.limit} in ${d.delayMs}` : `gave up: ${d.reason}`)),
    ['restart 1/3 in 100', 'restart 2/3 in 200', 'restart 3/3 in 400', 'gave up: limit'],
  );
  assert.deepEqual(out[3], { restart: false, reason: 'limit', restarts: 3, windowMs: 10_000 });
});

test('the limit window slides: old restarts stop counting', () => {
  const p = policy({ limit: { count: 2, windowMs: 10_000 }, delayMaxMs: 100_000 });
  assert.ok(p.decide(run(1, 1000)).restart);
  assert.ok(p.decide(run(1, 2000)).restart);
  assert.equal(p.decide(run(1, 10_999)).restart, false); // 1000 and 2000 are both within 10 s of 10999
  const d = p.decide(run(1, 11_001)); // 1000 is now more than 10 s old
  assert.ok(d.restart);
  assert.equal(d.attempt, 2);
});

test('a limit of 0 never restarts', () => {
  const p = policy({ limit: { count: 0, windowMs: 10_000 } });
  assert.equal(p.decide(run(1, 1000)).restart, false);
});

test('a success under on-failure does not consume the limit', () => {
  const p = policy({ limit: { count: 1, windowMs: 10_000 } });
  assert.equal(p.decide(run(0, 1000)).restart, false);
  assert.ok(p.decide(run(1, 2000)).restart);
});

test('defaultResetAfterMs: twice the cap, at least 10 s', () => {
  assert.equal(defaultResetAfterMs(30_000), 60_000);
  assert.equal(defaultResetAfterMs(300_000), 600_000); // Kubernetes: 5 min cap, reset after 10 min
  assert.equal(defaultResetAfterMs(1000), 10_000);
});

test('reset() forgets the history', () => {
  const p = policy({ limit: { count: 1, windowMs: 10_000 } });
  assert.ok(p.decide(run(1, 1000)).restart);
  assert.equal(p.decide(run(1, 1100)).restart, false);
  p.reset();
  const d = p.decide(run(1, 1200));
  assert.ok(d.restart && d.delayMs === 100);
  assert.equal(p.totalRestarts, 2);
});
