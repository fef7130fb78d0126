export function runLogcheck(_args: string[]): number {
  return 125;
}
