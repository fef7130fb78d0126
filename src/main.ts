// Entry point. The first import installs the signal handlers (see early-signals.ts); nothing may
// come before it.
import { onSignal } from './early-signals';
import { parseCli } from './cli/parse';
import { UsageError } from './values';
import { writeAll } from './events';
import { resolveUser } from './process/users';
import { EXIT_INTERNAL } from './exit-status';
import { Init } from './init/init';
import { ensureUsable, exitNow, LibcUnsupported } from './sys/libc';
import { DROP_COMMAND, runDropStep } from './process/drop-privileges';
import { fdExhaustion, fdShortage } from './process/spawn';

function exit(code: number): never {
  exitNow(code);
}

function usageError(message: string): never {
  writeAll(2, `tsinit: ${message} (see tsinit --help)\n`);
  exit(EXIT_INTERNAL);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === DROP_COMMAND) {
    // In a child of root tsinit, between its spawn and the service's exec (--user).
    const { explain } = await import('./process/exec-errors.js');
    const { SysError } = await import('./sys/libc.js');
    const caught: number[] = [];
    onSignal((sig) => caught.push(sig));
    runDropStep(args.slice(1), (line, code) => {
      writeAll(2, `tsinit: ${line}\n`);
      exit(code);
    }, (cmd, errno) => explain(cmd, new SysError('exec', errno)), () => caught);
  }
  if (args[0] === 'logd') {
    const { runLogd } = await import('./logging/logd.js');
    exit(await runLogd(args.slice(1), onSignal));
  }
  if (args[0] === 'status' || args[0] === 'health' || args[0] === 'ctl') {
    // Clients of a running tsinit: nothing of the init is loaded, and a plain exit is enough.
    const { runClient } = await import('./control/client.js');
    process.exit(await runClient(args[0], args.slice(1)));
  }
  if (args[0] === 'logcheck') {
    const { runLogcheck } = await import('./logging/logcheck.js');
    exit(runLogcheck(args.slice(1)));
  }

  let init: Init;
  try {
    const parsed = parseCli(args, process.env);
    if (parsed.kind === 'print') {
      writeAll(1, parsed.text);
      exit(0);
    }
    if (parsed.options.user !== undefined) resolveUser(parsed.options.user);
    // The C library is loaded here, not before: --help, --version and usage errors never need it.
    ensureUsable();
    const shortage = fdShortage(parsed.options);
    if (shortage) {
      writeAll(2, `tsinit: ${shortage}\n`);
      exit(EXIT_INTERNAL);
    }
    init = new Init(parsed.options);
  } catch (e) {
    if (e instanceof UsageError) usageError(e.message);
    if (e instanceof LibcUnsupported) {
      writeAll(2, `tsinit: ${e.message}\n`);
      exit(EXIT_INTERNAL);
    }
    throw e;
  }

  // tsinit must never crash: a crash of PID 1 SIGKILLs the whole container, loggers included.
  let aborting = false;
  const abort = (err: unknown) => {
    if (aborting) return;
    aborting = true;
    init.abort(err).then(exit, () => exit(EXIT_INTERNAL));
  };
  process.on('uncaughtException', abort);
  process.on('unhandledRejection', abort);
  // An empty event loop would end tsinit with status 0 behind the service's back.
  process.on('beforeExit', () => abort(new Error('nothing left to wait for (event loop empty)')));
  init.run().then(exit, abort);
}

main().catch((e) => {
  if (e instanceof LibcUnsupported) writeAll(2, `tsinit: ${e.message}\n`);
  else writeAll(2, `tsinit: ${fdExhaustion(e) ?? `internal error: ${e instanceof Error ? e.message : String(e)}`}\n`);
  exit(EXIT_INTERNAL);
});
