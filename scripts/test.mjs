#!/usr/bin/env node
// `npm test`: every test, the way CI runs it. Lint and types first (cheap,
// and a type error makes test failures misleading), then Chromium for the
// browser tests and React 18 for the react18 project, then all vitest projects with a JSON report that .ci/run
// turns into its totals line.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const run = (cmd, args) => {
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

mkdirSync('.tmp', { recursive: true });
run('npx', ['biome', 'check', '.']);
run('npx', ['tsc', '--noEmit']);
run(process.execPath, ['scripts/ensure-chromium.mjs']);
run(process.execPath, ['scripts/ensure-react18.mjs']);
run('npx', [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  '--outputFile.json=.tmp/vitest-report.json',
  ...process.argv.slice(2),
]);
