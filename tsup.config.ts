import { defineConfig } from 'tsup';

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
});
