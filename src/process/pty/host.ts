// --pty: the service runs in a new pseudo-terminal through node-pty (node-pty.ts).
//
//   tsinit's stdin ──(raw, if a terminal)──> pty master ──> service (session leader, pgid = pid)
//   tsinit's stdout or the logger pipe <──── pty master <── service's stdout and stderr
//
// In this mode, and only in this one, tsinit copies the service's bytes. It never blocks on a write
// (writer.ts), and nothing read from the pty is dropped silently. The host lives for the whole run:
// node-pty, stdin (read once, for every incarnation in turn) and the raw mode of tsinit's terminal;
// each incarnation gets a Session (session.ts).
import { createReadStream, fstatSync, readdirSync } from 'node:fs';
// node:tty is loaded by --pty only (a startup cost every other run would pay).
import type { ReadStream as TtyReadStream } from 'node:tty';
import { Readable } from 'node:stream';
import { EventLog } from '../../events';
import * as libc from '../../sys/libc';
import { throughDropStepForPty } from '../drop-privileges';
import createDebug from '../../debug';
import { environmentText, startDirectory } from '../environment';
import { preflight, SpawnError } from '../exec-errors';
import { Reaper } from '../reaper';
import { NodePty, PtyForkOptions, PtyProcess } from './node-pty';
import { PtyChild, Session } from './session';

const debug = createDebug('pty');

function closeOnExecAboveStdio(): void {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return;
  }
  for (const name of names) {
    const fd = Number(name);
    if (fd > 2) {
      try {
        libc.setCloseOnExec(fd);
      } catch {
        // the directory's own fd, already closed
      }
    }
  }
}

/** tsinit's terminal size (stdin's, else stdout's), or null without a terminal. */
export function terminalSize(): { rows: number; cols: number } | null {
  for (const fd of [0, 1]) {
    if (!libc.isatty(fd)) continue;
    const ws = libc.windowSize(fd);
    if (ws && ws.rows > 0 && ws.cols > 0) return ws;
  }
  return null;
}

const DEFAULT_SIZE = { rows: 24, cols: 80 };

export interface PtySpec {
  argv: string[];
  env?: Record<string, string | null>;
  /** [childFd, tsinitFd] pairs a pipe-mode service would get beyond 0-2: a pty cannot pass them */
  fds?: Array<[number, number]>;
  /** where the service's output goes: tsinit's fd 1 or the logger pipe's write end */
  output: number;
  user?: libc.SpawnRequest['user'];
  nice?: number;
}

type InputKind = 'none' | 'tty' | 'stream';

function stdinKind(interactive: boolean): InputKind {
  try {
    fstatSync(0);
  } catch {
    return 'none';
  }
  if (libc.isatty(0)) return interactive ? 'tty' : 'none';
  return 'stream';
}

/**
 * Everything --pty needs for the whole run: node-pty, stdin (read once, for every incarnation in
 * turn), the raw mode of tsinit's own terminal, and the pty of the current incarnation.
 */
export class PtyHost {
  private input: Readable | null = null;
  /** the same stream as `input` when stdin is a terminal */
  private tty: TtyReadStream | null = null;
  private readonly inputKind: InputKind;
  private inputEnded = false;
  private raw = false;
  private current: Session | null = null;

  /**
   * interactive: stdin is a terminal where tsinit is in the foreground. Then that terminal is put in
   * raw mode and every key goes to the pty, Ctrl-C and Ctrl-Z included (the pty's line discipline
   * turns them into signals for the service). Other stdin (a pipe, a file) is forwarded as it is,
   * with the pty's echo off, and its end becomes an end-of-file (Ctrl-D) in the pty.
   */
  constructor(
    private readonly nodePty: NodePty,
    private readonly o: {
      interactive: boolean;
      events: EventLog;
      stallMs: number;
      /** the suspend key stopped the service: tsinit gives the terminal back and stops too */
      onSuspendKey: () => void;
    },
  ) {
    this.inputKind = stdinKind(o.interactive);
    if (this.inputKind === 'tty') {
      const { ReadStream } = require('node:tty') as typeof import('node:tty');
      this.tty = new ReadStream(0);
      this.input = this.tty;
    } else if (this.inputKind === 'stream') {
      // A blocking read in the thread pool: nothing about fd 0's flags changes for others.
      this.input = createReadStream('', { fd: 0, autoClose: false, highWaterMark: 16 * 1024 });
    }
    if (this.input) {
      const keys = this.inputKind === 'tty';
      this.input.on('data', (chunk: Buffer | string) => this.current?.input(Buffer.from(chunk), keys));
      this.input.on('end', () => {
        this.inputEnded = true;
        this.current?.endOfInput();
      });
      this.input.on('error', (e) => {
        debug('stdin: %s', e.message);
        this.inputEnded = true;
      });
      this.input.pause();
    }
    this.enterRaw();
  }

