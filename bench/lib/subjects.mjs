// The inits under test and how each one is asked to run a command, as PID 1 and as a plain child.
import { TSINIT, PID1 } from './util.mjs';

/**
 * name -> argv prefix builder. `pid1` is true when the init runs as PID 1 of a fresh namespace
 * (the caller adds `unshare --pid --fork --mount-proc`). Outside PID 1 each init is asked to be a
 * child subreaper when it can be, as tsinit is by default.
 */
export const INITS = {
  tsinit: { bin: TSINIT, argv: () => [TSINIT, '--'] },
  tini: { bin: 'tini', argv: (pid1) => (pid1 ? ['tini', '--'] : ['tini', '-s', '--']) },
  'dumb-init': { bin: 'dumb-init', argv: () => ['dumb-init', '--'] },
  catatonit: { bin: 'catatonit', argv: () => ['catatonit', '--'] },
};

/** The subjects (inits) available in ctx, tsinit first; missing anchors are left out. */
export function inits(ctx, pid1) {
  const out = [];
  for (const [name, def] of Object.entries(INITS)) {
    if (name !== 'tsinit' && !ctx.have[name]) continue;
    out.push({ name, init: name, pid1, prefix: [...(pid1 ? PID1 : []), ...def.argv(pid1)] });
  }
  return out;
}
