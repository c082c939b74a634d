import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';

// scripts/lazy-parts.mjs, the esbuild plugin tsup and scripts/size.mjs use:
// each part loaded with import() is one self-contained file, never a copy of
// the core's modules, with the core build's mangled names.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// Imported by URL, as the .mjs files have no types.
const { lazyParts } = (await import(new URL('../../../scripts/lazy-parts.mjs', import.meta.url).href)) as {
  lazyParts: () => Plugin;
};
const { mangleOptions } = (await import(new URL('../../../scripts/mangle.mjs', import.meta.url).href)) as {
  mangleOptions: Pick<BuildOptions, 'mangleProps' | 'mangleQuoted'>;
};

const options = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  splitting: true,
  platform: 'browser',
  target: 'es2022',
  write: false,
  metafile: true,
  logLevel: 'silent',
} satisfies BuildOptions;

describe('scripts/lazy-parts.mjs', () => {
  it('builds every part src loads with import() as one file that imports nothing', async () => {
    const result = await build({
      ...options,
      ...mangleOptions,
      mangleCache: {},
      entryPoints: { index: 'src/index.ts' },
      outdir: join(root, '.tmp', 'lazy-parts-test'),
      plugins: [lazyParts()],
    });
    const outputs = Object.entries(result.metafile.outputs).filter(([path]) => path.endsWith('.js'));
    const parts = outputs.filter(
      ([, output]) => output.entryPoint?.startsWith('src/') && output.entryPoint !== 'src/index.ts',
    );
    expect(parts.map(([, output]) => output.entryPoint).sort()).toEqual([
      'src/connection/token-provider.ts',
      'src/flags/flags-poller.ts',
      'src/observability/sli-measurement.ts',
      'src/observability/sli-reporter.ts',
      'src/tabs/cursor-store.ts',
      'src/tabs/storage-channel.ts',
      'src/tabs/storage-lease-election.ts',
      'src/transports/long-poll.ts',
      'src/transports/sse.ts',
      'src/transports/websocket.ts',
    ]);
    for (const [path, output] of parts) expect(output.imports, path).toEqual([]);
    // The core loads each by the name of its file, next to it, and shares no chunk with them.
    const loaded = outputs
      .flatMap(([, output]) => output.imports)
      .filter((imp) => imp.kind === 'dynamic-import')
      .map((imp) => imp.path)
      .sort();
    expect(loaded).toEqual(parts.map(([path]) => `./${basename(path)}`).sort());
    expect(outputs.length).toBe(parts.length + 1);
    // The parts' build and the core's got one mangle cache: its names are the result's.
    expect(Object.keys(result.mangleCache ?? {}).length).toBeGreaterThan(0);
  });

  it('refuses a part that would bundle a copy of a module the core loads', async () => {
    const dir = join(root, '.tmp', 'lazy-parts-fixture');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'shared.ts'), 'export class Shared {}\n');
    writeFileSync(
      join(dir, 'part.ts'),
      "import { Shared } from './shared';\nexport const part = new Shared();\n",
    );
    writeFileSync(
      join(dir, 'core.ts'),
      "import { Shared } from './shared';\nexport const load = async () => (await import('./part')).part instanceof Shared;\n",
    );
    await expect(
      build({
        ...options,
        entryPoints: [join(dir, 'core.ts')],
        outdir: join(dir, 'out'),
        plugins: [lazyParts()],
      }),
    ).rejects.toThrow(/part\.ts would bundle a copy of .*shared\.ts, which the core loads/);
  });
});
