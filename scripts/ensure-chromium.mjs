#!/usr/bin/env node
// Makes sure the browser tests have a Chromium: TABWIRE_CHROMIUM if set,
// else Debian's /usr/bin/chromium, installed with apt-get when we are root.
// Never downloads a browser build of its own (npx playwright install cannot
// work on machines without general internet access).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export function chromiumPath() {
  return process.env.TABWIRE_CHROMIUM || DEFAULT_CHROMIUM;
}

function ensure() {
  const path = chromiumPath();
  if (existsSync(path)) return path;
  if (process.env.TABWIRE_CHROMIUM) {
    throw new Error(`TABWIRE_CHROMIUM points at ${path}, which does not exist.`);
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(
      `The browser tests need Chromium at ${DEFAULT_CHROMIUM}. Install Debian's 'chromium' package ` +
        `(sudo apt-get install chromium) or set TABWIRE_CHROMIUM to the path of a Chromium binary.`,
    );
  }
  console.log(`[ensure-chromium] ${DEFAULT_CHROMIUM} missing: installing Debian's chromium package (root)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  if (!existsSync(DEFAULT_CHROMIUM))
    throw new Error(`apt-get finished but ${DEFAULT_CHROMIUM} is still missing`);
  return DEFAULT_CHROMIUM;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(`[ensure-chromium] using ${ensure()}`);
  } catch (error) {
    console.error(`[ensure-chromium] ${error.message}`);
    process.exit(1);
  }
}
