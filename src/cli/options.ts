// Every option tsinit has, in one table: its flag, its TSINIT_ environment twin, its parser, its
// default and its help text. The parsers are pure and throw UsageError with a message for the user.
import {
  parseBool, parseChoice, parseDuration, parseExitCode, parseInteger, parseRateLimit, parseSignal, parseSize, RateLimit,
  signalName, UsageError,
} from '../values';
import { DEFAULT_STOP_SIGNALS, isCatchable, SIGCHLD, SIGKILL, SIGPIPE, SIGSTOP } from '../signals';

// ---- values only options have --------------------------------------------------------------------

/** Why tsinit never receives `n`, for a signal it cannot catch; null for one it can. */
function neverReceived(n: number): string | null {
  if (isCatchable(n)) return null;
  if (n === SIGKILL || n === SIGSTOP) return `${signalName(n)} cannot be caught`;
  if (n === SIGCHLD) return 'SIGCHLD is the reaper\'s own and never forwarded';
  if (n === SIGPIPE) return 'tsinit ignores SIGPIPE (its own broken pipes must stay errors)';
  return `tsinit cannot catch ${signalName(n)}`;
}

/** A signal tsinit can receive (a FROM of --rewrite, a stop signal). */
function parseCatchable(text: string, what: string): number {
  const n = parseSignal(text);
  const why = neverReceived(n);
  if (why) throw new UsageError(`${what} '${text}' can never happen: ${why}`);
  return n;
}

/**
 * "TERM:QUIT" -> [15, 3]; "USR1:0" or "USR1:none" drops the signal (to = 0). FROM must be a signal
 * tsinit can catch, TO a signal of this system: anything else would be taken and never apply.
 */
