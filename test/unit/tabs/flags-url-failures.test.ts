import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { SliReport } from '../../../src/observability/telemetry-payload';
import { record } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A flags URL that fails or serves a refused document keeps the last good
// flags, so a kill switch thrown there never reaches the pages. Only each
// user's console heard of it; the tab now counts it too
// (`counters.flagsUrlFailures`, and the SLI report's `sli.flagsUrlFailures`).

const browser = fakeBrowserEach();
let respond: () => Response = () => new Response('{}', { status: 200 });
const fetch = vi.fn(async () => respond());
let warn: MockInstance<typeof console.warn>;

beforeEach(() => {
  fetch.mockClear();
  respond = () => new Response('{}', { status: 200 });
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  warn.mockRestore();
});

const failures = (rt: { getState(): { counters: { flagsUrlFailures: number } } }) =>
  rt.getState().counters.flagsUrlFailures;

describe('counters.flagsUrlFailures', () => {
  it('counts an HTTP error and refused documents, not good polls, and the SLI report carries it', async () => {
    const rt = browser().tab({
      flagsUrl: { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 },
      telemetry: { measure: 'always' },
      platform: { fetch: fetch as typeof globalThis.fetch },
    });
    const reports: SliReport[] = [];
    rt.on('sli', (report) => reports.push(report));
    record(rt);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(100);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(rt.getState().status).toBe('connected');
    expect(failures(rt)).toBe(0);

    respond = () => new Response('oops', { status: 500 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(failures(rt)).toBe(1);
    // After a failure the next poll is backed off to two intervals.
    respond = () => new Response('not json {', { status: 200 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(failures(rt)).toBe(2);
    respond = () => new Response('{"emergencyDisable":"yes"}', { status: 200 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(failures(rt)).toBe(3);
    respond = () => new Response('{}', { status: 200 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(fetch).toHaveBeenCalledTimes(5);
    expect(failures(rt)).toBe(3);
    // Counted beside the warning, not instead of it; the last good flags stay.
    expect(warn).toHaveBeenCalledTimes(3);
    expect(rt.getState()).toMatchObject({ status: 'connected', flags: { emergencyDisable: false } });

    await vi.advanceTimersByTimeAsync(10_000);
    expect(reports.at(-1)?.sli.flagsUrlFailures).toBe(3);
  });
});
