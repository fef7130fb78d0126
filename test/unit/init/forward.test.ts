// The routing table: every signal tsinit catches, in every phase, with and without a terminal of the
// service's own (--pty) and as PID 1 or not, gives the action tsinit takes today.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { Phase, route, Route, RoutingOptions, rewritten, stopSignalFor } from '../../../src/init/forward';
import { FORWARDED } from '../../../src/signals';

const n = (name: string) => (constants.signals as Record<string, number>)[name];
/** Every signal early-signals.ts hands to init. */
const CAUGHT = [...FORWARDED, 'SIGTSTP'];
const PHASES: Phase[] = ['running', 'stopping'];
const none = new Map<number, number>();

function expected(name: string, phase: Phase, o: RoutingOptions): Route {
  const sig = n(name);
  const fwd = { action: 'forward' as const, signal: sig, as: sig };
  switch (name) {
    case 'SIGTERM':
    case 'SIGINT':
    case 'SIGQUIT':
      return phase === 'stopping'
        ? { action: 'kill', reason: `second ${name} during the stop` }
        : { action: 'stop', signal: sig, reason: `received ${name}` };
    case 'SIGTSTP':
      return { action: 'suspend', pass: fwd, stopService: o.pty && !o.pid1, stopSelf: !o.pid1 };
    case 'SIGWINCH':
      return o.pty ? { action: 'resize', otherwise: fwd } : fwd;
    case 'SIGCONT':
      return { action: 'resume', pass: fwd };
    default:
      return fwd;
  }
}

test('every caught signal, in every phase, as PID 1 or not, with --pty or not', () => {
  assert.ok(CAUGHT.length >= 20, `caught: ${CAUGHT.join(' ')}`);
  let cases = 0;
  for (const name of CAUGHT) {
    for (const phase of PHASES) {
      for (const pid1 of [false, true]) {
        for (const pty of [false, true]) {
          const o = { rewrite: none, pid1, pty };
          assert.deepEqual(route(n(name), phase, o), expected(name, phase, o), `${name} ${phase} pid1=${pid1} pty=${pty}`);
          cases++;
        }
      }
    }
  }
  assert.equal(cases, CAUGHT.length * 8);
});

test('--rewrite: a forwarded signal goes as its rewrite, or is dropped by none', () => {
  const rewrite = new Map([[n('SIGHUP'), n('SIGUSR2')], [n('SIGUSR1'), 0], [n('SIGCONT'), 0], [n('SIGTSTP'), n('SIGSTOP')]]);
  const o = { rewrite, pid1: false, pty: false };
  for (const phase of PHASES) {
    assert.deepEqual(route(n('SIGHUP'), phase, o), { action: 'forward', signal: n('SIGHUP'), as: n('SIGUSR2') });
    assert.deepEqual(route(n('SIGUSR1'), phase, o), { action: 'drop', signal: n('SIGUSR1') });
    assert.deepEqual(route(n('SIGCONT'), phase, o), { action: 'resume', pass: { action: 'drop', signal: n('SIGCONT') } });
    assert.deepEqual(route(n('SIGTSTP'), phase, o), {
      action: 'suspend', pass: { action: 'forward', signal: n('SIGTSTP'), as: n('SIGSTOP') }, stopService: false, stopSelf: true,
    });
  }
});

test('--rewrite of a stop signal changes the stop signal; a drop of it still stops with SIGTERM', () => {
  const rewrite = new Map([[n('SIGTERM'), n('SIGQUIT')], [n('SIGINT'), 0]]);
  const o = { rewrite, pid1: true, pty: false };
  assert.deepEqual(route(n('SIGTERM'), 'running', o), { action: 'stop', signal: n('SIGQUIT'), reason: 'received SIGTERM' });
  assert.deepEqual(route(n('SIGINT'), 'running', o), { action: 'stop', signal: n('SIGTERM'), reason: 'received SIGINT' });
  assert.deepEqual(route(n('SIGINT'), 'stopping', o), { action: 'kill', reason: 'second SIGINT during the stop' });
  assert.equal(stopSignalFor(n('SIGTERM'), rewrite), n('SIGQUIT'));
  assert.equal(stopSignalFor(n('SIGTERM'), none), n('SIGTERM'));
  assert.equal(rewritten(n('SIGINT'), rewrite), null);
  assert.equal(rewritten(n('SIGHUP'), rewrite), n('SIGHUP'));
});
