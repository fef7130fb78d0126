// The C library module: the fallback decisions, and what a system without koffi or without an
// extension sees (no stack trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cName, fdsToMarkCloseOnExec, koffiDirs, openFds, packageDir } from '../../../src/sys/libc';
import { cleanEnv, ROOT, tempDir } from '../../helpers/harness';
import { withTerminal } from '../../helpers/terminal';

const LIBC_JS = join(ROOT, 'build', 'src', 'sys', 'libc.js');

test('closefrom fallback: every open fd from the wanted one up is marked close-on-exec', () => {
  assert.deepEqual(fdsToMarkCloseOnExec([0, 1, 2, 3, 5, 20, 19, 251], 5), [5, 19, 20, 251]);
  assert.deepEqual(fdsToMarkCloseOnExec([0, 1, 2], 3), []);
  assert.deepEqual(fdsToMarkCloseOnExec([0, 1, 2, 3, 4], 4), [4]);
  const open = openFds();
  assert.ok(open && [0, 1, 2].every((fd) => open.includes(fd)), `open fds: ${open}`);
  assert.equal(cName('int posix_spawn_file_actions_addclosefrom_np(void *fa, int from)'), 'posix_spawn_file_actions_addclosefrom_np');
  assert.equal(cName('void _exit(int status)'), '_exit');
});

test('packageDir: the nearest node_modules above, as require() looks', () => {
  const root = tempDir();
  const pkg = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{}');
    return dir;
  };
  // tsinit installed in an app: its own bundled koffi, the native package hoisted beside tsinit
  const tsinitDist = join(root, 'app/node_modules/node-tsinit/dist');
  mkdirSync(tsinitDist, { recursive: true });
  const koffi = pkg(join(root, 'app/node_modules/node-tsinit/node_modules/koffi'));
  const native = pkg(join(root, 'app/node_modules/@koromix/koffi-linux-x64'));
  assert.equal(packageDir('koffi', tsinitDist), koffi);
  assert.equal(packageDir('@koromix/koffi-linux-x64', koffi), native);
  // a nearer copy wins, as with require()
  const nested = pkg(join(koffi, 'node_modules/@koromix/koffi-linux-x64'));
  assert.equal(packageDir('@koromix/koffi-linux-x64', koffi), nested);
  // a directory without package.json is not a package; nothing found is null (koffi's loader then)
  mkdirSync(join(root, 'app/node_modules/node-tsinit/node_modules/empty'));
  assert.equal(packageDir('empty', tsinitDist), null);
  assert.equal(packageDir('no-such-package', tsinitDist), null);
  assert.deepEqual(koffiDirs(tsinitDist, 'x64'), { koffi, native: nested });
  assert.equal(koffiDirs(tsinitDist, 'arm64'), null); // no native package for it: koffi's own loader
});

test("koffiDirs: koffi's native package is looked for from koffi's real directory, as Node does (pnpm, npm link)", () => {
  const root = tempDir();
  const pkg = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"main": "index.js"}');
    writeFileSync(join(dir, 'index.js'), '');
    return dir;
  };
  // pnpm: each package's node_modules holds links into the store, where a package's own dependencies
  // are its siblings; the native package is reachable from koffi's real directory only.
  const store = join(root, 'app/node_modules/.pnpm');
  const koffi = pkg(join(store, 'koffi@3/node_modules/koffi'));
  const native = pkg(join(store, 'koffi@3/node_modules/@koromix/koffi-linux-x64'));
  const from = join(store, 'node-tsinit@1/node_modules/node-tsinit/dist');
  mkdirSync(from, { recursive: true });
  symlinkSync(koffi, join(store, 'node-tsinit@1/node_modules/koffi'));
  assert.deepEqual(koffiDirs(from, 'x64'), { koffi, native });
  // the same answer as Node's resolver
  const viaNode = createRequire(join(from, 'x.js')).resolve('koffi');
  assert.equal(viaNode, join(koffi, 'index.js'));
  assert.equal(createRequire(viaNode).resolve('@koromix/koffi-linux-x64'), join(native, 'index.js'));
});

