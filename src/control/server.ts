// The control socket: a unix stream socket through which `tsinit status`, `tsinit health` and
// `tsinit ctl` reach a running tsinit.
//
// Safety, in order of the questions a hostile neighbour would ask:
//   - Who may connect: the socket is created 0600 (under umask 0177, whatever the user's umask) and,
//     by default, in a directory tsinit checks is its own and 0700; then every client's credentials
//     (SO_PEERCRED) must be root's or tsinit's own uid.
//   - What is at the path already: a socket nobody answers on (a tsinit that was SIGKILLed) is
//     replaced; a socket someone answers on (another tsinit) is left alone; anything else (a file, a
//     symlink, a directory) is never touched nor followed. Then tsinit runs without a socket and says so.
//   - What a client can do to tsinit: nothing that blocks. Requests are bounded in size and in time,
//     clients in number, answers are a few hundred bytes written without waiting; every handle is
//     unref'd, so a client never keeps tsinit alive either.
//   - At the end: the socket is removed, if it is still the one tsinit made.
import * as fs from 'node:fs';
// node:net is loaded when a socket is made: a run without a control socket never loads it.
import type * as net from 'node:net';
import { dirname } from 'node:path';
import type { TsinitEvent } from '../event-catalogue';
import { peerCredentials } from '../sys/libc';
import { signalNumber } from '../values';
import { MAX_CLIENTS, MAX_REQUEST, parseRequest, REQUEST_TIMEOUT_MS, Response } from './protocol';
import type { Status } from './status';

/** What the control socket can ask of tsinit. Each command answers with one line or throws ControlError. */
export interface ControlTarget {
  status(): Status;
  /** stop the service through the stop sequence, then start it again */
  restart(): string;
  /** send `sig` to the service as if tsinit had received it (rewrites apply; stop signals stop) */
  signal(sig: number): string;
  /** stop the service and tsinit, as SIGTERM would */
  stop(): string;
}

/** A command the target refuses (nothing to restart, already stopping, ...). */
export class ControlError extends Error {}

/** Why the socket cannot be opened at a path; tsinit then runs without one. */
class Unavailable extends Error {}

export interface ServerOptions {
  path: string;
  /** the default path: tsinit creates the directory and checks that it is its own */
  ownDir: boolean;
  target: ControlTarget;
  emit: (e: TsinitEvent) => void;
}

export class ControlServer {
  private server: net.Server | null = null;
  private ino: number | null = null;
  private readonly clients = new Set<net.Socket>();
  private closed = false;

  constructor(private readonly o: ServerOptions) {}

  /** Opens the socket; never throws (a failure is one line, and tsinit goes on without it). */
  async start(): Promise<boolean> {
    try {
      this.prepareDir();
      await this.clearStale();
      if (this.closed) return false;
      await this.listen();
      this.o.emit({ type: 'control-listening', path: this.o.path });
      return true;
    } catch (e) {
      if (!(e instanceof Unavailable)) {
        const err = e as NodeJS.ErrnoException;
        this.o.emit({ type: 'control-unavailable', path: this.o.path, reason: err.code ? `${err.code}: ${err.message}` : String(err.message), explicit: !this.o.ownDir });
        return false;
      }
      this.o.emit({ type: 'control-unavailable', path: this.o.path, reason: e.message, explicit: !this.o.ownDir });
      return false;
    }
  }

