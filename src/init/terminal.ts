// Job control, when tsinit is started from a shell with a terminal on stdin: the service gets the
// terminal's foreground, Ctrl-Z stops the service and then tsinit (so that the shell gets the terminal
// back), and `fg` resumes both. With --pty, tsinit keeps the foreground itself and puts its terminal
// in raw mode (process/pty/host.ts). As PID 1 there is no shell to return to: tsinit never stops.
import type { PtyHost } from '../process/pty/host';
import { SIGSTOP, SIGTTIN, SIGTTOU } from '../signals';
import { signalName } from '../values';
import * as libc from '../sys/libc';
import createDebug from '../debug';

// Job control's lines keep the namespace they always had: DEBUG=tsinit:init shows them.
const debug = createDebug('init');

/** The service as the terminal sees it. */
export interface TerminalUser {
  /** the current incarnation (or the last one), and whether it is still running */
  current(): { pid: number; pgid: number; running: boolean } | null;
  /** --pty: the pty host, once it exists */
  pty(): PtyHost | null;
}

export class Terminal {
  /** fd 0 when tsinit found itself in the foreground of a terminal there, else null */
  fd: number | null = null;
  private ownGroup = 0;
  /** the process group tsinit made the terminal's foreground group, to take it back at the end */
  private givenTo: number | null = null;
  /** tsinit stopped itself with the service and has not seen the SIGCONT that resumed it yet */
  private suspended = false;

  constructor(private readonly user: TerminalUser) {}

  /** At start: with a terminal on stdin where tsinit is in the foreground, take charge of it. */
  take(): void {
    if (!libc.isatty(0)) return;
    try {
      this.ownGroup = libc.getProcessGroup();
      if (libc.getForegroundGroup(0) !== this.ownGroup) return;
    } catch {
      return;
    }
    // tcsetpgrp from a background group raises SIGTTOU unless it is ignored.
    libc.setSignalIgnored(SIGTTOU, true);
    libc.setSignalIgnored(SIGTTIN, true);
    this.fd = 0;
    // Ctrl-Z stops the service (the terminal's foreground group, or the pty's), not tsinit: tsinit
    // learns of it from SIGCHLD. Deferred, so that a SIGCONT that came in the same batch is seen first.
    process.on('SIGCHLD', () => setImmediate(() => this.followServiceStop()));
  }

  /** The service was spawned into the terminal's foreground (spawn's foregroundTty). */
  gaveTo(pgid: number): void {
    this.givenTo = pgid;
  }

  /** SIGCONT (`fg`): the terminal goes back to the service, unless the shell kept it (`bg`). */
  resume(): void {
    this.suspended = false;
    const service = this.user.current();
    if (this.fd === null || !service) return;
    try {
      if (libc.getForegroundGroup(this.fd) !== this.ownGroup) return;
      const pty = this.user.pty();
      if (pty) {
        pty.enterRaw();
        return;
      }
      libc.setForegroundGroup(this.fd, service.pgid);
      this.givenTo = service.pgid;
    } catch (e) {
      debug('tcsetpgrp: %s', (e as Error).message);
    }
  }

  /** The terminal back to tsinit's group, if tsinit gave it away (before tsinit stops, and at the end). */
  restore(): void {
    if (this.fd === null) return;
    const pty = this.user.pty();
    if (pty) {
      pty.leaveRaw();
      return;
    }
    try {
      // After `bg` the shell holds the terminal: that is not tsinit's to take.
      if (libc.getForegroundGroup(this.fd) !== this.givenTo) return;
      libc.setForegroundGroup(this.fd, this.ownGroup);
    } catch (e) {
      debug('restore tcsetpgrp: %s', (e as Error).message);
    }
  }

  /**
   * The service stopped (Ctrl-Z, or SIGTTIN after `bg`): outside PID 1 tsinit stops too, so that the
   * shell gets the terminal back and `fg` resumes both (SIGCONT, above). As PID 1 there is no shell
   * to return to: the service stays stopped until it gets SIGCONT.
   */
  private followServiceStop(): void {
    const service = this.user.current();
    // Resumed, but the SIGCONT is still on its way (signals reach Node's threads in any order): the
    // service's stop is the one tsinit stopped for, and that SIGCONT will continue it.
    if (!service || !service.running || this.fd === null || this.suspended) return;
    let sig: number | null;
    try {
      sig = libc.waitStopped(service.pid);
    } catch (e) {
      debug('waitid: %s', (e as Error).message);
      return;
    }
    if (sig === null) return;
    debug('service stopped by %s', signalName(sig));
    this.stopWithService();
  }

  /** Outside PID 1: the terminal back to the shell, and tsinit stopped until SIGCONT (`fg`). */
  stopWithService(): void {
    if (process.pid === 1) return;
    this.restore();
    this.suspended = true;
    libc.kill(process.pid, SIGSTOP);
  }
}
