#!/usr/bin/env node
// tabwire/react promises React 18 and 19. The root installs React 19 (the
// dev dependency every other test uses); React 18 cannot sit beside it in one
// node_modules, so it lives in test/fixtures/react18 with its own lock file,
// and the `react18` vitest project aliases `react` and `react-dom` to it.
// This installs it when missing or stale; `npm ci` there needs the registry,
// as the root's `npm ci` does.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixture = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'react18');
const wanted = JSON.parse(readFileSync(join(fixture, 'package.json'), 'utf8')).dependencies;

function installed(name) {
  const file = join(fixture, 'node_modules', name, 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined;
}

const stale = Object.entries(wanted).filter(([name, version]) => installed(name) !== version);
if (stale.length > 0) {
  console.log(`ensure-react18: installing ${stale.map(([n, v]) => `${n}@${v}`).join(', ')} in ${fixture}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--prefix', fixture], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('ensure-react18: npm ci failed; the react18 tests need React 18 installed there');
    process.exit(result.status ?? 1);
  }
}
