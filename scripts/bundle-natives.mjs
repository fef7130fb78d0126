// Before `npm pack` (the prepack script): puts koffi's prebuilt native modules for every platform
// the package supports into node_modules, so that the packed tarball runs on all of them.
//
// npm installs only the optional dependency that matches this machine (@koromix/koffi-linux-x64 on
// x86-64), and `npm pack` bundles what is installed, so a tarball packed on x86-64 would die on arm64.
// This fetches the missing ones with npm itself (`npm pack NAME@VERSION`, from npm's cache when it
// is there) at exactly the version koffi pins, and unpacks them where npm would have put them.
// Each package holds the glibc and the musl build (linux_<arch>/, musl_<arch>/).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const ARCHES = ['x64', 'arm64'];

const koffi = JSON.parse(readFileSync(join(root, 'node_modules/koffi/package.json'), 'utf8'));
for (const arch of ARCHES) {
  const name = `@koromix/koffi-linux-${arch}`;
  const version = koffi.optionalDependencies?.[name];
  if (!version) throw new Error(`koffi ${koffi.version} has no ${name}`);
  const dir = join(root, 'node_modules', name);
  const binaries = [`linux_${arch}`, `musl_${arch}`].map((d) => join(dir, d, 'koffi.node'));
  const have = existsSync(join(dir, 'package.json')) && JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  if (have === version && binaries.every((b) => existsSync(b))) continue;
  const tmp = mkdtempSync(join(tmpdir(), 'tsinit-natives-'));
  try {
    const file = execFileSync('npm', ['pack', `${name}@${version}`, '--prefer-offline', '--silent', '--pack-destination', tmp], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim().split('\n').pop();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', join(tmp, file), '-C', dir, '--strip-components=1', '--no-same-owner']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  for (const b of binaries) if (!existsSync(b)) throw new Error(`${name}@${version} has no ${b}`);
  process.stderr.write(`bundle-natives: ${name}@${version} added to node_modules\n`);
}
