import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, it } from 'vitest';
import {
  type DevConnectionInfo,
  type DevServer,
  type DevServerOptions,
  type PublishInput,
  startDevServer,
} from '../../src/devserver/index';
import type { RealtimeState } from '../../src/state';
import { launchChromium } from './chromium';

export { launchChromium };

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The property mangling dist ships with (scripts/mangle.mjs), so the pages
 * run the code users get. Imported by URL, as the .mjs has no types.
 */
const { mangleOptions } = (await import(new URL('../../scripts/mangle.mjs', import.meta.url).href)) as {
  mangleOptions: Pick<BuildOptions, 'mangleProps' | 'mangleQuoted'>;
};

/** Bundles an example's entry from src (no build step needed, mangled as dist is) into .tmp and returns the folder. */
export async function bundleExample(name: string, entry = 'main.ts'): Promise<string> {
  const out = join(root, '.tmp', 'browser', name);
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(root, 'examples', name, entry)],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outfile: join(out, 'main.js'),
    ...mangleOptions,
    alias: {
      tabwire: join(root, 'src/index.ts'),
      'tabwire/vanilla': join(root, 'src/vanilla/index.ts'),
      'tabwire/react': join(root, 'src/react/index.ts'),
    },
    logLevel: 'warning',
  });
  return out;
}

export const exampleDir = (name: string) => join(root, 'examples', name);

// ---- multi-tab fixture (test/browser/fixtures/tabs, used by tabs-*.test.ts) ----

/** Folder of a test fixture page (`test/browser/fixtures/<name>`). */
export const fixtureDir = (name: string) => join(root, 'test', 'browser', 'fixtures', name);

/**
 * Bundles a test fixture's entry from src (mangled as dist is) into .tmp and returns the folder (serve it at `/_build/`).
 * `production`: as the production build (`dist/production/`) is, `process.env.NODE_ENV` "production" and
 * minified, so the development-only checks are left out; otherwise esbuild's default for the browser, "development".
 */
export async function bundleFixture(
  name: string,
  entry = 'main.ts',
  { production = false }: { production?: boolean } = {},
): Promise<string> {
  const out = join(root, '.tmp', 'browser', `fixture-${name}${production ? '-production' : ''}`);
  const src = join(root, 'src');
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(fixtureDir(name), entry)],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outfile: join(out, 'main.js'),
    ...mangleOptions,
    ...(production && { define: { 'process.env.NODE_ENV': '"production"' }, minify: true }),
    alias: {
      tabwire: join(src, 'index.ts'),
      'tabwire/vanilla': join(src, 'vanilla/index.ts'),
      'tabwire/react': join(src, 'react/index.ts'),
    },
    logLevel: 'warning',
  });
  return out;
}

/** URL parameters of the tabs fixture page (see fixtures/tabs/main.ts). */
export interface TabParams {
  org: string;
  user?: string;
  strategy?: 'auto' | 'locks' | 'storage' | 'none';
  takeoverMs?: number;
  services?: string[];
  filter?: string;
  app?: string;
  ttlMs?: number;
  /** Built-in transports in fallback order (default: the library's). */
  transports?: Array<'websocket' | 'sse' | 'long-poll'>;
  /** `persistCursor: true`. */
  persist?: boolean;
}

/** One `[Date.now(), isLeader]` sample of a tab, every 10 ms. */
export type LeaderSample = [number, boolean];

/** What the tabs fixture exposes as `window.__tw` (the serialisable part). */
interface TabWindowData {
  seqs: Record<string, number[]>;
  /** `at`: the page's real `Date.now()` at delivery. */
  events: Array<{ service: string; seq: number; propertyId: string | null; at: number }>;
  samples: LeaderSample[];
  leaderEvents: LeaderSample[];
  errors: string[];
}

type TabGlobal = { __tw: TabWindowData & { rt: { getState(): RealtimeState } } };

