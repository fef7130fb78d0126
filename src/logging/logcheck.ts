// `tsinit logcheck DIR`: proves that a logd directory is complete, or says what is missing.
//
// The sequence numbers must run without gap or duplicate across all files (rotated ones included;
// files removed by rotation at the oldest end are tolerated, and said). Each run of logd begins with a
// "@start" record and ends with an "@end" record that states what the run wrote; those counts are
// recomputed from the records and must match. Exit 0: complete; 1: something is missing, duplicated,
// damaged or unproven; 125: the check could not run (usage, unreadable directory).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { originalBytes, parseRecord } from './records';
import { logFilesInOrder } from './rotate';
import { writeFully } from './logd';

const EXIT_COMPLETE = 0;
const EXIT_INCOMPLETE = 1;
const EXIT_USAGE = 125;
const MAX_PROBLEMS_SHOWN = 50;
const MAX_RUNS_SHOWN = 20;
const USAGE = 'usage: tsinit logcheck DIR [--allow-open]';

interface Run {
  /** seq of its start record; null when that record is in a file removed by rotation */
  startSeq: number | null;
  where: string;
  records: number;
  lines: number;
  bytes: number;
  inputBytes: number;
}

export interface CheckResult {
  complete: boolean;
  /** the report, one line per entry */
  lines: string[];
}

/**
 * The verification, fed one line at a time in file order. Pure: the caller reads the files.
 * With allowOpen, a last run without an end record (logd still running) is not a problem.
 */
export class LogVerifier {
  private file = '';
  private files = 0;
  private firstSeq: number | null = null;
  private lastSeq = 0;
  private lastWhere = '';
  private records = 0;
  private dataLines = 0;
  private missing = 0;
  private duplicates = 0;
  private outOfOrder = 0;
  private damaged = 0;
  private mismatches = 0;
  private unfinished = 0;
  private run: Run | null = null;
  private runs: string[] = [];
  private problems: string[] = [];
  private problemCount = 0;
  private notes: string[] = [];

  constructor(private readonly allowOpen = false) {}

  startFile(name: string): void {
    this.file = name;
    this.files++;
  }

  /** One line of the current file, without its newline; `bytes` is its length in the file. */
  line(text: string, bytes: number, lineNo: number): void {
    const where = `${this.file}:${lineNo}`;
    const rec = parseRecord(text);
    if (!rec) {
      this.damaged++;
      const preview = text.length > 60 ? `${text.slice(0, 60)}...` : text;
      return this.problem(`${where}: not a logd record (damaged, torn by a kill, or edited): ${JSON.stringify(preview)}`);
    }
    this.checkSeq(rec.seq, where);
    this.records++;
    if (rec.kind === 'start') return this.onStart(rec.seq, bytes, where);
    if (rec.kind === 'end') return this.onEnd(rec.seq, rec.obj['@end'], where);
    const run = this.run ?? (this.run = { startSeq: null, where, records: 0, lines: 0, bytes: 0, inputBytes: 0 });
    run.records++;
    if (rec.obj['@more'] !== true) {
      run.lines++;
      this.dataLines++;
    }
    run.bytes += bytes + 1;
    const original = originalBytes(rec, text);
    if (original === null) {
      this.damaged++;
      return this.problem(`${where}: a record that logd cannot have written (edited?)`);
    }
    run.inputBytes += original.length;
  }

  private checkSeq(seq: number, where: string): void {
    const prev = this.lastSeq;
    if (this.firstSeq === null) {
      this.firstSeq = seq;
      if (seq > 1) this.notes.push(`seq 1..${seq - 1} are not here: the oldest files were removed by rotation (--keep)`);
    } else if (seq > prev + 1) {
      const n = seq - prev - 1;
      this.missing += n;
      const range = n === 1 ? `seq ${prev + 1}` : `seq ${prev + 1}..${seq - 1} (${n} records)`;
      this.problem(`missing: ${range}, between ${this.lastWhere} and ${where}`);
    } else if (seq === prev) {
      this.duplicates++;
      this.problem(`duplicate: seq ${seq} at ${where}, already at ${this.lastWhere}`);
    } else if (seq < prev) {
      this.outOfOrder++;
      this.problem(`out of order: seq ${seq} at ${where} comes after seq ${prev}`);
    }
    if (seq >= prev) {
      this.lastSeq = seq;
      this.lastWhere = where;
    }
  }

  private onStart(seq: number, bytes: number, where: string): void {
    if (this.run) this.unfinishedRun(this.run, `the next run started at seq ${seq} (${where})`);
    this.run = { startSeq: seq, where, records: 0, lines: 0, bytes: bytes + 1, inputBytes: 0 };
  }

