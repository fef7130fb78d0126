// Every option tsinit has, in one table: its flag, its TSINIT_ environment twin, its parser, its
// default and its help text. The parsers are pure and throw UsageError with a message for the user.
import { signalNumber } from '../signals';

export class UsageError extends Error {}

// ---- value parsers --------------------------------------------------------------------------------

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "2s", "500ms", "1.5m", "1h", or a bare number of seconds (as timeout(1) takes) -> milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new UsageError(`invalid duration '${text}' (examples: 500ms, 2s, 1m, 1h)`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 's'];
  if (!Number.isFinite(ms) || ms > 2 ** 31) throw new UsageError(`duration '${text}' is too long`);
  return Math.round(ms);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  return `${Number((ms / 60_000).toFixed(1))}m`;
}

export function parseSignal(text: string): number {
  const n = signalNumber(text);
  if (n === null) throw new UsageError(`unknown signal '${text}'`);
  return n;
}

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

/** "TERM:QUIT" -> [15, 3]; "USR1:0" or "USR1:none" drops the signal (to = 0). */
export function parseRewrite(text: string): [number, number] {
  const m = /^([^:]+):([^:]+)$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid rewrite '${text}' (example: TERM:QUIT, or USR1:none to drop)`);
  const from = parseSignal(m[1]);
  const to = ['0', 'none'].includes(m[2].toLowerCase()) ? 0 : parseSignal(m[2]);
  return [from, to];
}

export function parseChoice<T extends string>(choices: readonly T[], what: string) {
  return (text: string): T => {
    if ((choices as readonly string[]).includes(text)) return text as T;
    throw new UsageError(`invalid ${what} '${text}' (one of: ${choices.join(', ')})`);
  };
}

/** --health-http: an absolute http:// or https:// URL. */
export function parseHealthUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid URL '${text}' (example: http://127.0.0.1:8080/healthz)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--health-http needs an http:// or https:// URL, not '${text}'`);
  }
  return url;
}

/** "10M", "512k", "1048576" -> bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*([kmg]i?b?|b)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`invalid size '${text}' (examples: 1M, 512k, 65536)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit] ?? 1;
  return Number(m[1]) * factor;
}

// ---- the options --------------------------------------------------------------------------------

export interface Options {
  command: string[];
  verbose: boolean;
  subreaper: boolean;
  signalMainOnly: boolean;
  rewrite: Map<number, number>;
  killAfterMs: number;
  remapExit: Set<number>;
  warnReaped: boolean;
  keepOrphans: boolean;
  nice?: number;
  user?: string;
  // logging
  logger?: string;
  loggerStderr: 'merged' | 'separate';
  pipeSize: number;
  graceMs: number;
  loggerRestartLimit: RateLimit;
  logDir?: string;
  logMaxBytes: number;
  logKeep: number;
  // supervision
  restart: 'no' | 'on-failure' | 'always';
  successExit: Set<number>;
  restartLimit: RateLimit;
  restartDelayMs: number;
  restartDelayMaxMs: number;
  watchdogMs?: number;
  watchdogFile?: string;
  watchdogSignal: number;
  watchdogMaxKills: RateLimit;
  startTimeoutMs: number;
  notify: boolean;
  healthCmd?: string;
  healthHttp?: string;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  healthFailures: number;
  daemon: boolean;
  pidfile?: string;
  daemonTimeoutMs: number;
  // CI and terminals
  timeoutMs?: number;
  pdeathsig?: number;
  events?: string;
  pty: boolean;
}

type Kind = 'flag' | 'value' | 'list';

export interface OptionSpec {
  key: keyof Options;
  flags: string;
  help: string;
  kind: Kind;
  parse?: (text: string) => unknown;
  /** shown in --help; the real default lives in DEFAULTS */
  defaultText?: string;
}

