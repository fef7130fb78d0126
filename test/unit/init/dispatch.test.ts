// What tsinit does with the answer of the routing table, with a fake stop, service and terminal:
// the effect each route has, and the signals held back until the first incarnation is spawned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignalDispatch } from '../../../src/init/dispatch';
import type { RoutingOptions } from '../../../src/init/forward';
import type { TsinitEvent } from '../../../src/event-catalogue';
import { DEFAULT_STOP_SIGNALS, SIGCONT, SIGHUP, SIGINT, SIGSTOP, SIGTERM, SIGTSTP, SIGWINCH } from '../../../src/signals';

const SIGUSR1 = 10;
const SIGUSR2 = 12;

function world(o: Partial<RoutingOptions> = {}, w: { pty?: { resize(): boolean } } = {}) {
  const log: string[] = [];
  const stop = {
    requested: null as unknown,
    request(reason: string, exitCode: number | undefined, sig: number) {
      this.requested = { reason };
      log.push(`stop ${sig} ${reason} ${exitCode}`);
    },
    hurryUp: (reason: string) => log.push(`hurry ${reason}`),
  };
  const dispatch = new SignalDispatch(
    { rewrite: new Map(), stopSignals: DEFAULT_STOP_SIGNALS, pid1: false, pty: false, ...o },
    {
      events: { emit: (e: TsinitEvent) => void log.push(`event ${e.type} ${'signal' in e ? e.signal : ''}`) },
      stop,
      service: {
        pty: w.pty ?? null,
        forward: (sig: number, as: number, wholeGroup?: boolean) => log.push(`forward ${sig} as ${as}${wholeGroup ? ' group' : ''}`),
      },
      terminal: { stopWithService: () => log.push('tsinit stops'), resume: () => log.push('terminal back') },
    },
  );
  return { log, dispatch };
}

test('signals to pass on before the first incarnation are held back, then passed on in order', () => {
  const { log, dispatch } = world();
  dispatch.receive(SIGUSR1);
  dispatch.receive(SIGHUP);
  assert.deepEqual(log, []);
  dispatch.started();
  assert.deepEqual(log, [`forward ${SIGUSR1} as ${SIGUSR1}`, `forward ${SIGHUP} as ${SIGHUP}`]);
  dispatch.receive(SIGUSR2);
  assert.deepEqual(log.slice(2), [`forward ${SIGUSR2} as ${SIGUSR2}`]);
});

test('the next incarnations hold nothing back and replay nothing', () => {
  const { log, dispatch } = world();
  dispatch.receive(SIGUSR1);
  dispatch.started();
  dispatch.started();
  assert.deepEqual(log, [`forward ${SIGUSR1} as ${SIGUSR1}`]);
});

test('a rewritten signal is held back as its rewrite; a dropped one is said at once, never held', () => {
  const { log, dispatch } = world({ rewrite: new Map([[SIGUSR1, SIGUSR2], [SIGHUP, 0]]) });
  dispatch.receive(SIGUSR1);
  dispatch.receive(SIGHUP);
  assert.deepEqual(log, [`event signal-dropped ${SIGHUP}`]);
  dispatch.started();
  assert.deepEqual(log.slice(1), [`forward ${SIGUSR1} as ${SIGUSR2}`]);
});

test('a stop signal starts the stop at once, even before the service exists; a second one hurries it', () => {
  const { log, dispatch } = world({ rewrite: new Map([[SIGINT, SIGTERM]]) });
  dispatch.receive(SIGINT);
  dispatch.receive(SIGTERM);
  assert.deepEqual(log, [`stop ${SIGTERM} received SIGINT undefined`, 'hurry second SIGTERM during the stop']);
});

test('job control is not held back: SIGSTOP to the whole group, then tsinit stops too outside PID 1', () => {
  const { log, dispatch } = world();
  dispatch.receive(SIGTSTP);
  assert.deepEqual(log, [`forward ${SIGTSTP} as ${SIGSTOP} group`, 'tsinit stops']);
  dispatch.started();
  assert.equal(log.length, 2);
});

test('as PID 1, SIGTSTP stops the service only', () => {
  const { log, dispatch } = world({ pid1: true });
  dispatch.started();
  dispatch.receive(SIGTSTP);
  assert.deepEqual(log, [`forward ${SIGTSTP} as ${SIGSTOP} group`]);
});

test('SIGCONT gives the terminal back first, then is passed on', () => {
  const { log, dispatch } = world();
  dispatch.started();
  dispatch.receive(SIGCONT);
  assert.deepEqual(log, ['terminal back', `forward ${SIGCONT} as ${SIGCONT}`]);
});

test('SIGWINCH with --pty resizes the pty; passed on only when the pty could not follow', () => {
  let resized = true;
  const { log, dispatch } = world({ pty: true }, { pty: { resize: () => resized } });
  dispatch.started();
  dispatch.receive(SIGWINCH);
  assert.deepEqual(log, []);
  resized = false;
  dispatch.receive(SIGWINCH);
  assert.deepEqual(log, [`forward ${SIGWINCH} as ${SIGWINCH}`]);
});

test('SIGWINCH with --pty before the pty exists is held back like any other', () => {
  const { log, dispatch } = world({ pty: true });
  dispatch.receive(SIGWINCH);
  assert.deepEqual(log, []);
  dispatch.started();
  assert.deepEqual(log, [`forward ${SIGWINCH} as ${SIGWINCH}`]);
});
