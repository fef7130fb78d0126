// Why a command cannot run, with the shell's codes: posix_spawn's errno explained, and the same answers
// found beforehand for node-pty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain, findInPath, interpreterOf, preflight, SpawnError } from '../../../src/process/exec-errors';
import * as libc from '../../../src/sys/libc';

const dir = mkdtempSync(join(tmpdir(), 'tsinit-exec-errors-'));
const file = (name: string, text: string, mode: number) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};
const script = file('script', '#!/bin/sh\nexit 0\n', 0o755);
const plain = file('plain', 'not a program\n', 0o644);
const badInterp = file('bad-interp', '#!/nonexistent/interp\n', 0o755);
const sub = join(dir, 'subdir');
mkdirSync(sub);

const answer = (e: SpawnError) => [e.exitCode, e.reason];
const fromErrno = (cmd: string, name: string) => answer(explain(cmd, new libc.SysError('exec', libc.errno[name])));
function fromPreflight(cmd: string, path?: string): Array<number | string> | null {
  try {
    preflight(cmd, path);
    return null;
  } catch (e) {
    assert.ok(e instanceof SpawnError);
    return answer(e);
  }
}

test('explain: the errno of a failed exec as 127 or 126, in the shell\'s words', () => {
  assert.deepEqual(fromErrno('no-such-command-here', 'ENOENT'), [127, 'command not found']);
  assert.deepEqual(fromErrno(badInterp, 'ENOENT'), [127, 'bad interpreter /nonexistent/interp: no such file or directory']);
  assert.deepEqual(fromErrno(plain, 'EACCES'), [126, 'permission denied']);
  assert.deepEqual(fromErrno(sub, 'EACCES'), [126, 'is a directory']);
  assert.deepEqual(fromErrno(plain, 'ENOEXEC'), [126, 'exec format error']);
  assert.deepEqual(fromErrno(script, 'E2BIG'), [126, 'argument list too long']);
});

test('preflight gives node-pty the answers posix_spawn would', () => {
  assert.equal(fromPreflight(script), null);
  assert.equal(fromPreflight('script', dir), null, 'found in PATH');
  assert.deepEqual(fromPreflight('no-such-command-here', dir), [127, 'command not found']);
  assert.deepEqual(fromPreflight(badInterp), [127, 'bad interpreter /nonexistent/interp: no such file or directory']);
  assert.deepEqual(fromPreflight(plain), [126, 'permission denied']);
  assert.deepEqual(fromPreflight(sub), [126, 'is a directory']);
});

test('the PATH search and the #! line', () => {
  assert.equal(findInPath('/any/path/kept'), '/any/path/kept');
  assert.match(findInPath('sh') ?? 'none', /^\/.*\/sh$/);
  assert.equal(findInPath('no-such-command-here'), null);
  assert.equal(interpreterOf(script), '/bin/sh');
  assert.equal(interpreterOf(plain), null);
  assert.equal(interpreterOf(join(dir, 'missing')), null);
});
