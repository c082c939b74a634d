// Bundles every bench/*.bench.ts with esbuild and runs each in its own node
// process (with --expose-gc, so heap figures are measured after collection),
// printing their Markdown tables. Exits non-zero if any bench missed its
// budget or failed. `node bench/run.mjs pipeline` runs only the benches whose
// file name contains "pipeline". bench/*.worker.ts (worker threads a bench
// starts, such as the takeover bench's dev server) are bundled in the same
// build, so tabwire's mangled property names are the same in a bench and in
// its workers (esbuild picks them per build).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { mangleOptions } from '../scripts/mangle.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(benchDir, '..');
const outdir = join(root, '.tmp', 'bench');
const filter = process.argv[2];

const files = readdirSync(benchDir)
  .filter((name) => name.endsWith('.bench.ts') && (filter === undefined || name.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no bench/*.bench.ts${filter === undefined ? '' : ` matching "${filter}"`}`);
  process.exit(1);
}

const workers = readdirSync(benchDir).filter((name) => name.endsWith('.worker.ts'));

await build({
  entryPoints: [...files, ...workers].map((name) => join(benchDir, name)),
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
  // Internal names shortened as in dist, so the figures are of the code that ships.
  ...mangleOptions,
  // CommonJS dependencies bundled into ESM (ws, …) still call require().
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
});

const failed = [];
for (const name of files) {
  const bundle = join(outdir, name.replace(/\.ts$/, '.mjs'));
  console.log(`\n<!-- node --expose-gc ${bundle.slice(root.length + 1)} -->`);
  const run = spawnSync(process.execPath, ['--expose-gc', bundle], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) failed.push(`${name} (${run.signal ?? `exit ${run.status}`})`);
}
if (failed.length > 0) {
  console.error(`\nbench failed or missed a budget: ${failed.join(', ')}`);
  process.exit(1);
}
