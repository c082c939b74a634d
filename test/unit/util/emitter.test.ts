import { afterEach, describe, expect, it, vi } from 'vitest';
import { Listeners, reportListenerError } from '../../../src/util/emitter';

describe('Listeners', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('calls listeners in subscription order with the value', () => {
    const listeners = new Listeners<number>();
    const calls: string[] = [];
    listeners.add((value) => calls.push(`a${value}`));
    listeners.add((value) => calls.push(`b${value}`));
    listeners.emit(1);
    listeners.emit(2);
    expect(calls).toEqual(['a1', 'b1', 'a2', 'b2']);
  });

  it('unsubscribes, idempotently, and counts with size', () => {
    const listeners = new Listeners<void>();
    const fn = vi.fn();
    const off = listeners.add(fn);
    expect(listeners.size).toBe(1);
    off();
    off();
    expect(listeners.size).toBe(0);
    listeners.emit();
    expect(fn).not.toHaveBeenCalled();
  });

  it('treats each add of the same function as its own subscription', () => {
    const listeners = new Listeners<void>();
    const fn = vi.fn();
    const offFirst = listeners.add(fn);
    listeners.add(fn);
    listeners.emit();
    expect(fn).toHaveBeenCalledTimes(2);
    offFirst();
    listeners.emit();
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('keeps calling the others when one throws, and reports the error', () => {
    const errors: unknown[] = [];
    const listeners = new Listeners<number>((error) => errors.push(error));
    const boom = new Error('boom');
    const after = vi.fn();
    listeners.add(() => {
      throw boom;
    });
    listeners.add(after);
    listeners.emit(7);
    expect(after).toHaveBeenCalledWith(7);
    expect(errors).toEqual([boom]);
  });

  it('survives an error handler that throws', () => {
    const listeners = new Listeners<void>(() => {
      throw new Error('handler broke');
    });
    const after = vi.fn();
    listeners.add(() => {
      throw new Error('listener broke');
    });
    listeners.add(after);
    expect(() => listeners.emit()).not.toThrow();
    expect(after).toHaveBeenCalledOnce();
  });

  it('does not call, in the same emit, a listener added during it', () => {
    const listeners = new Listeners<void>();
    const late = vi.fn();
    listeners.add(() => {
      listeners.add(late);
    });
    listeners.emit();
    expect(late).not.toHaveBeenCalled();
    listeners.emit();
    expect(late).toHaveBeenCalledOnce();
  });

  it('does not call a listener removed by an earlier one during the same emit', () => {
    const listeners = new Listeners<void>();
    const second = vi.fn();
    let offSecond = (): void => {};
    listeners.add(() => offSecond());
    offSecond = listeners.add(second);
    listeners.emit();
    expect(second).not.toHaveBeenCalled();
  });

  it('clear() removes every listener, also mid-emit', () => {
    const listeners = new Listeners<void>();
    const second = vi.fn();
    listeners.add(() => listeners.clear());
    listeners.add(second);
    listeners.emit();
    expect(second).not.toHaveBeenCalled();
    expect(listeners.size).toBe(0);
  });

  it('reports to globalThis.reportError by default where it exists', () => {
    const reportError = vi.fn();
    vi.stubGlobal('reportError', reportError);
    const listeners = new Listeners<void>();
    const boom = new Error('boom');
    listeners.add(() => {
      throw boom;
    });
    listeners.emit();
    expect(reportError).toHaveBeenCalledWith(boom);
  });

  it('falls back to console.error without reportError', () => {
    vi.stubGlobal('reportError', undefined);
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const boom = new Error('boom');
    reportListenerError(boom);
    expect(consoleError).toHaveBeenCalledWith(boom);
  });
});
