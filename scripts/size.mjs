#!/usr/bin/env node
// Bundle size of tabwire and of comparable libraries, measured the same way.
//
// `npm run size` (node scripts/size.mjs) bundles the entries in bench/size/
// straight from src/ (no build step) with esbuild — minified, tree-shaken,
// code-split, ESM, for the browser — and prints Markdown tables of min,
// min+gzip (level 9) and min+brotli (quality 11) sizes:
//
//   1. tabwire's minimal app ("connect and subscribe") per transport, and the
//      React adapter on top of it, against the budgets of DESIGN.md: what the
//      app loads up front plus the file of the transport it asked for, each
//      file gzipped on its own as a server sends it; and the files it loads
//      only when needed (other transports, SLI reporter, flags poller, cursor
//      store);
//   2. what each part of that minimal app costs, from esbuild's metafile (the
//      minified bytes each input file puts in the output) and from a
//      leave-one-out gzip (how much smaller the gzipped bundle gets without
//      that part's code), per folder of src/ and per npm package;
//   3. the same "connect and subscribe" entry for other libraries (bench-only
//      dev dependencies), with tabwire's for reference.
//
// tabwire's code is built as dist ships it: its internal property names
// mangled (scripts/mangle.mjs, the options tsup applies), and each part it
// loads with import() bundled on its own into one self-contained file
// (scripts/lazy-parts.mjs, the plugin tsup uses), which the app's build
// refers to as external: in dist each is a file of its own that imports
// nothing, so an app's bundler keeps it whole. The figures are not taken
// from dist itself: an app's bundler minifies dist's unminified files, here
// esbuild minifies the sources in one pass, into the same files. The other
// libraries are bundled as they are, code-split by esbuild.
//
// Exits non-zero when a budget is missed or a tabwire entry fails to build.
// KB here are 1,000 bytes, as in the issue's and DESIGN.md's figures.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build, transform } from 'esbuild';
import { rolldown } from 'rolldown';
import { lazyParts } from './lazy-parts.mjs';
import { mangleOptions } from './mangle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sizeDir = join(root, 'bench', 'size');

const CORE_BUDGET = 16_000; // tabwire core + one transport, min+gzip
const REACT_BUDGET = 1_500; // tabwire/react on top of the minimal app, min+gzip
const SOCKET_IO_AIM = 13_600; // the issue's figure for socket.io-client, the size to aim under

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  treeShaking: true,
  write: false,
  logLevel: 'silent',
  external: ['react', 'react-dom'],
  define: { 'process.env.NODE_ENV': '"production"' },
};

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const br = (bytes) =>
  brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }).length;

// Built-in transports named in the options, and the optional parts, are
// loaded with import() when needed, each one self-contained file (as in
// dist, above): what an app downloads up front is the entry's output and
// every chunk it imports statically; the file of the transport it asked for
// comes on the first connect and is counted too ("core + one transport");
// every other lazy file (the other transports, the SLI reporter, the flags
// poller, the cursor store) is listed, not counted.
const transportFiles = {
  'tabwire-websocket': 'src/transports/websocket.ts',
  'tabwire-sse': 'src/transports/sse.ts',
  'tabwire-long-poll': 'src/transports/long-poll.ts',
  'tabwire-all-transports': 'src/transports/websocket.ts',
  // The exported factory loads its code on the first connect too.
  'tabwire-websocket-object': 'src/transports/websocket.ts',
  'tabwire-react': 'src/transports/websocket.ts',
};

/** The outputs an app loads for `name`: the static closure of the entry, plus the asked-for transport's. */
function countedOutputs(name, metafile) {
  const outputs = metafile.outputs;
  const add = (key, into) => {
    if (into.has(key)) return;
    into.add(key);
    for (const imp of outputs[key].imports)
      if (imp.kind === 'import-statement' && !imp.external) add(imp.path, into);
  };
  const counted = new Set();
  // Chunks loaded with import() have an entryPoint too: find the app's own.
  add(
    Object.keys(outputs).find((key) => outputs[key].entryPoint === `bench/size/${name}.ts`),
    counted,
  );
  const transport = transportFiles[name];
  if (transport) {
    const key = Object.keys(outputs).find((k) => outputs[k].inputs[transport] !== undefined);
    if (key) add(key, counted);
  }
  return counted;
}

