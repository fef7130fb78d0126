// The argv and environment tsinit's children get, as bytes. Node decodes process.argv and
// process.env as UTF-8 and replaces what is not (a Latin-1 file name, a binary token) with U+FFFD;
// the bytes tsinit received are in /proc/self/cmdline and /proc/self/environ, and children get those.
//
// The environment of a child is tsinit's without the TSINIT_* variables (tsinit's own options: a
// tsinit inside the job must not take them too) and with NODE_OPTIONS as tsinit was given it
// (bin/tsinit starts Node for tsinit without it and passes it on in TSINIT_SHIM_NODE_OPTIONS), plus
// what options give the child (NOTIFY_SOCKET, TSINIT_WATCHDOG_FD, HOME/USER/LOGNAME for --user).
import { readFileSync } from 'node:fs';
import * as libc from '../sys/libc';

/** Where bin/tsinit keeps NODE_OPTIONS while Node runs tsinit without it. */
export const SHIM_NODE_OPTIONS = 'TSINIT_SHIM_NODE_OPTIONS';
const PREFIX = Buffer.from('TSINIT_');
const EQ = 0x3d;

/** The entries of a NUL-separated /proc file (cmdline, environ), each without its NUL. */
export function splitNul(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      out.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

/** The name of an environment entry (the bytes before the first '='; all of it without one). */
function nameOf(entry: Buffer): string {
  const eq = entry.indexOf(EQ);
  return entry.subarray(0, eq < 0 ? entry.length : eq).toString('latin1');
}

/**
 * Pure: tsinit's environment entries -> a child's. `set` gives variables their value (replacing the
 * inherited one where it was, else appended); null removes a variable.
 */
export function childEnvironment(entries: readonly Buffer[], set: Readonly<Record<string, string | null>> = {}): Buffer[] {
  const shimmed = entries.some((e) => nameOf(e) === SHIM_NODE_OPTIONS);
  const out: Buffer[] = [];
  const placed = new Set<string>();
  for (const entry of entries) {
    let name = nameOf(entry);
    let bytes = entry;
    if (name === SHIM_NODE_OPTIONS) {
      name = 'NODE_OPTIONS';
      bytes = Buffer.concat([Buffer.from('NODE_OPTIONS'), entry.subarray(SHIM_NODE_OPTIONS.length)]);
    } else if (entry.subarray(0, PREFIX.length).equals(PREFIX) || (shimmed && name === 'NODE_OPTIONS')) {
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(set, name)) {
      if (placed.has(name)) continue;
      placed.add(name);
      const value = set[name];
      if (value !== null) out.push(Buffer.from(`${name}=${value}`));
      continue;
    }
    out.push(bytes);
  }
  for (const [name, value] of Object.entries(set)) {
    if (!placed.has(name) && value !== null) out.push(Buffer.from(`${name}=${value}`));
  }
  return out;
}

/**
 * Pure: the bytes of `command` (the tail of tsinit's argv, as the option parser found it) from the
 * raw argv; `command` itself, encoded, where the raw argv does not end with it (it was not given
 * that way).
 */
export function rawCommand(command: readonly string[], rawArgv: readonly Buffer[]): Buffer[] {
  const tail = rawArgv.slice(rawArgv.length - command.length);
  const matches = command.length > 0 && tail.length === command.length && tail.every((b, i) => b.toString('utf8') === command[i]);
  return matches ? tail.map((b) => Buffer.from(b)) : command.map((s) => Buffer.from(s));
}

let environ: Buffer[] | null = null;
let cmdline: Buffer[] | null = null;

function readProc(file: string): Buffer[] | null {
  try {
    return splitNul(readFileSync(`/proc/self/${file}`));
  } catch {
    return null;
  }
}

/** tsinit's environment as it was given (read once: /proc/self/environ never changes). */
export function ownEnvironment(): Buffer[] {
  environ ??= readProc('environ') ?? Object.entries(process.env).map(([k, v]) => Buffer.from(`${k}=${v}`));
  return environ;
}

/** The bytes of the service's command, from tsinit's own argv. */
export function commandBytes(command: readonly string[]): Buffer[] {
  cmdline ??= readProc('cmdline') ?? [];
  return rawCommand(command, cmdline);
}

/** A child's environment, as bytes. */
export function environmentFor(set: Readonly<Record<string, string | null>> = {}): Buffer[] {
  return childEnvironment(ownEnvironment(), set);
}

/** The same as text, for node-pty (which takes strings: bytes that are not UTF-8 are lost there). */
export function environmentText(set: Readonly<Record<string, string | null>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of environmentFor(set)) {
    const text = entry.toString('utf8');
    const eq = text.indexOf('=');
    if (eq > 0) out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}

// Where tsinit was started, read when this module loads: before init.ts moves tsinit to /.
let startDir: string | null;
try {
  startDir = process.cwd();
} catch {
  startDir = null; // removed under tsinit's feet: children then start where tsinit is
}

/** The directory tsinit was started in, where its children start; null if it no longer exists. */
export function startDirectory(): string | null {
  return startDir;
}

/**
 * Moves tsinit to / (as dumb-init does): an init that sat in a volume would keep it busy, and it
 * could never be unmounted. Its children still start where it was started, through the spawn's
 * own chdir. A C library without posix_spawn_file_actions_addchdir_np (glibc 2.28) has no such
 * step, so there tsinit stays where it was started, as tini does, rather than entering the
 * directory around every spawn, where it would be seen in the wrong place.
 */
export function leaveStartDirectory(): void {
  if (startDir !== null && libc.canSpawnInDirectory()) process.chdir('/');
}

/** NUL-terminated copies, for C. */
export function cStrings(list: readonly (Buffer | string)[]): Buffer[] {
  return list.map((b) => Buffer.concat([typeof b === 'string' ? Buffer.from(b) : b, Buffer.alloc(1)]));
}

/** --user: HOME, USER and LOGNAME from the passwd entry, as `su` and `docker run --user` set them. */
export function userVariables(user: { name?: string; home?: string } | undefined): Record<string, string | null> {
  if (!user) return {};
  // A uid without a passwd entry: Docker's HOME=/, and no name rather than root's.
  return { HOME: user.home || '/', USER: user.name ?? null, LOGNAME: user.name ?? null };
}
