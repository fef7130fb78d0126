// The --events stream: which targets are accepted (and why the others are refused, before anything
// runs), the JSON lines, and a reader that does not keep up, which costs events, counted, never a wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENTS_FILE_MODE, EventLog, JsonEventWriter, openEventsTarget } from '../../src/events';
import type { TsinitEvent } from '../../src/event-catalogue';
import { UsageError } from '../../src/values';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const refused = (target: string, why: RegExp) =>
  assert.throws(() => openEventsTarget(target), (e: unknown) => e instanceof UsageError && why.test(e.message), target);

test('a new file is created with its own mode whatever the umask; an existing one of tsinit\'s is appended to', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'events.jsonl');
  const old = process.umask(0);
  try {
    const o = openEventsTarget(file);
    assert.deepEqual([o.socket, o.owned], [false, true]);
    closeSync(o.fd);
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(file).mode & 0o777, EVENTS_FILE_MODE);
  writeFileSync(file, 'before\n');
  const again = openEventsTarget(file);
  writeFileSync(again.fd, 'after\n');
  closeSync(again.fd);
  assert.equal(readFileSync(file, 'utf8'), 'before\nafter\n');
});

test('refused before anything runs: a link, a missing directory, a directory, a file with other hard links', (t) => {
  const dir = tempDir(t);
  const real = join(dir, 'real');
  writeFileSync(real, '');
  symlinkSync(real, join(dir, 'link'));
  refused(join(dir, 'link'), /symbolic link, never followed/);
  refused(join(dir, 'nope', 'events'), /its directory does not exist/);
  mkdirSync(join(dir, 'sub'));
  refused(join(dir, 'sub'), /it is a directory/);
  linkSync(real, join(dir, 'hard'));
  refused(real, /other hard links/);
});

test('fd:N: an fd that is not open is refused; an open one is reopened, not shared', (t) => {
  const dir = tempDir(t);
  refused('fd:987654', /file descriptor 987654 is not open/);
  const fd = openSync(join(dir, 'f'), 'w');
  t.after(() => closeSync(fd));
  const o = openEventsTarget(`fd:${fd}`);
  assert.notEqual(o.fd, fd);
  assert.equal(o.owned, true);
  closeSync(o.fd);
});

test('EventLog: a JSON line per event, with its time and level; subscribers see it after', (t) => {
  const file = join(tempDir(t), 'events.jsonl');
  const log = new EventLog(false);
  log.openJson(file);
  const seen: string[] = [];
  log.subscribe((e) => seen.push(`${e.type}:${readFileSync(file, 'utf8').split('\n').length - 1}`));
  const started: TsinitEvent = { type: 'started', role: 'service', pid: 42, command: 'app' };
  log.emit(started);
  log.emit({ type: 'orphans-reaped', count: 3 });
  log.close();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map(({ time, ...rest }) => rest), [
    { ...started, level: 'info' },
    { type: 'orphans-reaped', count: 3, level: 'info' },
  ]);
  assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.time))));
  assert.deepEqual(seen, ['started:1', 'orphans-reaped:2'], 'each subscriber runs after the line is written');
});

test('a reader that does not keep up: events past the buffer are dropped, counted, and said twice only', (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  // Nobody reads: opened read-write, its kernel buffer fills, then the writer's own.
  const o = openEventsTarget(fifo);
  const said: string[] = [];
  const w = new JsonEventWriter(o.fd, o.socket, o.owned, fifo, (l) => said.push(l), 4096);
  const line = `${'x'.repeat(99)}\n`;
  for (let i = 0; i < 2000; i++) w.write(line);
  assert.ok(w.dropped > 0, 'far more than the pipe and the buffer hold');
  assert.equal(said.length, 1);
  assert.match(said[0], /the reader is not keeping up; dropping events \(counted\) rather than waiting/);
  const droppedBeforeClose = w.dropped;
  w.close();
  assert.ok(w.dropped >= droppedBeforeClose, 'what was still held at the end counts too');
  assert.equal(said.length, 2);
  assert.match(said[1], new RegExp(`${w.dropped} event\\(s\\) \\(${w.droppedBytes} bytes\\) could not be written: they are lost`));
  assert.equal(w.droppedBytes, w.dropped * line.length);
});
