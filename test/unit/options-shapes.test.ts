import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/options';

// Options are checked once with a RangeError naming the field and the value
// (or a TypeError for a wrong shape, naming it too), and `null`/`undefined`
// stand for the default. Three places did neither: `auth: null` and
// `flagsUrl: null` crashed with the engine's own TypeError (no field), and
// `rollback` took `{ errorRate: undefined }` for a bad value while `slo` and
// `alerts` take it for the default — and, unlike them, silently ignored a
// misspelt threshold (`rollback.cooldwnMs`), so a safety setting could be
// lost without a word.

const url = 'https://api.example.com/v2/realtime';

function thrown(options: object): Error {
  try {
    resolveOptions({ url, ...options } as never);
  } catch (error) {
    return error as Error;
  }
  throw new Error('no error');
}

describe('option shapes', () => {
  it('takes auth: null and flagsUrl: null for their defaults, as every other group', () => {
    const resolved = resolveOptions({ url, auth: null, flagsUrl: null } as never);
    expect(resolved.getToken).toBeUndefined();
    expect(resolved.refreshSkewMs).toBe(30_000);
    expect(resolved.flagsUrl).toBeUndefined();
  });

  it('names flagsUrl when it is neither a URL nor { url, intervalMs }', () => {
    const error = thrown({ flagsUrl: 5 });
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('flagsUrl must be a URL string or { url, intervalMs }, got 5');
  });

  it('takes an undefined rollback threshold for its default, as slo and alerts do', () => {
    const resolved = resolveOptions({ url, rollback: { errorRate: undefined, cooldownMs: 60_000 } });
    expect(resolved.rollback.errorRate).toBe(0.05);
    expect(resolved.rollback.cooldownMs).toBe(60_000);
  });

  it('refuses a misspelt rollback threshold, as slo and alerts do', () => {
    const error = thrown({ rollback: { cooldwnMs: 60_000 } });
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(
      /^rollback\.cooldwnMs is not a rollback threshold \(did you mean cooldownMs\?\); known: errorRate, /,
    );
  });
});

// docs/options.md: "a wrong value throws a RangeError (or TypeError for a
// wrong shape) that names the field and shows the value". A group given as
// something other than an object was taken for "no options" instead: every
// default, silently — `scope: 'org_1'` put the tab in the org '' (its channel,
// its lock, its rollout bucket), `circuit: 5` kept the default breaker.

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