/**
 * Bundles one bench/size entry; returns the sizes of what an app loads, its
 * inputs and text, the other chunks, and the names mangled. `tabwire` false:
 * another library's entry, built without tabwire's property mangling.
 */
async function measure(name, tabwire = true, env = 'production') {
  const result = await build({
    ...common,
    define: { 'process.env.NODE_ENV': JSON.stringify(env) },
    ...(tabwire && { ...mangleOptions, mangleCache: {}, plugins: [lazyParts()] }),
    entryPoints: [join(sizeDir, `${name}.ts`)],
    minify: true,
    metafile: true,
    splitting: true,
    outdir: join(root, '.tmp', 'size', name),
  });
  const counted = countedOutputs(name, result.metafile);
  const byKey = new Map(result.outputFiles.map((f) => [relative(root, f.path), f]));
  const sum = (keys, size) => keys.reduce((total, key) => total + size(byKey.get(key).contents), 0);
  const keys = [...counted];
  const inputs = {};
  for (const key of keys) Object.assign(inputs, result.metafile.outputs[key].inputs);
  const entry = `bench/size/${name}.ts`;
  const onDemand = Object.keys(result.metafile.outputs)
    .filter((key) => key.endsWith('.js') && !counted.has(key))
    .map((key) => ({
      part: result.metafile.outputs[key].entryPoint,
      files: Object.keys(result.metafile.outputs[key].inputs).filter((path) => path.startsWith('src/')),
      min: byKey.get(key).contents.length,
      gz: gz(byKey.get(key).contents),
    }));
  // The modules loaded with import(), each the entry point of its own file.
  const parts = Object.values(result.metafile.outputs)
    .map((output) => output.entryPoint)
    .filter((path) => path !== undefined && path !== entry)
    .map((path) => join(root, path));
  // zod defines the protocol but stays off the browser path: every reader
  // the browser runs is hand-written and held to its schema by a test.
  if (tabwire) {
    for (const [key, output] of Object.entries(result.metafile.outputs)) {
      if (Object.keys(output.inputs).some((path) => path.includes('node_modules/zod/')))
        failures.push(
          `${name}: zod is bundled into ${basename(key)}; read with a hand-written reader instead`,
        );
    }
  }
  return {
    name,
    min: sum(keys, (b) => b.length),
    gz: sum(keys, gz),
    br: sum(keys, br),
    files: keys.length,
    text: keys.map((key) => byKey.get(key).text).join('\n'),
    inputs,
    onDemand,
    parts,
    mangleCache: result.mangleCache,
  };
}

async function tryMeasure(name, tabwire = true, env = 'production') {
  try {
    return await measure(name, tabwire, env);
  } catch (error) {
    const message = String(error?.errors?.[0]?.text ?? error?.message ?? error).split('\n')[0];
    return { name, error: message };
  }
}

const fmt = (n) => (Math.abs(n) >= 1000 ? `${(n / 1000).toFixed(1)} KB` : `${n} B`);
const fmtBytes = (n) => `${n.toLocaleString('en-US')} B`;
const pct = (part, whole) => `${((100 * part) / whole).toFixed(1)} %`;
const verdict = (pass) => (pass ? 'pass' : '**FAIL**');

function table(head, align, rows) {
  return [`| ${head.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`]
    .concat(rows.map((r) => `| ${r.join(' | ')} |`))
    .join('\n');
}

function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// 1. tabwire against its budgets

const failures = []; // builds that failed, sizes over their regression ceiling
const budgetMisses = []; // DESIGN.md budgets missed
const lines = [];
const out = (...l) => lines.push(...l);

const tabwireEntries = [
  [
    'tabwire-websocket',
    "minimal app: `createRealtime({ url, transports: ['websocket'] })` + `subscribe`",
    CORE_BUDGET,
  ],
  ['tabwire-sse', "the same with `transports: ['sse']`", CORE_BUDGET],
  ['tabwire-long-poll', "the same with `transports: ['long-poll']`", CORE_BUDGET],
  [
    'tabwire-all-transports',
    "the same with `transports: ['websocket', 'sse', 'long-poll']` (the default chain)",
    undefined,
  ],
  [
    'tabwire-websocket-object',
    'the same with `transports: [websocketTransport()]` (an object instead of the name)',
    undefined,
  ],
];
const measured = {};
for (const [name] of tabwireEntries) measured[name] = await tryMeasure(name);
measured['tabwire-react'] = await tryMeasure('tabwire-react');
// The default build (dist/), with every development check: what Node, tests
// and a bundler without the `production` condition get. Shown, not budgeted.
const measuredDefault = {};
for (const [name] of tabwireEntries) measuredDefault[name] = await tryMeasure(name, true, 'development');

