// The values a user types and reads: parsed strictly, formatted one way, and the sliding window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatBytes, formatDuration, formatElapsed, formatKb, formatSeconds, parseBool, parseDuration, parseExitCode,
  parseRateLimit, parseSignal, parseSize, RateLimiter, signalName, signalNumber, UsageError,
} from '../../src/values';
import { isCatchable, isSignal } from '../../src/signals';

test('durations: units, bare seconds, and nonsense', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('3'), 3000);
  for (const bad of ['', 'soon', '-1s', '1y', '1 s s', '1e3']) assert.throws(() => parseDuration(bad), UsageError, bad);
  assert.equal(formatDuration(400), '400ms');
  assert.equal(formatDuration(31_200), '31.2s');
  assert.equal(formatDuration(3_600_000), '60m');
});

test('signals: names with or without SIG, any case, numbers; unknown ones refused', () => {
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGUSR1'), 10);
  assert.equal(parseSignal('hup'), 1);
  assert.equal(parseSignal('9'), 9);
  assert.throws(() => parseSignal('NOPE'), /unknown signal 'NOPE'/);
  assert.throws(() => parseSignal('0'), UsageError);
  assert.throws(() => parseSignal('65'), UsageError);
  assert.equal(signalNumber('SIGIOT'), 6);
  assert.equal(signalName(6), 'SIGABRT');
  assert.equal(signalName(29), 'SIGIO');
  assert.ok(!isCatchable(17), 'SIGCHLD');
  assert.ok(!isCatchable(9), 'SIGKILL');
  assert.ok(!isCatchable(32) && !isSignal(32) && !isSignal(33), 'glibc keeps 32 and 33');
  for (const n of [28, 11, 4, 21, 40, 64]) assert.ok(isCatchable(n), String(n));
});

test('booleans for environment twins are strict: 0 and false mean off', () => {
  for (const on of ['1', 'true', 'TRUE', 'yes', 'on']) assert.equal(parseBool(on), true, on);
  for (const off of ['0', 'false', 'no', 'off', '']) assert.equal(parseBool(off), false, off);
  assert.throws(() => parseBool('maybe'), UsageError);
  assert.throws(() => parseBool('2'), UsageError);
});

test('exit codes, limits, sizes', () => {
  assert.equal(parseExitCode('143'), 143);
  assert.throws(() => parseExitCode('256'), /out of range/);
  assert.throws(() => parseExitCode('x'), UsageError);
  assert.deepEqual(parseRateLimit('5/10s'), { count: 5, windowMs: 10_000 });
  assert.throws(() => parseRateLimit('5'), UsageError);
  assert.throws(() => parseRateLimit('5/0s'), UsageError);
  assert.equal(parseSize('1M'), 1024 * 1024);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('65536'), 65536);
});

test('formats: measured seconds, sizes in prose and in columns, elapsed times', () => {
  assert.equal(formatSeconds(3000), '3.0s');
  assert.equal(formatSeconds(420), '0.4s');
  assert.deepEqual([812, 3300, 1_500_000].map(formatBytes), ['812 bytes', '3.2 KiB', '1.4 MiB']);
  assert.deepEqual([812, 3300, 1_500_000].map(formatKb), ['812K', '3.2M', '1.4G']);
  assert.deepEqual([0.4, 59.9, 75, 7322, 200_000, -1].map(formatElapsed), ['0s', '59s', '1m15s', '2h02m', '2d07h', '?']);
});

test('RateLimiter: N within a sliding window', () => {
  const r = new RateLimiter({ count: 2, windowMs: 1000 });
  assert.equal(r.tryTake(0), true);
  assert.equal(r.tryTake(500), true);
  assert.equal(r.tryTake(999), false);
  assert.equal(r.count(999), 2);
  assert.equal(r.tryTake(1000), true); // the event at 0 left the window
  assert.equal(r.count(1600), 1);
});

test('RateLimiter: within() counts a shorter window, refused events do not count', () => {
  const r = new RateLimiter({ count: 3, windowMs: 10_000 });
  for (const t of [0, 9000, 9500, 9600]) r.tryTake(t);
  assert.equal(r.count(9600), 3);
  assert.equal(r.within(9600, 1000), 2);
});
