// Which C library this Node runs on, found without loading any native code: the program
// interpreter named in Node's own ELF header. glibc's is ld-linux-*.so.*; musl's dynamic linker
// *is* its C library (ld-musl-<arch>.so.1, also reachable as libc.musl-<arch>.so.1 on Alpine).
// Reading 4 KiB of the executable costs ~0.05 ms; /proc/self/maps costs more than ten times that.
import { closeSync, openSync, readSync } from 'node:fs';

export type LibcFlavor = 'glibc' | 'musl';

export interface Platform {
  libc: LibcFlavor | 'unknown';
  /** the PT_INTERP path, or null for a static executable or an unreadable header */
  interpreter: string | null;
}

const PT_INTERP = 3;

/** The PT_INTERP path of a little-endian 64-bit ELF image held in `buf`; null if there is none. */
export function elfInterpreter(buf: Buffer): string | null {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return null; // "\x7fELF"
  if (buf[4] !== 2 || buf[5] !== 1) return null; // 64-bit, little-endian (x64, arm64)
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  if (phentsize < 56) return null;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > buf.length) return null;
    if (buf.readUInt32LE(at) !== PT_INTERP) continue;
    const offset = Number(buf.readBigUInt64LE(at + 8));
    const size = Number(buf.readBigUInt64LE(at + 32));
    if (size < 2 || offset + size > buf.length) return null;
    return buf.toString('latin1', offset, offset + size - 1); // without the trailing NUL
  }
  return null;
}

/** glibc or musl, from the interpreter's name. */
export function libcOfInterpreter(interp: string | null): LibcFlavor | 'unknown' {
  if (interp === null) return 'unknown';
  const base = interp.slice(interp.lastIndexOf('/') + 1);
  if (/^ld-musl-|^libc\.musl-/.test(base)) return 'musl';
  if (/^ld-linux/.test(base)) return 'glibc';
  return 'unknown';
}

let own: Platform | null = null;

/** This process's C library (read once for tsinit itself: signals.ts and libc.ts both ask at startup). */
export function detectPlatform(execPath = process.execPath): Platform {
  if (execPath === process.execPath && own) return own;
  const p = readPlatform(execPath);
  if (execPath === process.execPath) own = p;
  return p;
}

function readPlatform(execPath: string): Platform {
  let interpreter: string | null = null;
  try {
    const fd = openSync(execPath, 'r');
    try {
      // Program headers and the interpreter string sit at the start of every executable linker
      // output seen (Node's official, Debian's, Alpine's builds): 4 KiB holds them.
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, buf.length, 0);
      interpreter = elfInterpreter(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  } catch {
    interpreter = null;
  }
  return { libc: libcOfInterpreter(interpreter), interpreter };
}

/** The names to dlopen for this C library, most precise first. */
export function libcCandidates(p: Platform, arch = process.arch): string[] {
  const march = arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch;
  const musl = [`libc.musl-${march}.so.1`, `/lib/ld-musl-${march}.so.1`];
  if (p.libc === 'musl') return [...(p.interpreter ? [p.interpreter] : []), ...musl];
  if (p.libc === 'glibc') return ['libc.so.6'];
  return ['libc.so.6', ...musl];
}
