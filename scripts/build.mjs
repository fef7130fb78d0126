// Build: type-check and compile src/ + test/ to build/ (tests import it), and bundle the CLI into one
// file, dist/tsinit-main.js, because loading one file is measurably faster at startup than many
// modules. koffi and node-pty stay external: they carry native code that cannot be bundled.
// dist/tsinit.js is the loader (src/loader.ts) that runs the bundle with a V8 code cache made here,
// for this Node version and architecture (dist/tsinit-main.HASH.VERSION-ARCH.cache).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
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
  outfile: `${root}dist/tsinit-main.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['koffi', 'node-pty'],
  plugins: [noChildProcess],
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

// The loader, told which bundle its cache belongs to: V8 checks a cache's V8 version, flags and the
// source's length, not its content, so the content's hash is part of the cache's name.
const bundle = fs.readFileSync(`${root}dist/tsinit-main.js`);
const hash = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
await esbuild.build({
  entryPoints: [`${root}src/loader.ts`],
  outfile: `${root}dist/tsinit.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  define: { TSINIT_BUNDLE_HASH: JSON.stringify(hash) },
  logLevel: 'warning',
});
for (const f of fs.readdirSync(`${root}dist`)) {
  if (f.endsWith('.cache')) fs.rmSync(`${root}dist/${f}`);
}
// The training run: startup, a logger, a forwarded SIGHUP, a SIGTERM (the stop path) and the exit
// path, so that their functions are in the cache and the first signal does not compile them. Clean environment: no TSINIT_ variable, no NODE_OPTIONS
// (V8 flags would make the cache unusable for a plain node), and no NODE_EXTRA_CA_CERTS.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TSINIT_') && k !== 'NODE_OPTIONS' && k !== 'NODE_EXTRA_CA_CERTS'));
const cacheFile = `${root}dist/tsinit-main.${hash}.${process.version}-${process.arch}.cache`;
try {
  execFileSync(
    process.execPath,
    [`${root}scripts/code-cache.cjs`, `${root}dist`, cacheFile, '--', '--logger', 'cat >/dev/null', '--', '/bin/sh', '-c', 'trap : HUP; echo trained; kill -HUP $PPID; sleep 0.05; kill -TERM $PPID; sleep 2'],
    { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 30_000 },
  );
} catch {
  // the service died of the forwarded SIGTERM (tsinit exits 143): expected
}
if (!fs.existsSync(cacheFile)) {
  console.error('build: no V8 code cache was made; tsinit runs without one');
}
