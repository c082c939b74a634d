import type { BuildOptions } from 'esbuild';
import { defineConfig } from 'tsup';

// Internal property names shortened in every JS output, ESM and CJS (not in
// the .d.ts): scripts/mangle.mjs, the list in scripts/mangle-props.json.
// Imported by URL, as the .mjs has no types of its own.
const { mangleOptions } = (await import(new URL('./scripts/mangle.mjs', import.meta.url).href)) as {
  mangleOptions: Pick<BuildOptions, 'mangleProps' | 'mangleQuoted'>;
};

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    react: 'src/react/index.ts',
    vanilla: 'src/vanilla/index.ts',
    devserver: 'src/devserver/index.ts',
    testing: 'src/testing/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  target: 'es2022',
  external: ['react', 'ws'],
  // nanoid 5 is ESM-only; bundling its few bytes keeps require('tabwire')
  // working on every Node 20, not only those with require(esm).
  noExternal: ['nanoid'],
  esbuildOptions(options) {
    Object.assign(options, mangleOptions);
  },
});
