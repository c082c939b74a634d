import { describe, expect, it } from 'vitest';
import { isRealtimeError, RealtimeError } from '../../src/errors';

// A second copy of the module, as an app gets one when it loads tabwire twice
// (ESM and CJS, or two bundles): Vite keys modules by URL, query included.
// @ts-expect-error: TypeScript resolves no query; Vite does.
const other = (await import('../../src/errors?another-copy')) as typeof import('../../src/errors');

describe('RealtimeError', () => {
  it('is a separate class in the second copy (so the test below means something)', () => {
    expect(other.RealtimeError).not.toBe(RealtimeError);
    expect(Object.getPrototypeOf(new other.RealtimeError('closed', 'x'))).not.toBe(RealtimeError.prototype);
  });

  it('recognises an error of another copy, by instanceof and by isRealtimeError', () => {
    const foreign = new other.RealtimeError('forbidden', 'revoked', { status: 403 });
    expect(foreign instanceof RealtimeError).toBe(true);
    expect(isRealtimeError(foreign)).toBe(true);
    expect(isRealtimeError(foreign, 'forbidden')).toBe(true);
    expect(isRealtimeError(foreign, 'closed')).toBe(false);
    expect(new RealtimeError('closed', 'x') instanceof other.RealtimeError).toBe(true);
  });

  it('is not fooled by look-alikes or plain values', () => {
    const lookAlike = Object.assign(new Error('x'), { name: 'RealtimeError', code: 'forbidden' });
    for (const value of [
      lookAlike,
      new Error('x'),
      { code: 'closed' },
      null,
      undefined,
      0,
      'RealtimeError',
    ]) {
      expect(value instanceof RealtimeError).toBe(false);
      expect(isRealtimeError(value)).toBe(false);
    }
  });

  it('answers for prototypes as the built-in instanceof does', () => {
    // The prototypes carry the mark, but a class's own prototype is not an
    // instance of it; a subclass's prototype is (its chain holds the class's).
    expect(RealtimeError.prototype instanceof RealtimeError).toBe(false);
    expect(other.RealtimeError.prototype instanceof RealtimeError).toBe(false);
    expect(RealtimeError.prototype instanceof other.RealtimeError).toBe(false);
    expect(isRealtimeError(RealtimeError.prototype)).toBe(false);
    class AppError extends RealtimeError {}
    expect(AppError.prototype instanceof RealtimeError).toBe(true);
  });

  it('keeps prototype instanceof for subclasses', () => {
    class AppError extends RealtimeError {}
    expect(new AppError('closed', 'x') instanceof AppError).toBe(true);
    expect(new AppError('closed', 'x') instanceof RealtimeError).toBe(true);
    expect(new RealtimeError('closed', 'x') instanceof AppError).toBe(false);
  });

  it('shows no extra own property', () => {
    const error = new RealtimeError('server_error', 'boom', { status: 500 });
    expect(Object.keys(error).sort()).toEqual(['code', 'name', 'retryAfterMs', 'status']);
    expect(Object.getOwnPropertySymbols(error)).toEqual([]);
  });
});
