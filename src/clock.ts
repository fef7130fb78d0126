// The monotonic clock every deadline uses, in milliseconds. process.hrtime rather than
// performance.now(): in Node 20 the first touch of `performance` loads perf_hooks, which costs
// 1-5 ms on the SIGTERM path and at startup (measured in bench/).
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Time as the code that waits sees it; tests pass a fake one. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or as soon as `cancel` is aborted (at once if it already is). */
  sleep(ms: number, cancel?: AbortSignal): Promise<void>;
}

export function sleep(ms: number, cancel?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (cancel?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    cancel?.addEventListener('abort', done, { once: true });
  });
}

export const realClock: Clock = { now, sleep };
