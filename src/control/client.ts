// `tsinit status [--json]`, `tsinit health`, `tsinit ctl restart|stop|signal SIG`: clients of a
// running tsinit's control socket. They load nothing but this file, net and fs (no libc, no options
// table), so that a HEALTHCHECK every few seconds costs little. Exit status: 0 done (health: healthy),
// 1 not done (unhealthy, refused, no tsinit answers), 125 usage error.
import * as net from 'node:net';
import { writeSync } from 'node:fs';
import { clientSockets } from './paths';
import { formatRequest, Request, Response } from './protocol';
import { decideHealth, exitText, formatAgo, Status } from './status';

const EXIT_OK = 0;
const EXIT_NO = 1;
const EXIT_USAGE = 125;
/** The whole exchange; a tsinit that does not answer within it is as good as none. */
const CLIENT_TIMEOUT_MS = 5000;

const USAGE: Record<string, string> = {
  status: 'usage: tsinit status [--json] [--control-socket PATH]',
  health: 'usage: tsinit health [--control-socket PATH]',
  ctl: 'usage: tsinit ctl restart|stop|signal SIG [--control-socket PATH]',
};

function out(fd: number, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch {
      return;
    }
  }
}

class Usage extends Error {}

interface ClientArgs {
  socket?: string;
  json: boolean;
  words: string[];
}

function parseArgs(cmd: string, args: string[]): ClientArgs {
  const r: ClientArgs = { json: false, words: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json' && cmd === 'status') r.json = true;
    else if (a === '--control-socket' || a.startsWith('--control-socket=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (!v) throw new Usage(`--control-socket needs a path (${USAGE[cmd]})`);
      r.socket = v;
    } else if (a === '-h' || a === '--help') throw new Usage(USAGE[cmd]);
    else if (a.startsWith('-') && !(cmd === 'ctl' && r.words[0] === 'signal' && r.words.length === 1)) {
      throw new Usage(`unknown option ${a} (${USAGE[cmd]})`);
    } else r.words.push(a);
  }
  return r;
}

type Outcome = { response: Response; path: string } | { error: string };

/** Sends one request to the first socket that answers. */
async function ask(paths: string[], req: Request): Promise<Outcome> {
  const tried: string[] = [];
  for (const path of paths) {
    const r = await askOne(path, req);
    if ('response' in r) return { response: r.response, path };
    tried.push(`${path}: ${r.error}`);
    // Only "nothing there" moves on to the next candidate; a real answer or refusal is final.
    if (!r.absent) break;
  }
  return { error: `no tsinit answers (${tried.join('; ')})` };
}

function askOne(path: string, req: Request): Promise<{ response: Response } | { error: string; absent: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    let settled = false;
    const sock = net.connect({ path });
    const finish = (r: { response: Response } | { error: string; absent: boolean }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: `no answer within ${CLIENT_TIMEOUT_MS / 1000}s`, absent: false }), CLIENT_TIMEOUT_MS);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(formatRequest(req)));
    sock.on('data', (d: string) => {
      text += d;
      if (text.length > 1 << 20) finish({ error: 'answer too long', absent: false });
    });
    sock.on('end', () => {
      try {
        finish({ response: JSON.parse(text) as Response });
      } catch {
        finish({ error: text ? 'not a tsinit answer' : 'closed without an answer', absent: false });
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const absent = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTDIR';
      const why = e.code === 'ENOENT' ? 'no such socket' : e.code === 'ECONNREFUSED' ? 'nobody listens (a stale socket)'
        : e.code === 'EACCES' ? 'permission denied (tsinit runs as another user?)' : e.code ?? e.message;
      finish({ error: why, absent });
    });
  });
}

// ---- what the user sees ----------------------------------------------------------------------

