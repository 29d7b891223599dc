import { expect } from 'vitest';
import { OffpolicyError } from '../../src/errors.js';

/** Asserts that `f` throws an OffpolicyError with this code and a message matching `message`. */
export function expectError(f: () => unknown, code: string, message: RegExp | string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OffpolicyError);
    expect((e as OffpolicyError).code).toBe(code);
    if (typeof message === 'string') expect((e as OffpolicyError).message).toBe(message);
    else expect((e as OffpolicyError).message).toMatch(message);
    return;
  }
  throw new Error(`expected ${code}`);
}
