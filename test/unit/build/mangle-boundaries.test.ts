import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The property mangling of scripts/mangle.mjs at the boundaries it must not
// cross: the objects users get or give (state, events, TrackedMutation, a
// transport's context), and the objects one build hands another. Esbuild
// picks the short names per build: dist gives its ESM and CJS builds one
// mangle cache (scripts/lazy-parts.mjs), but an app that mixes them must not
// depend on that, so the ESM and the CJS bundles below each pick their own:
// a CJS `tabwire/testing` (fake locks, channel hub, storage, memory backend)
// must still drive an ESM core.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const out = join(root, '.tmp', 'mangle-boundaries');

// Imported by URL, as the .mjs has no types.
const { mangleOptions } = (await import(new URL('../../../scripts/mangle.mjs', import.meta.url).href)) as {
  mangleOptions: Pick<BuildOptions, 'mangleProps' | 'mangleQuoted'>;
};

type Core = typeof import('../../../src/index');
type Testing = typeof import('../../../src/testing/index');

let core: Core;
let testingEsm: Testing;
let testingCjs: Testing;
/** The CJS build's core: a second copy of every class, RealtimeError included. */
let coreCjs: Core;
/** Every short name esbuild gave a listed property, in either build. */
const mangled = new Set<string>();
const clients: { close(): Promise<void> }[] = [];

async function bundle(format: 'esm' | 'cjs'): Promise<void> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { index: 'src/index.ts', testing: 'src/testing/index.ts' },
    bundle: true,
    format,
    splitting: format === 'esm',
    platform: 'node',
    target: 'es2022',
    outdir: join(out, format),
    outExtension: { '.js': format === 'esm' ? '.js' : '.cjs' },
    external: ['react', 'ws'],
    logLevel: 'silent',
    ...mangleOptions,
    mangleCache: {},
  });
  for (const short of Object.values(result.mangleCache ?? {}))
    if (typeof short === 'string') mangled.add(short);
}

