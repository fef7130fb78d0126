// Health probes (--health-cmd, --health-http), as Kubernetes runs liveness probes: one in flight at a
// time, a timeout, and an outcome the Watchdog counts against a failure threshold. This file runs a
// probe and classifies what happened; scheduling and counting are the Watchdog's (probeDue/probeFinished).
//
// Never blame yourself: only an answer from the service is a failure (a non-zero exit, an HTTP error
// status, a refused or reset connection, no answer in time). When tsinit cannot run or judge the probe
// (EMFILE, a spawn error, a command that does not exist, no local port left) the outcome is
// 'unknown', which never counts toward a kill.
import { openSync, closeSync, readSync } from 'node:fs';
// node:http, node:https and node:net are loaded by the probes that use them, not at startup.
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { Socket } from 'node:net';
import { Child, spawnChild } from '../process/spawn';
import { Reaper } from '../process/reaper';
import { describeStatus } from '../exit-status';
import { SIGKILL } from '../signals';
import { formatDuration } from '../values';
import { parseHealthUrl } from '../cli/options';
import * as libc from '../sys/libc';
import type { ProbeOutcome } from './watchdog';

export type { ProbeOutcome };

export interface HealthProbe {
  /** 'health-cmd' or 'health-http': the source name for the Watchdog and for reports */
  readonly source: string;
  /** what is probed, for lines: the command or the URL */
  readonly target: string;
  readonly inFlight: boolean;
  /** Runs one probe. While one runs, returns that one: there are never two. Never rejects. */
  run(): Promise<ProbeOutcome>;
}

/** Shares the one-in-flight rule and the never-reject rule between both kinds. */
abstract class OneAtATime implements HealthProbe {
  abstract readonly source: string;
  abstract readonly target: string;
  private running: Promise<ProbeOutcome> | null = null;
  /** probes run, for tests and debug lines */
  runs = 0;

  get inFlight(): boolean {
    return this.running !== null;
  }

  run(): Promise<ProbeOutcome> {
    if (this.running) return this.running;
    this.runs++;
    const p = this.once()
      .catch((e: unknown): ProbeOutcome => ({ result: 'unknown', detail: `probe error: ${errText(e)}` }))
      .then((o) => {
        this.running = null;
        return o;
      });
    this.running = p;
    return p;
  }

  protected abstract once(): Promise<ProbeOutcome>;
}

function errText(e: unknown): string {
  if (e instanceof libc.SysError) return e.message;
  const err = e as NodeJS.ErrnoException;
  return err?.code ?? err?.message ?? String(e);
}

// ---- --health-cmd --------------------------------------------------------------------------------

export interface HealthCmdOptions {
  timeoutMs: number;
  reaper: Reaper;
  /** extra environment for the command */
  env?: Record<string, string>;
  /** the service's user, so the probe sees what the service sees */
  user?: Parameters<typeof spawnChild>[0]['user'];
  /** bytes of the command's output kept for the failure line (default 512) */
  outputBytes?: number;
}

/**
 * `/bin/sh -c CMD` in its own process group, spawned by tsinit (never child_process: tsinit's reaper
 * must own every child). stdin is /dev/null; stdout and stderr go to a pipe whose tail ends up in the
 * failure line, as Kubernetes shows a probe's output. On timeout the whole group is SIGKILLed and
 * reaped; after any exit, what is left of the group (a `cmd &` the probe forgot) is SIGKILLed too.
 * If even SIGKILL cannot end it (a process stuck in D state), the probe stays in flight, so that stuck
 * probes do not pile up; the Watchdog reports that as unknown.
 */
export class HealthCmdProbe extends OneAtATime {
  readonly source = 'health-cmd';

  constructor(
    readonly target: string,
    private readonly opts: HealthCmdOptions,
  ) {
    super();
  }

  protected async once(): Promise<ProbeOutcome> {
    const { timeoutMs } = this.opts;
    let devNull = -1;
    let r = -1;
    let w = -1;
    let child: Child;
    try {
      devNull = openSync('/dev/null', 'r'); // Node opens with O_CLOEXEC
      [r, w] = libc.pipe();
      child = spawnChild(
        {
          // '--': a command that starts with '-' is the command, not an option of sh.
          argv: ['/bin/sh', '-c', '--', this.target],
          fds: [[0, devNull], [1, w], [2, w]],
          env: this.opts.env,
          user: this.opts.user,
        },
        this.opts.reaper,
      );
    } catch (e) {
      if (r >= 0) libc.close(r);
      return { result: 'unknown', detail: `cannot start the health command: ${errText(e)}` };
    } finally {
      // The child has its copies; tsinit keeps only the read end.
      if (devNull >= 0) closeSync(devNull);
      if (w >= 0) libc.close(w);
    }
    const output = new OutputTail(r, this.opts.outputBytes ?? 512);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pgid);
    }, timeoutMs);
    const status = await child.exited;
    clearTimeout(timer);
    // Right after the reap, before anything else runs: the group id cannot have been reused yet
    // while members remain, and a new process cannot have taken it in between.
    killGroup(child.pgid);
    const text = output.finish();
    const said = text ? `: ${text}` : '';
    if (timedOut) return { result: 'timeout', detail: `no exit within ${formatDuration(timeoutMs)}${said}` };
    if (status.code === 0) return { result: 'success', detail: text || undefined };
    // sh's own "not found" / "not executable": the probe is misconfigured, which says nothing about the service.
    if (status.code === 127 || status.code === 126) {
      return { result: 'unknown', detail: `health command could not run (exit ${status.code})${said}` };
    }
    return { result: 'failure', detail: `exit ${status.code ?? describeStatus(status)}${said}` };
  }
}

