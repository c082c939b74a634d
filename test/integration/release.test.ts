import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The package as users get it: build, `npm pack`, install the tarball into a
// fresh project in the OS temp dir, then import every entry point as ESM and
// as CJS, run the installed dev server against an installed client, and
// type-check a consumer against the installed `.d.ts` / `.d.cts` files.
//
// How it installs without network: the tarball is extracted into
// `<app>/node_modules/tabwire` (what npm does with it), and the packages it
// needs at run time and for type-checking (its dependencies, its optional
// peers, React's types, TypeScript) are symlinked from this repo's own
// node_modules into `<app>/node_modules`. That is installing from the local
// tarball with the project's node_modules as the package source; no registry
// is contacted. Only our package comes from the tarball, which is what is
// under test.
//
// The build goes to a staging copy (package.json, README, CHANGELOG, LICENSE
// and a fresh `dist/`), and `npm pack` runs there, so the test never cleans
// or rewrites the repo's `dist/` under other tests or the demo. The staged
// package.json is the repo's, so `files` and `exports` are the real ones.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name: string): string => join(repo, 'node_modules', '.bin', name);

/** Packages linked from the repo's node_modules into the fresh project. */
const LINKED = ['zod', 'ws', 'react', 'react-dom', '@types/react', '@types/node', 'typescript'] as const;

/** Names each entry point must export (a subset: entries may grow). */
const EXPECTED: Record<string, string[]> = {
  tabwire: [
    'createRealtime',
    'flagsFromEnv',
    'RealtimeError',
    'isRealtimeError',
    'MUTATION_ID_HEADER',
    'newMutationId',
    'withMutationId',
    'encodeCursor',
    'decodeCursor',
    'websocketTransport',
    'sseTransport',
    'longPollTransport',
  ],
  'tabwire/react': [
    'RealtimeProvider',
    'useRealtimeService',
    'useRealtimeState',
    'useRealtimeClient',
    'useRealtimePropertyFilter',
  ],
  'tabwire/vanilla': [
    'bindDomEvents',
    'setRealtimePropertyFilter',
    'installDevtools',
    'streamEventName',
    'forwardPageLifecycle',
    'pageLifecycleFrom',
  ],
  'tabwire/devserver': ['startDevServer', 'MISSING_WS_MESSAGE'],
  'tabwire/conformance': ['checkBackend', 'formatReport'],
  'tabwire/testing': [
    'createMemoryBackend',
    'createFakeBrowser',
    'createBroadcastChannelHub',
    'FakeLockManager',
    'MemoryStorage',
    'globalTimersClock',
  ],
};
const ENTRIES = Object.keys(EXPECTED);

let work: string;
let app: string;
let packedFiles: string[] = [];

function run(
  file: string,
  args: string[],
  cwd: string,
  timeout = 60_000,
  env: NodeJS.ProcessEnv = {},
): string {
  const result = spawnSync(file, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  if (result.status !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} failed (status ${result.status}, signal ${result.signal})\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** Runs a script file of the fresh project with Node; returns its stdout parsed as JSON. */
function runScript(name: string, source: string, timeout = 30_000, nodeArgs: string[] = []): unknown {
  writeFileSync(join(app, name), source);
  return JSON.parse(run(process.execPath, [...nodeArgs, name], app, timeout));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tabwire-release-'));
  const stage = join(work, 'stage');
  app = join(work, 'app');
  mkdirSync(stage);
  for (const file of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE']) {
    if (existsSync(join(repo, file))) copyFileSync(join(repo, file), join(stage, file));
  }
  // Both builds (dist/ and dist/production/) into the staging copy (tsup.config.ts).
  run(bin('tsup'), [], repo, 180_000, { TABWIRE_DIST_DIR: join(stage, 'dist') });

  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], stage)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const tarball = join(work, packed[0]?.filename ?? 'missing.tgz');
  packedFiles = (packed[0]?.files ?? []).map((f) => f.path);

  const target = join(app, 'node_modules', 'tabwire');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
  for (const name of LINKED) {
    const link = join(app, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(repo, 'node_modules', name), link, 'dir');
  }
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'tabwire-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships dist and the docs at the root, and nothing else', () => {
    expect(packedFiles).toContain('package.json');
    expect(packedFiles).toContain('README.md');
    const stray = packedFiles.filter(
      (path) =>
        !path.startsWith('dist/') && !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(path),
    );
    expect(stray).toEqual([]);
  });

  it('ships every file the exports map points at', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'tabwire', 'package.json'), 'utf8'));
    const targets = new Set<string>();
    const walk = (value: unknown): void => {
      if (typeof value === 'string') targets.add(value.replace(/^\.\//, ''));
      else if (value && typeof value === 'object') Object.values(value).forEach(walk);
    };
    walk(pkg.exports);
    for (const field of ['main', 'module', 'types', 'typesVersions', 'bin']) walk(pkg[field]);
    const missing = [...targets].filter((path) => !packedFiles.includes(path));
    expect(missing).toEqual([]);
  });
});

