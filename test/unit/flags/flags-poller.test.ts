import { describe, expect, it } from 'vitest';
import {
  type FlagsFetch,
  FlagsPoller,
  type FlagsPollerOptions,
  type FlagsResponseLike,
} from '../../../src/flags/flags-poller';
import type { ResolvedFlags } from '../../../src/state';
import { FakeClock, flushPromises } from '../connection/fake-clock';

const URL = 'https://app.example/realtime-flags.json';
const SECOND = 1000;

function answer(status: number, body: unknown, headers: Record<string, string> = {}): FlagsResponseLike {
  return {
    status,
    headers: { get: (name) => headers[name.toLowerCase()] ?? null },
    body: null,
    text: async () => (typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

async function run(clock: FakeClock, ms: number, step = SECOND): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await flushPromises();
  }
}

function setup(
  respond: (n: number) => Promise<FlagsResponseLike>,
  overrides: Partial<FlagsPollerOptions> = {},
) {
  const clock = new FakeClock();
  const calls: Array<{ at: number; init: Parameters<FlagsFetch>[1] }> = [];
  const fetch: FlagsFetch = (_url, init) => {
    calls.push({ at: clock.now(), init });
    return respond(calls.length);
  };
  const applied: Array<Partial<ResolvedFlags>> = [];
  const warnings: string[] = [];
  const poller = new FlagsPoller({
    url: URL,
    fetch,
    clock,
    wallClock: clock.wall,
    onFlags: (flags) => applied.push(flags),
    onInvalid: (reason) => warnings.push(reason),
    ...overrides,
  });
  return { clock, calls, applied, warnings, poller };
}

describe('FlagsPoller', () => {
  it('polls at start and every intervalMs, calling onFlags only on change', async () => {
    const docs = [{ rolloutPercent: 5 }, { rolloutPercent: 5 }, { rolloutPercent: 25, shadowMode: false }];
    const { clock, calls, applied, warnings, poller } = setup(async (n) =>
      answer(200, docs[Math.min(n - 1, docs.length - 1)]),
    );
    poller.start();
    await flushPromises();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.init.method).toBe('GET');
    expect(applied).toEqual([{ rolloutPercent: 5 }]);
    await run(clock, 30 * SECOND);
    expect(applied).toHaveLength(1); // unchanged
    await run(clock, 30 * SECOND);
    expect(applied).toEqual([{ rolloutPercent: 5 }, { rolloutPercent: 25, shadowMode: false }]);
    expect(calls.map((c) => c.at)).toEqual([0, 30 * SECOND, 60 * SECOND]);
    expect(warnings).toEqual([]);
    expect(poller.lastGood).toEqual({ rolloutPercent: 25, shadowMode: false });
  });

  it("takes another tab's flags URL values as its last document's (heard)", async () => {
    const { clock, applied, poller } = setup(async () => answer(200, { rolloutPercent: 5 }));
    // Before the first document: nothing to compare with, the first is a change anyway.
    poller.heard({ emergencyDisable: true }, true, ['emergencyDisable']);
    poller.start();
    await flushPromises();
    expect(applied).toEqual([{ rolloutPercent: 5 }]);
    // Not from a flags URL (a setFlags, an older tab): the document is still the same.
    poller.heard({ rolloutPercent: 50 }, false, undefined);
    await run(clock, 30 * SECOND);
    expect(applied).toHaveLength(1);
    // Another tab read the switch from the URL: this unchanged document lifts it.
    poller.heard({ emergencyDisable: true, shadowMode: true }, true, ['emergencyDisable']);
    expect(poller.lastGood).toEqual({ rolloutPercent: 5, emergencyDisable: true });
    await run(clock, 30 * SECOND);
    expect(applied).toHaveLength(2);
    // A change of another tab's document that left rolloutPercent out: it comes back.
    poller.heard({ rolloutPercent: 100 }, false, []);
    expect(poller.lastGood).toEqual({});
    await run(clock, 30 * SECOND);
    expect(applied).toEqual([{ rolloutPercent: 5 }, { rolloutPercent: 5 }, { rolloutPercent: 5 }]);
  });

  it("takes the leader's document for its last one until it has its own (known)", async () => {
    const docs = [{ emergencyDisable: false }, { emergencyDisable: false }, { emergencyDisable: true }];
    const { clock, applied, poller } = setup(async (n) => answer(200, docs[Math.min(n - 1, 2)]), {
      known: { emergencyDisable: false },
    });
    expect(poller.lastGood).toEqual({ emergencyDisable: false });
    poller.start();
    await flushPromises();
    // The unchanged document is no change: nothing to apply, or to post to every tab.
    expect(applied).toEqual([]);
    await run(clock, 30 * SECOND);
    expect(applied).toEqual([]);
    // Once it has a document, another tab's known one is no news (what it
    // says of its URL still is: see heard).
    poller.heard({}, true, [], { rolloutPercent: 5 });
    expect(poller.lastGood).toEqual({ emergencyDisable: false });
    await run(clock, 30 * SECOND);
    expect(applied).toEqual([{ emergencyDisable: true }]);
  });

  it("applies a first document that differs from the leader's", async () => {
    const { applied, poller } = setup(async () => answer(200, { emergencyDisable: true }));
    poller.heard({}, true, undefined, { emergencyDisable: false });
    poller.start();
    await flushPromises();
    expect(applied).toEqual([{ emergencyDisable: true }]);
  });

  it('keeps its list when another tab heard the same one in another order, but for names that are none', async () => {
    // The tabs' messages carry service names only (see heard). A URL that
    // lists them in another order from one fetch to the next (a set, say) is
    // unchanged (flagsKey sorts): taken as a change of the list, the one
    // heard left out `not a service!`, and the next poll undid a setFlags.
    const docs = [
      { disabledServices: ['b', 'a', 'not a service!'] },
      { disabledServices: ['a', 'not a service!', 'b'] },
    ];
    const { clock, applied, poller } = setup(async (n) => answer(200, docs[Math.min(n - 1, 1)]));
    poller.start();
    await flushPromises();
    expect(applied).toHaveLength(1);
    poller.heard({ disabledServices: ['a', 'b'] }, false, ['disabledServices']);
    expect(poller.lastGood).toEqual(docs[0]);
    await run(clock, 30 * SECOND);
    expect(applied).toHaveLength(1);
  });

  it('treats reordered keys and lists as unchanged', async () => {
    const docs = [
      { disabledOrgs: ['a', 'b'], enabled: true },
      { enabled: true, disabledOrgs: ['b', 'a'] },
    ];
    const { clock, applied, poller } = setup(async (n) => answer(200, docs[Math.min(n - 1, 1)]));
    poller.start();
    await run(clock, 30 * SECOND);
    expect(applied).toHaveLength(1);
  });

  it('keeps the last good flags on invalid payloads and warns', async () => {
    const bodies: unknown[] = [
      { emergencyDisable: true },
      'not json {',
      { rolloutPercent: 150 },
      { emergencyDisable: 'yes' },
      { disabledOrgs: 'org_1' },
      [1, 2],
      null,
    ];
    const { clock, applied, warnings, poller } = setup(async (n) =>
      answer(200, n <= bodies.length ? bodies[n - 1] : {}),
    );
    poller.start();
    await flushPromises();
    await run(clock, 6 * 30 * SECOND);
    expect(applied).toEqual([{ emergencyDisable: true }]);
    expect(poller.lastGood).toEqual({ emergencyDisable: true });
    expect(warnings).toHaveLength(6);
    expect(warnings[0]).toBe('body is not JSON');
    expect(warnings[1]).toMatch(/^rolloutPercent:/);
    expect(warnings[2]).toMatch(/^emergencyDisable:/);
    // Then a valid, different document is applied.
    await run(clock, 30 * SECOND);
    expect(applied).toEqual([{ emergencyDisable: true }, {}]);
  });

  it('strips unknown keys', async () => {
    const { applied, poller } = setup(async () => answer(200, { shadowMode: true, futureFlag: 1 }));
    await poller.pollNow();
    expect(applied).toEqual([{ shadowMode: true }]);
  });

  it('keeps the last good flags on HTTP and network errors, backing off', async () => {
    const { clock, calls, applied, warnings, poller } = setup(async (n) => {
      if (n === 1) return answer(200, { enabled: true });
      if (n % 2 === 0) return answer(500, 'oops');
      throw new TypeError('Failed to fetch');
    });
    poller.start();
    await flushPromises();
    await run(clock, 60 * 60 * SECOND);
    expect(applied).toEqual([{ enabled: true }]);
    expect(warnings[0]).toBe('HTTP 500');
    expect(warnings[1]).toBe('request failed: Failed to fetch');
    // 30 s, then 60, 120, 240, then 300 s apart: 15 polls in an hour instead of 121.
    expect(calls.map((c) => c.at / SECOND).slice(0, 7)).toEqual([0, 30, 90, 210, 450, 750, 1050]);
    expect(calls).toHaveLength(15);
  });

  it('honours Retry-After', async () => {
    const { clock, calls, poller } = setup(async (n) =>
      n === 1 ? answer(503, '', { 'retry-after': '180' }) : answer(200, {}),
    );
    poller.start();
    await flushPromises();
    await run(clock, 179 * SECOND);
    expect(calls).toHaveLength(1);
    await run(clock, SECOND);
    expect(calls.map((c) => c.at / SECOND)).toEqual([0, 180]);
    // A success brings back the normal interval.
    await run(clock, 30 * SECOND);
    expect(calls).toHaveLength(3);
  });

  // A proxy's `Retry-After: 86400` stopped the polls for a day, and with them
  // the flags that can switch realtime off; one of 400 digits (Infinity ms)
  // for 24.8 days, setTimeout's limit.
  it.each([
    ['86400', '86400'],
    ['400 digits', '9'.repeat(400)],
  ])('caps a Retry-After of %s at 5 minutes', async (_, retryAfter) => {
    const { clock, calls, poller } = setup(async (n) =>
      n === 1 ? answer(503, '', { 'retry-after': retryAfter }) : answer(200, {}),
    );
    poller.start();
    await flushPromises();
    await run(clock, 10 * 60 * SECOND);
    expect(calls.map((c) => c.at / SECOND).slice(0, 2)).toEqual([0, 300]);
  });

  it.each(['-5', 'soon', '1.5'])(
    'ignores a Retry-After of %s: the backoff alone decides',
    async (retryAfter) => {
      const { clock, calls, poller } = setup(async (n) =>
        n === 1 ? answer(503, '', { 'retry-after': retryAfter }) : answer(200, {}),
      );
      poller.start();
      await flushPromises();
      await run(clock, 60 * SECOND);
      expect(calls.map((c) => c.at / SECOND)).toEqual([0, 60]);
    },
  );

  it('has one request in flight: pollNow joins it, and a hung one times out', async () => {
    const { clock, calls, warnings, poller } = setup(() => new Promise(() => {}));
    poller.start();
    const joined = poller.pollNow();
    expect(calls).toHaveLength(1);
    await run(clock, 10 * SECOND);
    await joined;
    expect(warnings).toEqual(['no answer within 10000 ms']);
    expect(calls[0]?.init.signal?.aborted).toBe(true);
  });

  it('pollNow resets the timer', async () => {
    const { clock, calls, poller } = setup(async () => answer(200, {}));
    poller.start();
    await run(clock, 20 * SECOND);
    await poller.pollNow();
    await run(clock, 29 * SECOND);
    expect(calls).toHaveLength(2);
    await run(clock, SECOND);
    expect(calls.map((c) => c.at / SECOND)).toEqual([0, 20, 50]);
  });

  it('stop() ends polling and drops a poll in flight', async () => {
    let release: (r: FlagsResponseLike) => void = () => {};
    const { clock, calls, applied, poller } = setup(
      () =>
        new Promise((resolve) => {
          release = resolve;
        }),
    );
    poller.start();
    poller.stop();
    expect(calls[0]?.init.signal?.aborted).toBe(true);
    release(answer(200, { enabled: false }));
    await run(clock, 5 * 60 * SECOND);
    expect(applied).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('keeps polling when onFlags throws, and offers the flags again', async () => {
    let fail = true;
    const warnings: string[] = [];
    const seen: Array<Partial<ResolvedFlags>> = [];
    const { clock, poller } = setup(async () => answer(200, { enabled: false }), {
      onFlags: (flags) => {
        seen.push(flags);
        if (fail) throw new Error('nope');
      },
      onInvalid: (reason) => warnings.push(reason),
    });
    poller.start();
    await flushPromises();
    fail = false;
    await run(clock, 60 * SECOND);
    expect(seen).toHaveLength(2);
    expect(warnings).toEqual(['onFlags threw: nope']);
  });

  // An operator counts these (`counters.flagsUrlFailures`): a broken flags
  // URL keeps kill switches from reaching pages, and a console warning in
  // each user's browser is seen by no one.
  it('calls onIgnored once per failed or refused poll, never for a good or unchanged one', async () => {
    const answers: Array<() => Promise<FlagsResponseLike>> = [
      async () => answer(200, { enabled: true }),
      // Unchanged: what fetch gives for a revalidation the server answered with a 304.
      async () => answer(200, { enabled: true }),
      async () => answer(500, 'oops'),
      async () => {
        throw new TypeError('Failed to fetch');
      },
      async () => answer(200, 'not json {'),
      async () => answer(200, { rolloutPercent: 150 }),
      () => new Promise(() => {}),
      async () => answer(200, { enabled: false }),
    ];
    let ignored = 0;
    const { clock, applied, warnings, poller } = setup((n) => answers[n - 1]!(), {
      onIgnored: () => {
        ignored += 1;
      },
    });
    const counts: number[] = [];
    for (let i = 0; i < answers.length; i++) {
      const poll = poller.pollNow();
      await run(clock, 10 * SECOND);
      await poll;
      counts.push(ignored);
    }
    expect(counts).toEqual([0, 0, 1, 2, 3, 4, 5, 5]);
    expect(warnings).toHaveLength(5);
    expect(applied).toEqual([{ enabled: true }, { enabled: false }]);
  });

  it('calls onIgnored when onFlags throws', async () => {
    let ignored = 0;
    const { poller } = setup(async () => answer(200, { enabled: false }), {
      onFlags: () => {
        throw new Error('nope');
      },
      onIgnored: () => {
        ignored += 1;
      },
    });
    await poller.pollNow();
    expect(ignored).toBe(1);
  });

  it('keeps polling and warning when onIgnored throws, and counting when onInvalid throws', async () => {
    const { clock, calls, warnings, poller } = setup(async () => answer(500, 'oops'), {
      onIgnored: () => {
        throw new Error('broken counter');
      },
    });
    poller.start();
    await run(clock, 10 * 60 * SECOND);
    expect(calls.length).toBeGreaterThan(2);
    expect(warnings).toHaveLength(calls.length);

    let ignored = 0;
    const second = setup(async () => answer(500, 'oops'), {
      onInvalid: () => {
        throw new Error('broken logger');
      },
      onIgnored: () => {
        ignored += 1;
      },
    });
    second.poller.start();
    await run(second.clock, 10 * 60 * SECOND);
    expect(second.calls.length).toBeGreaterThan(2);
    expect(ignored).toBe(second.calls.length);
    poller.stop();
    second.poller.stop();
  });

  it('warns through console.warn by default', async () => {
    const clock = new FakeClock();
    const original = console.warn;
    const logged: unknown[] = [];
    console.warn = (...args: unknown[]) => logged.push(args.join(' '));
    try {
      const poller = new FlagsPoller({
        url: URL,
        clock,
        fetch: async () => answer(200, 'nope'),
        onFlags: () => {},
      });
      await poller.pollNow();
    } finally {
      console.warn = original;
    }
    expect(logged).toHaveLength(1);
    expect(String(logged[0])).toContain('last good kept');
  });
});
