#!/usr/bin/env node
// Adds the other platforms' optional packages that npm leaves out of
// package-lock.json here (npm/cli#4828, #8320), without which `npm ci`
// refuses the lock file ("Missing: @biomejs/cli-win32-x64@… from lock
// file"). Run it after every `npm install` that changes the lock file.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = 'package-lock.json';
const dry = spawnSync('npm', ['ci', '--dry-run', '--no-audit', '--no-fund'], { encoding: 'utf8' });
const missing = [
  ...`${dry.stdout}\n${dry.stderr}`.matchAll(/Missing: (@?[^@\s]+)@(\S*) from lock file/g),
].map(([, name, version]) => ({ name, version }));
if (missing.length === 0) {
  console.log('[complete-lockfile] nothing missing');
  process.exit(0);
}
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
// Which installed package asks for it (for `dev`), from the lock itself.
const requesters = Object.values(lock.packages);
for (const { name, version: named } of missing) {
  // npm prints an empty version here; the requester pins it.
  const version = named || requesters.map((p) => p.optionalDependencies?.[name]).find(Boolean);
  if (!version) throw new Error(`no version known for ${name}`);
  // The registry reachable here does not carry every platform's build; an
  // entry without metadata is enough for npm ci, which skips optional
  // packages it cannot use or fetch.
  let meta = {};
  try {
    meta = JSON.parse(
      execFileSync(
        'npm',
        ['view', `${name}@${version}`, '--json', 'dist.integrity', 'os', 'cpu', 'libc', 'license', 'engines'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      ),
    );
  } catch {
    console.log(`[complete-lockfile] ${name}@${version}: not in this registry, added without metadata`);
  }
  const parentIsDev = requesters.some((p) => p.optionalDependencies?.[name] !== undefined && p.dev === true);
  const entry = { version };
  if (meta['dist.integrity']) entry.integrity = meta['dist.integrity'];
  if (parentIsDev) entry.dev = true;
  entry.optional = true;
  if (meta.license) entry.license = meta.license;
  if (meta.os) entry.os = meta.os;
  if (meta.cpu) entry.cpu = meta.cpu;
  if (meta.libc) entry.libc = meta.libc;
  if (meta.engines) entry.engines = meta.engines;
  lock.packages[`node_modules/${name}`] = entry;
  console.log(`[complete-lockfile] added ${name}@${version}`);
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
