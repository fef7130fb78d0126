// The monotonic clock every deadline uses, in milliseconds. process.hrtime rather than
// now(): in Node 20 the first touch of `performance` loads perf_hooks, which costs
// 1-5 ms on the SIGTERM path and at startup (measured in bench/).
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
