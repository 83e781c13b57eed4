// The CLI's last words: whatever a library rejects with, the operator reads a reason.
import { expect, test } from 'vitest';
import { describeError } from './index.ts';

test('no rejection value is printed as undefined, null or [object Object]', () => {
  expect(describeError(undefined)).toBe('an unexplained failure (the error value was undefined)');
  expect(describeError(null)).toBe('an unexplained failure (the error value was null)');
  expect(describeError('')).toBe('an unexplained failure (an empty message)');
  expect(describeError('port taken')).toBe('port taken');
  expect(describeError({ code: 'E42', detail: 'why' })).toBe("{ code: 'E42', detail: 'why' }");
  const err = Object.assign(new Error('cannot start'), { code: 'EADDRINUSE' });
  expect(describeError(err)).toMatch(/^Error: cannot start\n\s+at .*code: 'EADDRINUSE'/s);
  expect(describeError(new AggregateError([new Error('one'), new Error('two')]))).toMatch(/one[\s\S]*two/);
});
