// sd_notify for tests, through the project's own libc module: sends MESSAGE to the socket named by
// $NOTIFY_SOCKET (or by the first line of the file given with --socket-from FILE), COUNT times, every
// EVERY_MS milliseconds, then LAST once if given, then exits 0. The process lives between sends, so
// that tsinit can place it.
//   node sd-notify.js EVERY_MS COUNT MESSAGE [--socket-from FILE] [--last LAST]
import { readFileSync } from 'node:fs';
import { sendDatagram, SysError } from '../../src/sys/libc';

const [every, count, message, ...flags] = process.argv.slice(2);
// Loaded without arguments (the test runner lists every file of build/test): nothing to do.
if (message === undefined) process.exit(0);
const flag = (name: string) => (flags.indexOf(name) >= 0 ? flags[flags.indexOf(name) + 1] : undefined);
const from = flag('--socket-from');
const last = flag('--last');
const path = from !== undefined ? readFileSync(from, 'utf8').split('\n')[0] : process.env.NOTIFY_SOCKET ?? '';
let sent = 0;
let failed = 0;
const send = (m: string) => {
  try {
    sendDatagram(path, Buffer.from(m.replace(/\\n/g, '\n')));
    sent++;
  } catch (e) {
    failed++;
    if (failed === 1) process.stderr.write(`sd-notify: ${e instanceof SysError ? e.code : String(e)}\n`);
  }
};
const tick = () => {
  send(message);
  if (sent + failed >= Number(count)) {
    if (last !== undefined) send(last);
    process.stdout.write(`sd-notify: sent ${sent}, failed ${failed}\n`);
    // Stay a moment: tsinit places a sender by its live process, and reads its socket by polling.
    setTimeout(() => undefined, 1000);
    return;
  }
  setTimeout(tick, Number(every));
};
tick();
