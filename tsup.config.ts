import { readFile, writeFile } from 'node:fs/promises';
import type { BuildOptions } from 'esbuild';
import MagicString from 'magic-string';
import { defineConfig, type Options } from 'tsup';

type Plugin = NonNullable<Options['plugins']>[number];
type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

// Internal property names shortened in every JS output, ESM and CJS (not in
// the .d.ts): scripts/mangle.mjs, the list in scripts/mangle-props.json.
// Imported by URL, as the .mjs has no types of its own.
const { mangleOptions } = (await import(new URL('./scripts/mangle.mjs', import.meta.url).href)) as {
  mangleOptions: Pick<BuildOptions, 'mangleProps' | 'mangleQuoted'>;
};
// Each part loaded with import() as one self-contained file
// (scripts/lazy-parts.mjs). One plugin object for the ESM and the CJS build,
// so both get the same mangled names.
const { lazyParts } = (await import(new URL('./scripts/lazy-parts.mjs', import.meta.url).href)) as {
  lazyParts: () => EsbuildPlugin;
};

/**
 * In the CommonJS build, loads the parts tabwire loads on demand with
 * `require` in a promise, as esbuild's unsplit CJS build did, instead of
 * `import()`: a CJS file's `import()` needs the ESM loader, which Jest's
 * CommonJS runtime lacks (it throws without --experimental-vm-modules).
 */
const requireLazyChunksInCjs: Plugin = {
  name: 'require-lazy-chunks-in-cjs',
  renderChunk(code, info) {
    if (this.format !== 'cjs') return;
    const edited = new MagicString(code);
    // Tabwire's own chunks (`./x.cjs`) and `ws`, which the dev server loads on demand.
    for (const found of code.matchAll(/\bimport\((["'])(\.\/[\w.-]+\.cjs|ws)\1\)/g)) {
      const [call, quote, path] = found;
      edited.overwrite(
        found.index,
        found.index + call.length,
        `Promise.resolve().then(() => require(${quote}${path}${quote}))`,
      );
    }
    if (!edited.hasChanged()) return;
    // Its own map, so the source map of the output still points at src/.
    return { code: edited.toString(), map: edited.generateMap({ hires: true, source: info.path }) };
  },
};

/**
 * Starts `tabwire/react` (ESM and CJS) with `'use client'`: React Server
 * Components (the Next.js App Router) then take its provider and hooks for
 * client code, so a server layout can render `<RealtimeProvider>` with
 * serializable options. Added once the files are written: esbuild and the
 * tree-shaking pass (Rollup) both drop a module's directives. Each source
 * map gets the new first line (a leading `;` in its mappings).
 */
async function useClientInReact(outDir: string): Promise<void> {
  for (const file of [`${outDir}/react.js`, `${outDir}/react.cjs`]) {
    const code = await readFile(file, 'utf8');
    if (code.startsWith("'use client'")) continue;
    await writeFile(file, `'use client';\n${code}`);
    const map = JSON.parse(await readFile(`${file}.map`, 'utf8')) as { mappings: string };
    map.mappings = `;${map.mappings}`;
    await writeFile(`${file}.map`, JSON.stringify(map));
  }
}

/** The entries an app loads in the browser: the only ones with a `production` build. */
const BROWSER_ENTRIES = {
  index: 'src/index.ts',
  react: 'src/react/index.ts',
  vanilla: 'src/vanilla/index.ts',
};

// The output folder is `dist`, or `TABWIRE_DIST_DIR` (the release test builds
// into a staging copy): not tsup's --out-dir, which would put both builds
// into the one folder it names.
//
// Two builds. `dist/`: every entry, with every check (`process.env.NODE_ENV`
// is "development" in it), what Node, tests and any bundler without the
// `production` export condition get. `dist/production/`: the browser entries
// without the development-only checks (options and method arguments; see
// docs/options.md), which Vite's and webpack's production builds pick
// through the `production` condition of package.json's exports. Neither
// build leaves a `process` reference for the browser to trip on.
//
// And `dist/bin/`: the `tabwire-devserver` command (package.json `bin`), one
// ESM file that bundles the dev server, started by its `#!/usr/bin/env node`
// line (esbuild keeps it; tsup makes the file executable). A build of its
// own: an entry of the first would also get a CJS file and types.
export default defineConfig((): Options[] => {
  const outDir = process.env.TABWIRE_DIST_DIR ?? 'dist';
  const shared: Options = {
    format: ['esm', 'cjs'],
    sourcemap: true,
    treeshake: true,
    // CommonJS too: without it every CJS entry (tabwire/react, tabwire/testing)
    // bundles a core of its own, and a CJS app loads tabwire several times.
    splitting: true,
    target: 'es2022',
    external: ['react', 'ws'],
    plugins: [requireLazyChunksInCjs],
    esbuildOptions(options) {
      Object.assign(options, mangleOptions);
    },
  };
  return [
    {
      ...shared,
      entry: {
        ...BROWSER_ENTRIES,
        devserver: 'src/devserver/index.ts',
        conformance: 'src/conformance/index.ts',
        testing: 'src/testing/index.ts',
      },
      outDir,
      dts: true,
      // Not the other builds' folders: the three builds run at once.
      clean: ['!production/**', '!bin/**'],
      define: { 'process.env.NODE_ENV': '"development"' },
      esbuildPlugins: [lazyParts()],
      onSuccess: () => useClientInReact(outDir),
    },
    {
      ...shared,
      entry: BROWSER_ENTRIES,
      outDir: `${outDir}/production`,
      dts: false,
      clean: true,
      define: { 'process.env.NODE_ENV': '"production"' },
      esbuildPlugins: [lazyParts()],
      onSuccess: () => useClientInReact(`${outDir}/production`),
    },
    {
      ...shared,
      entry: { 'tabwire-devserver': 'src/devserver/bin.ts' },
      format: ['esm'],
      outDir: `${outDir}/bin`,
      dts: false,
      // A command, not a library: no one steps into it (300 KB saved).
      sourcemap: false,
      clean: true,
      define: { 'process.env.NODE_ENV': '"development"' },
    },
  ];
});
