// node-pty, an optional dependency, loaded here and only here when --pty is used, and typed as far
// as tsinit uses it (its own typings may be absent).
export interface PtyProcess {
  readonly pid: number;
  /** the master fd (UnixTerminal) */
  readonly fd: number;
  onData(listener: (data: Buffer | string) => void): unknown;
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): void;
  pause(): void;
  resume(): void;
}

export interface PtyForkOptions {
  name: string;
  cols: number;
  rows: number;
  cwd: string;
  env: Record<string, string>;
  encoding: null;
}

export interface NodePty {
  spawn(file: string, args: string[], options: PtyForkOptions): PtyProcess;
}

/** node-pty cannot be loaded: not installed, or its native part does not load. */
export class PtyUnavailable extends Error {
  constructor(readonly reason: string) {
    super(`--pty needs the optional package node-pty: ${reason}`);
  }
}

/** Loads node-pty (kept external by the bundler); throws PtyUnavailable with a one-line reason. */
export function loadNodePty(): NodePty {
  let m: Partial<NodePty>;
  try {
    m = require('node-pty') as Partial<NodePty>;
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    throw new PtyUnavailable(text.split('\n')[0].trim() || 'it failed to load');
  }
  if (typeof m.spawn !== 'function') throw new PtyUnavailable('it has no spawn function');
  return m as NodePty;
}
