// What the HTTP transports share with the lazily loaded SLI reporter and
// flags poller: reading `Retry-After`. Everything else the transports make of
// an HTTP answer is in http-request.ts, out of these modules' chunk. This
// module must not import RealtimeError at run time: through an import here
// they (and the HTTP transports) would reach errors.ts too, which the core
// loads: the bundler would then split it out of the core into a chunk of its
// own, one more file for every app to download.

// Number() ignores the same white space around the digits.
const DIGITS = /^\s*\d+\s*$/;
// Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name;
// requiring it keeps Date.parse's leniency from reading "-3" as a year.
const HTTP_DATE = /^\s*[A-Za-z]{3,9},?\s/;
// asctime (`Sun Nov  6 08:49:37 1994`) is the one form without a zone, and
// Date.parse reads a time without a zone as local time; every HTTP-date is GMT.
const ASCTIME = /^\s*[A-Za-z]{3}\s+[A-Za-z]{3}\s+\d{1,2}\s+\d{1,2}:\d{2}:\d{2}\s+\d{4}\s*$/;

/**
 * Milliseconds from a `Retry-After` header value: delay-seconds or an
 * HTTP-date (relative to `now`, never negative). `undefined` for a missing or
 * unreadable value.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  if (DIGITS.test(value)) return Number(value) * 1000;
  if (!HTTP_DATE.test(value)) return undefined;
  const at = Date.parse(ASCTIME.test(value) ? `${value.trim()} GMT` : value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
