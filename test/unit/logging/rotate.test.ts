// Rotation decisions and names (src/logging/rotate.ts): pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CURRENT, filesToPrune, isRotatedName, logFilesInOrder, needsCut, rotatedName, rotatedNameTime, rotationTime } from '../../../src/logging/rotate';
import { TIME } from '../../helpers/log-records';

test('rotated names: fixed width, sort by time then seq, and parse back', () => {
  const a = rotatedName(TIME, 42);
  assert.equal(a, '20250102T030405.678Z-0000000000000042.jsonl');
  assert.ok(isRotatedName(a));
  assert.equal(rotatedNameTime(a), TIME);
  const names = [rotatedName(TIME + 1, 50), rotatedName(TIME, 43), a, rotatedName(TIME - 86_400_000, 9)];
  assert.deepEqual([...names].sort(), [names[3], names[2], names[1], names[0]]);
  assert.ok(!isRotatedName(CURRENT) && !isRotatedName('notes.txt'));
});

test('rotationTime never goes before the newest existing name (clock stepped back)', () => {
  const existing = [rotatedName(TIME, 10), 'current.jsonl', 'other'];
  assert.equal(rotationTime(TIME - 5000, existing), TIME);
  assert.equal(rotationTime(TIME + 5, existing), TIME + 5);
  const next = rotatedName(rotationTime(TIME - 5000, existing), 20);
  assert.ok(next > existing[0]);
});

test('filesToPrune keeps the newest N rotated files and ignores other names', () => {
  const names = [CURRENT, 'README', rotatedName(TIME + 3, 30), rotatedName(TIME + 1, 10), rotatedName(TIME + 2, 20)];
  assert.deepEqual(filesToPrune(names, 1), [rotatedName(TIME + 1, 10), rotatedName(TIME + 2, 20)]);
  assert.deepEqual(filesToPrune(names, 3), []);
  assert.equal(filesToPrune(names, 0).length, 3);
  assert.deepEqual(logFilesInOrder(names), [rotatedName(TIME + 1, 10), rotatedName(TIME + 2, 20), rotatedName(TIME + 3, 30), CURRENT]);
});

test('needsCut: a record never makes a non-empty file exceed the limit, and a big one gets its own file', () => {
  assert.equal(needsCut(0, 5000, 4096), false);
  assert.equal(needsCut(4000, 96, 4096), false);
  assert.equal(needsCut(4000, 97, 4096), true);
});
