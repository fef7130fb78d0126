// Build: type-check and compile src/ + test/ to build/ (tests import it), and bundle the CLI into one
// file, dist/tsinit.js, because loading one file is measurably faster at startup than many modules.
// koffi and node-pty stay external: they carry native code that cannot be bundled.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url).pathname;

rmSync(`${root}build`, { recursive: true, force: true });
execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', root], { stdio: 'inherit' });

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