beforeAll(async () => {
  await Promise.all([bundle('esm'), bundle('cjs')]);
  core = (await import(pathToFileURL(join(out, 'esm', 'index.js')).href)) as Core;
  testingEsm = (await import(pathToFileURL(join(out, 'esm', 'testing.js')).href)) as Testing;
  testingCjs = createRequire(import.meta.url)(join(out, 'cjs', 'testing.cjs')) as Testing;
  coreCjs = createRequire(import.meta.url)(join(out, 'cjs', 'index.cjs')) as Core;
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every key of `value`, deep (the keys of records of services are data, left out by `skip`). */
function keysOf(value: unknown, skip: ReadonlySet<string> = new Set(), path = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => [
    `${path}${key}`,
    ...(skip.has(key) ? [] : keysOf(child, skip, `${path}${key}.`)),
  ]);
}

/** The keys whose name is one esbuild made up. */
const mangledKeys = (value: unknown, skip?: ReadonlySet<string>) =>
  keysOf(value, skip).filter((path) => mangled.has(path.slice(path.lastIndexOf('.') + 1)));

/** Per-service records of the state: their keys are service names. */
const DATA_KEYS = new Set([
  'cursor',
  'byServiceDelivered',
  'byServiceSuppressed',
  'byServiceReconnects',
  'byServiceLastEventAt',
  'byServiceP95LatencyMs',
]);

describe.each([
  ['ESM', () => testingEsm],
  ['CJS', () => testingCjs],
])('the mangled ESM core with the %s build of tabwire/testing', (_label, testing) => {
  it('elects, relays, replays a gap and takes over, with no made-up key in what users see', async () => {
    const T = testing();
    const backend = T.createMemoryBackend();
    const locks = new T.FakeLockManager();
    const hub = T.createBroadcastChannelHub();
    const storage = new T.MemoryStorage();
    // A transport of the user's own, around the backend's: it sees the context the core hands it.
    const contexts: object[] = [];
    const transport = {
      name: 'mine',
      connect(ctx: object) {
        contexts.push(ctx);
        return backend.transport.connect(ctx as never);
      },
    };
    const payloads: unknown[] = [];
    const tabs = (['locks', 'locks', 'storage', 'storage'] as const).map((strategy) => {
      const tab = core.createRealtime({
        url: 'http://tabwire.test/v2/realtime',
        scope: { orgId: 'org_test', userId: strategy },
        transports: [transport],
        leader: { strategy, takeoverMs: 300 },
        devtools: false,
        idleGraceMs: 0,
        telemetry: { sampleRate: 0 },
        platform: {
          locks: locks as never,
          BroadcastChannel: hub.BroadcastChannel as never,
          storage,
          window: new EventTarget(),
          navigator: { onLine: true },
          clock: T.globalTimersClock,
        },
      });
      for (const event of ['gap', 'resync', 'disconnected', 'statechange'] as const) {
        tab.on(event, ((payload: unknown) => payloads.push(payload)) as never);
      }
      clients.push(tab);
      return tab;
    });
    const seen = tabs.map(() => [] as number[]);
    tabs.forEach((tab, i) => {
      tab.subscribe('tasks', (events) => {
        for (const e of events) seen[i]?.push(e.seq);
      });
    });
    // One connection per scope (the two pairs share a scope each).
    await until(() => backend.connectionCount === 2, 'one connection per scope');
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'every tab connected');
    expect(tabs.filter((t) => t.getState().isLeader)).toHaveLength(2);

    const mutationId = core.newMutationId();
    const mutation = tabs[0]!.trackMutation(mutationId, { timeoutMs: 5000 });
    for (let i = 1; i <= 10; i++) backend.publish({ service: 'tasks', ...(i === 5 && { mutationId }) });
    await until(() => seen.every((s) => s.length >= 10), 'ten events in every tab');
    expect((await mutation.result).status).toBe('visible');

    backend.skip('tasks', 2); // seqs 11 and 12 never exist
    backend.publish({ service: 'tasks' });
    backend.loseNextBatches(1); // 14 is lost on the wire: 15 shows a gap, replayed from the cursor
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    await until(() => seen.every((s) => s.length >= 13), 'the replay after the gap');
    backend.reset(['tasks']);
    backend.drop();
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'reconnected');

    const leader = tabs.findIndex((t, i) => i < 2 && t.getState().isLeader);
    await tabs[leader]!.close();
    const follower = tabs[1 - leader]!;
    await until(() => follower.getState().isLeader && follower.getState().status === 'connected', 'takeover');
    backend.publish({ service: 'tasks' });
    await until(() => seen[1 - leader]!.includes(16), 'an event after the takeover');

    for (const s of seen) expect(s.slice(0, 13)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15]);
    expect(seen[1 - leader]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16]);
    expect(payloads).toContainEqual({ service: 'tasks', cursor: 13, after: 14 }); // the gap event
    for (const tab of tabs) expect(mangledKeys(tab.getState(), DATA_KEYS)).toEqual([]);
    expect(payloads.flatMap((payload) => mangledKeys(payload, DATA_KEYS))).toEqual([]);
    expect(mangledKeys(mutation)).toEqual([]);
    expect(mangledKeys(await mutation.result)).toEqual([]);
    expect(contexts.length).toBeGreaterThan(0);
    for (const ctx of contexts) {
      expect(Object.keys(ctx).sort()).toEqual(
        [
          'cursor',
          'getCursor',
          'onClose',
          'onFrame',
          'propertyIds',
          'services',
          'signal',
          'token',
          'url',
        ].filter((key) => key !== 'token' || 'token' in ctx),
      );
    }
  });

  it("runs createFakeBrowser's tabs (the testing build's own core)", async () => {
    const browser = testing().createFakeBrowser();
    clients.push(browser);
    const [a, b] = [browser.tab(), browser.tab()];
    const got: number[][] = [[], []];
    a.subscribe('x', (events) => got[0]!.push(...events.map((e) => e.seq)));
    b.subscribe('x', (events) => got[1]!.push(...events.map((e) => e.seq)));
    await until(() => browser.backend.connectionCount === 1 && browser.leaders().length === 1, 'one leader');
    await until(() => [a, b].every((t) => t.getState().status === 'connected'), 'both connected');
    browser.backend.publish({ service: 'x' });
    browser.backend.publish({ service: 'x' });
    await until(() => got.every((g) => g.length === 2), 'both events in both tabs');
    expect(got).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  it("takes another build's RealtimeError for what it is: a forbidden stops realtime", async () => {
    const backend = testing().createMemoryBackend();
    // The error class of the other format's build, as an app that mixes
    // require and import hands it over.
    const foreign = new coreCjs.RealtimeError('forbidden', 'revoked', { status: 403 });
    expect(foreign).toBeInstanceOf(core.RealtimeError);
    // The class keeps its name in a bundle (Node prints errors by it).
    expect([core.RealtimeError.name, coreCjs.RealtimeError.name]).toEqual(['RealtimeError', 'RealtimeError']);
    backend.failNextConnects(1, foreign);
    const tab = core.createRealtime({
      url: 'http://tabwire.test/v2/realtime',
      transports: [backend.transport],
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { sampleRate: 0 },
      platform: { window: new EventTarget(), navigator: { onLine: true } },
    });
    clients.push(tab);
    const forbidden: unknown[] = [];
    tab.on('forbidden', (error) => forbidden.push(error));
    tab.subscribe('x', () => {});
    await until(() => tab.getState().status === 'disabled', 'realtime off');
    expect(tab.getState().disabledReason).toBe('forbidden');
    expect(forbidden).toEqual([foreign]);
    expect(core.isRealtimeError(forbidden[0], 'forbidden')).toBe(true);
  });
});
