import { describe, expect, it } from 'vitest';
import { ExponentialBackoff } from '../../../src/connection/backoff';
import { MAX_RETRY_AFTER_MS } from '../../../src/util/timers';

// The cap of a server's retry wait (MAX_RETRY_AFTER_MS, 5 minutes) was
// applied after choosing it over the backoff's own delay: with a
// `backoff.capMs` above 5 minutes (valid up to the timer limit), a long
// `Retry-After` made the client come back SOONER than the backoff alone
// would have, 5 minutes instead of, say, 9. A server's wait only ever adds
// to the backoff (PROTOCOL.md: back off at least that long).

describe('a capped Retry-After beside a backoff longer than 5 minutes', () => {
  const tenMinutes = { baseMs: 600_000, floorMs: 600_000, capMs: 600_000 };

  it('never shortens the backoff', () => {
    const alone = new ExponentialBackoff({ ...tenMinutes, random: () => 0.5 }).next();
    expect(alone).toBe(600_000);
    const withServerWait = new ExponentialBackoff({ ...tenMinutes, random: () => 0.5 }).next(86_400_000);
    expect(withServerWait).toBe(600_000);
  });

  it('still honours the capped wait when it is the longer', () => {
    const short = { baseMs: 500, floorMs: 500, capMs: 20_000, random: () => 0.5 };
    expect(new ExponentialBackoff(short).next(86_400_000)).toBe(MAX_RETRY_AFTER_MS);
  });
});
