import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Chromium from Debian's package (scripts/ensure-chromium.mjs installs it), never a download. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.TABWIRE_CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Bundles an example's entry from src (no build step needed) into .tmp and returns the folder. */
export async function bundleExample(name: string, entry = 'main.ts'): Promise<string> {
  const out = join(root, '.tmp', 'browser', name);
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(root, 'examples', name, entry)],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outfile: join(out, 'main.js'),
    alias: {
      tabwire: join(root, 'src/index.ts'),
      'tabwire/vanilla': join(root, 'src/vanilla/index.ts'),
      'tabwire/react': join(root, 'src/react/index.ts'),
    },
    logLevel: 'warning',
  });
  return out;
}

export const exampleDir = (name: string) => join(root, 'examples', name);
