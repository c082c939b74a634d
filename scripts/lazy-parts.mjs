// Every part tabwire loads with import() (the built-in transports, the
// storage lease election and channel, the SLI measurement and reporter, the
// flags poller, the cursor store) as ONE self-contained file, in dist
// (tsup.config.ts) and in what scripts/size.mjs measures.
//
// With code splitting alone, esbuild puts each module that two lazy parts
// share (the SSE and long-poll transports' HTTP helpers, the quantile sketch
// of the SLI measurement and reporter) in a small chunk of its own: an SSE
// app then loads three files on its first connect, each one more request and
// its own gzip. Here each part is bundled on its own instead, what it shares
// with another part duplicated into both, and the build that imports it
// refers to that file as external.
//
// Never duplicated: the core's own code. A part that bundled a module of the
// core would ship it twice and, worse, get a second copy of its classes and
// state (`instanceof RealtimeError` would fail): the parts take what they
// need of the core as an argument (src/transports/kit.ts), and the build
// fails when one bundles a module of the core anyway (DUPLICATE_OK aside).
//
// The src keeps its plain `import('./websocket')` calls, which vitest runs
// unbundled: only the build maps them to the prebuilt files.
import { basename, dirname, relative, resolve } from 'node:path';
import { build as esbuild } from 'esbuild';

/**
 * Modules of the core a part may bundle a copy of: constants and pure
 * functions only, no state and no class (a few bytes twice, and no second
 * copy of anything `instanceof` or identity could tell apart).
 */
const DUPLICATE_OK = new Set(['src/util/timers.ts', 'src/protocol/service-name.ts']);

const SKIP = Symbol('tabwire-lazy-parts: resolve as esbuild would');

/**
 * An esbuild plugin that builds every module the build loads with `import()`
 * (with every module it imports) as one file, with the build's own options
 * but without code splitting, next to the build's outputs, and resolves
 * those `import()` calls to that file as external. The outputs are added to
 * the build's result (`outputFiles` and `metafile`, when the build has
 * them), so tsup writes and post-processes them like its own chunks.
 *
 * Property mangling stays consistent across the files: a first build of the
 * whole program, with the build's options, picks the short names (each one
 * distinct from every property name of the whole program), and both the
 * parts' build and the main build get that mangle cache.
 * One plugin object used by builds of the same entry points that run
 * together (tsup's ESM and CJS) plans once for them, so they get the same
 * names too; a later build (watch mode) plans again.
 *
 * Every output must sit in the build's outdir itself, not in a folder below
 * it: the `import()` paths are `./<file>`.
 */
export function lazyParts() {
  /** @type {Map<string, Promise<Plan>>} plan per set of entry points */
  const plans = new Map();
  const name = 'tabwire-lazy-parts';
  return {
    name,
    async setup(build) {
      const options = build.initialOptions;
      const others = (options.plugins ?? []).filter((plugin) => plugin.name !== name);
      const cwd = options.absWorkingDir ?? process.cwd();
      const outdir = resolve(cwd, options.outdir ?? '.');
      const key = JSON.stringify(options.entryPoints);
      const planning = plans.get(key) ?? plan(options, others);
      plans.set(key, planning);
      // Only builds that started meanwhile share the plan: the sources may change.
      build.onEnd(() => {
        if (plans.get(key) === planning) plans.delete(key);
      });
      const { parts, mangleCache } = await planning.catch((error) => {
        plans.delete(key);
        throw error;
      });
      if (parts.length === 0) return;

      const lazy = await esbuild({
        ...options,
        plugins: others,
        entryPoints: parts.map((part) => resolve(cwd, part)),
        entryNames: options.chunkNames ?? '[name]-[hash]',
        splitting: false,
        metafile: true,
        ...(mangleCache && { mangleCache }),
      });
      if (mangleCache) options.mangleCache = mangleCache;

      /** The part's input path (relative to cwd, as in metafiles) → its file's name. */
      const fileOf = new Map();
      for (const [output, meta] of Object.entries(lazy.metafile.outputs)) {
        if (meta.entryPoint) fileOf.set(meta.entryPoint, basename(output));
      }
      const external = new Set([...fileOf.values()].map((file) => `./${file}`));

      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.pluginData === SKIP) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          namespace: args.namespace,
          resolveDir: args.resolveDir,
          pluginData: SKIP,
        });
        if (resolved.errors.length > 0 || resolved.external) return undefined;
        const file = fileOf.get(relative(cwd, resolved.path).replaceAll('\\', '/'));
        return file === undefined ? undefined : { path: `./${file}`, external: true };
      });

      build.onEnd((result) => {
        if (result.errors.length > 0) return undefined;
        const errors = [];
        if (result.metafile) {
          for (const [output, meta] of Object.entries(result.metafile.outputs)) {
            const loadsPart = meta.imports.some((imp) => imp.external && external.has(imp.path));
            if (loadsPart && resolve(cwd, dirname(output)) !== outdir) {
              errors.push({
                text: `${output} loads a lazy part by a path relative to the outdir: keep every output in the outdir itself`,
              });
            }
          }
          Object.assign(result.metafile.inputs, lazy.metafile.inputs);
          Object.assign(result.metafile.outputs, lazy.metafile.outputs);
        }
        if (result.outputFiles && lazy.outputFiles) result.outputFiles.push(...lazy.outputFiles);
        return { errors };
      });
    },
  };
}

/**
 * @typedef {object} Plan
 * @property {string[]} parts the modules loaded with import(), relative to cwd
 * @property {Record<string, string | false> | undefined} mangleCache the names for every build, when mangling
 */

/** Builds the whole program once, as `options` say: what it loads with import(), and the mangled names. */
async function plan(options, plugins) {
  const result = await esbuild({
    ...options,
    plugins,
    write: false,
    metafile: true,
    sourcemap: false,
    ...(options.mangleProps && { mangleCache: { ...options.mangleCache } }),
  });
  const inputs = result.metafile.inputs;
  const isStatic = (imp) => !imp.external && imp.kind !== 'dynamic-import';
  const closure = (path, into = new Set()) => {
    if (into.has(path)) return into;
    into.add(path);
    for (const imp of inputs[path]?.imports ?? []) if (isStatic(imp)) closure(imp.path, into);
    return into;
  };

  const parts = new Set();
  const importers = new Set();
  for (const [path, input] of Object.entries(inputs)) {
    for (const imp of input.imports) {
      if (imp.kind === 'dynamic-import' && !imp.external) {
        parts.add(imp.path);
        importers.add(path);
      }
    }
  }

  // The core: everything an entry loads up front, when it loads a part.
  const core = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    const entry = output.entryPoint;
    if (!entry || parts.has(entry)) continue;
    const loaded = closure(entry);
    if ([...loaded].some((path) => importers.has(path))) for (const path of loaded) core.add(path);
  }

  const problems = [];
  for (const part of parts) {
    for (const path of closure(part)) {
      if (importers.has(path)) {
        problems.push(`${part} loads another part with import() (${path}): not supported`);
      } else if (core.has(path) && !DUPLICATE_OK.has(path)) {
        problems.push(
          `${part} would bundle a copy of ${path}, which the core loads: pass it in (src/transports/kit.ts) instead`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new Error(`tabwire-lazy-parts:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return { parts: [...parts], mangleCache: options.mangleProps ? result.mangleCache : undefined };
}