export function parseRewrite(text: string): [number, number] {
  const m = /^([^:]+):([^:]+)$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid rewrite '${text}' (example: TERM:QUIT, or USR1:none to drop)`);
  const from = parseCatchable(m[1], 'rewrite of');
  const to = ['0', 'none'].includes(m[2].trim().toLowerCase()) ? 0 : parseSignal(m[2]);
  return [from, to];
}

/** --stop-signals "TERM,INT" -> {15, 2}; "none": no signal stops the service (each is forwarded). */
export function parseStopSignals(text: string): Set<number> {
  if (text.trim().toLowerCase() === 'none') return new Set();
  const names = text.split(',').map((s) => s.trim());
  if (names.some((s) => s === '')) throw new UsageError(`invalid signal list '${text}' (example: TERM,INT,QUIT)`);
  return new Set(names.map((s) => parseCatchable(s, 'stop signal')));
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

/** A size within [min, max] bytes; the range is said in the message. */
export function parseSizeIn(min: number, max: number, what: string, range: string) {
  return (text: string): number => {
    const n = parseSize(text);
    if (!Number.isSafeInteger(n)) throw new UsageError(`size '${text}' is too large`);
    if (n < min || n > max) throw new UsageError(`${what} ${text} is out of range (${range})`);
    return n;
  };
}

/** --events: fd:N (N a number) or a non-empty path; whether it can be opened is checked at the start. */
export function parseEventsTarget(text: string): string {
  if (text === '') throw new UsageError('--events needs a file or fd:N, not an empty value');
  if (/^fd:/i.test(text) && !/^fd:\d{1,7}$/.test(text)) throw new UsageError(`invalid --events '${text}' (fd:N takes a file descriptor number)`);
  return text;
}

/** A path or a command given as an option value: never empty (an empty value is always a mistake). */
export function nonEmpty(what: string) {
  return (text: string): string => {
    if (text.trim() === '') throw new UsageError(`${what} needs a value, not an empty one`);
    return text;
  };
}

// ---- the options --------------------------------------------------------------------------------

export interface Options {
  command: string[];
  verbose: boolean;
  subreaper: boolean;
  signalMainOnly: boolean;
  rewrite: Map<number, number>;
  /** the signals that start a stop (after the rewrite) */
  stopSignals: ReadonlySet<number>;
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
  // logs where users look, and the control socket
  logStdout: 'raw' | 'json' | false;
  strictLogs: boolean;
  /** a path; false: none; undefined: the default (see control/paths.ts) */
  controlSocket?: string | false;
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
  /** for an optional value ("--flag [V]"): the value of the bare flag */
  bare?: string;
}

export const DEFAULTS: Omit<Options, 'command'> = {
  verbose: false,
  subreaper: true,
  signalMainOnly: false,
  rewrite: new Map(),
  stopSignals: DEFAULT_STOP_SIGNALS,
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
  logStdout: false,
  strictLogs: false,
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
    help: 'rewrite a received signal (names or numbers) before anything else; TO of 0 or none drops it; repeatable',
  },
  {
    key: 'stopSignals', flags: '--stop-signals <LIST>', kind: 'value', parse: parseStopSignals, defaultText: 'TERM,INT',
    help: 'the signals (after --rewrite) that stop the service, SIGKILL after --kill-after; every other is forwarded',
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
    key: 'user', flags: '-u, --user <USER[:GROUP]>', kind: 'value', parse: nonEmpty('--user'),
    help: "run the service as this user (name or number) with that user's groups",
  },
  {
    key: 'logger', flags: '-l, --logger <CMD>', kind: 'value', parse: nonEmpty('--logger'),
    help: "run CMD (with /bin/sh -c) as a sidecar logger reading the service's output on its stdin",
  },
  {
    key: 'loggerStderr', flags: '--logger-stderr <MODE>', kind: 'value',
    parse: parseChoice(['merged', 'separate'] as const, 'logger stderr mode'), defaultText: 'merged',
    help: "merged: stderr shares the logger's stdin; separate: stderr comes on the logger's fd 3",
  },
  {
    key: 'pipeSize', flags: '--pipe-size <BYTES>', kind: 'value', parse: parseSizeIn(4096, 2 ** 31 - 1, '--pipe-size', '4k..2g'), defaultText: '1M',
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
    key: 'logDir', flags: '--log-dir <DIR>', kind: 'value', parse: nonEmpty('--log-dir'),
    help: "use the built-in JSON-lines writer (tsinit logd) as the logger, writing into DIR",
  },
  {
    key: 'logMaxBytes', flags: '--log-max-bytes <BYTES>', kind: 'value', defaultText: '10M',
    // The same range as `tsinit logd --max-bytes`: refused here, never by logd after the start.
    parse: parseSizeIn(4096, 2 ** 50, '--log-max-bytes', '4k..1P'),
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
    key: 'watchdogFile', flags: '--watchdog-file <PATH>', kind: 'value', parse: nonEmpty('--watchdog-file'),
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
    key: 'healthCmd', flags: '--health-cmd <CMD>', kind: 'value', parse: nonEmpty('--health-cmd'),
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
    key: 'pidfile', flags: '--pidfile <PATH>', kind: 'value', parse: nonEmpty('--pidfile'),
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
    key: 'events', flags: '--events <FILE|fd:N>', kind: 'value', parse: parseEventsTarget,
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
  if (opts.logStdout !== false && opts.logDir === undefined) {
    throw new UsageError('--log-stdout goes with --log-dir (without a logger the service writes to stdout itself)');
  }
  if (opts.restartDelayMaxMs < opts.restartDelayMs) {
    throw new UsageError('--restart-delay-max must not be shorter than --restart-delay');
  }
}

// ---- logs where users look, and the control socket -------------------------------------------------
// (appended as one block: options of the same feature stay together)

/** --log-stdout's modes; a bare --log-stdout (or a true boolean twin) means raw. */
export function parseLogStdout(text: string): 'raw' | 'json' | false {
  const t = text.trim().toLowerCase();
  if (t === 'raw' || t === 'json') return t;
  let on: boolean;
  try {
    on = parseBool(t);
  } catch {
    throw new UsageError(`invalid --log-stdout mode '${text}' (raw or json)`);
  }
  return on ? 'raw' : false;
}

/** --control-socket: a path, or off/none/0 for no socket. */
export function parseControlSocket(text: string): string | false {
  const t = text.trim();
  if (['off', 'none', '0', 'no', 'false'].includes(t.toLowerCase())) return false;
  if (t === '') throw new UsageError('--control-socket needs a path (or off)');
  if (Buffer.byteLength(t) > 107) throw new UsageError(`--control-socket path is too long for a unix socket (at most 107 bytes): ${t}`);
  return t;
}

OPTION_SPECS.push(
  {
    key: 'logStdout', flags: '--log-stdout [MODE]', kind: 'value', parse: parseLogStdout, bare: 'raw',
    help: "with --log-dir: also copy every line to tsinit's stdout (docker logs), raw as written or json records; best effort, never holds up the files",
  },
  {
    key: 'strictLogs', flags: '--strict-logs', kind: 'flag',
    help: "exit 125 instead of the service's status when any of its output was lost",
  },
  {
    key: 'controlSocket', flags: '--control-socket <PATH|off>', kind: 'value', parse: parseControlSocket,
    defaultText: 'as PID 1: /run/tsinit/control.sock (root) or $XDG_RUNTIME_DIR|/tmp/tsinit-UID/control.sock; otherwise off',
    help: 'unix socket for tsinit status, health and ctl',
  },
);