/** `tsinit status`: a few aligned lines for a human. */
export function formatStatus(s: Status): string {
  const svc = s.service;
  const lines: string[] = [];
  const pid = svc.pid !== null ? ` (pid ${svc.pid}${svc.uptimeMs !== null ? `, up ${formatAgo(svc.uptimeMs)}` : ''})` : '';
  const last = svc.lastExit ? `, last exit ${exitText(svc.lastExit)}${svc.lastExit.agoMs !== null ? ` ${formatAgo(svc.lastExit.agoMs)} ago` : ''}` : '';
  lines.push(`service   ${svc.state}${pid}, restarts ${svc.restarts}${last}${svc.stopping ? `, stopping: ${svc.stopping}` : ''}`);
  lines.push(`command   ${svc.command}`);
  if (svc.ready !== null) lines.push(`ready     ${svc.ready ? 'yes' : 'no'}`);
  if (s.watchdog.configured) {
    lines.push(`watchdog  every ${formatAgo(s.watchdog.periodMs ?? 0)}, ${s.watchdog.kills} kill(s)${s.watchdog.lastKill ? `, last: ${s.watchdog.lastKill}` : ''}`);
  }
  if (s.probe.configured) {
    const p = s.probe;
    lines.push(`probe     ${p.configured} ${p.passing ? 'passing' : `failing (${p.failures}/${p.threshold})`}${p.lastFailure ? `, last failure: ${p.lastFailure}` : ''}`);
  }
  if (s.logger.kind !== 'none') {
    const l = s.logger;
    const lost = l.losses.length ? `, LOST: ${l.losses.join('; ')}` : ', nothing lost';
    lines.push(`logger    ${l.kind} ${l.state}${l.pid !== null ? ` (pid ${l.pid})` : ''}, restarts ${l.restarts}${lost}`);
  }
  lines.push(`tsinit    pid ${s.tsinit.pid}, up ${formatAgo(s.tsinit.uptimeMs)}, version ${s.tsinit.version}`);
  return lines.join('\n') + '\n';
}

export async function runClient(cmd: 'status' | 'health' | 'ctl', argv: string[]): Promise<number> {
  let args: ClientArgs;
  let req: Request;
  try {
    args = parseArgs(cmd, argv);
    if (cmd === 'ctl') {
      const [what, ...rest] = args.words;
      if ((what === 'restart' || what === 'stop') && rest.length === 0) req = { cmd: what };
      else if (what === 'signal' && rest.length === 1) req = { cmd: 'signal', signal: rest[0] };
      else throw new Usage(what ? `unknown or incomplete command '${args.words.join(' ')}' (${USAGE.ctl})` : USAGE.ctl);
    } else {
      if (args.words.length > 0) throw new Usage(`unexpected argument '${args.words[0]}' (${USAGE[cmd]})`);
      req = { cmd: 'status' };
    }
  } catch (e) {
    if (!(e instanceof Usage)) throw e;
    out(2, `tsinit: ${e.message}\n`);
    return EXIT_USAGE;
  }
  const paths = clientSockets(args.socket, { uid: process.getuid!(), pid1: process.pid === 1, env: process.env });
  const r = await ask(paths, req);
  if ('error' in r) {
    out(cmd === 'health' ? 1 : 2, `${cmd === 'health' ? 'unhealthy: ' : 'tsinit: '}${r.error}\n`);
    return EXIT_NO;
  }
  const res = r.response;
  if (!res.ok || (cmd !== 'ctl' && !res.status)) {
    out(2, `tsinit: ${res.message}\n`);
    return EXIT_NO;
  }
  if (cmd === 'ctl') {
    out(1, `${res.message}\n`);
    return EXIT_OK;
  }
  if (cmd === 'status') {
    out(1, args.json ? JSON.stringify(res.status) + '\n' : formatStatus(res.status!));
    return EXIT_OK;
  }
  const h = decideHealth(res.status!);
  out(1, `${h.healthy ? 'healthy' : 'unhealthy'}: ${h.reason}\n`);
  return h.healthy ? EXIT_OK : EXIT_NO;
}
