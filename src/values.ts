// The values a user types and reads: durations, sizes, limits, signal names, exit codes. Each is
// parsed here (throwing UsageError with a message meant for the user) and formatted here, so that
// every message and every option says them the same way. Pure, and below every other module.
import { constants } from 'node:os';
import { isSignal } from './signals';

/** Bad input from the user: tsinit prints it as one line and exits 125. */
export class UsageError extends Error {}

// ---- durations -------------------------------------------------------------------------------------

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest duration: what one timer of Node can wait (a longer delay fires at once). 24.8 days is
 * longer than any job or grace period; beyond it is a usage error rather than a surprise.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** "2s", "500ms", "1.5m", "1h", or a bare number of seconds (as timeout(1) takes) -> milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new UsageError(`invalid duration '${text}' (examples: 500ms, 2s, 1m, 1h)`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 's']);
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new UsageError(`duration '${text}' is too long (at most ${MAX_DURATION_MS}ms, about 24.8 days)`);
  }
  return ms;
}

/** A duration the user gave or a limit: 400 -> "400ms", 31200 -> "31.2s", 3600000 -> "60m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  return `${Number((ms / 60_000).toFixed(1))}m`;
}

/** A measured time, always in seconds with one decimal: 3000 -> "3.0s", 420 -> "0.4s". */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** 0.004 -> "0.00s", 75 -> "1m15s", 7322 -> "2h02m", 200000 -> "2d07h". */
export function formatElapsed(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  if (sec < 60) return `${Math.floor(sec)}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (sec < 3600) return `${Math.floor(sec / 60)}m${pad(Math.floor(sec % 60))}s`;
  if (sec < 86_400) return `${Math.floor(sec / 3600)}h${pad(Math.floor((sec % 3600) / 60))}m`;
  return `${Math.floor(sec / 86_400)}d${pad(Math.floor((sec % 86_400) / 3600))}h`;
}

// ---- sizes ----------------------------------------------------------------------------------------

/** "10M", "512k", "1048576" -> bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*([kmg]i?b?|b)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`invalid size '${text}' (examples: 1M, 512k, 65536)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit] ?? 1;
  return Number(m[1]) * factor;
}

/** A size in prose: 812 -> "812 bytes", 3300 -> "3.2 KiB", 1.5e6 -> "1.4 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** 812 -> "812K", 3300 -> "3.2M", 1.5e6 -> "1.4G". */
export function formatKb(kb: number): string {
  if (kb < 1024) return `${kb}K`;
  if (kb < 1024 * 1024) return `${(kb / 1024).toFixed(1)}M`;
  return `${(kb / 1024 / 1024).toFixed(1)}G`;
}

// ---- numbers, booleans, choices ------------------------------------------------------------------------

/** Strict booleans for environment twins: tini's "=0 enables" trap is not repeated here. */
export function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  throw new UsageError(`invalid boolean '${text}' (use 1/0, true/false, yes/no, on/off)`);
}

export function parseInteger(text: string, min: number, max: number, what = 'number'): number {
  if (!/^\s*[-+]?\d+\s*$/.test(text)) throw new UsageError(`invalid ${what} '${text}'`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${what} ${n} is out of range (${min}..${max})`);
  return n;
}

export function parseExitCode(text: string): number {
  return parseInteger(text, 0, 255, 'exit code');
}

export function parseChoice<T extends string>(choices: readonly T[], what: string) {
  return (text: string): T => {
    if ((choices as readonly string[]).includes(text)) return text as T;
    throw new UsageError(`invalid ${what} '${text}' (one of: ${choices.join(', ')})`);
  };
}

// ---- limits: at most N events within a window ------------------------------------------------------------

export interface RateLimit {
  count: number;
  windowMs: number;
}

/** "5/10s": at most 5 events within 10 seconds. */
export function parseRateLimit(text: string): RateLimit {
  const m = /^\s*(\d+)\s*\/\s*(.+)$/.exec(text);
  if (!m) throw new UsageError(`invalid limit '${text}' (example: 5/10s)`);
  const windowMs = parseDuration(m[2]);
  if (windowMs <= 0) throw new UsageError(`invalid limit '${text}': the window must be longer than 0`);
  return { count: Number(m[1]), windowMs };
}

/**
 * At most N events within a sliding window ("N/DURATION": --restart-limit, --logger-restart-limit,
 * --watchdog-max-kills). Pure: the caller passes the time of each event.
 */
export class RateLimiter {
  private times: number[] = [];
  constructor(readonly limit: RateLimit) {}

  /** Records an event at `now` if the limit allows it. */
  tryTake(now: number): boolean {
    this.prune(now);
    if (this.times.length >= this.limit.count) return false;
    this.times.push(now);
    return true;
  }

  /** events within the window ending at `now` */
  count(now: number): number {
    this.prune(now);
    return this.times.length;
  }

  /** events within the last `ms` (shorter than the window) before `now` */
  within(now: number, ms: number): number {
    return this.times.filter((t) => t > now - ms).length;
  }

  private prune(now: number): void {
    this.times = this.times.filter((t) => t > now - this.limit.windowMs);
  }
}

// ---- signal names ---------------------------------------------------------------------------------

const BY_NAME = constants.signals as Record<string, number>;
const BY_NUMBER = new Map<number, string>();
for (const [name, n] of Object.entries(BY_NAME)) {
  // Aliases (SIGIOT = SIGABRT, SIGPOLL = SIGIO) must not shadow the usual name.
  if (!BY_NUMBER.has(n) || name === 'SIGABRT' || name === 'SIGIO') BY_NUMBER.set(n, name);
}

export function signalName(n: number): string {
  return BY_NUMBER.get(n) ?? `signal ${n}`;
}

/** "TERM", "SIGTERM", "term", "15" -> 15; null for anything else (32 and 33 are glibc's own, not signals). */
export function signalNumber(text: string): number | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return isSignal(n) ? n : null;
  }
  const upper = t.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return BY_NAME[name] ?? null;
}

export function parseSignal(text: string): number {
  const n = signalNumber(text);
  if (n === null) throw new UsageError(`unknown signal '${text}'`);
  return n;
}