  /** Starts one incarnation in a new pty. Throws SpawnError like spawnChild. */
  spawn(spec: PtySpec, reaper: Reaper): PtyChild {
    const cmd = spec.argv[0];
    const env = environmentText(spec.env);
    preflight(cmd, env.PATH);
    if (spec.fds && spec.fds.length > 0) debug('a pty cannot pass fds %j to the service', spec.fds);
    closeOnExecAboveStdio();
    const size = terminalSize() ?? DEFAULT_SIZE;
    const options: PtyForkOptions = {
      name: env.TERM || 'xterm',
      cols: size.cols,
      rows: size.rows,
      cwd: startDirectory() ?? '/',
      env,
      encoding: null,
    };
    let term: PtyProcess;
    try {
      if (spec.user) {
        // As for a pipe: the service's credentials are set in the child, never on tsinit's thread.
        const via = throughDropStepForPty({ user: spec.user, nice: spec.nice, keepFds: 3 }, cmd, spec.argv.slice(1), env);
        term = this.nodePty.spawn(via.file, via.args, { ...options, env: via.env });
      } else {
        const fork = () => this.nodePty.spawn(cmd, spec.argv.slice(1), options);
        term = spec.nice !== undefined ? libc.withThreadCredentials(undefined, spec.nice, fork) : fork();
      }
    } catch (e) {
      if (e instanceof libc.SysError) throw new SpawnError(cmd, e.message, 125);
      throw new SpawnError(cmd, `cannot start it in a pseudo-terminal: ${(e as Error).message}`, 125);
    }
    // Before anything else can run: node-pty's thread waits for this pid, the reaper must not.
    reaper.leaveToOthers(term.pid);
    const session = new Session(term, spec.output, reaper, this.o, this.inputKind === 'stream');
    this.current = session;
    session.exited.then(() => {
      if (this.current === session) this.current = null;
      this.input?.pause();
    });
    session.onInputBlocked = (blocked) => (blocked ? this.input?.pause() : this.resumeInput());
    session.onSuspendKey = this.o.onSuspendKey;
    if (this.inputEnded && this.inputKind === 'stream') session.endOfInput();
    this.resumeInput();
    return session;
  }

  private resumeInput(): void {
    if (!this.input || !this.current || this.current.ended) return;
    if (this.inputKind === 'tty' && !this.raw) return;
    this.input.resume();
  }

  /** SIGWINCH: the pty follows tsinit's terminal. False when tsinit has no terminal size to give. */
  resize(): boolean {
    const size = terminalSize();
    if (!size) return false;
    try {
      this.current?.resize(size);
    } catch (e) {
      debug('resize: %s', (e as Error).message);
    }
    return true;
  }

  /** Raw mode on tsinit's terminal and keys to the pty (at start, and after `fg`). */
  enterRaw(): void {
    if (this.inputKind !== 'tty' || !this.tty) return;
    try {
      this.tty.setRawMode(true);
      this.raw = true;
    } catch (e) {
      debug('raw mode: %s', (e as Error).message);
    }
    this.resumeInput();
  }

  /** The terminal as tsinit found it (before tsinit stops itself, and at the end). */
  leaveRaw(): void {
    if (!this.tty) return;
    this.tty.pause();
    if (!this.raw) return;
    try {
      this.tty.setRawMode(false);
    } catch (e) {
      debug('cooked mode: %s', (e as Error).message);
    }
    this.raw = false;
  }
}

/** One incarnation's pty. */
