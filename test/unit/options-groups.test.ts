import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/options';

// docs/options.md: "a wrong value throws a RangeError (or TypeError for a
// wrong shape) that names the field and shows the value". A group given as
// something other than an object was taken for "no options" instead: every
// default, silently — `scope: 'org_1'` put the tab in the org '' (its channel,
// its lock, its rollout bucket), `circuit: 5` kept the default breaker.

const url = 'https://api.example.com/v2/realtime';

function thrown(options: object): Error {
  try {
    resolveOptions({ url, ...options } as never);
  } catch (error) {
    return error as Error;
  }
  throw new Error('no error');
}

describe('option groups that are not objects', () => {
  it.each([
    [{ scope: 'org_1' }, 'scope must be an object, got "org_1"'],
    [{ circuit: 5 }, 'circuit must be an object, got 5'],
    [{ leader: 'locks' }, 'leader must be an object, got "locks"'],
    [{ backoff: [] }, 'backoff must be an object, got []'],
    [{ optimistic: true }, 'optimistic must be an object, got true'],
    [{ telemetry: 0 }, 'telemetry must be an object, got 0'],
    [{ auth: () => 't' }, 'auth must be an object, got [function auth]'],
    [{ platform: 5 }, 'platform must be an object, got 5'],
    [{ flags: [] }, 'flags must be an object, got []'],
  ])('refuses %j, naming the group', (options, message) => {
    const error = thrown(options);
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(message);
  });

  it('still takes null and undefined for the defaults', () => {
    const resolved = resolveOptions({
      url,
      scope: null,
      circuit: null,
      leader: undefined,
      telemetry: null,
      platform: null,
      // As every group but slo, alerts and rollback: flags: null was a TypeError.
      flags: null,
    } as never);
    expect(resolved.scope).toEqual({ orgId: '', userId: '' });
    expect(resolved.circuit.failureThreshold).toBe(3);
    expect(resolved.telemetry.sampleRate).toBe(0.02);
    expect(resolved.flags.enabled).toBe(true);
  });
});
