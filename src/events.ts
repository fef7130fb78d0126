// The event stream: each event (event-catalogue.ts) as its human line on stderr and, with --events,
// its JSON line, written without ever going through process.stderr.
import { closeSync, openSync, writeSync } from 'node:fs';
import { describe, TsinitEvent } from './event-catalogue';

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

export class EventLog {
  private jsonFd: number | null = null;
  private ownsJsonFd = false;
  /** who else sees every event (the status model) */
  private readonly listeners: Array<(e: TsinitEvent) => void> = [];

  constructor(
    private verbose: boolean,
    private warnReaped = false,
  ) {}

  /** --events FILE (appended) or fd:N. */
  openJson(target: string): void {
    const m = /^fd:(\d+)$/.exec(target);
    if (m) this.jsonFd = Number(m[1]);
    else {
      this.jsonFd = openSync(target, 'a');
      this.ownsJsonFd = true;
    }
  }

  /** `fn` sees every event, in order, after its line is written. */
  subscribe(fn: (e: TsinitEvent) => void): void {
    this.listeners.push(fn);
  }

  emit(e: TsinitEvent): void {
    const [level, text] = describe(e);
    const show = level !== 'info' || this.verbose;
    if (e.type === 'orphan-reaped' ? this.warnReaped : show) {
      for (const line of text.split('\n')) writeAll(2, `tsinit: ${line}\n`);
    }
    if (this.jsonFd !== null) {
      writeAll(this.jsonFd, JSON.stringify({ time: new Date().toISOString(), ...e, level }) + '\n');
    }
    for (const fn of this.listeners) fn(e);
  }

  close(): void {
    if (this.ownsJsonFd && this.jsonFd !== null) closeSync(this.jsonFd);
    this.jsonFd = null;
  }
}