export function tabUrl(origin: string, params: TabParams): string {
  const query = new URLSearchParams({ org: params.org });
  if (params.user !== undefined) query.set('user', params.user);
  if (params.strategy !== undefined) query.set('strategy', params.strategy);
  if (params.takeoverMs !== undefined) query.set('takeoverMs', String(params.takeoverMs));
  if (params.services !== undefined) query.set('services', params.services.join(','));
  if (params.filter !== undefined) query.set('filter', params.filter);
  if (params.app !== undefined) query.set('app', params.app);
  if (params.ttlMs !== undefined) query.set('ttlMs', String(params.ttlMs));
  if (params.transports !== undefined) query.set('transports', params.transports.join(','));
  if (params.persist) query.set('persist', '1');
  return `${origin}/?${query}`;
}

/** The dev server and the Chromium of one test file. */
export interface ServerAndChromium {
  readonly server: DevServer;
  readonly browser: Browser;
}

/**
 * Starts a dev server (by default the tabs fixture's) and Chromium before
 * the file's tests and closes both after them. Read `env.server` and
 * `env.browser` inside tests and hooks (they exist once `beforeAll` ran).
 */
export function setUpServerAndChromium(
  startServer: () => Promise<DevServer> = () => startTabsServer(),
): ServerAndChromium {
  const env = {} as { server: DevServer; browser: Browser };
  beforeAll(async () => {
    [env.server, env.browser] = await Promise.all([startServer(), launchChromium()]);
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}

/** Opens `count` tabs of `context` one after another (see {@link openTab}). */
export async function openTabs(
  context: BrowserContext,
  origin: string,
  count: number,
  params: TabParams,
  errors?: string[],
): Promise<Page[]> {
  const tabs: Page[] = [];
  for (let i = 0; i < count; i++) tabs.push(await openTab(context, origin, params, errors));
  return tabs;
}

/**
 * Opens the tabs fixture in a new page of `context` (a new tab of the same
 * browser) and waits for its client to exist. Page errors go to `errors`.
 */
export async function openTab(
  context: BrowserContext,
  origin: string,
  params: TabParams,
  errors?: string[],
): Promise<Page> {
  const page = await context.newPage();
  if (errors) page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  await page.goto(tabUrl(origin, params));
  await page.waitForFunction(() => (window as unknown as Partial<TabGlobal>).__tw !== undefined);
  return page;
}

/** How {@link openHiddenTab} throttles a page's timers. */
export interface Throttle {
  /** Every `setTimeout` fires at the next whole multiple of this, in ms of the page's clock. */
  alignMs: number;
  /** On time for this long after the page starts (its election, its first connect). Default 0. */
  graceMs?: number;
}

/**
 * Runs in the page before the library: the page says it is hidden, and its
 * timers run as Chrome runs a hidden tab's, aligned to whole `alignMs`.
 * EMULATED: the contexts Playwright creates emulate focus, so their pages
 * stay visible and their timers run on time. Chromium hides and throttles
 * for real only in the default context of one started without Playwright's
 * defaults (launchBackgroundChromium, background-chromium.ts, as
 * tabs-throttled.test.ts does), where only the tab in front is visible and
 * minute-long waits take minutes. Everything else stays real.
 */
function hideAndThrottle({ alignMs, graceMs = 0 }: Throttle): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
  const realSetTimeout = window.setTimeout.bind(window);
  const start = performance.now();
  const throttled = (handler: TimerHandler, ms?: number, ...args: unknown[]): number => {
    const now = performance.now();
    const wait = Math.max(0, ms ?? 0);
    if (now - start < graceMs) return realSetTimeout(handler, wait, ...args);
    const due = Math.ceil((now + wait) / alignMs) * alignMs;
    return realSetTimeout(handler, due - now, ...args);
  };
  window.setTimeout = throttled as typeof window.setTimeout;
}

/** {@link openTab}, in a tab hidden and throttled as `throttle` says (see `hideAndThrottle`). */
export async function openHiddenTab(
  context: BrowserContext,
  origin: string,
  params: TabParams,
  errors: string[],
  throttle: Throttle,
): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  await page.addInitScript(hideAndThrottle, throttle);
  await page.goto(tabUrl(origin, params));
  await page.waitForFunction(() => (window as unknown as Partial<TabGlobal>).__tw !== undefined);
  return page;
}

