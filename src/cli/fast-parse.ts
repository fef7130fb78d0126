// The run path's argument parser: `tsinit [options] [--] command [args...]` read straight from
// OPTION_SPECS, without loading commander (about 3 MiB and several ms of startup). commander stays
// the definition of the CLI: --help, --version, every usage error and anything unusual go to it.
// This parser only accepts what it is sure commander reads the same way, and returns null for
// everything else (the caller then asks commander); test/unit/fast-parse.test.ts checks, for every
// option of the table, that both parsers agree.
import { OPTION_SPECS, OptionSpec } from './options';

export interface FastParse {
  command: string[];
  /** the options given on the command line, with their raw values as applyValue() takes them */
  given: Map<OptionSpec, unknown>;
}

interface Lookup {
  long: Map<string, OptionSpec>;
  short: Map<string, OptionSpec>;
}
let lookup: Lookup | null = null;

function table(): Lookup {
  if (lookup) return lookup;
  const long = new Map<string, OptionSpec>();
  const short = new Map<string, OptionSpec>();
  for (const spec of OPTION_SPECS) {
    for (const part of spec.flags.split(/[ ,|]+/)) {
      if (/^--[a-z0-9-]+$/.test(part)) long.set(part, spec);
      else if (/^-[a-zA-Z0-9]$/.test(part)) short.set(part, spec);
    }
  }
  lookup = { long, short };
  return lookup;
}

/** The common forms: --flag, -f, --opt VALUE, --opt=VALUE, -o VALUE, then `--` or the command. */
export function fastParse(args: readonly string[]): FastParse | null {
  const { long, short } = table();
  const given = new Map<OptionSpec, unknown>();
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-')) break; // the command: everything from here on is its own
    if (arg === '-') return null;
    let spec: OptionSpec | undefined;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      spec = long.get(eq < 0 ? arg : arg.slice(0, eq));
      if (eq >= 0) value = arg.slice(eq + 1);
    } else {
      spec = arg.length === 2 ? short.get(arg) : undefined; // -vw, -k5s: commander's business
    }
    if (!spec) return null; // --help, --version, an unknown option
    if (spec.kind === 'flag') {
      if (value !== undefined) return null;
      given.set(spec, true);
      continue;
    }
    if (value === undefined && spec.bare !== undefined) {
      // "--log-stdout" bare: its value comes only with "=", so bare it is the bare value (as
      // expandBareFlags makes it for commander), and the next word is not taken
      value = spec.bare;
    } else if (value === undefined) {
      value = args[++i];
      // missing, or a value that looks like an option: commander decides what that means
      if (value === undefined || value.startsWith('-')) return null;
    }
    let parsed: unknown;
    try {
      parsed = spec.parse!(value);
    } catch {
      return null; // commander reports it, in its words
    }
    if (spec.kind === 'value') given.set(spec, parsed);
    else given.set(spec, [...((given.get(spec) as unknown[] | undefined) ?? []), parsed]);
  }
  return { command: args.slice(i), given };
}
