// Black-box tests of hostile neighbours: a second uid (nobody) inside the container, or the service
// itself after --user, tries to make root tsinit follow a planted link, block on a FIFO, disclose a
// file, or stop working. tsinit runs as PID 1 of a fresh PID namespace, as root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tempDir } from '../helpers/harness';

const NOBODY = 65534;

/** A directory the attacker (uid nobody) owns, inside a root-only temp dir that it can traverse. */
function attackerDir(): { root: string; dir: string } {
  const root = tempDir();
  chmodSync(root, 0o711);
  const dir = join(root, 'nobody');
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  return { root, dir };
}

/** A file only root can read, with a recognisable secret in it. */
function secretFile(root: string): { path: string; secret: string } {
  const secret = `h13secret${process.pid}`;
  const path = join(root, 'shadow');
  writeFileSync(path, `root:$6$${secret}:19000:0:99999:7:::\n`, { mode: 0o600 });
  return { path, secret };
}

test('--pidfile (needs root): a daemon of uid nobody that replaces its pidfile by a link to a root-only file: refused, nothing disclosed', async () => {
  const { root, dir } = attackerDir();
  const { path, secret } = secretFile(root);
  const pidfile = join(dir, 'daemon.pid');
  const r = await run([
    '--user', 'nobody', '--daemon', '--pidfile', pidfile, '--daemon-timeout', '1s', '--',
    'sh', '-c', `sleep 30 & ln -s ${path} ${pidfile}; exit 0`,
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /cannot read .*daemon\.pid: it is a symbolic link \(never followed\)/);
  assert.ok(!r.stderr.includes(secret) && !r.stderr.includes('root:'), `stderr disclosed the file: ${r.stderr}`);
});

test('--pidfile (needs root): a FIFO planted as the pidfile never blocks tsinit: refused at --daemon-timeout', async () => {
  const { dir } = attackerDir();
  const pidfile = join(dir, 'daemon.pid');
  const r = await run([
    '--user', 'nobody', '--daemon', '--pidfile', pidfile, '--daemon-timeout', '1s', '--',
    'sh', '-c', `sleep 30 & mkfifo ${pidfile}; exit 0`,
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /cannot read .*daemon\.pid: it is not a regular file \(a FIFO\)/);
});

test('--pidfile (needs root): a hard link to a root-only file is refused, and a pidfile that is not a pid is not shown', async () => {
  const { root, dir } = attackerDir();
  const { secret } = secretFile(root);
  const pidfile = join(dir, 'daemon.pid');
  const r = await run([
    '--user', 'nobody', '--daemon', '--pidfile', pidfile, '--daemon-timeout', '1s', '--',
    'sh', '-c', `sleep 30 & echo '${secret}' > ${pidfile}; exit 0`,
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /daemon\.pid holds \d+ bytes, not a pid/);
  assert.ok(!r.stderr.includes(secret), r.stderr);
});
