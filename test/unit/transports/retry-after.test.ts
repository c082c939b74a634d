import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';

// A `Retry-After` in asctime form (RFC 9110 §5.6.7: a
// recipient MUST accept it; like every HTTP-date it is GMT) was read by
// Date.parse as local time. West of Greenwich the client waited hours too
// long (New York: 4 h 10 s for a 10 s wait); east of it the wait was dropped.

const NOW = Date.UTC(2015, 9, 21, 7, 28, 0);

// Node applies a `TZ` set in `process.env` on its main thread only (a worker
// thread's env is a copy of its own, and the time zone is the process's),
// and the unit project runs its files on worker threads: set there, the
// zone stayed the machine's, and the test passed with the bug back in. Each
// zone gets a Node process of its own, started with its `TZ`.
const { outputFiles } = buildSync({
  entryPoints: [fileURLToPath(new URL('../../../src/transports/http-errors.ts', import.meta.url))],
  bundle: true,
  format: 'esm',
  platform: 'node',
  write: false,
});
const module = outputFiles[0]!.text;

/** What `parseRetryAfter` makes of each value in a Node process of zone `tz`, and the zone's offset at NOW. */
function inZone(tz: string, values: string[]): { offset: number; waits: (number | undefined)[] } {
  const script = `${module}\nconsole.log(JSON.stringify({ offset: new Date(${NOW}).getTimezoneOffset(), waits: ${JSON.stringify(values)}.map((v) => parseRetryAfter(v, ${NOW})) }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, TZ: tz },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { offset: number; waits: (number | undefined)[] };
}

describe('parseRetryAfter with an asctime date', () => {
  it.each([
    ['America/New_York', 240],
    ['Asia/Tokyo', -540],
    ['UTC', 0],
  ])('reads it as GMT in %s', (tz, offset) => {
    const result = inZone(tz, [
      'Wed Oct 21 07:28:10 2015',
      'Wed Oct 21  7:28:30 2015',
      // The other two forms say GMT themselves.
      'Wed, 21 Oct 2015 07:28:10 GMT',
      'Wednesday, 21-Oct-15 07:28:10 GMT',
    ]);
    // The process really ran in that zone.
    expect(result.offset).toBe(offset);
    expect(result.waits).toEqual([10_000, 30_000, 10_000, 10_000]);
  });
});
