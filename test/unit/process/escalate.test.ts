// Ask, SIGKILL at the deadline or on a hurry, and wait until gone: on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escalate, Stoppable } from '../../../src/process/escalate';
import { FakeClock, settle } from '../../helpers/fake-clock';

function target() {
  const log: string[] = [];
  let end!: () => void;
  const t: Stoppable & { log: string[]; end(): void } = {
    log,
    ask: () => log.push('ask'),
    kill: (hurried) => log.push(hurried === undefined ? 'kill' : `kill:${String(hurried)}`),
    gone: new Promise<void>((r) => (end = r)),
    end: () => end(),
  };
  return t;
}

test('gone before the deadline: asked once, never killed', async () => {
  const clock = new FakeClock();
  const t = target();
  const result = escalate(t, { killAt: 1000, clock });
  await clock.advance(999);
  t.end();
  assert.equal(await result, 'gone');
  await clock.advance(5000);
  assert.deepEqual(t.log, ['ask']);
});

test('still there at the deadline: killed then, and resolves once gone', async () => {
  const clock = new FakeClock();
  const t = target();
  let settled = false;
  const result = escalate(t, { killAt: 1000, clock }).then((r) => ((settled = true), r));
  await clock.advance(999);
  assert.deepEqual(t.log, ['ask']);
  await clock.advance(1);
  assert.deepEqual(t.log, ['ask', 'kill']);
  assert.equal(settled, false, 'waits for the end after the kill');
  t.end();
  assert.equal(await result, 'killed');
});

test('a hurry kills at once, with its reason', async () => {
  const clock = new FakeClock();
  const t = target();
  const hurry = new AbortController();
  const result = escalate(t, { killAt: 3_600_000, clock, hurry: hurry.signal });
  await clock.advance(10);
  hurry.abort('second SIGINT');
  await settle();
  assert.deepEqual(t.log, ['ask', 'kill:second SIGINT']);
  t.end();
  assert.equal(await result, 'killed');
});

test('a deadline in the past kills right after asking; an end already there is never killed', async () => {
  const clock = new FakeClock();
  await clock.advance(100);
  const t = target();
  const result = escalate(t, { killAt: 50, clock });
  await clock.advance(0);
  assert.deepEqual(t.log, ['ask', 'kill']);
  t.end();
  assert.equal(await result, 'killed');

  const u = target();
  u.end();
  assert.equal(await escalate(u, { killAt: 0, clock }), 'gone');
  assert.deepEqual(u.log, ['ask']);
});

test('a hurry that came before the escalation began kills right after asking', async () => {
  const clock = new FakeClock();
  const t = target();
  const hurry = new AbortController();
  hurry.abort('second SIGTERM');
  const result = escalate(t, { killAt: 3_600_000, clock, hurry: hurry.signal });
  await settle();
  assert.deepEqual(t.log, ['ask', 'kill:second SIGTERM']);
  t.end();
  assert.equal(await result, 'killed');
});
