// The run path's parser (src/cli/fast-parse.ts) against commander, the definition of the CLI: for
// every option of OPTION_SPECS, every value form (--opt V, --opt=V, -o V, repeated lists, flags) and
// every environment twin, both give the same Options; the fast parser really takes those forms; and
// for everything unusual or wrong both give the same result or the same usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCli } from '../../../src/cli/parse';
import { envName, OPTION_SPECS, OptionSpec } from '../../../src/cli/options';

/** Valid texts for every option that takes a value (a new option must add its own here). */
const SAMPLES: Record<string, string[]> = {
  rewrite: ['TERM:QUIT', 'USR1:none'],
  stopSignals: ['QUIT,TERM', 'none'],
  killAfterMs: ['2s', '500ms'],
  remapExit: ['143', '0'],
  nice: ['5', '19'],
  user: ['nobody', '1000:1000'],
  logger: ['cat > /dev/null', 'cat'],
  loggerStderr: ['separate', 'merged'],
  pipeSize: ['64k', '1048576'],
  graceMs: ['1s', '3'],
  loggerRestartLimit: ['3/5s', '10/1m'],
  logDir: ['/var/log/app', 'rel dir'],
  logMaxBytes: ['1M', '8192'],
  logKeep: ['3', '0'],
  restart: ['always', 'on-failure'],
  successExit: ['3', '42'],
  restartLimit: ['2/1s', '9/1h'],
  restartDelayMs: ['50ms', '1s'],
  restartDelayMaxMs: ['1m', '30s'],
  watchdogMs: ['10s', '1m'],
  watchdogFile: ['/tmp/beat', 'beat file'],
  watchdogSignal: ['TERM', '9'],
  watchdogMaxKills: ['1/1m', '5/10m'],
  startTimeoutMs: ['5s', '2m'],
  healthCmd: ['true', 'curl -f localhost'],
  healthHttp: ['http://127.0.0.1:8080/healthz', 'https://[::1]/x'],
  healthIntervalMs: ['1s', '30s'],
  healthTimeoutMs: ['200ms', '2s'],
  healthFailures: ['1', '10'],
  pidfile: ['/run/app.pid', 'app.pid'],
  daemonTimeoutMs: ['5s', '1m'],
  timeoutMs: ['10m', '90'],
  pdeathsig: ['KILL', 'SIGTERM'],
  events: ['fd:3', '/tmp/events.jsonl'],
  logStdout: ['json', 'raw'],
  controlSocket: ['/run/app/control.sock', 'off'],
};
/** Options that are valid only together with another one. */
const NEEDS: Record<string, string[]> = { pidfile: ['--daemon'], logStdout: ['--log-dir', '/d'] };
const FLAG_TEXTS = ['1', '0', 'yes', 'off', 'TRUE', ''];

const longOf = (spec: OptionSpec) => /--[a-z0-9-]+/.exec(spec.flags)![0];
const shortOf = (spec: OptionSpec) => /(^|[ ,])(-[a-zA-Z0-9])(?=[ ,]|$)/.exec(spec.flags)?.[2];