out(
  '### Bundle size',
  '',
  `Node ${process.version} · esbuild ${version('esbuild')} · ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical CPUs) · ${new Date().toISOString()}`,
  '',
  "Entries in `bench/size/`, bundled from `src/` by esbuild (`minify`, `bundle`, `treeShaking`, `splitting`, ESM, `platform: browser`, `target: es2022`, `react`/`react-dom` external; tabwire's internal property names mangled as in `dist`, `scripts/mangle.mjs`; each part tabwire loads with `import()` bundled on its own into one self-contained file, as in `dist`, `scripts/lazy-parts.mjs`); gzip level 9, brotli quality 11, each output file on its own; 1 KB = 1,000 bytes. A figure counts what the app loads up front (the entry and every chunk it imports statically) plus the file of the transport it names, which it loads on the first connect. `process.env.NODE_ENV` is defined as \"production\", as in tabwire's production build (`dist/production/`), which Vite's and webpack's production builds pick through the `production` export condition: it leaves out the development-only checks of options and method arguments (docs/options.md). The default build (`dist/`, every check kept: what Node, tests and other bundlers get unless told the condition) is in its own column, not budgeted.",
  '',
);

const budgetRows = [];
let reactDelta;
for (const [name, what, budget] of tabwireEntries) {
  const m = measured[name];
  if (m.error) {
    failures.push(`${name}: build failed (${m.error})`);
    budgetRows.push([`\`${name}.ts\`: ${what}`, '—', '—', '—', `build failed: ${m.error}`, '—']);
    continue;
  }
  let cell = 'not budgeted';
  if (budget !== undefined) {
    const pass = m.gz < budget;
    if (!pass) budgetMisses.push(`${name}: ${fmtBytes(m.gz)} min+gzip ≥ ${fmtBytes(budget)}`);
    cell = `< ${fmt(budget)}: ${verdict(pass)}${m.gz < SOCKET_IO_AIM ? ' (under socket.io-client)' : ''}`;
  }
  const d = measuredDefault[name];
  const whole = d === undefined ? '—' : d.error ? 'build failed' : fmt(d.gz);
  if (d?.error) failures.push(`${name} (default build): build failed (${d.error})`);
  budgetRows.push([`\`${name}.ts\`: ${what}`, fmt(m.min), `**${fmt(m.gz)}**`, fmt(m.br), cell, whole]);
}
{
  const react = measured['tabwire-react'];
  const base = measured['tabwire-websocket'];
  const what =
    '`tabwire/react` on top: `tabwire-react.ts` (the minimal app + `RealtimeProvider` + `useRealtimeService`) minus `tabwire-websocket.ts`';
  if (react.error || base.error) {
    failures.push(`tabwire-react: build failed (${react.error ?? base.error})`);
    budgetRows.push([what, '—', '—', '—', `build failed: ${react.error ?? base.error}`, '—']);
  } else {
    const d = { min: react.min - base.min, gz: react.gz - base.gz, br: react.br - base.br };
    reactDelta = d;
    const pass = d.gz < REACT_BUDGET;
    if (!pass) budgetMisses.push(`tabwire/react: +${fmtBytes(d.gz)} min+gzip ≥ ${fmtBytes(REACT_BUDGET)}`);
    budgetRows.push([
      what,
      `+${fmt(d.min)}`,
      `**+${fmt(d.gz)}**`,
      `+${fmt(d.br)}`,
      `< ${fmt(REACT_BUDGET)}: ${verdict(pass)}`,
      '—',
    ]);
  }
}
out(
  '#### tabwire against its budgets',
  '',
  table(
    ['entry', 'min', 'min+gzip', 'min+brotli', 'budget (min+gzip)', 'default build, min+gzip'],
    ['l', 'r', 'r', 'r', 'l', 'r'],
    budgetRows,
  ),
  '',
);

