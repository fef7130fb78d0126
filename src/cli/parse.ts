// argv + environment -> validated Options. Usage errors become UsageError; no process work here.
// The run path reads the arguments with fast-parse.ts; commander, the definition of the CLI, is
// loaded only for --help, --version, usage errors and anything fast-parse leaves to it.
import type { Command } from 'commander';
import { applyValue, DEFAULTS, envName, OPTION_SPECS, OptionSpec, Options, parseEnvValue, validate } from './options';
import { fastParse } from './fast-parse';
import { UsageError } from '../values';
import { version } from '../../package.json';

/**
 * Variables that are not options: TSINIT_WATCHDOG_FD is set by tsinit for the service (a nested
 * tsinit must not mistake it for an option); TSINIT_FAILPOINT injects a fault for tests.
 */
const ENV_SET_FOR_CHILDREN = new Set(['TSINIT_WATCHDOG_FD', 'TSINIT_FAILPOINT']);

export type CliResult =
  /** via: which parser read the arguments (the tests compare them) */
  | { kind: 'run'; options: Options; via: 'fast' | 'commander' }
  | { kind: 'print'; text: string };

type Commander = typeof import('commander');
const loadCommander = (): Commander => require('commander') as Commander;

function wrap(parse: (t: string) => unknown) {
  const { InvalidArgumentError } = loadCommander();
  return (text: string): unknown => {
    try {
      return parse(text);
    } catch (e) {
      throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
    }
  };
}

function buildProgram(output: { text: string }): Command {
  const { Command, Option } = loadCommander();
  const program = new Command('tsinit')
    .usage('[options] [--] command [args...]')
    .description(
      'A container init: runs the command as its service, reaps zombies, forwards signals,\n' +
        "drains the logger and exits with the service's status.\n\n" +
        "Also: 'tsinit logd DIR' (built-in log writer) and 'tsinit logcheck DIR' (verify a log).",
    )
    .version(version, '-V, --version')
    .helpOption('-h, --help', 'show this help')
    .argument('[command...]', 'the service to run, with its arguments')
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output.text += s), writeErr: () => undefined })
    .addHelpText(
      'after',
      '\nEvery option has an environment twin, shown in brackets; flags take 1/0, true/false, yes/no, on/off.\n' +
        'Exit status: the service\'s code, 128+N for a signal N, 124 timeout, 125 tsinit error,\n' +
        '126 command not executable, 127 command not found.',
    );
  for (const spec of OPTION_SPECS) {
    const opt = new Option(spec.flags, `${spec.help} [${envName(spec)}]`);
    if (spec.defaultText) opt.defaultValueDescription = spec.defaultText;
    if (spec.kind === 'value') opt.argParser(wrap(spec.parse!));
    if (spec.bare !== undefined) opt.preset(spec.bare);
    if (spec.kind === 'list') {
      const parse = wrap(spec.parse!);
      opt.argParser((text: string, previous: unknown) => [...((previous as unknown[]) ?? []), parse(text)]);
    }
    program.addOption(opt);
  }
  return program;
}

/**
 * An option with an optional value ("--log-stdout [MODE]") takes its value only as "--flag=VALUE":
 * commander would take the next word, and `--log-stdout myapp` must run myapp. Bare occurrences among
 * tsinit's own options (before the command) become "--flag=<bare value>".
 */
export function expandBareFlags(args: string[]): string[] {
  const out = [...args];
  const takesValue = (spec: { kind: string; flags: string; bare?: string }) => spec.kind !== 'flag' && spec.bare === undefined;
  const longs = new Map(OPTION_SPECS.map((s) => [/--[a-z0-9-]+/.exec(s.flags)![0], s]));
  const shorts = new Map(OPTION_SPECS.filter((s) => /^-[a-zA-Z],/.test(s.flags)).map((s) => [s.flags[1], s]));
  for (let i = 0; i < out.length; i++) {
    const arg = out[i];
    if (arg === '--' || !arg.startsWith('-') || arg === '-') break;
    if (arg.startsWith('--')) {
      const spec = longs.get(arg);
      if (spec?.bare !== undefined) out[i] = `${arg}=${spec.bare}`;
      else if (spec && takesValue(spec)) i++;
      continue;
    }
    // short flags, possibly combined (-vk 5s): only the last one may take the next word
    for (let k = 1; k < arg.length; k++) {
      const spec = shorts.get(arg[k]);
      if (spec && takesValue(spec)) {
        if (k === arg.length - 1) i++;
        break;
      }
    }
  }
  return out;
}

/**
 * Parses tsinit's own arguments (argv without node and the script) and TSINIT_ variables.
 * `parser`: 'auto' tries the fast parser first; 'commander' always uses commander (for the tests).
 */
export function parseCli(args: string[], env: NodeJS.ProcessEnv, parser: 'auto' | 'commander' = 'auto'): CliResult {
  const fast = parser === 'auto' ? fastParse(args) : null;
  if (fast) return finish(fast.command, fast.given, env, 'fast');
  const output = { text: '' };
  const program = buildProgram(output);
  try {
    program.parse(expandBareFlags(args), { from: 'user' });
  } catch (e) {
    if (e instanceof loadCommander().CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') {
        return { kind: 'print', text: output.text };
      }
      throw new UsageError(e.message.replace(/^error: /, ''));
    }
    throw e;
  }
  const given = new Map<OptionSpec, unknown>();
  for (const spec of OPTION_SPECS) {
    const attr = program.options.find((o) => o.long === /--[a-z0-9-]+/.exec(spec.flags)![0])!.attributeName();
    if (program.getOptionValueSource(attr) !== 'cli') continue;
    given.set(spec, spec.kind === 'flag' ? true : program.getOptionValue(attr));
  }
  return finish(program.args, given, env, 'commander');
}

/** Command-line values, then environment twins for the options not given, then the cross-checks. */
function finish(command: string[], fromCli: Map<OptionSpec, unknown>, env: NodeJS.ProcessEnv, via: 'fast' | 'commander'): CliResult {
  const opts: Partial<Options> = { ...DEFAULTS, command };
  const given = new Set<string>();
  for (const [spec, raw] of fromCli) {
    given.add(spec.key);
    applyValue(opts, spec, raw);
  }
  const known = new Set(OPTION_SPECS.map(envName));
  for (const name of Object.keys(env)) {
    if (name.startsWith('TSINIT_') && !known.has(name) && !ENV_SET_FOR_CHILDREN.has(name)) {
      throw new UsageError(`unknown environment variable ${name}`);
    }
  }
  for (const spec of OPTION_SPECS) {
    const text = env[envName(spec)];
    if (given.has(spec.key) || text === undefined) continue;
    if (text.trim() === '' && spec.kind !== 'flag') continue;
    try {
      applyValue(opts, spec, parseEnvValue(spec, text));
    } catch (e) {
      throw new UsageError(`${envName(spec)}: ${(e as Error).message}`);
    }
  }
  const options = opts as Options;
  validate(options);
  return { kind: 'run', options, via };
}
