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

/** Node fires a timer of 2^31 ms or more at once; longer sleeps are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function sleep(ms: number, cancel?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (cancel?.aborted) return resolve();
    let timer: NodeJS.Timeout;
    const done = () => {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', done);
      resolve();
    };
    const arm = (left: number) => {
      timer = setTimeout(left > MAX_TIMER_MS ? () => arm(left - MAX_TIMER_MS) : done, Math.min(left, MAX_TIMER_MS));
    };
    arm(ms);
    cancel?.addEventListener('abort', done, { once: true });
  });
}

export const realClock: Clock = { now, sleep };
