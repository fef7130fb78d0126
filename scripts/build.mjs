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
esbuild.buildSync({
  entryPoints: [`${root}src/main.ts`],
  outfile: `${root}dist/tsinit.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['koffi', 'node-pty'],
  minifyWhitespace: false,
  logLevel: 'warning',
});