export function tabState(page: Page): Promise<RealtimeState> {
  return page.evaluate(() => (window as unknown as TabGlobal).__tw.rt.getState());
}

export function tabSeqs(page: Page, service = 'tasks'): Promise<number[]> {
  return page.evaluate((s) => [...((window as unknown as TabGlobal).__tw.seqs[s] ?? [])], service);
}

export function tabData(page: Page): Promise<TabWindowData> {
  return page.evaluate(() => {
    const { seqs, events, samples, leaderEvents, errors } = (window as unknown as TabGlobal).__tw;
    return { seqs, events, samples, leaderEvents, errors };
  });
}

/** What a client closed by {@link reopenTab} saw (its arrays live on in the page). */
export interface ClosedTabClient {
  org: string;
  user: string;
  seqs: Record<string, number[]>;
  events: Array<{ service: string; seq: number; propertyId: string | null }>;
  samples: LeaderSample[];
  leaderEvents: LeaderSample[];
  /** The page's `Date.now()` when `close()` was called. */
  closedAt: number;
}

type ReopenGlobal = {
  __tw: {
    previous: ClosedTabClient[];
    reopen(org: string, user: string, awaitClose?: boolean, createFirst?: boolean): Promise<void>;
  };
};

/**
 * In the page, as an SPA does on logout/login or a provider remount: closes
 * its client (not awaited unless `awaitClose`) and creates another for
 * `org`/`user` (`createFirst`: the new one is created before the old one
 * is closed, as code that swaps a variable may do). `tabSeqs`, `tabData`
 * and `tabState` then read the new one;
 * {@link closedClients} the old ones.
 */
export function reopenTab(
  page: Page,
  org: string,
  user: string,
  awaitClose = false,
  createFirst = false,
): Promise<void> {
  return page.evaluate(([o, u, a, c]) => (window as unknown as ReopenGlobal).__tw.reopen(o, u, a, c), [
    org,
    user,
    awaitClose,
    createFirst,
  ] as const);
}

/** The clients {@link reopenTab} closed in this page, oldest first. */
export function closedClients(page: Page): Promise<ClosedTabClient[]> {
  return page.evaluate(() => (window as unknown as ReopenGlobal).__tw.previous);
}

/** Crashes the tab's renderer (as a killed process would: no pagehide, no unload). */
export async function crashPage(page: Page): Promise<void> {
  const session = await page.context().newCDPSession(page);
  // The answer never comes: the renderer is gone.
  void session.send('Page.crash').catch(() => {});
}