// The same entries as a Vite 8 app build chunks them: Rolldown keeps every
// module the entry needs in the entry's chunk, and lazy chunks import from
// it, where esbuild puts each module shared by the entry and a lazy chunk in
// a small chunk of its own (gzipped on its own, so it costs a little more).
// Shown beside the esbuild figures, which stay the ones budgets and ceilings
// are checked against.
//
// tabwire's lazy parts are given to Rolldown as dist has them: each one
// bundled on its own by esbuild (unminified, mangled with the same names),
// a module that imports nothing, which Rolldown can only minify into a chunk
// of its own.
//
// Rolldown mangles properties only into a single chunk, so tabwire's modules
// get the mangling in a pre-pass instead: esbuild's `transform` of each one,
// with the names esbuild gave them in the esbuild build of the same entry
// (its mangle cache), so both rows measure the same code. The packages'
// modules (zod) hold none of the names (scripts/check-mangle.mjs).
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));

/** Rolldown plugin: mangles the listed property names in src/ and bench/ modules, as `cache` says. */
function mangleProps(cache) {
  const own = /^(?:src|bench)\/.*\.tsx?$/;
  return {
    name: 'tabwire-mangle-props',
    async transform(code, id) {
      const path = relative(root, id).replaceAll('\\', '/');
      if (!own.test(path)) return null;
      const result = await transform(code, {
        ...mangleOptions,
        mangleCache: cache,
        loader: path.endsWith('x') ? 'tsx' : 'ts',
        format: 'esm',
        target: 'esnext',
        sourcefile: path,
        tsconfigRaw: { compilerOptions: tsconfig.compilerOptions },
      });
      Object.assign(cache, result.mangleCache);
      return { code: result.code, moduleType: 'js' };
    },
  };
}

const LAZY_PART = '\0tabwire-lazy-part:';

/** Rolldown plugin: each of `parts` (absolute paths) loaded with import() as esbuild bundles it for dist. */
function lazyPartsAsBuilt(parts, mangleCache) {
  return {
    name: 'tabwire-lazy-parts',
    async resolveId(source, importer, { kind }) {
      if (kind !== 'dynamic-import' || importer === undefined) return null;
      const resolved = await this.resolve(source, importer, { kind, skipSelf: true });
      return resolved && parts.has(resolved.id) ? `${LAZY_PART}${resolved.id}` : null;
    },
    async load(id) {
      if (!id.startsWith(LAZY_PART)) return null;
      const result = await build({
        ...common,
        ...mangleOptions,
        mangleCache,
        entryPoints: [id.slice(LAZY_PART.length)],
        outdir: join(root, '.tmp', 'size', 'rolldown-parts'),
      });
      return { code: result.outputFiles[0].text, moduleType: 'js' };
    },
  };
}

async function measureRolldown(name, { mangleCache, parts }) {
  const bundle = await rolldown({
    input: join(sizeDir, `${name}.ts`),
    cwd: root,
    platform: 'browser',
    external: common.external,
    transform: { define: common.define, target: common.target },
    plugins: [lazyPartsAsBuilt(new Set(parts), mangleCache), mangleProps({ ...mangleCache })],
    logLevel: 'silent',
  });
  const { output } = await bundle.generate({ format: 'esm', minify: true });
  await bundle.close();
  const chunks = new Map(output.filter((o) => o.type === 'chunk').map((c) => [c.fileName, c]));
  const counted = new Set();
  const add = (fileName) => {
    if (counted.has(fileName) || !chunks.has(fileName)) return;
    counted.add(fileName);
    for (const imported of chunks.get(fileName).imports) add(imported);
  };
  add([...chunks.values()].find((c) => c.isEntry).fileName);
  const transport = transportFiles[name];
  if (transport) {
    const chunk = [...chunks.values()].find((c) =>
      c.moduleIds.some((id) => id.replaceAll('\\', '/').endsWith(`/${transport}`)),
    );
    if (chunk) add(chunk.fileName);
  }
  const bytes = [...counted].map((f) => Buffer.from(chunks.get(f).code));
  return {
    min: bytes.reduce((t, b) => t + b.length, 0),
    gz: bytes.reduce((t, b) => t + gz(b), 0),
    files: counted.size,
  };
}

