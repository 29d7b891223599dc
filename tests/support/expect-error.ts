import { expect } from 'vitest';
import { OffpolicyError } from '../../src/core/errors.js';

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

/** Asserts that `p` rejects with an OffpolicyError with this code and a message matching `message`. */
export async function expectRejects(p: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OffpolicyError);
  expect((e as OffpolicyError).code).toBe(code);
  if (typeof message === 'string') expect((e as OffpolicyError).message).toBe(message);
  else expect((e as OffpolicyError).message).toMatch(message);
}
