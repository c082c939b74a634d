import { afterEach, describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../../src/transports/http-errors';

// A `Retry-After` in asctime form (RFC 9110 §5.6.7: a
// recipient MUST accept it; like every HTTP-date it is GMT) was read by
// Date.parse as local time. West of Greenwich the client waited hours too
// long (New York: 4 h 10 s for a 10 s wait); east of it the wait was dropped.

const NOW = Date.UTC(2015, 9, 21, 7, 28, 0);
const savedTz = process.env.TZ;
afterEach(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

describe('parseRetryAfter with an asctime date', () => {
  it.each(['America/New_York', 'Asia/Tokyo', 'UTC'])('reads it as GMT in %s', (tz) => {
    process.env.TZ = tz;
    expect(parseRetryAfter('Wed Oct 21 07:28:10 2015', NOW)).toBe(10_000);
    expect(parseRetryAfter('Wed Oct 21  7:28:30 2015', NOW)).toBe(30_000);
    // The other two forms say GMT themselves.
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', NOW)).toBe(10_000);
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:28:10 GMT', NOW)).toBe(10_000);
  });
});
