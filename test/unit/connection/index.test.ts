import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock';
import * as connection from '../../../src/connection/index';

describe('src/connection/index', () => {
  it('exports the policies', () => {
    expect(Object.keys(connection)).toEqual(
      expect.arrayContaining([
        'ExponentialBackoff',
        'fullJitterDelay',
        'DEFAULT_BACKOFF',
        'CircuitBreaker',
        'DEFAULT_CIRCUIT',
        'TokenProvider',
        'DEFAULT_REFRESH_SKEW_MS',
        'HeartbeatWatchdog',
        'HEARTBEAT_TIMEOUT_INTERVALS',
      ]),
    );
    expect(
      new connection.CircuitBreaker({ ...connection.DEFAULT_CIRCUIT, clock: systemClock }).snapshot().state,
    ).toBe('closed');
  });
});
