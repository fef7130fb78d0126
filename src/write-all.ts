// The one way tsinit writes its own lines: synchronously, to a raw fd, never through process.stdout
// or process.stderr (touching those makes a pipe shared with the service non-blocking). Below
// everything, so that debug.ts and events.ts can both use it.
import { writeSync } from 'node:fs';

/** Writes a whole string to an fd, retrying on EAGAIN (a service may make a shared pipe non-blocking). */
export function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text);
  for (let tries = 0; buf.length > 0 && tries < 1000; ) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      tries++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}