/** Polls `check` until it returns something truthy; throws `message` (and the last value) after `timeoutMs`. */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 20, message = 'condition' } = {},
): Promise<NonNullable<T>> {
  const started = performance.now();
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (performance.now() - started > timeoutMs) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${message}; last: ${JSON.stringify(last)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `[from, from + 1, …, to]`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/**
 * What is wrong with `seqs` as "exactly from..to, each once, in order":
 * holes, repeats, out-of-order seqs, seqs outside the range. Empty when right.
 * With `from` undefined the run may start anywhere (a tab opened later starts
 * at the head), but must still be contiguous up to `to`.
 */
export function runProblems(seqs: readonly number[], from: number | undefined, to: number): string[] {
  const problems: string[] = [];
  if (seqs.length === 0) return to >= (from ?? 1) ? [`no events (want ${from ?? '?'}..${to})`] : [];
  const start = from ?? seqs[0]!;
  const seen = new Set<number>();
  const repeats: number[] = [];
  const outOfOrder: string[] = [];
  const outside: number[] = [];
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!;
    if (seen.has(seq)) repeats.push(seq);
    seen.add(seq);
    if (seq < start || seq > to) outside.push(seq);
    if (i > 0 && seq <= seqs[i - 1]!) outOfOrder.push(`${seqs[i - 1]}→${seq} at #${i}`);
  }
  const holes = range(start, to).filter((seq) => !seen.has(seq));
  if (holes.length > 0) problems.push(`holes (${holes.length}): ${compact(holes)}`);
  if (repeats.length > 0) problems.push(`repeats (${repeats.length}): ${compact(repeats)}`);
  if (outOfOrder.length > 0) problems.push(`out of order: ${outOfOrder.slice(0, 10).join(', ')}`);
  if (outside.length > 0) problems.push(`outside ${start}..${to}: ${compact(outside)}`);
  return problems;
}

/** `1-5,9,12-14` (first 20 runs). */
function compact(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.length > 20 ? `${parts.slice(0, 20).join(',')},…` : parts.join(',');
}

/**
 * "Never two leaders": each tab's samples (every 10 ms) are cut into runs of
 * consecutive `isLeader: true` samples, `[first, last]` in wall-clock ms; two
 * runs of different tabs that overlap (share any instant) mean two tabs said
 * "leader" at the same time. A crashed tab's samples simply stop, so its last
 * run ends at its last sample. A run is also cut where a tab took no sample
 * for more than `maxGapMs` (a stalled tab says nothing about that time; check
 * {@link maxSampleGapMs} where stalls must not happen). Returns the overlaps
 * found (empty when right), leaving out those of at most `allowMs`.
 */
export function leaderOverlaps(
  samplesByTab: Record<string, readonly LeaderSample[]>,
  maxGapMs = 100,
  allowMs = -1,
): string[] {
  const runs: Array<{ tab: string; start: number; end: number }> = [];
  for (const [tab, samples] of Object.entries(samplesByTab)) {
    let start: number | undefined;
    let end = 0;
    for (const [t, isLeader] of samples) {
      if (start !== undefined && t - end > maxGapMs) {
        runs.push({ tab, start, end });
        start = undefined;
      }
      if (isLeader) {
        start ??= t;
        end = t;
      } else if (start !== undefined) {
        runs.push({ tab, start, end });
        start = undefined;
      }
    }
    if (start !== undefined) runs.push({ tab, start, end });
  }
  runs.sort((a, b) => a.start - b.start);
  const overlaps: string[] = [];
  for (let i = 0; i < runs.length; i++) {
    for (let j = i + 1; j < runs.length && runs[j]!.start <= runs[i]!.end; j++) {
      const a = runs[i]!;
      const b = runs[j]!;
      if (a.tab === b.tab || Math.min(a.end, b.end) - b.start <= allowMs) continue;
      overlaps.push(
        `${a.tab} [${a.start}..${a.end}] and ${b.tab} [${b.start}..${b.end}] both leader for ${
          Math.min(a.end, b.end) - b.start
        } ms from ${b.start}`,
      );
    }
  }
  return overlaps;
}

/**
 * "Never two leaders" from each tab's `leader` events rather than its 10 ms
 * samples: the event fires in the same update that flips `isLeader`, so a run
 * is exact, from a `true` event to the next `false` one, whatever the
 * sampling; a run still open at the end lasts until `endAt` (the tab's last
 * sample: for a killed tab, its last one before the kill). Two runs of
 * different tabs overlap when one starts strictly before the other ends (the
 * clock is `Date.now()`, 1 ms: a hand-over within the same millisecond is
 * not counted). Catches overlaps shorter than the sampling interval and ones
 * during a sampling stall, which {@link leaderOverlaps} cannot see. Returns
 * the overlaps found (empty when right), leaving out those of at most `allowMs`.
 */
export function leaderEventOverlaps(
  byTab: Record<string, { leaderEvents: readonly LeaderSample[]; endAt: number }>,
  allowMs = 0,
): string[] {
  const runs: Array<{ tab: string; start: number; end: number }> = [];
  for (const [tab, { leaderEvents, endAt }] of Object.entries(byTab)) {
    let start: number | undefined;
    for (const [t, isLeader] of leaderEvents) {
      if (isLeader) start ??= t;
      else if (start !== undefined) {
        runs.push({ tab, start, end: t });
        start = undefined;
      }
    }
    if (start !== undefined) runs.push({ tab, start, end: Math.max(start, endAt) });
  }
  runs.sort((a, b) => a.start - b.start);
  const overlaps: string[] = [];
  for (let i = 0; i < runs.length; i++) {
    for (let j = i + 1; j < runs.length && runs[j]!.start < runs[i]!.end; j++) {
      const a = runs[i]!;
      const b = runs[j]!;
      if (a.tab === b.tab || Math.min(a.end, b.end) - b.start <= allowMs) continue;
      overlaps.push(
        `${a.tab} [${a.start}..${a.end}] and ${b.tab} [${b.start}..${b.end}] both leader (by their \`leader\` events) for ${
          Math.min(a.end, b.end) - b.start
        } ms from ${b.start}`,
      );
    }
  }
  return overlaps;
}

/**
 * The longest time between two consecutive samples of any tab: a check that
 * {@link leaderOverlaps} had dense samples to judge (a throttled or stalled
 * tab would make it vacuous).
 */
export function maxSampleGapMs(samplesByTab: Record<string, readonly LeaderSample[]>): number {
  let max = 0;
  for (const samples of Object.values(samplesByTab)) {
    for (let i = 1; i < samples.length; i++) max = Math.max(max, samples[i]![0] - samples[i - 1]![0]);
  }
  return max;
}

/** A small seeded PRNG (mulberry32), so a failing random schedule can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The dev server serving the tabs fixture at `/` (bundled from src, as the production build with `production`), with short batch windows. */
export async function startTabsServer(
  options: DevServerOptions = {},
  { production = false }: { production?: boolean } = {},
): Promise<DevServer> {
  const out = await bundleFixture('tabs', 'main.ts', { production });
  return startDevServer({
    batchWindowMs: { min: 5, max: 30 },
    ...options,
    static: { '/': fixtureDir('tabs'), '/_build/': out, ...options.static },
  });
}

/** Live connections of one org at the dev server. */
export function orgConnections(server: DevServer, orgId: string): DevConnectionInfo[] {
  return server.connections().filter((c) => c.orgId === orgId);
}

/** Publishes `count` `tasks` events to an org; returns the last seq. */
export function publishTasks(
  server: DevServer,
  orgId: string,
  count: number,
  propertyId?: (i: number) => string | null | undefined,
): number {
  let seq = 0;
  for (let i = 0; i < count; i++) {
    const event: PublishInput = { service: 'tasks', entityType: 'task', type: 'task.updated', data: { i } };
    const property = propertyId?.(i);
    if (property !== undefined) event.propertyId = property;
    seq = server.publish(orgId, event).seq;
  }
  return seq;
}

// ---- safety fixture (test/browser/fixtures/safety, used by safety-*.test.ts) ----
// The page exposes a superset of the tabs page's `window.__tw`, so `tabState`,
// `tabSeqs` and `tabData` work on it too.

/** URL parameters of the safety fixture page (see fixtures/safety/main.ts). */
export interface SafetyParams {
  org: string;
  user?: string;
  strategy?: 'auto' | 'locks' | 'storage' | 'none';
  services?: string[];
  /** `flags: { shadowMode: true }`. */
  shadow?: boolean;
  /** Absent: no `telemetry` option at all (the library's defaults). */
  telemetry?: { sampleRate: number; intervalMs?: number; url?: string };
  /** More options (JSON-serialisable), merged over the rest: `rollback`, `transports`, `backoff`… */
  options?: Record<string, unknown>;
}

/** What the safety fixture records beyond the tabs page's data. */
export interface SafetyWindowData {
  seqs: Record<string, number[]>;
  errors: string[];
  /** Every `fallback` event, with the page's `Date.now()` when it fired. */
  fallbacks: Array<{ reason: string; at: number }>;
  /** The page's `Date.now()` when the state last turned `disabled`; undefined while not disabled. */
  disabledAt: number | undefined;
  /** Every `sli` event's report (the same shape as a telemetry report). */
  sliReports: unknown[];
}

type SafetyGlobal = { __tw: SafetyWindowData & { rt: { setFlags(flags: Record<string, unknown>): void } } };

export function safetyUrl(origin: string, params: SafetyParams): string {
  const query = new URLSearchParams({ org: params.org });
  if (params.user !== undefined) query.set('user', params.user);
  if (params.strategy !== undefined) query.set('strategy', params.strategy);
  if (params.services !== undefined) query.set('services', params.services.join(','));
  if (params.shadow) query.set('shadow', '1');
  if (params.telemetry !== undefined) {
    query.set('sampleRate', String(params.telemetry.sampleRate));
    if (params.telemetry.intervalMs !== undefined)
      query.set('intervalMs', String(params.telemetry.intervalMs));
    if (params.telemetry.url !== undefined) query.set('telemetryUrl', params.telemetry.url);
  }
  if (params.options !== undefined) query.set('options', JSON.stringify(params.options));
  return `${origin}/?${query}`;
}

/** The dev server serving the safety fixture at `/` (bundled from src), with short batch windows. */
export async function startSafetyServer(options: DevServerOptions = {}): Promise<DevServer> {
  const out = await bundleFixture('safety');
  return startDevServer({
    batchWindowMs: { min: 5, max: 30 },
    ...options,
    static: { '/': fixtureDir('safety'), '/_build/': out, ...options.static },
  });
}

/** Opens the safety fixture in a new page (tab) of `context` and waits for its client. */
export async function openSafetyTab(
  context: BrowserContext,
  origin: string,
  params: SafetyParams,
  errors?: string[],
): Promise<Page> {
  const page = await context.newPage();
  if (errors) page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  await page.goto(safetyUrl(origin, params));
  await page.waitForFunction(() => (window as unknown as Partial<SafetyGlobal>).__tw !== undefined);
  return page;
}

export function safetyData(page: Page): Promise<SafetyWindowData> {
  return page.evaluate(() => {
    const { seqs, errors, fallbacks, disabledAt, sliReports } = (window as unknown as SafetyGlobal).__tw;
    return { seqs, errors, fallbacks, disabledAt, sliReports };
  });
}

/** Calls `rt.setFlags(flags)` in the page; returns the page's `Date.now()` just before the call. */
export function setPageFlags(page: Page, flags: Record<string, unknown>): Promise<number> {
  return page.evaluate((f) => {
    const at = Date.now();
    (window as unknown as SafetyGlobal).__tw.rt.setFlags(f);
    return at;
  }, flags);
}

/**
 * The longer journeys: navigation, `persistCursor`, workers over SSE and
 * long-poll, background tabs under Chrome's real timer throttling, and a
 * follower hidden past a whole minute. Together they take about 11 minutes
 * of Chromium on a 2-core machine, more than `npm test` has left of its 10
 * minutes, so they run with `npm run test:journeys` (`TABWIRE_JOURNEYS=1`)
 * and `npm test` skips them. `npm test` keeps one journey of each kind, as
 * a plain `it`: the leader reloaded, a logout and login in the leader tab, a
 * provider remount, the core persistCursor cases, workers over WebSocket,
 * and a leader hidden under 1/s throttling.
 */
export const journey = process.env.TABWIRE_JOURNEYS === '1' ? it : it.skip;