/** What the libc module reports in a fresh process (it reads the environment when it first loads). */
function describeWith(env: Record<string, string>): { libc: string; arch: string; fallbacks: string[] } {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(LIBC_JS)}).describe()))`], {
    env: cleanEnv(env),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const ALL_FALLBACKS = [
  'gettid',
  'posix_spawn_file_actions_addchdir_np',
  'posix_spawn_file_actions_addclosefrom_np',
  'posix_spawn_file_actions_addtcsetpgrp_np',
];

test('FORCE_TSINIT_FALLBACKS=1 takes every fallback; without it only the missing extensions', () => {
  const forced = describeWith({ FORCE_TSINIT_FALLBACKS: '1' });
  assert.deepEqual(forced.fallbacks.sort(), ALL_FALLBACKS);
  assert.equal(forced.arch, process.arch);
  const normal = describeWith({ FORCE_TSINIT_FALLBACKS: '' });
  assert.equal(normal.libc, forced.libc);
  assert.ok(normal.fallbacks.every((f) => ALL_FALLBACKS.includes(f)), normal.fallbacks.join());
  assert.deepEqual(describeWith({ FORCE_TSINIT_FALLBACKS: '0' }).fallbacks, normal.fallbacks);
});

interface Ran { code: number | null; stdout: string; stderr: string }
function runEntry(entry: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [entry, ...args], { env: cleanEnv({ NODE_PATH: '', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('without koffi: --version, --help and usage errors work; a run says why it cannot, exit 125', async () => {
  // A copy of the bundle with no node_modules at all (nor one in any parent directory: /tmp).
  const dir = tempDir();
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"name":"copy","version":"0.0.0"}');
  const entry = join(dir, 'dist', 'tsinit.js');
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

  let r = await runEntry(entry, ['--version']);
  assert.deepEqual(r, { code: 0, stdout: `${version}\n`, stderr: '' });
  r = await runEntry(entry, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: tsinit /);
  r = await runEntry(entry, ['--no-such-option', '--', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^tsinit: unknown option '--no-such-option'/);
  r = await runEntry(entry, ['--', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^tsinit: cannot load koffi's native module for linux-\w+: Cannot find module 'koffi'/);
  assert.equal(r.stderr.split('\n').length, 2, `one line, no stack trace: ${r.stderr}`);
});

test('fallbacks keep the fd promise: the service gets 0-2 and the mapped fds, nothing tsinit had open', async () => {
  for (const force of ['0', '1']) {
    // tsinit is started with an extra inherited fd 3 and 4 (not close-on-exec in tsinit).
    const proc = spawn(join(ROOT, 'bin', 'tsinit'), ['--', 'sh', '-c', 'ls /proc/$$/fd'], {
      env: cleanEnv({ FORCE_TSINIT_FALLBACKS: force }),
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => (stdout += d));
    proc.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise((r) => proc.on('close', r));
    assert.equal(code, 0, `force=${force}: ${stderr}`);
    assert.equal(stdout, '0\n1\n2\n', `force=${force}: the service's fds`);
  }
});

test('fallbacks keep the terminal promise: a service that reads its terminal at once gets the line', { timeout: 120_000 }, async (ctx) => {
  // The service reads before it prints anything: without addtcsetpgrp_np that read can come
  // before tsinit hands over the terminal (SIGTTIN), and tsinit must continue it. The line is typed
  // as soon as the terminal exists, so it waits there before the service reads.
  for (const force of ['1', '0']) {
    for (let i = 0; i < 10; i++) {
      const argv = [join(ROOT, 'bin', 'tsinit'), '--', 'sh', '-c', 'read line; echo "GOT:$line"'];
      await withTerminal(ctx, argv, { env: { FORCE_TSINIT_FALLBACKS: force } }, async (t) => {
        t.type(`w${i}\r`);
        await t.waitFor(new RegExp(`GOT:w${i}`));
        const end = await t.ended();
        assert.equal(end.exitCode, 0, `force=${force} run ${i}: ${JSON.stringify(t.output)}`);
      });
    }
  }
});