{
  const rows = [];
  for (const [name, what] of tabwireEntries.slice(0, 3)) {
    try {
      const e = measured[name];
      const m = await measureRolldown(name, e);
      rows.push([
        `\`${name}.ts\`: ${what}`,
        `${m.files}`,
        fmt(m.min),
        `**${fmt(m.gz)}**`,
        e.error ? '—' : `${fmt(e.gz)} (${e.files} files)`,
      ]);
    } catch (error) {
      failures.push(`${name} (rolldown): build failed (${String(error?.message ?? error).split('\n')[0]})`);
    }
  }
  out(
    `#### The same, chunked as a Vite 8 app build does it (Rolldown ${version('rolldown')})`,
    '',
    "Rolldown, with its own minifier, keeps the modules the entry needs in the entry chunk; lazy chunks import from it. esbuild instead gives each module shared by the entry and a lazy chunk a small chunk of its own. tabwire's parts loaded with `import()` are given to Rolldown as `dist` has them, each bundled on its own by esbuild into a module that imports nothing, so each stays one chunk. The same property names are mangled, with the names of the esbuild build (an esbuild pre-pass on tabwire's modules: Rolldown mangles properties only into a single chunk). Budgets and ceilings are checked on the esbuild figures.",
    '',
    table(
      ['entry', 'files loaded', 'min', 'min+gzip', 'esbuild figure above'],
      ['l', 'r', 'r', 'r', 'r'],
      rows,
    ),
    '',
  );
}

// Regression ceilings: the sizes of today plus a little, lowered as the
// bundle shrinks, so no change makes it bigger unnoticed. CI runs
// `size.mjs --ceilings`, which fails on these and on failed builds only,
// while the DESIGN.md budgets above are still missed.
{
  const ceilings = JSON.parse(readFileSync(join(sizeDir, 'ceilings.json'), 'utf8'));
  const rows = [];
  for (const [name, ceiling] of Object.entries(ceilings)) {
    if (name.startsWith('//')) continue;
    // "<entry> files": how many files the app loads (each one more request
    // and its own gzip), so a module split out of what the app loads into a
    // chunk of its own fails CI. (A lazy part that would bundle a module of
    // the core already fails the build: scripts/lazy-parts.mjs.)
    const files = name.endsWith(' files');
    // "<entry> (default build)": the build with every check, kept from growing too.
    const whole = name.endsWith(' (default build)');
    const entry = files
      ? name.slice(0, -' files'.length)
      : whole
        ? name.slice(0, -' (default build)'.length)
        : name;
    const m = entry === 'tabwire/react' && !whole ? reactDelta : (whole ? measuredDefault : measured)[entry];
    // A ceiling on nothing measured would pass unseen: a misspelt name, or one this script dropped.
    if (!m) {
      failures.push(`${name}: a ceiling in ceilings.json, but no entry this script measures`);
      continue;
    }
    if (m.error) continue;
    const value = files ? m.files : m.gz;
    const shown = files ? `${value} files` : `${fmtBytes(value)} min+gzip`;
    const pass = value <= ceiling;
    if (!pass) failures.push(`${name}: ${shown} > its ceiling of ${files ? ceiling : fmtBytes(ceiling)}`);
    rows.push([`\`${name}\``, shown, `≤ ${files ? ceiling : fmtBytes(ceiling)}: ${verdict(pass)}`]);
  }
  out(
    '#### Regression ceilings (`bench/size/ceilings.json`, checked in CI)',
    '',
    table(['entry', 'measured', 'ceiling'], ['l', 'r', 'l'], rows),
    '',
  );
}