export const DEFAULTS: Omit<Options, 'command'> = {
  verbose: false,
  subreaper: true,
  signalMainOnly: false,
  rewrite: new Map(),
  killAfterMs: 5000,
  remapExit: new Set(),
  warnReaped: false,
  keepOrphans: false,
  loggerStderr: 'merged',
  pipeSize: 1024 * 1024,
  graceMs: 2000,
  loggerRestartLimit: { count: 5, windowMs: 10_000 },
  logMaxBytes: 10 * 1024 * 1024,
  logKeep: 10,
  restart: 'no',
  successExit: new Set([0]),
  restartLimit: { count: 5, windowMs: 10_000 },
  restartDelayMs: 100,
  restartDelayMaxMs: 30_000,
  watchdogSignal: 6,
  watchdogMaxKills: { count: 3, windowMs: 600_000 },
  startTimeoutMs: 90_000,
  notify: false,
  healthIntervalMs: 10_000,
  healthTimeoutMs: 5_000,
  healthFailures: 3,
  daemon: false,
  daemonTimeoutMs: 10_000,
  pty: false,
};

const nonNegativeInt = (what: string) => (t: string) => parseInteger(t, 0, 2 ** 31 - 1, what);

export const OPTION_SPECS: OptionSpec[] = [
  { key: 'verbose', flags: '-v, --verbose', kind: 'flag', help: 'print lifecycle lines on stderr' },
  {
    key: 'subreaper', flags: '--no-subreaper', kind: 'flag',
    help: 'when not PID 1, do not become a child subreaper (orphans then go to the real init)',
  },
  {
    key: 'signalMainOnly', flags: '--signal-main-only', kind: 'flag',
    help: "forward signals to the service's main process only, not its whole process group",
  },
  {
    key: 'rewrite', flags: '-r, --rewrite <FROM:TO>', kind: 'list', parse: parseRewrite,
    help: 'rewrite a forwarded signal (names or numbers); TO of 0 or none drops it; repeatable',
  },
  {
    key: 'killAfterMs', flags: '-k, --kill-after <DURATION>', kind: 'value', parse: parseDuration,
    defaultText: '5s', help: 'after a stop signal, SIGKILL what is left of the service group this much later',
  },
  {
    key: 'remapExit', flags: '-e, --remap-exit <CODE>', kind: 'list', parse: parseExitCode,
    help: "exit 0 when the service exits with CODE (e.g. 143 for the JVM); repeatable",
  },
  { key: 'warnReaped', flags: '-w, --warn-reaped', kind: 'flag', help: 'print a line for each orphan reaped' },
  {
    key: 'keepOrphans', flags: '--keep-orphans', kind: 'flag',
    help: 'when the service exits, leave its other processes running instead of stopping them',
  },
  {
    key: 'nice', flags: '--nice <N>', kind: 'value', parse: (t) => parseInteger(t, -20, 19, 'niceness'),
    help: "run the service at this niceness (-20..19) instead of inheriting tsinit's",
  },
  {
    key: 'user', flags: '-u, --user <USER[:GROUP]>', kind: 'value', parse: (t) => t,
    help: "run the service as this user (name or number) with that user's groups",
  },
  {
    key: 'logger', flags: '-l, --logger <CMD>', kind: 'value', parse: (t) => t,
    help: "run CMD (with /bin/sh -c) as a sidecar logger reading the service's output on its stdin",
  },
  {
    key: 'loggerStderr', flags: '--logger-stderr <MODE>', kind: 'value',
    parse: parseChoice(['merged', 'separate'] as const, 'logger stderr mode'), defaultText: 'merged',
    help: "merged: stderr shares the logger's stdin; separate: stderr comes on the logger's fd 3",
  },
  {
    key: 'pipeSize', flags: '--pipe-size <BYTES>', kind: 'value', parse: parseSize, defaultText: '1M',
    help: 'capacity of the log pipe (capped at /proc/sys/fs/pipe-max-size)',
  },
  {
    key: 'graceMs', flags: '-g, --grace <DURATION>', kind: 'value', parse: parseDuration, defaultText: '2s',
    help: 'time the logger has to drain and exit after the service is gone, before SIGTERM',
  },
  {
    key: 'loggerRestartLimit', flags: '--logger-restart-limit <N/DURATION>', kind: 'value',
    parse: parseRateLimit, defaultText: '5/10s', help: 'give up (exit 125) when the logger dies more often',
  },
  {
    key: 'logDir', flags: '--log-dir <DIR>', kind: 'value', parse: (t) => t,
    help: "use the built-in JSON-lines writer (tsinit logd) as the logger, writing into DIR",
  },
  {
    key: 'logMaxBytes', flags: '--log-max-bytes <BYTES>', kind: 'value', defaultText: '10M',
    parse: (t) => {
      const n = parseSize(t);
      if (n < 4096) throw new UsageError(`--log-max-bytes ${t} is too small (at least 4k)`);
      return n;
    },
    help: 'with --log-dir: rotate the current file at this size',
  },
  {
    key: 'logKeep', flags: '--log-keep <N>', kind: 'value', parse: nonNegativeInt('file count'),
    defaultText: '10', help: 'with --log-dir: keep this many rotated files',
  },
  {
    key: 'restart', flags: '--restart <POLICY>', kind: 'value',
    parse: parseChoice(['no', 'on-failure', 'always'] as const, 'restart policy'), defaultText: 'no',
    help: 'restart the service when it exits: no, on-failure, always',
  },
  {
    key: 'successExit', flags: '--success-exit <CODE>', kind: 'list', parse: parseExitCode,
    help: 'an exit code that counts as success for --restart on-failure (0 always does); repeatable',
  },
  {
    key: 'restartLimit', flags: '--restart-limit <N/DURATION>', kind: 'value', parse: parseRateLimit,
    defaultText: '5/10s', help: 'give up restarting after N restarts within DURATION',
  },
  {
    key: 'restartDelayMs', flags: '--restart-delay <DURATION>', kind: 'value', parse: parseDuration,
    defaultText: '100ms', help: 'first delay before a restart; doubles up to --restart-delay-max',
  },
  {
    key: 'restartDelayMaxMs', flags: '--restart-delay-max <DURATION>', kind: 'value', parse: parseDuration,
    defaultText: '30s', help: 'longest delay between restarts',
  },
  {
    key: 'watchdogMs', flags: '--watchdog <DURATION>', kind: 'value', parse: parseDuration,
    help: 'kill and restart the service when it sends no heartbeat for DURATION (fd TSINIT_WATCHDOG_FD, sd_notify WATCHDOG=1, or --watchdog-file)',
  },
  {
    key: 'watchdogFile', flags: '--watchdog-file <PATH>', kind: 'value', parse: (t) => t,
    help: "a heartbeat is the file's mtime changing (checked by stat polling, never inotify)",
  },
  {
    key: 'watchdogSignal', flags: '--watchdog-signal <SIGNAL>', kind: 'value', parse: parseSignal, defaultText: 'ABRT',
    help: 'signal for a hung service (then SIGKILL after --kill-after), as systemd does',
  },
  {
    key: 'watchdogMaxKills', flags: '--watchdog-max-kills <N/DURATION>', kind: 'value', parse: parseRateLimit,
    defaultText: '3/10m', help: 'past this many watchdog kills, stop killing and report loudly',
  },
  {
    key: 'startTimeoutMs', flags: '--start-timeout <DURATION>', kind: 'value', parse: parseDuration, defaultText: '90s',
    help: 'with --watchdog or --notify: time to READY=1 or the first heartbeat',
  },
  {
    key: 'notify', flags: '--notify', kind: 'flag',
    help: 'give the service a NOTIFY_SOCKET (sd_notify) even without --watchdog',
  },
  {
    key: 'healthCmd', flags: '--health-cmd <CMD>', kind: 'value', parse: (t) => t,
    help: 'probe the service by running CMD (sh -c); exit 0 is healthy',
  },
  {
    key: 'healthHttp', flags: '--health-http <URL>', kind: 'value', parse: (t) => parseHealthUrl(t).toString(),
    help: 'probe the service with an HTTP GET; 200-399 is healthy',
  },
  {
    key: 'healthIntervalMs', flags: '--health-interval <DURATION>', kind: 'value', parse: parseDuration,
    defaultText: '10s', help: 'time between health probes',
  },
  {
    key: 'healthTimeoutMs', flags: '--health-timeout <DURATION>', kind: 'value', parse: parseDuration,
    defaultText: '5s', help: 'a probe without an answer by then has failed (its process group is killed)',
  },
  {
    key: 'healthFailures', flags: '--health-failures <N>', kind: 'value', parse: (t) => parseInteger(t, 1, 1000, 'failure count'),
    defaultText: '3', help: 'consecutive failed probes that mean the service is hung',
  },
  {
    key: 'daemon', flags: '--daemon', kind: 'flag',
    help: 'the command daemonizes (forks, first process exits 0): adopt the daemon as the service',
  },
  {
    key: 'pidfile', flags: '--pidfile <PATH>', kind: 'value', parse: (t) => t,
    help: "with --daemon: the daemon's pidfile, trusted only if it names a live child of tsinit",
  },
  {
    key: 'daemonTimeoutMs', flags: '--daemon-timeout <DURATION>', kind: 'value', parse: parseDuration,
    defaultText: '10s', help: 'with --daemon: how long adoption may take',
  },
  {
    key: 'timeoutMs', flags: '-t, --timeout <DURATION>', kind: 'value', parse: parseDuration,
    help: 'stop the job after DURATION, print a hang report and exit 124 (like timeout(1))',
  },
  {
    key: 'pdeathsig', flags: '-p, --pdeathsig <SIGNAL>', kind: 'value', parse: parseSignal,
    help: "when tsinit's parent dies, act as if tsinit received SIGNAL",
  },
  {
    key: 'events', flags: '--events <FILE|fd:N>', kind: 'value', parse: (t) => t,
    help: 'write lifecycle events as JSON lines to FILE or to file descriptor N',
  },
  { key: 'pty', flags: '--pty', kind: 'flag', help: 'run the service in a new pseudo-terminal (needs node-pty)' },
];