  private prepareDir(): void {
    const dir = dirname(this.o.path);
    if (!this.o.ownDir) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      return;
    }
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const st = fs.lstatSync(dir);
    const uid = process.getuid!();
    if (!st.isDirectory()) throw new Unavailable(`${dir} is not a directory (a symlink or a file): not using it`);
    if (st.uid !== uid) throw new Unavailable(`${dir} belongs to uid ${st.uid}, not to tsinit's uid ${uid}: not using it`);
    if ((st.mode & 0o077) !== 0) {
      // Made by us (or by an earlier tsinit) with a lax umask: tighten it, it is ours.
      fs.chmodSync(dir, 0o700);
    }
  }

  /** A leftover socket nobody answers on is removed; anything else at the path stays. */
  private async clearStale(): Promise<void> {
    const path = this.o.path;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (!st.isSocket()) throw new Unavailable(`${path} exists and is not a socket: not replacing it`);
    if (await answers(path)) throw new Unavailable(`another tsinit answers at ${path}: leaving it alone (give this one --control-socket PATH)`);
    fs.unlinkSync(path);
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = loadNet().createServer({ allowHalfOpen: true }, (sock) => this.onClient(sock));
      server.maxConnections = MAX_CLIENTS;
      server.once('error', reject);
      // bind() creates the socket file with 0777 & ~umask: 0600 from its first moment, whatever the
      // user's umask. listen() binds synchronously, so no other file is created under this umask.
      const old = process.umask(0o177);
      try {
        server.listen(this.o.path, () => {
          server.off('error', reject);
          server.on('error', () => undefined);
          try {
            this.ino = fs.lstatSync(this.o.path).ino;
          } catch {
            this.ino = null;
          }
          resolve();
        });
      } finally {
        process.umask(old);
      }
      server.unref();
      this.server = server;
    });
  }

  private onClient(sock: net.Socket): void {
    sock.unref();
    sock.on('error', () => undefined);
    if (this.closed) return void sock.destroy();
    this.clients.add(sock);
    const timer = setTimeout(() => sock.destroy(), REQUEST_TIMEOUT_MS);
    timer.unref();
    sock.on('close', () => {
      clearTimeout(timer);
      this.clients.delete(sock);
    });
    let peer: { pid: number; uid: number };
    try {
      const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new Error('no fd');
      peer = peerCredentials(fd);
    } catch (e) {
      this.o.emit({ type: 'control-refused', uid: -1, pid: -1, reason: `cannot read its credentials (${(e as Error).message})` });
      return void sock.destroy();
    }
    const own = process.getuid!();
    if (peer.uid !== 0 && peer.uid !== own) {
      this.o.emit({ type: 'control-refused', uid: peer.uid, pid: peer.pid, reason: `only root and uid ${own} may use it` });
      return void sock.end(JSON.stringify({ ok: false, message: `permission denied: only root and uid ${own} may use this socket` }) + '\n');
    }
    let text = '';
    let answered = false;
    const answer = () => {
      if (answered) return;
      answered = true;
      sock.end(JSON.stringify(this.handle(text.replace(/\n[\s\S]*$/, ''), peer)) + '\n');
    };
    sock.setEncoding('latin1');
    sock.on('data', (chunk: string) => {
      if (answered) return;
      text += chunk;
      if (text.length > MAX_REQUEST) {
        answered = true;
        sock.end(JSON.stringify({ ok: false, message: `request too long (at most ${MAX_REQUEST} bytes)` }) + '\n');
        return;
      }
      if (text.includes('\n')) answer();
    });
    sock.on('end', answer);
  }

  private handle(line: string, peer: { pid: number; uid: number }): Response {
    const req = parseRequest(line);
    if ('error' in req) return { ok: false, message: req.error };
    const t = this.o.target;
    if (req.cmd === 'status') return { ok: true, message: 'status', status: t.status() };
    const command = req.cmd === 'signal' ? `signal ${req.signal}` : req.cmd;
    let res: Response;
    try {
      if (req.cmd === 'restart') res = { ok: true, message: t.restart() };
      else if (req.cmd === 'stop') res = { ok: true, message: t.stop() };
      else {
        const sig = signalNumber(req.signal);
        if (sig === null) throw new ControlError(`unknown signal '${req.signal}'`);
        res = { ok: true, message: t.signal(sig) };
      }
    } catch (e) {
      if (!(e instanceof ControlError)) throw e;
      res = { ok: false, message: e.message };
    }
    this.o.emit({ type: 'control', command, uid: peer.uid, pid: peer.pid, ok: res.ok, result: res.message });
    return res;
  }

  /** Closes the socket and removes it, if the path still names the socket tsinit made. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.clients) c.destroy();
    if (!this.server) return;
    this.server.close();
    try {
      const st = fs.lstatSync(this.o.path);
      if (st.isSocket() && st.ino === this.ino) fs.unlinkSync(this.o.path);
    } catch {
      // already gone
    }
  }
}

/** Whether something accepts connections at `path` (a live tsinit). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = loadNet().connect({ path });
    sock.unref();
    const done = (live: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(live);
    };
    // A unix connect is answered by the kernel at once; a listener that does not even accept counts as live.
    const timer = setTimeout(() => done(true), 500);
    sock.on('connect', () => done(true));
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code !== 'ECONNREFUSED' && e.code !== 'ENOENT'));
  });
}

function loadNet(): typeof net {
  return require('node:net') as typeof net;
}
