// One incarnation's pty: the service's output copied to tsinit's stdout or the logger pipe, stdin
// copied in, the suspend key, the end of input, and the last output read after the service exited.
//
// Exit status: node-pty waits for its child itself (a thread calling waitpid on that pid), so the
// reaper is told to leave that pid alone from the moment it exists until node-pty has reported it.
import { closeSync, readSync } from 'node:fs';
import { EventLog } from '../../events';
import { ExitStatus } from '../../exit-status';
import { SIGSTOP, SIGTSTP } from '../../signals';
import { readStatus } from '../../sys/proc';
import * as libc from '../../sys/libc';
import createDebug from '../../debug';
import type { Child } from '../spawn';
import type { Reaper } from '../reaper';
import type { PtyProcess } from './node-pty';
import { FdWriter, privateWriteFd } from './writer';

const debug = createDebug('pty');

/** A service running in its own pty: a Child (pid, group, exit status) plus the pty's controls. */
export interface PtyChild extends Child {
  /** the pty's window size; the kernel sends SIGWINCH to the pty's foreground group */
  resize(size: { rows: number; cols: number }): void;
}

const VEOF = 0x04;

function handlesTstp(pid: number): boolean {
  const st = readStatus(pid);
  if (!st) return false;
  const bit = 1n << BigInt(SIGTSTP - 1);
  return [st.SigIgn, st.SigCgt].some((mask) => mask !== undefined && (BigInt(`0x${mask.trim()}`) & bit) !== 0n);
}

export class Session implements PtyChild {
  readonly pid: number;
  readonly pgid: number;
  readonly exited: Promise<ExitStatus>;
  onInputBlocked: (blocked: boolean) => void = () => undefined;
  onSuspendKey: () => void = () => undefined;
  /** the service has exited (its output may still be on its way) */
  ended = false;
  private readonly master: number;
  private readonly out: FdWriter;
  private readonly outFd: { fd: number; owned: boolean };
  private readonly toPty: FdWriter;
  private closed = false;
  /** the last byte forwarded from stdin, -1 before any */
  private lastInput = -1;

  constructor(
    term: PtyProcess,
    output: number,
    reaper: Reaper,
    o: { events: EventLog; stallMs: number },
    noEcho: boolean,
  ) {
    this.pid = term.pid;
    // forkpty makes the child a session leader, so its group is its pid.
    this.pgid = term.pid;
    // A private copy of the master: node-pty closes its own when the pty ends, and a number that is
    // closed may be reused by anything; this one lives until tsinit is done with it.
    this.master = libc.dupCloexec(term.fd);
    if (noEcho) {
      try {
        libc.setEcho(this.master, false);
      } catch (e) {
        debug('echo off: %s', (e as Error).message);
      }
    }
    this.outFd = privateWriteFd(output);
    this.out = new FdWriter(this.outFd.fd, { pause: () => term.pause(), resume: () => term.resume() });
    this.toPty = new FdWriter(this.master, {
      pause: () => this.onInputBlocked(true),
      resume: () => {
        if (!this.ended) this.onInputBlocked(false);
      },
    });
    term.on('error', (e) => debug('pty %d: %s', this.pid, e.message));
    term.onData((d) => this.out.write(typeof d === 'string' ? Buffer.from(d) : d));
    this.exited = new Promise((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        reaper.release(this.pid);
        const status: ExitStatus = signal ? { code: null, signal } : { code: exitCode, signal: null };
        debug('pty %d exited: %j', this.pid, status);
        // stdin stays unread until the next incarnation, if any, instead of going into a dead pty.
        this.ended = true;
        this.onInputBlocked(true);
        this.toPty.abandon('the service exited');
        this.drain();
        this.out.finish(o.stallMs).then(() => {
          if (this.out.lost > 0) {
            o.events.emit({ type: 'pty-output-lost', pid: this.pid, bytes: this.out.lost, reason: this.out.failure ?? 'unknown' });
          }
          this.close();
          resolve(status);
        });
      });
    });
  }

  /** Bytes from tsinit's stdin; `keys`: typed on tsinit's terminal (Ctrl-Z is looked for). */
  input(buf: Buffer, keys: boolean): void {
    if (this.ended || buf.length === 0) return;
    const at = keys ? this.suspendKeyAt(buf) : -1;
    if (at >= 0) {
      this.input(buf.subarray(0, at), false);
      // The kernel discards a terminal's SIGTSTP for an orphaned process group, and the service's
      // group is one (its parent, tsinit, is in another session): do what the key would otherwise
      // do. Then tsinit stops too (init/terminal.ts), so the shell gets the terminal back; `fg` continues
      // both. (Not left to SIGCHLD: a service in vfork, whose child the signal stopped before its
      // exec, is never reported stopped.)
      libc.kill(-this.pgid, SIGSTOP);
      this.onSuspendKey();
      this.input(buf.subarray(at + 1), true);
      return;
    }
    this.lastInput = buf[buf.length - 1];
    this.toPty.write(buf);
  }

  /**
   * Where the pty's suspend key is in `buf`, if it would stop the service: the pty makes signals
   * of keys, the service's own group is the pty's foreground (a shell in the pty gives its jobs the
   * terminal, and they get the key as usual), and the service leaves SIGTSTP at its default (an
   * interactive shell ignores it; a handler gets the key's signal). Never as PID 1: there would be
   * no shell to return to.
   */
  private suspendKeyAt(buf: Buffer): number {
    if (process.pid === 1) return -1;
    try {
      const key = libc.suspendKey(this.master);
      if (key === null) return -1;
      const at = buf.indexOf(key);
      if (at < 0 || libc.getForegroundGroup(this.master) !== this.pgid) return -1;
      return handlesTstp(this.pid) ? -1 : at;
    } catch {
      return -1;
    }
  }

  /** The end of a non-terminal stdin: Ctrl-D, twice after a partial line (the first only ends the line). */
  endOfInput(): void {
    if (this.ended) return;
    const partial = this.lastInput !== -1 && this.lastInput !== 0x0a;
    this.toPty.write(Buffer.from(partial ? [VEOF, VEOF] : [VEOF]));
  }

  /**
   * node-pty's reader stops early: libuv takes a short read plus POLLHUP for the end of the stream,
   * but a pty hands out its buffer in pieces, and node-pty also stops reading 200 ms after its
   * child's exit. What is left is still in the kernel: read it from tsinit's own copy of the master
   * until EIO (the other side is closed and nothing is left) or EAGAIN (some other process still
   * holds the pty open: what it writes later is not the service's).
   */
  private drain(): void {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.master, buf, 0, buf.length, null);
      } catch (e) {
        debug('pty %d drained: %s', this.pid, (e as NodeJS.ErrnoException).code);
        return;
      }
      if (n <= 0) return;
      this.out.write(Buffer.from(buf.subarray(0, n)));
    }
  }

  resize(size: { rows: number; cols: number }): void {
    if (this.closed) return;
    libc.setWindowSize(this.master, size.rows, size.cols);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.master);
    if (this.outFd.owned) closeSync(this.outFd.fd);
  }
}
