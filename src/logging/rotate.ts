// Rotation decisions and file names of `tsinit logd`. Pure: the writer in logd.ts does the renames.
//
// The current file always has the same name. A full one is renamed (never copied and truncated) to
// a name made of the rotation time (UTC, to the millisecond) and the seq of its last record:
//
//   current.jsonl
//   20250102T030405.678Z-0000000000012345.jsonl
//
// Plain string order of these names is time order. The seq part keeps two rotations within the same
// millisecond apart, and keeps the order right if the clock steps back (see rotationTime).

export const CURRENT = 'current.jsonl';

const ROTATED = /^(\d{8}T\d{6}\.\d{3}Z)-(\d{16})\.jsonl$/;

export function isRotatedName(name: string): boolean {
  return ROTATED.test(name);
}

/** The name a file whose last record has seq `lastSeq` gets when rotated at time `ms`. */
export function rotatedName(ms: number, lastSeq: number): string {
  const stamp = new Date(ms).toISOString().replace(/[-:]/g, ''); // 20250102T030405.678Z
  return `${stamp}-${String(lastSeq).padStart(16, '0')}.jsonl`;
}

/** The rotation time encoded in a rotated file's name, in ms, or null. */
export function rotatedNameTime(name: string): number | null {
  const m = ROTATED.exec(name);
  if (!m) return null;
  const t = m[1];
  const iso = `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 11)}:${t.slice(11, 13)}:${t.slice(13)}`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The time for the next rotated name: now, but never earlier than the newest existing name, so that
 * names keep sorting in write order when the clock steps back (the seq part then orders them).
 */
export function rotationTime(now: number, existing: readonly string[]): number {
  let t = now;
  for (const name of existing) {
    const ms = rotatedNameTime(name);
    if (ms !== null && ms > t) t = ms;
  }
  return t;
}

/** Rotated files, oldest first. */
export function rotatedFiles(names: readonly string[]): string[] {
  return names.filter(isRotatedName).sort();
}

/** The rotated files to delete so that `keep` remain (the oldest go). */
export function filesToPrune(names: readonly string[], keep: number): string[] {
  const rotated = rotatedFiles(names);
  return rotated.slice(0, Math.max(0, rotated.length - keep));
}

/**
 * Whether a record must start a new file: it would push a non-empty file past maxBytes. A record
 * alone larger than maxBytes still goes into a file of its own: records are never split.
 */
export function needsCut(fileBytesBefore: number, recordBytes: number, maxBytes: number): boolean {
  return fileBytesBefore > 0 && fileBytesBefore + recordBytes > maxBytes;
}

/** All log files of a directory listing in write order: rotated ones by name, then the current one. */
export function logFilesInOrder(names: readonly string[]): string[] {
  const files = rotatedFiles(names);
  if (names.includes(CURRENT)) files.push(CURRENT);
  return files;
}