type Outcome = { ok: true; options: unknown; via?: string } | { ok: false; error: string };
function outcome(args: string[], env: Record<string, string>, parser: 'auto' | 'commander'): Outcome {
  try {
    const r = parseCli(args, env, parser);
    return r.kind === 'run' ? { ok: true, options: r.options, via: r.via } : { ok: true, options: r.text };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** Both parsers, same answer; returns the fast side's outcome. */
function agree(args: string[], env: Record<string, string> = {}): Outcome {
  const fast = outcome(args, env, 'auto');
  const slow = outcome(args, env, 'commander');
  const strip = (o: Outcome) => (o.ok ? { ok: true, options: o.options } : o);
  assert.deepEqual(strip(fast), strip(slow), `args ${JSON.stringify(args)} env ${JSON.stringify(env)}`);
  return fast;
}

function cliForms(spec: OptionSpec): string[][] {
  const long = longOf(spec);
  const short = shortOf(spec);
  const extra = NEEDS[spec.key] ?? [];
  if (spec.kind === 'flag') return [[long], ...(short ? [[short]] : [])].map((f) => [...extra, ...f]);
  const [a, b] = SAMPLES[spec.key];
  // an optional value ("--log-stdout[=MODE]") comes only with "="; bare, the option takes no word
  if (spec.bare !== undefined) return [[`${long}=${a}`], [`${long}=${b}`], [long], [`${long}=${a}`, long]].map((f) => [...extra, ...f]);
  const forms = [[long, a], [`${long}=${a}`], [long, b], [`${long}=${b}`]];
  if (short) forms.push([short, a], [short, b]);
  if (spec.kind === 'list') forms.push([long, a, long, b], [`${long}=${a}`, ...(short ? [short, b] : [long, b])]);
  if (spec.kind === 'value') forms.push([long, a, long, b]); // the last one wins
  return forms.map((f) => [...extra, ...f]);
}

test('every option that takes a value has samples here', () => {
  for (const spec of OPTION_SPECS) {
    if (spec.kind !== 'flag') assert.ok(SAMPLES[spec.key]?.length === 2, `add two samples for ${spec.key} (${spec.flags})`);
  }
});

test('every option and value form: both parsers agree, and the fast one reads it itself', () => {
  let n = 0;
  for (const spec of OPTION_SPECS) {
    for (const form of cliForms(spec)) {
      for (const tail of [['--', 'svc', '-x', '--y'], ['svc', '--verbose', 'arg']]) {
        const r = agree([...form, ...tail]);
        assert.ok(r.ok, `${JSON.stringify(form)}: ${!r.ok && r.error}`);
        // the fast parser leaves options with an optional value to commander, by design
        if (spec.bare === undefined) assert.equal(r.via, 'fast', `${JSON.stringify(form)} went to commander`);
        n++;
      }
    }
  }
  assert.ok(n > 200, `${n} cases`);
});

test('every environment twin: both parsers agree, alone and under a command-line value', () => {
  for (const spec of OPTION_SPECS) {
    const name = envName(spec);
    const extra = NEEDS[spec.key] ?? [];
    const texts = spec.kind === 'flag' ? FLAG_TEXTS : spec.kind === 'list' ? [...SAMPLES[spec.key], SAMPLES[spec.key].join(','), ''] : [...SAMPLES[spec.key], '  '];
    for (const text of texts) {
      const r = agree([...extra, '--', 'svc'], { [name]: text });
      assert.ok(r.ok && r.via === 'fast', `${name}=${JSON.stringify(text)}: ${JSON.stringify(r)}`);
      for (const form of cliForms(spec).slice(0, 1)) agree([...form, 'svc'], { [name]: text });
    }
    if (spec.kind !== 'flag' && spec.key !== 'user' && spec.key !== 'logger' && spec.key !== 'logDir' && spec.key !== 'healthCmd'
      && spec.key !== 'watchdogFile' && spec.key !== 'pidfile' && spec.key !== 'events' && spec.key !== 'controlSocket') {
      const r = agree([...extra, '--', 'svc'], { [name]: 'not-a-valid-value' });
      assert.ok(!r.ok && r.error.startsWith(`${name}: `), `${name}: ${JSON.stringify(r)}`);
    }
  }
});

test('unusual and wrong command lines: both parsers give the same answer (commander decides)', () => {
  const cases: string[][] = [
    [], ['--'], ['-'], ['-', 'x'], ['--bogus', 'x'], ['-Z', 'x'], ['--help'], ['-h'], ['--version'], ['-V'],
    ['-vw', 'x'], ['-k5s', 'x'], ['--verbose=1', 'x'], ['--kill-after'], ['--kill-after', '--verbose', 'x'],
    ['--kill-after', 'soon', 'x'], ['--kill-after=soon', 'x'], ['-k', 'soon', 'x'], ['--nice', '-5', 'x'], ['--nice=-5', 'x'],
    ['--restart', 'sometimes', 'x'], ['--rewrite', 'TERM', 'x'], ['--remap-exit', '256', 'x'], ['--log-max-bytes', '1k', 'x'],
    ['--health-http', 'ftp://x/', 'x'], ['--logger', 'cat', '--log-dir', '/tmp/x', 'x'], ['--pidfile', '/run/x.pid', 'x'],
    ['--restart-delay', '1m', '--restart-delay-max', '1s', 'x'], ['--health-cmd', 'true', '--health-http', 'http://a/', 'x'],
    ['--no-subreaper', '--daemon', 'x'], ['--logger', '--', 'x'], ['-v', '--', '--', 'x'], ['--VERBOSE', 'x'], ['--verb', 'x'],
  ];
  for (const args of cases) agree(args);
  agree(['--', 'x'], { TSINIT_BOGUS: '1' });
  agree(['--', 'x'], { TSINIT_WATCHDOG_FD: '3', TSINIT_FAILPOINT: 'x' });
  agree(['-v', 'x'], { TSINIT_VERBOSE: 'maybe' });
});