describe('installed package', () => {
  const namesScript = (load: (entry: string) => string, prelude = ''): string =>
    `${prelude}
const out = {};
${ENTRIES.map((entry) => `out[${JSON.stringify(entry)}] = Object.keys(${load(entry)}).sort();`).join('\n')}
console.log(JSON.stringify(out));
`;

  let esm: Record<string, string[]>;

  it('imports every entry point as ESM', () => {
    esm = runScript(
      'entries.mjs',
      namesScript((entry) => `await import(${JSON.stringify(entry)})`),
    ) as Record<string, string[]>;
    for (const entry of ENTRIES) {
      expect(esm[entry], entry).toEqual(expect.arrayContaining(EXPECTED[entry] ?? []));
    }
  });

  it('requires every entry point as CJS, with the same exports as ESM', () => {
    const cjs = runScript(
      'entries.cjs',
      namesScript((entry) => `require(${JSON.stringify(entry)})`),
    ) as Record<string, string[]>;
    for (const entry of ENTRIES) {
      expect(cjs[entry], entry).toEqual(expect.arrayContaining(EXPECTED[entry] ?? []));
      // CJS interop may add `default` / `__esModule`; the named exports must match.
      const named = (names: string[] | undefined) =>
        (names ?? []).filter((n) => n !== 'default' && n !== '__esModule');
      expect(named(cjs[entry]), entry).toEqual(named(esm?.[entry]));
    }
  });

  it("starts tabwire/react (ESM and CJS) with 'use client', and no other entry", () => {
    // React Server Components take a module for client code only by its first statement.
    const dist = join(app, 'node_modules', 'tabwire', 'dist');
    const first = (file: string) => readFileSync(join(dist, file), 'utf8').split('\n', 1)[0];
    expect([first('react.js'), first('react.cjs')]).toEqual(["'use client';", "'use client';"]);
    for (const file of [
      'index.js',
      'index.cjs',
      'vanilla.js',
      'testing.js',
      'devserver.js',
      'conformance.js',
    ])
      expect(first(file), file).not.toContain('use client');
    // The source map moved down with the code: the line that creates the
    // context still maps to the line of src/react/context.ts that does.
    const code = readFileSync(join(dist, 'react.js'), 'utf8').split('\n');
    const map = JSON.parse(readFileSync(join(dist, 'react.js.map'), 'utf8')) as {
      sources: string[];
      sourcesContent: string[];
      mappings: string;
    };
    const line = code.findIndex((text) => text.includes('createContext(null)'));
    const [source, sourceLine] = sourcePosition(map.mappings, line);
    expect(map.sources[source]).toMatch(/src\/react\/context\.ts$/);
    expect(map.sourcesContent[source]?.split('\n')[sourceLine]).toContain('createContext<');
  });

  it('loads one core for every CJS entry (tabwire/react and tabwire/testing share it)', () => {
    // Count the loaded files that define RealtimeError: each copy of the
    // core has one. Before CJS code splitting, each entry bundled its own.
    const copies = runScript(
      'one-core.cjs',
      `const { readFileSync } = require('node:fs');
require('tabwire'); require('tabwire/react'); require('tabwire/testing'); require('tabwire/vanilla');
const files = Object.keys(require.cache).filter((file) => file.includes('node_modules/tabwire/'));
console.log(JSON.stringify(files.filter((file) => readFileSync(file, 'utf8').includes('tabwire.RealtimeError')).length));
`,
    );
    expect(copies).toBe(1);
  });

  it("loads the CJS build's on-demand parts with require, not import() (Jest runs CJS without an ESM loader)", () => {
    const dist = join(app, 'node_modules', 'tabwire', 'dist');
    const cjs = readdirSync(dist).filter((file) => file.endsWith('.cjs'));
    const lazy = cjs.filter((file) =>
      /require\(["']\.\/[\w.-]+\.cjs["']\)\)/.test(readFileSync(join(dist, file), 'utf8')),
    );
    expect(lazy.length).toBeGreaterThan(0);
    // Nor the dev server's optional `ws`: under Jest a failing import() would read as "install ws".
    const withImport = cjs.filter((file) => /\bimport\(["']/.test(readFileSync(join(dist, file), 'utf8')));
    expect(withImport).toEqual([]);
  });

  it('works in a CommonJS runtime without an ESM loader, as Jest runs it (lazy parts, the dev server)', () => {
    // Every file of the package is compiled with vm.Script and no
    // importModuleDynamically, as Jest's runtime does: an import() rejects.
    const out = runScript(
      'jest-like.cjs',
      `const vm = require('node:vm');
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const dist = path.dirname(require.resolve('tabwire'));
const cache = new Map();
function load(file) {
  if (cache.has(file)) return cache.get(file).exports;
  const module = { exports: {} };
  cache.set(file, module);
  const wrapper = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file }).runInThisContext();
  const local = (spec) => {
    const resolved = require.resolve(spec, { paths: [path.dirname(file)] });
    return resolved.startsWith(dist) ? load(resolved) : require(resolved);
  };
  wrapper(module.exports, local, module, file, path.dirname(file));
  return module.exports;
}
const timeout = setTimeout(() => { console.log(JSON.stringify({ error: 'timed out' })); process.exit(2); }, 15000);
(async () => {
  const { createRealtime } = load(path.join(dist, 'index.cjs'));
  const { createMemoryBackend } = load(path.join(dist, 'testing.cjs'));
  const { startDevServer } = load(path.join(dist, 'devserver.cjs'));
  const backend = createMemoryBackend();
  const rt = createRealtime({ url: 'http://tabwire.test/v2/realtime', transports: [backend.transport], leader: { strategy: 'none' }, devtools: false, telemetry: { sampleRate: 0 } });
  const errors = [];
  rt.on('error', (e) => errors.push(String(e.cause ?? e)));
  rt.on('sli', () => {}); // loads the SLI collector, a lazy part
  const seqs = [];
  rt.subscribe('tasks', (events) => seqs.push(...events.map((e) => e.seq)));
  await new Promise((r) => setTimeout(r, 100));
  backend.publish({ service: 'tasks' });
  await new Promise((r) => setTimeout(r, 100));
  const state = rt.getState();
  await rt.close();
  let server = 'started';
  try { const s = await startDevServer(); await s.close(); } catch (e) { server = String(e.message); }
  clearTimeout(timeout);
  console.log(JSON.stringify({ seqs, measured: state.sli.measured, lazyLoadFailures: state.counters.lazyLoadFailures, errors, server }));
})();
`,
    );
    expect(out).toEqual({ seqs: [1], measured: true, lazyLoadFailures: 0, errors: [], server: 'started' });
  });

  it('runs the installed tabwire-devserver command (package.json bin) until SIGINT', async () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'tabwire', 'package.json'), 'utf8'));
    const target: string = pkg.bin['tabwire-devserver'];
    // `npm publish` (npm ≥ 10) drops a bin target written `./dist/…` as invalid; `npm pack` keeps it.
    expect(target).toBe('dist/bin/tabwire-devserver.js');
    const command = join(app, 'node_modules', 'tabwire', target);
    // npm links the file into node_modules/.bin: the shebang starts it, as ESM (the package's "type").
    expect(readFileSync(command, 'utf8').split('\n', 1)[0]).toBe('#!/usr/bin/env node');
    expect(command).toMatch(/\.js$/);
    const child = spawn(process.execPath, [command, '--port', '0'], {
      cwd: app,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 15_000;
      while (!stdout.includes('Ctrl+C to stop.') && Date.now() < deadline && child.exitCode === null)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const url = /listening: (http:\/\/127\.0\.0\.1:\d+\/v2\/realtime)\n/.exec(stdout)?.[1];
      expect(url, `${stdout}${stderr}`).toBeDefined();
      const health = await fetch(`${url}/health`);
      expect(await health.json()).toEqual({ ok: true });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stdout).toContain('stopping the dev server');
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });

  // One installed client receives one event from the installed dev server.
  const e2e = (transport: string, imports: string) => `${imports}
const timeout = setTimeout(() => { console.error('timed out'); process.exit(2); }, 15000);
const server = await startDevServer({ batchWindowMs: { min: 5, max: 20 }, pollWaitSeconds: 2 });
const rt = createRealtime({
  url: server.url,
  scope: { orgId: 'org_1', userId: 'u_1' },
  transports: [${JSON.stringify(transport)}],
  auth: { getToken: () => server.issueToken('org_1', 'u_1') },
  devtools: false,
});
const received = await new Promise((resolve) => {
  rt.subscribe('tasks', (events) => resolve(events));
  const publish = () => {
    if (rt.getState().status === 'connected') {
      server.publish('org_1', { service: 'tasks', entityType: 'task', type: 'task.created', data: { id: 't1' } });
    } else setTimeout(publish, 20);
  };
  publish();
});
const state = rt.getState();
await rt.close();
await server.close();
clearTimeout(timeout);
console.log(JSON.stringify({ received, transport: state.transport }));
`;

  it('bundles for the browser, as an app bundler does (no Node built-in in any browser entry)', async () => {
    // The published files, not src: tsup builds for Node, and a dependency it
    // bundles could bring its Node build (nanoid's, once bundled, imported node:crypto,
    // which a browser bundle cannot resolve: webpack fails, Vite stubs it and
    // the first tab id throws).
    const { build } = await import('esbuild');
    writeFileSync(
      join(app, 'browser-app.js'),
      `import { createRealtime, newMutationId } from 'tabwire';
import { RealtimeProvider } from 'tabwire/react';
import { bindDomEvents } from 'tabwire/vanilla';
import { createMemoryBackend, createFakeBrowser } from 'tabwire/testing';
const rt = createRealtime({ url: 'https://example.com/v2/realtime', transports: ['websocket', 'sse', 'long-poll'] });
rt.subscribe('tasks', () => {});
bindDomEvents(rt, { target: new EventTarget() });
console.log(RealtimeProvider, newMutationId(), createMemoryBackend, createFakeBrowser);
`,
    );
    const result = await build({
      absWorkingDir: app,
      entryPoints: ['browser-app.js'],
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      outdir: join(app, 'browser-out'),
      write: false,
      metafile: true,
      logLevel: 'silent',
      external: ['react', 'react-dom'],
    }).catch((error: { errors?: Array<{ text: string }> }) => ({
      errors: error.errors ?? [{ text: String(error) }],
      metafile: undefined,
    }));
    expect(result.errors.map((e) => e.text)).toEqual([]);
    const imported = Object.values(result.metafile?.outputs ?? {}).flatMap((output) =>
      output.imports.filter((imp) => imp.external).map((imp) => imp.path),
    );
    expect(
      imported.filter((path) => path !== 'react' && path !== 'react-dom' && path !== 'react/jsx-runtime'),
    ).toEqual([]);
  });

  it('an ESM client receives an event from the ESM dev server over SSE', () => {
    const out = runScript(
      'e2e-sse.mjs',
      e2e(
        'sse',
        `import { createRealtime } from 'tabwire';\nimport { startDevServer } from 'tabwire/devserver';`,
      ),
    ) as { received: Array<{ service: string; seq: number; data: unknown }>; transport: string };
    expect(out.transport).toBe('sse');
    expect(out.received).toHaveLength(1);
    expect(out.received[0]).toMatchObject({ service: 'tasks', seq: 1, data: { id: 't1' } });
  });

  // The production build (dist/production), as `node --conditions=production`
  // resolves it: Node honours custom export conditions the way Vite's and
  // webpack's production builds do.
  it('the production condition gives the production build, which delivers and takes options unchecked', () => {
    const out = runScript(
      'e2e-production.mjs',
      `import { createRealtime } from 'tabwire';
import { startDevServer } from 'tabwire/devserver';
const resolved = { tabwire: import.meta.resolve('tabwire'), react: import.meta.resolve('tabwire/react'), vanilla: import.meta.resolve('tabwire/vanilla') };
const refused = (make) => { try { make(); return null; } catch (error) { return error.constructor.name; } };
// A typo in an option: the default build refuses it (RangeError), the production build takes it as given.
const typo = refused(() => createRealtime({ url: 'https://example.com/v2/realtime', circuit: { failureTreshold: 5 } }).close());
// setFlags stays checked in production: a misspelled kill switch typed in DevTools must not pass.
const flagTypo = refused(() => {
  const rt = createRealtime({ url: 'https://example.com/v2/realtime', devtools: false });
  try { rt.setFlags({ emergencyDisabled: true }); } finally { void rt.close(); }
});
${e2e('sse', '').replace('console.log(JSON.stringify({ received, transport: state.transport }));', 'console.log(JSON.stringify({ received, transport: state.transport, resolved, typo, flagTypo }));')}`,
      30_000,
      ['--conditions=production'],
    ) as {
      received: Array<{ service: string; seq: number; data: unknown }>;
      transport: string;
      resolved: Record<string, string>;
      typo: string | null;
      flagTypo: string | null;
    };
    for (const [entry, url] of Object.entries(out.resolved))
      expect(url, entry).toMatch(/\/dist\/production\/\w+\.js$/);
    expect(out.typo).toBeNull();
    expect(out.flagTypo).toBe('RangeError');
    expect(out.transport).toBe('sse');
    expect(out.received).toHaveLength(1);
    expect(out.received[0]).toMatchObject({ service: 'tasks', seq: 1, data: { id: 't1' } });
  });

  it('without the production condition the same option typo is refused (the default build keeps every check)', () => {
    const out = runScript(
      'typo-default.mjs',
      `import { createRealtime } from 'tabwire';
let typo = null;
try { createRealtime({ url: 'https://example.com/v2/realtime', circuit: { failureTreshold: 5 } }); } catch (error) { typo = [error.constructor.name, error.message]; }
console.log(JSON.stringify({ resolved: import.meta.resolve('tabwire'), typo }));
`,
    ) as { resolved: string; typo: [string, string] | null };
    expect(out.resolved).toMatch(/\/dist\/index\.js$/);
    expect(out.typo?.[0]).toBe('RangeError');
    expect(out.typo?.[1]).toContain('circuit.failureTreshold');
  });

  it('bundles the production build when the bundler sets the production condition (Vite and webpack production builds)', async () => {
    const { build } = await import('esbuild');
    writeFileSync(
      join(app, 'production-app.js'),
      `import { createRealtime } from 'tabwire';
import { RealtimeProvider } from 'tabwire/react';
import { bindDomEvents } from 'tabwire/vanilla';
const rt = createRealtime({ url: 'https://example.com/v2/realtime', transports: ['websocket'] });
rt.subscribe('tasks', () => {});
bindDomEvents(rt, { target: new EventTarget() });
console.log(RealtimeProvider);
`,
    );
    const inputs = async (conditions: string[]) => {
      const result = await build({
        absWorkingDir: app,
        entryPoints: ['production-app.js'],
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'browser',
        conditions,
        outdir: join(app, 'production-out'),
        write: false,
        metafile: true,
        logLevel: 'silent',
        external: ['react', 'react-dom'],
      });
      return Object.keys(result.metafile.inputs).filter((path) => path.includes('node_modules/tabwire/'));
    };
    const production = await inputs(['production']);
    expect(production.length).toBeGreaterThan(0);
    expect(production.filter((path) => !path.includes('/dist/production/'))).toEqual([]);
    const plain = await inputs([]);
    expect(plain.length).toBeGreaterThan(0);
    expect(plain.filter((path) => path.includes('/dist/production/'))).toEqual([]);
  });

  it('a CJS client receives an event from the CJS dev server over long-poll', () => {
    // CJS has no top-level await: the same body inside an async function.
    const body = e2e('long-poll', '');
    const source = `const { createRealtime } = require('tabwire');
const { startDevServer } = require('tabwire/devserver');
(async () => {
${body}
})().catch((error) => { console.error(error); process.exit(1); });
`;
    const out = runScript('e2e-long-poll.cjs', source) as {
      received: Array<{ service: string; seq: number }>;
      transport: string;
    };
    expect(out.transport).toBe('long-poll');
    expect(out.received).toHaveLength(1);
    expect(out.received[0]).toMatchObject({ service: 'tasks', seq: 1 });
  });

  it('the installed checker (tabwire/conformance, CJS) passes the installed dev server over every transport', () => {
    const out = runScript(
      'conformance.cjs',
      `const { startDevServer } = require('tabwire/devserver');
const { checkBackend } = require('tabwire/conformance');
(async () => {
  const server = await startDevServer({ heartbeatMs: 300, batchWindowMs: { min: 5, max: 20 } });
  const report = await checkBackend({
    url: server.url,
    token: 'dev:org_1:u_1',
    publish: (service) => { server.publish('org_1', { service, entityType: 'task', type: 'task.updated' }); },
    services: ['tasks', 'finance'],
    timeoutMs: 5000,
  });
  await server.close();
  console.log(JSON.stringify({ ok: report.ok, failed: report.checks.filter((c) => !c.ok), passed: report.checks.filter((c) => c.status === 'passed').length }));
})();
`,
      60_000,
    );
    expect(out).toEqual({ ok: true, failed: [], passed: 25 });
  }, 60_000);

  it('type-checks a consumer (ESM .ts, React .tsx, CJS .cts) against the installed types with 0 errors', () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      `${JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2022', 'DOM', 'DOM.Iterable'],
            module: 'node16',
            moduleResolution: 'node16',
            strict: true,
            jsx: 'react-jsx',
            noEmit: true,
            // The shipped .d.ts files are checked too, not only their use.
            skipLibCheck: false,
            types: ['node'],
          },
          files: ['consumer.ts', 'consumer-react.tsx', 'consumer-cjs.cts'],
        },
        null,
        2,
      )}\n`,
    );
    writeFileSync(
      join(app, 'consumer.ts'),
      `import {
  createRealtime,
  flagsFromEnv,
  newMutationId,
  RealtimeError,
  withMutationId,
  type MutationOutcome,
  type RealtimeClient,
  type RealtimeEvent,
  type RealtimeState,
  type TrackedMutation,
} from 'tabwire';
import { bindDomEvents, installDevtools, setRealtimePropertyFilter } from 'tabwire/vanilla';
import { createMemoryBackend } from 'tabwire/testing';
import { startDevServer, type DevServer } from 'tabwire/devserver';
import { cjsBackend, cjsError } from './consumer-cjs.cjs';

export const rt: RealtimeClient = createRealtime({
  url: 'https://api.example.com/v2/realtime',
  scope: { orgId: 'org_1', userId: 'u_1' },
  transports: ['websocket', 'sse', 'long-poll'],
  auth: { getToken: async () => ({ token: 't', expiresAt: Date.now() + 60_000 }) },
  flags: { ...flagsFromEnv({ REALTIME_ROLLOUT_PERCENT: '5' }), shadowMode: false },
  leader: { strategy: 'auto', takeoverMs: 3000 },
});

const off: () => void = rt.subscribe('tasks', (events: RealtimeEvent[]) => {
  for (const event of events) {
    const seq: number = event.seq;
    const service: string = event.service;
    void seq;
    void service;
  }
});
off();

export async function write(body: string): Promise<MutationOutcome> {
  const id = newMutationId();
  const m: TrackedMutation = rt.trackMutation(id, { timeoutMs: 5000 });
  await fetch('/api/tasks', withMutationId({ method: 'POST', body }, id));
  return m.result;
}

rt.setFlags({ emergencyDisable: true });
const state: RealtimeState = rt.getState();
export const status: 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disabled' | 'closed' = state.status;
export const reason: string | undefined = state.disabledReason;
rt.on('fallback', ({ reason }) => console.log(reason));

const unbind: () => void = bindDomEvents(rt, { services: ['tasks'] });
installDevtools(rt);
setRealtimePropertyFilter(null);
unbind();

export const backend = createMemoryBackend();
export const server: Promise<DevServer> = startDevServer({ heartbeatMs: 1000 });

// @ts-expect-error an unknown option is a type error
createRealtime({ url: 'https://x.test', nope: 1 });

// The ESM and the CJS types of RealtimeError are one type: an error made by
// either build goes wherever the other's is expected.
const esmError: RealtimeError = cjsError;
backend.failNextConnects(1, cjsError);
cjsBackend.failNextConnects(1, new RealtimeError('forbidden', 'revoked'));
export const same: boolean = esmError instanceof RealtimeError;
`,
    );
    writeFileSync(
      join(app, 'consumer-react.tsx'),
      `import { StrictMode, type ReactNode } from 'react';
import { RealtimeProvider, useRealtimeService, useRealtimeState } from 'tabwire/react';
import { rt } from './consumer.js';

function Tasks(): ReactNode {
  const status = useRealtimeState((s) => s.status);
  useRealtimeService('tasks', (events) => console.log(events.length), status !== 'disabled');
  return <p>{status}</p>;
}

export function App(): ReactNode {
  return (
    <StrictMode>
      <RealtimeProvider client={rt}>
        <Tasks />
      </RealtimeProvider>
      <RealtimeProvider options={{ url: 'https://api.example.com/v2/realtime' }}>
        <Tasks />
      </RealtimeProvider>
    </StrictMode>
  );
}
`,
    );
    writeFileSync(
      join(app, 'consumer-cjs.cts'),
      `import tabwire = require('tabwire');
import devserver = require('tabwire/devserver');
import testing = require('tabwire/testing');

const rt: tabwire.RealtimeClient = tabwire.createRealtime({ url: 'https://api.example.com/v2/realtime' });
rt.subscribe('tasks', (events: tabwire.RealtimeEvent[]) => void events);
export const started: Promise<devserver.DevServer> = devserver.startDevServer();
export const cjsError = new tabwire.RealtimeError('forbidden', 'revoked');
export const cjsBackend = testing.createMemoryBackend();
`,
    );
    expectTypeChecks('tsconfig.json');
  }, 120_000);

  it("type-checks a consumer of every subpath under TypeScript's moduleResolution node (node10, through typesVersions)", () => {
    // Older CRA, Next and Jest setups still use it: it reads no `exports`, so
    // without package.json's `typesVersions` no subpath has types there.
    writeFileSync(
      join(app, 'tsconfig.node10.json'),
      `${JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'DOM', 'DOM.Iterable'],
          types: ['node'],
          module: 'commonjs',
          moduleResolution: 'node',
          // As those setups have it; zod's own .d.cts need it, not tabwire's.
          esModuleInterop: true,
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['consumer-node10.ts'],
      })}\n`,
    );
    writeFileSync(
      join(app, 'consumer-node10.ts'),
      `import { createRealtime, type RealtimeClient } from 'tabwire';
import { RealtimeProvider, useRealtimeService } from 'tabwire/react';
import { bindDomEvents } from 'tabwire/vanilla';
import { createMemoryBackend, type MemoryBackend } from 'tabwire/testing';
import { startDevServer, type DevServer } from 'tabwire/devserver';
import { checkBackend, formatReport } from 'tabwire/conformance';

export const rt: RealtimeClient = createRealtime({ url: 'https://api.example.com/v2/realtime' });
export const pieces = [RealtimeProvider, useRealtimeService, bindDomEvents(rt), checkBackend, formatReport];
export const backend: MemoryBackend = createMemoryBackend();
export const server: Promise<DevServer> = startDevServer({ port: 0 });
// @ts-expect-error typed, not any: a port is a number
startDevServer({ port: '8787' });
`,
    );
    expectTypeChecks('tsconfig.node10.json');
  }, 120_000);

  it('type-checks a Node consumer without the DOM lib (tabwire, tabwire/devserver, tabwire/testing, tabwire/conformance)', () => {
    // tabwire runs in Node ≥ 20 and the dev server only there: a Node project
    // has no DOM lib, so the shipped .d.ts must name no DOM-only global (the
    // platform's browser pieces are typed `unknown` or by shape for that).
    writeFileSync(
      join(app, 'tsconfig.node.json'),
      `${JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022'],
          types: ['node'],
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['server.mts'],
      })}\n`,
    );
    writeFileSync(
      join(app, 'server.mts'),
      `import { createRealtime, newMutationId } from 'tabwire';
import { startDevServer } from 'tabwire/devserver';
import { createMemoryBackend } from 'tabwire/testing';
import { checkBackend, formatReport, type CheckResult } from 'tabwire/conformance';

const server = await startDevServer();
const backend = createMemoryBackend();
const rt = createRealtime({ url: server.url, transports: [backend.transport], leader: { strategy: 'none' } });
rt.trackMutation(newMutationId());
const report = await checkBackend({
  url: server.url,
  getToken: async () => server.issueToken('org_1', 'u_1').token,
  publish: (service) => {
    server.publish('org_1', { service, entityType: 'task', type: 'task.updated' });
  },
  services: ['tasks'],
  transports: ['sse', 'long-poll'],
});
const failed: CheckResult[] = report.checks.filter((check) => !check.ok);
console.log(formatReport(report), failed.length);
`,
    );
    expectTypeChecks('tsconfig.node.json');
  }, 120_000);
});

/** Runs the installed app's TypeScript on `project` (in `app`): no diagnostics, exit code 0. */
function expectTypeChecks(project: string): void {
  const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', project, '--pretty', 'false'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(`${result.stdout}${result.stderr}`).toBe('');
  expect(result.status).toBe(0);
}

/** The source and source line (0-based) of the first segment of generated line `line` of a source map's mappings. */
function sourcePosition(mappings: string, line: number): [number, number] {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  // Source index and source line are deltas across the whole map; the first
  // segment of each line carries them on.
  let source = 0;
  let sourceLine = 0;
  const groups = mappings.split(';');
  for (let i = 0; i <= line; i++) {
    const group = groups[i];
    for (const segment of group ? group.split(',') : []) {
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = digits.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = shift = 0;
        }
      }
      if (fields.length < 4) continue;
      source += fields[1]!;
      sourceLine += fields[2]!;
      if (i === line) return [source, sourceLine];
    }
  }
  throw new Error(`no mapping on generated line ${line}`);
}