function killGroup(pgid: number): void {
  try {
    libc.kill(-pgid, SIGKILL);
  } catch {
    // EPERM cannot happen for our own children; nothing else to do
  }
}

/**
 * Keeps the last bytes written to a pipe. Reads while the probe runs (so a chatty probe never blocks
 * on a full pipe) and, at the end, takes what is still in the pipe synchronously: the probe's last
 * words were written before it exited, but libuv may not have read them yet. It never waits for EOF,
 * which a forgotten background process holding the pipe would withhold forever.
 */
class OutputTail {
  private buf = Buffer.alloc(0);
  private readonly socket: Socket;

  constructor(
    private readonly fd: number,
    private readonly keep: number,
  ) {
    const net = require('node:net') as typeof import('node:net');
    this.socket = new net.Socket({ fd, readable: true, writable: false });
    this.socket.on('data', (chunk: Buffer) => this.add(chunk));
    this.socket.on('error', () => undefined);
  }

  private add(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > this.keep) this.buf = this.buf.subarray(this.buf.length - this.keep);
  }

  finish(): string {
    this.socket.pause();
    for (let chunk = this.socket.read() as Buffer | null; chunk; chunk = this.socket.read() as Buffer | null) this.add(chunk);
    // libuv made the fd non-blocking: read until EAGAIN (nothing left) or EOF.
    const scratch = Buffer.alloc(4096);
    for (let i = 0; i < 256; i++) {
      let n: number;
      try {
        n = readSync(this.fd, scratch, 0, scratch.length, null);
      } catch {
        break;
      }
      if (n <= 0) break;
      this.add(scratch.subarray(0, n));
    }
    this.socket.destroy();
    return this.buf.toString('utf8').replace(/\s+/g, ' ').trim();
  }
}

// ---- --health-http -------------------------------------------------------------------------------

export { parseHealthUrl };

/** The answers of a service (or of its absence): failures. Everything else is tsinit's side: unknown. */
const SERVICE_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

export interface HealthHttpOptions {
  timeoutMs: number;
}

/**
 * GET URL with a fresh connection (agent: false), `Connection: close`, and the socket destroyed as soon
 * as the status line is in, whatever happens: no keep-alive pool and nothing left half-closed, so a
 * thousand probes leave no sockets behind (no pile-up in FIN_WAIT or TIME_WAIT on the service's
 * side). 200-399 is healthy, as in Kubernetes; https is not verified, as in Kubernetes.
 */
export class HealthHttpProbe extends OneAtATime {
  readonly source = 'health-http';
  readonly target: string;
  private readonly url: URL;

  constructor(
    url: string | URL,
    private readonly opts: HealthHttpOptions,
  ) {
    super();
    this.url = typeof url === 'string' ? parseHealthUrl(url) : url;
    this.target = this.url.href;
  }

  protected once(): Promise<ProbeOutcome> {
    return new Promise((resolve) => {
      const { timeoutMs } = this.opts;
      let done = false;
      let req: http.ClientRequest | null = null;
      // A name that has not resolved by the timeout is the resolver's problem, not the service's.
      const host = this.url.hostname.replace(/^\[|\]$/g, '');
      let resolved = (require('node:net') as typeof import('node:net')).isIP(host) !== 0;
      const finish = (o: ProbeOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req?.destroy();
        resolve(o);
      };
      const timer = setTimeout(() => {
        if (!resolved) finish({ result: 'unknown', detail: `cannot probe: looking up ${host} took longer than ${formatDuration(timeoutMs)}` });
        else finish({ result: 'timeout', detail: `no answer within ${formatDuration(timeoutMs)}` });
      }, timeoutMs);
      const mod = (this.url.protocol === 'https:' ? require('node:https') : require('node:http')) as typeof https;
      try {
        req = mod.request(
          this.url,
          {
            method: 'GET',
            agent: false,
            headers: { Connection: 'close', 'User-Agent': 'tsinit-health' },
            rejectUnauthorized: false,
          },
          (res) => {
            const code = res.statusCode ?? 0;
            res.on('error', () => undefined);
            res.destroy();
            finish(code >= 200 && code < 400 ? { result: 'success', detail: `HTTP ${code}` } : { result: 'failure', detail: `HTTP ${code}` });
          },
        );
      } catch (e) {
        finish({ result: 'unknown', detail: `cannot send the request: ${errText(e)}` });
        return;
      }
      // Always listened to: a destroy() after finish() may still emit an error, and an unhandled
      // 'error' would crash tsinit.
      req.on('socket', (socket) => socket.once('lookup', () => (resolved = true)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? '';
        if (SERVICE_ERRORS.has(code) || code.startsWith('HPE_')) finish({ result: 'failure', detail: code });
        else finish({ result: 'unknown', detail: `cannot probe: ${code || e.message}` });
      });
      req.end();
    });
  }
}