{
  // What the app downloads later, and only when needed.
  const all = measured['tabwire-all-transports'];
  const when = [
    ['src/transports/websocket.ts', 'on the first connect, when WebSocket is the transport tried'],
    ['src/transports/sse.ts', 'only when SSE is tried (after WebSocket failed, or named first)'],
    ['src/transports/long-poll.ts', 'only when long-poll is tried'],
    [
      'src/observability/sli-measurement.ts',
      "only in tabs that measure SLIs: sampled, `telemetry.measure: 'always'`, or an `sli` listener",
    ],
    ['src/observability/sli-reporter.ts', 'only in a sampled session (`telemetry.sampleRate`, default 2 %)'],
    ['src/flags/flags-poller.ts', 'only with `flagsUrl`'],
    [
      'src/tabs/storage-lease-election.ts',
      "only with `leader.strategy: 'storage'`, or `'auto'` without Web Locks",
    ],
    ['src/tabs/storage-channel.ts', 'only where `BroadcastChannel` is missing'],
    ['src/tabs/cursor-store.ts', 'only with `persistCursor: true`'],
    ['src/connection/token-provider.ts', 'only with `auth.getToken`, on the first connect'],
  ];
  if (!all.error) {
    const rows = all.onDemand
      .filter((chunk) => chunk.files.length > 0)
      .map((chunk) => {
        const hit = when.find(([file]) => chunk.part === file);
        // A part's file holds the modules it imports too (some also in another part's file).
        const others = chunk.files.filter((f) => f !== chunk.part);
        const names =
          chunk.part === undefined
            ? chunk.files.map((f) => `\`${f.replace(/^src\//, '')}\``).join(', ')
            : `\`${chunk.part.replace(/^src\//, '')}\`${others.length > 0 ? ` + ${others.length} module${others.length === 1 ? '' : 's'} it imports` : ''}`;
        return [names, hit ? hit[1] : 'shared by the files above', fmt(chunk.min), fmt(chunk.gz)];
      });
    const shared = all.onDemand.filter((chunk) => chunk.files.length === 0);
    if (shared.length > 0) {
      rows.push([
        `${shared.length} chunk(s) of npm code`,
        'with the chunk that needs them',
        fmt(shared.reduce((t, c) => t + c.min, 0)),
        fmt(shared.reduce((t, c) => t + c.gz, 0)),
      ]);
    }
    out(
      '#### Loaded on demand (not in the figures above, except the transport asked for)',
      '',
      'Files of `tabwire-all-transports.ts` that the app imports with `import()` only when needed, each one part bundled with what it imports (no chunk shared between them); each gzipped on its own, as served.',
      '',
      table(['file (the part under `src/`)', 'loaded', 'min', 'min+gzip'], ['l', 'l', 'r', 'r'], rows),
      '',
    );
  }
}

// ---------------------------------------------------------------------------
// 2. What each part costs, in the minimal websocket app

