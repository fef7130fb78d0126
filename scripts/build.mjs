// Build: type-check and compile src/ + test/ to build/ (tests import it), and bundle the CLI into one
// file, dist/tsinit.js, because loading one file is measurably faster at startup than many modules.
// koffi and node-pty stay external: they carry native code that cannot be bundled.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url).pathname;

// BUILD_IGNORE_TYPE_ERRORS=1 lets one developer's half-written file not block another's build.
try {
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', root], { stdio: 'inherit' });
} catch (e) {
  if (!process.env.BUILD_IGNORE_TYPE_ERRORS) process.exit(1);
}

const esbuild = require('esbuild');

// commander loads node:child_process at the top for executable subcommands, which tsinit does not
// have; loading it costs ~2.6 ms of startup (bench/profile-startup.mjs). tsinit itself never uses
// child_process (every child is posix_spawned, see src/process/reaper.ts), so the bundle gets a stub that
// fails loudly if anything ever calls it.
const noChildProcess = {
  name: 'no-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, () => ({ path: 'child_process', namespace: 'stub' }));
    build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: "module.exports = new Proxy({}, { get(_, name) { throw new Error('child_process.' + String(name) + ' is not available in tsinit'); } });",
      loader: 'js',
    }));
  },
};
await esbuild.build({
  entryPoints: [`${root}src/main.ts`],
  outfile: `${root}dist/tsinit.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['koffi', 'node-pty'],
  plugins: [noChildProcess],
  minifyWhitespace: false,
  logLevel: 'warning',
});
