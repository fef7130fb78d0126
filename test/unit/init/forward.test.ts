// The routing table: every signal tsinit catches (every named one but KILL, STOP, CHLD, PIPE, and the
// real-time ones), in every phase, as PID 1 or not, with --pty or not, with the default stop signals
// and with --stop-signals, gives the action the README describes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { Phase, route, Route, RoutingOptions, rewritten, stopSignalFor } from '../../../src/init/forward';
import { DEFAULT_STOP_SIGNALS, isCatchable, namedCatchable, SIGRTMAX, SIGRTMIN } from '../../../src/signals';
import { signalName } from '../../../src/values';

const n = (name: string) => (constants.signals as Record<string, number>)[name];
/** Every signal early-signals.ts hands to init. */
const CAUGHT = [...namedCatchable().keys(), ...Array.from({ length: SIGRTMAX - SIGRTMIN + 1 }, (_, i) => SIGRTMIN + i)];
const PHASES: Phase[] = ['running', 'stopping'];
const none = new Map<number, number>();

function expected(sig: number, phase: Phase, o: RoutingOptions): Route {
  const name = signalName(sig);
  const fwd = { action: 'forward' as const, signal: sig, as: sig };
  if (o.stopSignals.has(sig)) {
    return phase === 'stopping'
      ? { action: 'kill', reason: `second ${name} during the stop` }
      : { action: 'stop', signal: sig, as: sig, reason: `received ${name}` };
  }
  switch (name) {
    case 'SIGTSTP':
      return { action: 'suspend', signal: sig, as: sig, stopSelf: !o.pid1 };
    case 'SIGTTIN':
    case 'SIGTTOU':
      return { action: 'suspend', signal: sig, as: sig, stopSelf: false };
    case 'SIGWINCH':
      return o.pty ? { action: 'resize', otherwise: fwd } : fwd;
    case 'SIGCONT':
      return { action: 'resume', pass: fwd };
    default:
      // QUIT, HUP, USR1, SEGV sent with kill, real-time signals ...: forwarded in every phase
      return fwd;
  }
}

test('every caught signal, in every phase, as PID 1 or not, with --pty or not, default and other stop signals', () => {
  assert.ok(CAUGHT.length >= 57, `caught: ${CAUGHT.length}`);
  for (const sig of CAUGHT) assert.ok(isCatchable(sig), signalName(sig));
  let cases = 0;
  for (const stopSignals of [DEFAULT_STOP_SIGNALS, new Set([n('SIGQUIT'), n('SIGTERM')]), new Set<number>()]) {
    for (const sig of CAUGHT) {
      for (const phase of PHASES) {
        for (const pid1 of [false, true]) {
          for (const pty of [false, true]) {
            const o = { rewrite: none, stopSignals, pid1, pty };
            assert.deepEqual(route(sig, phase, o), expected(sig, phase, o), `${signalName(sig)} ${phase} pid1=${pid1} pty=${pty} stop=${[...stopSignals]}`);
            cases++;
          }
        }
      }
    }
  }
  assert.equal(cases, CAUGHT.length * 8 * 3);
});

test('by default only TERM and INT stop; QUIT is forwarded, and during a stop only a second TERM/INT escalates', () => {
  const o = { rewrite: none, stopSignals: DEFAULT_STOP_SIGNALS, pid1: true, pty: false };
  assert.deepEqual([...DEFAULT_STOP_SIGNALS].sort((a, b) => a - b), [n('SIGINT'), n('SIGTERM')]);
  for (const phase of PHASES) {
    assert.deepEqual(route(n('SIGQUIT'), phase, o), { action: 'forward', signal: n('SIGQUIT'), as: n('SIGQUIT') });
    assert.deepEqual(route(n('SIGUSR1'), phase, o), { action: 'forward', signal: n('SIGUSR1'), as: n('SIGUSR1') });
  }
  assert.deepEqual(route(n('SIGINT'), 'stopping', o), { action: 'kill', reason: 'second SIGINT during the stop' });
});

test('--rewrite applies first: none drops any signal, TERM and INT too, in every phase', () => {
  const rewrite = new Map([[n('SIGTERM'), 0], [n('SIGINT'), 0], [n('SIGQUIT'), 0], [n('SIGTSTP'), 0], [n('SIGCONT'), 0], [40, 0]]);
  const o = { rewrite, stopSignals: new Set([n('SIGTERM'), n('SIGINT'), n('SIGQUIT')]), pid1: false, pty: false };
  for (const phase of PHASES) {
    for (const sig of rewrite.keys()) assert.deepEqual(route(sig, phase, o), { action: 'drop', signal: sig }, `${signalName(sig)} ${phase}`);
  }
});

test('--rewrite applies first: the stop is decided on the rewritten signal', () => {
  const rewrite = new Map([[n('SIGHUP'), n('SIGTERM')], [n('SIGTERM'), n('SIGQUIT')], [n('SIGUSR1'), n('SIGTSTP')], [n('SIGUSR2'), n('SIGCONT')]]);
  const o = { rewrite, stopSignals: DEFAULT_STOP_SIGNALS, pid1: false, pty: false };
  assert.deepEqual(route(n('SIGHUP'), 'running', o), { action: 'stop', signal: n('SIGHUP'), as: n('SIGTERM'), reason: 'received SIGHUP' });
  assert.deepEqual(route(n('SIGHUP'), 'stopping', o), { action: 'kill', reason: 'second SIGHUP (as SIGTERM) during the stop' });
  // TERM rewritten to QUIT (nginx's graceful stop) is no stop by default: QUIT passes, nginx's exit ends the run
  assert.deepEqual(route(n('SIGTERM'), 'running', o), { action: 'forward', signal: n('SIGTERM'), as: n('SIGQUIT') });
  const quitStops = { ...o, stopSignals: new Set([n('SIGQUIT'), n('SIGINT')]) };
  assert.deepEqual(route(n('SIGTERM'), 'running', quitStops), { action: 'stop', signal: n('SIGTERM'), as: n('SIGQUIT'), reason: 'received SIGTERM' });
  assert.deepEqual(route(n('SIGUSR1'), 'running', o), { action: 'suspend', signal: n('SIGUSR1'), as: n('SIGTSTP'), stopSelf: true });
  assert.deepEqual(route(n('SIGUSR2'), 'running', o), { action: 'resume', pass: { action: 'forward', signal: n('SIGUSR2'), as: n('SIGCONT') } });
});

test('stopSignalFor: a stop of tsinit\'s own sends SIGTERM, rewritten, never dropped', () => {
  const rewrite = new Map([[n('SIGTERM'), n('SIGQUIT')], [n('SIGINT'), 0]]);
  assert.equal(stopSignalFor(n('SIGTERM'), rewrite), n('SIGQUIT'));
  assert.equal(stopSignalFor(n('SIGINT'), rewrite), n('SIGTERM'));
  assert.equal(stopSignalFor(n('SIGTERM'), none), n('SIGTERM'));
  assert.equal(rewritten(n('SIGINT'), rewrite), null);
  assert.equal(rewritten(n('SIGHUP'), rewrite), n('SIGHUP'));
});