/** `src/tabs`, `node_modules/zod`, `@scope/pkg`, … for a metafile input path. */
function groupOf(path) {
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return `npm: ${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith('src/')) {
    const parts = path.split('/');
    return parts.length > 2 ? `src/${parts[1]}/` : 'src/*.ts (client, options, state, …)';
  }
  if (path.startsWith('bench/')) return 'the entry itself';
  return path;
}

// Separates the chunks in the text `segments` returns: each is its own module scope.
const CHUNK_BOUNDARY = '//@@tabwire-size-chunk-boundary@@';

/** Cuts what an app loads, built without whitespace minification, into one piece per input file. */
async function segments(name) {
  const result = await build({
    ...common,
    ...mangleOptions,
    plugins: [lazyParts()],
    entryPoints: [join(sizeDir, `${name}.ts`)],
    minifySyntax: true,
    minifyIdentifiers: true,
    metafile: true,
    splitting: true,
    outdir: join(root, '.tmp', 'size', `${name}.seg`),
  });
  const counted = countedOutputs(name, result.metafile);
  const text = result.outputFiles
    .filter((f) => counted.has(relative(root, f.path)))
    .map((f) => f.text)
    .join(`\n${CHUNK_BOUNDARY}\n`);
  const pieces = [{ path: '(esbuild runtime helpers)', text: '' }];
  for (const line of text.split('\n')) {
    const marker = /^\/\/ ((?:src|node_modules|bench)\/\S+)$/.exec(line);
    if (marker) pieces.push({ path: marker[1], text: '' });
    else if (line === CHUNK_BOUNDARY)
      pieces.push({ path: "(a chunk's imports and helpers)", text: `${line}\n` });
    else pieces.at(-1).text += `${line}\n`;
  }
  return pieces;
}

/** min+gzip of the whitespace-minified concatenation of `pieces`, each chunk minified on its own. */
async function gzOf(code) {
  const chunks = await Promise.all(code.split(CHUNK_BOUNDARY).map(minifyChunk));
  return gz(Buffer.from(chunks.join('\n')));
}

async function minifyChunk(chunk) {
  // A cut can remove what the chunk's export list names; the list itself is
  // a few bytes, so every variant leaves it out.
  const code = chunk.replace(/^export\s*\{[^}]*\};?\s*$/m, '');
  return (await transform(code, { minifyWhitespace: true, loader: 'js', format: 'esm' })).code;
}

const base = measured['tabwire-websocket'];
if (!base.error) {
  const inputs = base.inputs;
  const pieces = await segments('tabwire-websocket');
  const allCode = pieces.map((p) => p.text).join('');
  const fullGz = await gzOf(allCode);
  const leaveOut = async (match) =>
    fullGz -
    (await gzOf(
      pieces
        .filter((p) => !match(p.path))
        .map((p) => p.text)
        .join(''),
    ));
  const minOf = (match) =>
    Object.entries(inputs)
      .filter(([path]) => match(path))
      .reduce((sum, [, v]) => sum + v.bytesInOutput, 0);

  // Per folder of src/ and per npm package.
  const groups = [...new Set(Object.keys(inputs).map(groupOf))];
  const groupRows = [];
  for (const group of groups) {
    const match = (path) => groupOf(path) === group;
    const min = minOf(match);
    if (min === 0) continue;
    groupRows.push({ group, min, gz: await leaveOut(match) });
  }
  groupRows.sort((a, b) => b.min - a.min);
  const runtime = pieces[0].text.length > 0 ? await leaveOut((p) => p === '(esbuild runtime helpers)') : 0;
  out(
    '#### What each part of the minimal app costs (`tabwire-websocket.ts`)',
    '',
    `"min" is esbuild's metafile \`bytesInOutput\` of the part's files in the minified bundle (exact; ${fmtBytes(base.min)} in all). "gzip, leave-one-out" is how much smaller the gzipped bundle gets when that part's code is cut out of it (measured on the bundle with identifiers and syntax minified, whitespace minified after the cut: ${fmtBytes(fullGz)} in all, against ${fmtBytes(base.gz)} for the real bundle). Gzip shares strings between parts, so the leave-one-out figures add up to less than the whole.`,
    '',
    table(
      ['part', 'min', 'share of min', 'gzip, leave-one-out'],
      ['l', 'r', 'r', 'r'],
      groupRows
        .map((r) => [r.group, fmt(r.min), pct(r.min, base.min), fmt(r.gz)])
        .concat(runtime > 0 ? [['(esbuild runtime helpers)', '—', '—', fmt(runtime)]] : []),
    ),
    '',
  );

  // Named parts: the issue's list, and the other modules it calls rarely used.
  const file =
    (...paths) =>
    (path) =>
      paths.some((p) => path === p || path.endsWith(`/${p}`));
  const parts = [
    [
      '(a) protocol readers (`src/protocol/`: frames read by hand, no zod)',
      (p) => p.startsWith('src/protocol/') || p.includes('node_modules/zod/'),
      'part-protocol',
    ],
    ['(b) election + channel (`src/tabs/`)', (p) => p.startsWith('src/tabs/'), 'part-tabs'],
    [
      'rollback guard + sliding counter (`observability/rollback-guard.ts`, `sliding-counter.ts`)',
      file('src/observability/rollback-guard.ts', 'src/observability/sliding-counter.ts'),
    ],
    // Only tabs that measure SLIs load these: 0 here shows they left the minimal app.
    [
      'SLI collector, quantile sketch, alerts, SLO evaluation (loaded on demand)',
      file(
        'src/observability/sli-collector.ts',
        'src/observability/quantile-sketch.ts',
        'src/observability/alerts.ts',
        'src/observability/slo.ts',
      ),
    ],
    ['session sampling (`observability/sampling.ts`)', file('src/observability/sampling.ts')],
    ['optimistic mutations (`src/optimistic/`: `PendingMutations`)', (p) => p.startsWith('src/optimistic/')],
    ['(e) devtools (`src/devtools.ts`: `window.__realtimeState`)', file('src/devtools.ts')],
    ['`client.ts` itself', file('src/client.ts')],
  ];
  const partRows = [];
  for (const [label, match, alone] of parts) {
    let aloneCell = '—';
    if (alone) {
      const m = await tryMeasure(alone);
      aloneCell = m.error ? `build failed: ${m.error}` : `${fmt(m.gz)} (\`${alone}.ts\`)`;
    }
    partRows.push([
      label,
      fmt(minOf(match)),
      pct(minOf(match), base.min),
      fmt(await leaveOut(match)),
      aloneCell,
    ]);
  }
  out(
    '#### Named parts',
    '',
    '"alone" bundles a small entry that imports just that part (so it includes what the part itself imports).',
    '',
    table(
      ['part', 'min', 'share of min', 'gzip, leave-one-out', 'min+gzip alone'],
      ['l', 'r', 'r', 'r', 'l'],
      partRows,
    ),
    '',
  );

  const fileRows = Object.entries(inputs)
    .filter(([, v]) => v.bytesInOutput > 0)
    .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
    .slice(0, 15);
  const topRows = [];
  for (const [path, v] of fileRows) {
    topRows.push([
      `\`${path}\``,
      fmt(v.bytesInOutput),
      pct(v.bytesInOutput, base.min),
      fmt(await leaveOut((p) => p === path)),
    ]);
  }
  out(
    '#### The 15 largest files',
    '',
    table(['file', 'min', 'share of min', 'gzip, leave-one-out'], ['l', 'r', 'r', 'r'], topRows),
    '',
  );
}

