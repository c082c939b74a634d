// Load bench (`npm run bench:load`): bundles bench/load/load.ts (the tabs)
// and bench/load/server-child.ts (the dev server, forked by load.ts) with
// esbuild into .tmp/bench-load/, then runs `node --expose-gc load.mjs`, which
// prints Markdown tables. Loopback only; the run stops by itself (a hard
// limit here and one inside load.ts). Exits non-zero when an event was
// dropped or duplicated, the elected run did not hold one connection per org,
// a seed 002 target or the memory budget was missed, or the run failed or
// overran.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { mangleOptions } from '../../scripts/mangle.mjs';

const loadDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(loadDir, '..', '..');
const outdir = join(root, '.tmp', 'bench-load');
const HARD_LIMIT_MS = 180_000;

await build({
  entryPoints: [join(loadDir, 'load.ts'), join(loadDir, 'server-child.ts')],
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
  // Internal names shortened as in dist, so the figures are of the code that ships.
  ...mangleOptions,
  // `ws` stays a package (found from the repository's node_modules): its
  // optional native add-ons do not bundle.
  external: ['ws'],
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
});

const bundle = join(outdir, 'load.mjs');
console.log(`<!-- node --expose-gc ${bundle.slice(root.length + 1)} -->`);
const child = spawn(process.execPath, ['--expose-gc', bundle], { cwd: root, stdio: 'inherit' });
const timer = setTimeout(() => {
  console.error(`bench:load: still running after ${HARD_LIMIT_MS / 1000} s, killing it`);
  child.kill('SIGKILL');
}, HARD_LIMIT_MS);
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  if (code !== 0) {
    console.error(`\nbench:load failed (${signal ?? `exit ${code}`})`);
    process.exit(1);
  }
});