/** TSINIT_ + the long flag name: --kill-after -> TSINIT_KILL_AFTER, --no-subreaper -> TSINIT_NO_SUBREAPER. */
export function envName(spec: OptionSpec): string {
  const long = /--([a-z0-9-]+)/.exec(spec.flags)![1];
  return `TSINIT_${long.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Folds one option's values into Options. Flags are booleans; `--no-x` flags store false.
 * Lists accumulate (CLI occurrences, or a comma-separated environment value).
 */
export function applyValue(opts: Partial<Options>, spec: OptionSpec, raw: unknown): void {
  const target = opts as Record<string, unknown>;
  if (spec.kind === 'flag') {
    const on = raw as boolean;
    target[spec.key] = spec.flags.startsWith('--no-') ? !on : on;
    return;
  }
  if (spec.kind === 'value') {
    target[spec.key] = raw;
    return;
  }
  const values = raw as unknown[];
  if (spec.key === 'rewrite') target.rewrite = new Map(values as Array<[number, number]>);
  else if (spec.key === 'successExit') target.successExit = new Set([0, ...(values as number[])]);
  else target[spec.key] = new Set(values as number[]);
}

/** Parses an environment twin's text into the raw value applyValue expects. */
export function parseEnvValue(spec: OptionSpec, text: string): unknown {
  if (spec.kind === 'flag') return parseBool(text);
  if (spec.kind === 'value') return spec.parse!(text);
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => spec.parse!(s));
}

/** Cross-option rules, checked once everything is parsed. */
export function validate(opts: Options): void {
  if (opts.command.length === 0) throw new UsageError('missing command (usage: tsinit [options] -- command [args...])');
  if (opts.logger !== undefined && opts.logDir !== undefined) {
    throw new UsageError('--logger and --log-dir cannot be used together (--log-dir is the built-in logger)');
  }
  if (opts.daemon && !opts.subreaper && process.pid !== 1) {
    throw new UsageError('--daemon needs tsinit to adopt the daemon: it cannot be used with --no-subreaper');
  }
  if (opts.pidfile !== undefined && !opts.daemon) throw new UsageError('--pidfile goes with --daemon');
  if (opts.healthCmd !== undefined && opts.healthHttp !== undefined) {
    throw new UsageError('--health-cmd and --health-http cannot be used together');
  }
  if (opts.restartDelayMaxMs < opts.restartDelayMs) {
    throw new UsageError('--restart-delay-max must not be shorter than --restart-delay');
  }
}
