// Finding the C library without native code: the ELF interpreter of Node's own executable, and the
// names tried for each C library.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { elfInterpreter, libcCandidates, libcOfInterpreter, detectPlatform } from '../../../src/sys/platform';

test('platform: the interpreter in an ELF header names the C library', () => {
  const p = detectPlatform();
  assert.notEqual(p.interpreter, null, 'this Node has a PT_INTERP');
  assert.notEqual(p.libc, 'unknown', `interpreter ${p.interpreter}`);
  assert.equal(libcOfInterpreter('/lib64/ld-linux-x86-64.so.2'), 'glibc');
  assert.equal(libcOfInterpreter('/lib/ld-linux-aarch64.so.1'), 'glibc');
  assert.equal(libcOfInterpreter('/lib/ld-musl-x86_64.so.1'), 'musl');
  assert.equal(libcOfInterpreter('/lib/ld-musl-aarch64.so.1'), 'musl');
  assert.equal(libcOfInterpreter('/system/bin/linker64'), 'unknown');
  assert.equal(libcOfInterpreter(null), 'unknown');
  // Not ELF, truncated, 32-bit: no interpreter, no exception.
  assert.equal(elfInterpreter(Buffer.from('#!/bin/sh\necho hi\n')), null);
  assert.equal(elfInterpreter(readFileSync(process.execPath).subarray(0, 40)), null);
  const elf32 = Buffer.alloc(64);
  elf32.write('\x7fELF', 0, 'latin1');
  elf32[4] = 1;
  assert.equal(elfInterpreter(elf32), null);
  // A static executable: program headers without PT_INTERP.
  const elf = Buffer.alloc(256);
  elf.write('\x7fELF', 0, 'latin1');
  elf[4] = 2;
  elf[5] = 1;
  elf.writeBigUInt64LE(64n, 32);
  elf.writeUInt16LE(56, 54);
  elf.writeUInt16LE(1, 56);
  elf.writeUInt32LE(1, 64); // PT_LOAD
  assert.equal(elfInterpreter(elf), null);
  elf.writeUInt32LE(3, 64); // PT_INTERP at offset 128, 20 bytes with the NUL
  elf.writeBigUInt64LE(128n, 64 + 8);
  elf.writeBigUInt64LE(20n, 64 + 32);
  elf.write('/lib/ld-musl-x.so.1\0', 128, 'latin1');
  assert.equal(elfInterpreter(elf), '/lib/ld-musl-x.so.1');
});

test('platform: which names are tried for each C library', () => {
  assert.deepEqual(libcCandidates({ libc: 'glibc', interpreter: '/lib64/ld-linux-x86-64.so.2' }, 'x64'), ['libc.so.6']);
  assert.deepEqual(libcCandidates({ libc: 'musl', interpreter: '/lib/ld-musl-aarch64.so.1' }, 'arm64'), [
    '/lib/ld-musl-aarch64.so.1', 'libc.musl-aarch64.so.1', '/lib/ld-musl-aarch64.so.1',
  ]);
  assert.deepEqual(libcCandidates({ libc: 'unknown', interpreter: null }, 'x64'), [
    'libc.so.6', 'libc.musl-x86_64.so.1', '/lib/ld-musl-x86_64.so.1',
  ]);
});
