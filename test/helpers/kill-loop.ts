// An attacker for tests: signals PID (kill, and tgkill at each of its threads) in a tight loop for
// MS milliseconds, and prints how many calls were made and how many were delivered.
//   node kill-loop.js PID MS [SIGNAL]
import { readdirSync } from 'node:fs';
import { tgkill, tryKill } from '../../src/sys/libc';

const [pidText, msText, sigText] = process.argv.slice(2);
if (pidText === undefined) process.exit(0); // loaded by the test runner without arguments
const pid = Number(pidText);
const sig = Number(sigText ?? 9);
const end = Date.now() + Number(msText);
let tries = 0;
let delivered = 0;
let tids: number[] = [];
while (Date.now() < end) {
  if (tries % 64 === 0) {
    try {
      tids = readdirSync(`/proc/${pid}/task`).map(Number);
    } catch {
      break; // gone
    }
  }
  tries++;
  if (tryKill(pid, sig)) delivered++;
  for (const tid of tids) {
    tries++;
    if (tgkill(pid, tid, sig)) delivered++;
  }
}
process.stdout.write(`kill-loop: tries ${tries} delivered ${delivered}\n`);