  private onEnd(seq: number, value: unknown, where: string): void {
    const run = this.run ?? { startSeq: null, where, records: 0, lines: 0, bytes: 0, inputBytes: 0 };
    this.run = null;
    const end = (value ?? {}) as Record<string, unknown>;
    const span = `run seq ${end.first_seq ?? '?'}..${seq}`;
    if (run.startSeq === null) {
      this.runs.push(`${span}: began in a file removed by rotation; counts not checked (${end.reason ?? '?'})`);
      return;
    }
    const found: Record<string, number> = {
      first_seq: run.startSeq,
      records: run.records,
      lines: run.lines,
      bytes: run.bytes,
      input_bytes: run.inputBytes,
    };
    const wrong = Object.keys(found).filter((k) => end[k] !== found[k]);
    for (const k of wrong) this.problem(`${span} (${where}): the end record says ${k} ${String(end[k])}, the files hold ${found[k]}`);
    if (wrong.length) this.mismatches++;
    const summary = `${run.lines} lines, ${run.records} records, ${run.bytes} bytes written, ${run.inputBytes} bytes of input`;
    this.runs.push(`${span}: ${summary}: ${wrong.length ? 'end record does NOT match' : 'end record matches'} (${end.reason ?? '?'})`);
  }

  private unfinishedRun(run: Run, then: string): void {
    this.unfinished++;
    const from = run.startSeq === null ? 'that began in a removed file' : `from seq ${run.startSeq} (${run.where})`;
    this.problem(`the run ${from} has no end record: logd was killed or could not finish, lines it had read but not written are lost; ${then}`);
    this.runs.push(`run seq ${run.startSeq ?? '?'}..: ${run.lines} lines, ${run.records} records: NO end record`);
  }

  private problem(text: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_PROBLEMS_SHOWN) this.problems.push(text);
  }

  result(dir: string): CheckResult {
    if (this.run) {
      if (this.allowOpen) {
        const r = this.run;
        this.notes.push(`the last run (from seq ${r.startSeq ?? '?'}) has no end record yet: still open, ${r.lines} lines so far`);
      } else this.unfinishedRun(this.run, 'it is the last run: is logd still running? (--allow-open accepts that)');
      this.run = null;
    }
    if (this.records === 0) this.problem('no logd records found');
    const out: string[] = [];
    const seqs = this.firstSeq === null ? 'no records' : `seq ${this.firstSeq}..${this.lastSeq}`;
    out.push(`${dir}: ${this.files} files, ${this.records} records (${seqs}), ${this.dataLines} lines, ${this.runs.length} runs`);
    for (const r of this.runs.slice(0, MAX_RUNS_SHOWN)) out.push(`  ${r}`);
    if (this.runs.length > MAX_RUNS_SHOWN) out.push(`  ... and ${this.runs.length - MAX_RUNS_SHOWN} more runs`);
    for (const n of this.notes) out.push(`note: ${n}`);
    for (const p of this.problems) out.push(`problem: ${p}`);
    if (this.problemCount > this.problems.length) out.push(`problem: ... and ${this.problemCount - this.problems.length} more`);
    const complete = this.problemCount === 0;
    if (complete) out.push('complete: no gaps, no duplicates, every end record matches');
    else {
      const counts = [
        [this.missing, 'missing'], [this.duplicates, 'duplicated'], [this.outOfOrder, 'out of order'],
        [this.damaged, 'damaged lines'], [this.mismatches, 'runs whose counts do not match'],
        [this.unfinished, 'runs without end record'],
      ].filter(([n]) => (n as number) > 0).map(([n, what]) => `${n} ${what}`);
      out.push(`INCOMPLETE: ${counts.join(', ') || 'no records'}`);
    }
    return { complete, lines: out };
  }
}

// ---- effects -------------------------------------------------------------------------------------

/** Feeds every line of a file to the verifier, reading in bounded chunks. */
function checkFile(v: LogVerifier, path: string, name: string): void {
  v.startFile(name);
  const fd = fs.openSync(path, fs.constants.O_RDONLY);
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let carry = Buffer.alloc(0);
    let lineNo = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let p = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, p)) {
        v.line(data.toString('utf8', p, nl), nl - p, ++lineNo);
        p = nl + 1;
      }
      carry = Buffer.from(data.subarray(p));
    }
    if (carry.length) v.line(carry.toString('utf8'), carry.length, ++lineNo);
  } finally {
    fs.closeSync(fd);
  }
}

export function checkDir(dir: string, allowOpen: boolean): CheckResult {
  const v = new LogVerifier(allowOpen);
  for (const name of logFilesInOrder(fs.readdirSync(dir))) {
    try {
      checkFile(v, join(dir, name), name);
    } catch (e) {
      // Rotated away while we were reading: the sequence check says what that cost.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return v.result(dir);
}

export function runLogcheck(args: string[]): number {
  const allowOpen = args.includes('--allow-open');
  const rest = args.filter((a) => a !== '--allow-open');
  const usage = (what: string) => {
    writeFully(2, Buffer.from(`tsinit: logcheck: ${what} (${USAGE})\n`));
    return EXIT_USAGE;
  };
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    return usage(rest.length === 0 ? 'missing DIR' : rest.length > 1 ? 'one DIR only' : `unknown option ${rest[0]}`);
  }
  let result: CheckResult;
  try {
    result = checkDir(rest[0], allowOpen);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    writeFully(2, Buffer.from(`tsinit: logcheck: cannot read ${rest[0]}: ${err.code ?? err.message}\n`));
    return EXIT_USAGE;
  }
  writeFully(1, Buffer.from(result.lines.join('\n') + '\n'));
  return result.complete ? EXIT_COMPLETE : EXIT_INCOMPLETE;
}