// ---------------------------------------------------------------------------
// 3. The same entry for other libraries

const others = [
  ['socket.io-client', 'socket.io-client', "`io(url).on('x', fn)`"],
  [
    'centrifuge',
    'centrifuge',
    "`new Centrifuge(url)`, `newSubscription('x')`, `on('publication', fn)`, `subscribe()`, `connect()` (JSON protocol entry)",
  ],
  ['pusher-js', 'pusher-js', "`new Pusher(key, { cluster }).subscribe('x').bind('e', fn)`"],
  ['ably', 'ably', "`new Ably.Realtime({ key }).channels.get('x').subscribe(fn)` (default entry)"],
  [
    'ably-modular',
    'ably',
    "`ably/modular`: `new BaseRealtime({ key, plugins: { WebSocketTransport, FetchRequest } })`, `.channels.get('x').subscribe(fn)`",
  ],
  [
    'broadcast-channel',
    'broadcast-channel',
    "`createLeaderElection(new BroadcastChannel('x')).awaitLeadership()`: **only elects a leader tab**, opens no server connection, no relay, no replay",
  ],
];
const compareRows = [];
if (!base.error) {
  compareRows.push([
    '**tabwire** (this repo, from `src/`)',
    `\`tabwire-websocket.ts\`: ${tabwireEntries[0][1]}; one connection shared by all tabs (election, relay, replay, dedup, SLIs)`,
    fmt(base.min),
    `**${fmt(base.gz)}**`,
    fmt(base.br),
  ]);
}
for (const [entry, pkg, what] of others) {
  const v = version(pkg);
  const label = `${entry === 'ably-modular' ? 'ably/modular' : pkg}${v ? ` ${v}` : ''}`;
  if (!v) {
    compareRows.push([label, what, '—', 'not installed here', '—']);
    continue;
  }
  const m = await tryMeasure(entry, false);
  if (m.error) compareRows.push([label, what, '—', `could not be bundled: ${m.error}`, '—']);
  else compareRows.push([label, `\`${entry}.ts\`: ${what}`, fmt(m.min), `**${fmt(m.gz)}**`, fmt(m.br)]);
}
out(
  '#### The same "connect and subscribe" entry in other libraries',
  '',
  'Same bundler settings; each package as installed in `devDependencies` (bench only).',
  '',
  table(['library', 'entry', 'min', 'min+gzip', 'min+brotli'], ['l', 'l', 'r', 'r', 'r'], compareRows),
);

console.log(lines.join('\n'));

// `--ceilings` (CI): fail on a failed build or a size over its ceiling only.
const ceilingsOnly = process.argv.includes('--ceilings');
if (budgetMisses.length > 0) {
  console.error(`\nsize: DESIGN.md budget missed:\n${budgetMisses.map((f) => `  - ${f}`).join('\n')}`);
}
if (failures.length > 0) {
  console.error(`\nsize: build failed or over a ceiling:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
}
if (failures.length > 0 || (!ceilingsOnly && budgetMisses.length > 0)) {
  process.exit(1);
}
