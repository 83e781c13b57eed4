import { describe, expect, test } from 'vitest';
import { byteRange } from './params.ts';

describe('byteRange', () => {
  test.each([
    ['bytes=0-0', 10, { kind: 'range', start: 0, end: 0 }],
    ['bytes=2-', 10, { kind: 'range', start: 2, end: 9 }],
    ['bytes=-3', 10, { kind: 'range', start: 7, end: 9 }],
    ['bytes=-30', 10, { kind: 'range', start: 0, end: 9 }],
    ['bytes=5-100', 10, { kind: 'range', start: 5, end: 9 }],
    ['bytes=10-', 10, { kind: 'unsatisfiable' }],
    ['bytes=-0', 10, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=0-1,3-4', 10, { kind: 'none' }],
    ['lines=1-2', 10, { kind: 'none' }],
    ['bytes=4-2', 10, { kind: 'none' }],
  ])('%s of %i bytes', (header, size, want) => {
    expect(byteRange(header, size)).toEqual(want);
  });
});
