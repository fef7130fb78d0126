// The pty's output writer on a real FIFO nobody reads yet (its kernel buffer fills, then writes
// would block): bytes stay queued and in order, the source is paused above the high-water mark and
// resumed once drained, and what cannot be written is counted, never hidden.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FdWriter, privateWriteFd } from '../../../../src/process/pty/writer';
import { until } from '../../../helpers/harness';

/** A FIFO with a non-blocking read end (so that the write end can open) and a private non-blocking write end. */
function fifo(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-writer-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  const shared = openSync(path, fsc.O_WRONLY);
  const own = privateWriteFd(shared);
  t.after(() => {
    for (const fd of new Set([readFd, shared, own.fd])) {
      try {
        closeSync(fd);
      } catch {
        // closed by the test
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  /** Reads what is in the FIFO now. */
  const drain = (): Buffer => {
    const parts: Buffer[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(readFd, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(parts);
  };
  return { fd: own.fd, owned: own.owned, drain, closeReader: () => closeSync(readFd) };
}

const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

test('a pipe is written through a private non-blocking description, not the shared one', (t) => {
  const f = fifo(t);
  assert.equal(f.owned, true);
  const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${f.fd}`, 'utf8'));
  assert.ok(flags, 'fdinfo has the flags');
  assert.notEqual(parseInt(flags[1], 8) & fsc.O_NONBLOCK, 0);
});

test('a full pipe: bytes are queued in order, the source paused, then resumed and all delivered', async (t) => {
  const f = fifo(t);
  const hooks: string[] = [];
  const w = new FdWriter(f.fd, { pause: () => hooks.push('pause'), resume: () => hooks.push('resume') });
  const data = pattern(512 * 1024);
  for (let i = 0; i < data.length; i += 8192) w.write(data.subarray(i, i + 8192));
  // The kernel buffer holds far less than 512 KiB: what it cannot take waits in the queue, and the
  // writer's next try sees the queue above the high-water mark.
  await until('the writer to pause its source', () => hooks.includes('pause'), { saw: () => hooks.join(' ') });
  const got: Buffer[] = [];
  let settled = false;
  void w.finish(60_000).then(() => (settled = true));
  await until('the writer to deliver everything', () => {
    got.push(f.drain());
    return settled;
  }, { everyMs: 1, saw: () => `${Buffer.concat(got).length} bytes read, hooks: ${hooks.join(' ')}` });
  got.push(f.drain());
  assert.deepEqual(hooks, ['pause', 'resume']);
  assert.equal(w.failure, null);
  assert.equal(w.lost, 0);
  assert.ok(Buffer.concat(got).equals(data), 'every byte, in order');
});

test('nothing written for the stall time at the end: the queued bytes are counted as lost', async (t) => {
  const f = fifo(t);
  const w = new FdWriter(f.fd, { pause: () => undefined, resume: () => undefined });
  w.write(pattern(1024 * 1024));
  await w.finish(50);
  assert.match(w.failure ?? '', /nothing could be written for 50ms/);
  const inPipe = f.drain().length;
  assert.ok(inPipe > 0);
  assert.equal(w.lost + inPipe, 1024 * 1024, 'written + lost = everything');
  w.write(Buffer.from('later'));
  assert.equal(w.lost + inPipe, 1024 * 1024 + 5, 'after a failure every write counts as lost');
});

test('a hard error (the reader is gone: EPIPE) ends writing: queued and later bytes are lost, the source resumed', async (t) => {
  const f = fifo(t);
  const hooks: string[] = [];
  const w = new FdWriter(f.fd, { pause: () => hooks.push('pause'), resume: () => hooks.push('resume') });
  w.write(pattern(512 * 1024));
  assert.deepEqual(hooks, ['pause']);
  const inPipe = f.drain().length;
  f.closeReader();
  await w.finish(60_000);
  assert.equal(w.failure, 'EPIPE');
  assert.deepEqual(hooks, ['pause', 'resume']);
  assert.equal(w.lost, 512 * 1024 - inPipe, 'what was not in the pipe when its reader went');
  w.write(Buffer.from('later'));
  assert.equal(w.lost, 512 * 1024 - inPipe + 5);
});

test('abandon keeps the first reason; finish after a failure resolves at once', async (t) => {
  const f = fifo(t);
  const w = new FdWriter(f.fd, { pause: () => undefined, resume: () => undefined });
  w.abandon('first');
  w.abandon('second');
  assert.equal(w.failure, 'first');
  await w.finish(60_000);
  w.write(Buffer.from('x'));
  assert.equal(w.lost, 1);
});
