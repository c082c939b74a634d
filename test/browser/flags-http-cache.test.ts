import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './harness';

// The flags URL is how a kill switch reaches open pages "within one poll
// interval" (docs/rollout.md). Served as a static file (nginx, a CDN, any
// static server: ETag and Last-Modified, no Cache-Control), the browser's
// HTTP cache took the document for fresh for a tenth of its age (heuristic
// freshness: days for a file untouched for weeks) and answered every poll
// from the cache without asking the server, so an edited document — the
// kill switch thrown, or lifted — never reached the page. Each poll must
// revalidate (an ETag makes that a cheap 304).

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let browser: Browser;
let server: Server;
let origin: string;
let document = '{}';
let requests = 0;
let script = '';

beforeAll(async () => {
  const bundle = await build({
    stdin: {
      contents: `
        import { FlagsPoller } from './src/flags/flags-poller';
        const seen = [];
        window.__seen = seen;
        const clock = {
          now: () => performance.now(),
          setTimeout: (fn, ms) => setTimeout(fn, ms),
          clearTimeout: (handle) => clearTimeout(handle),
        };
        new FlagsPoller({ url: '/flags', intervalMs: 1000, clock, onFlags: (flags) => seen.push(flags) }).start();
      `,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  script = bundle.outputFiles[0]!.text;
  server = createServer((req, res) => {
    if (req.url === '/flags') {
      requests += 1;
      const etag = `"${Buffer.from(document).toString('base64url')}"`;
      const headers = {
        'content-type': 'application/json',
        // A file last changed a month ago, as a static server describes it.
        'last-modified': new Date(Date.now() - 30 * 86_400_000).toUTCString(),
        etag,
      };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, headers).end();
        return;
      }
      res.writeHead(200, headers).end(document);
    } else if (req.url === '/main.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<script type="module" src="/main.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the flags URL served as a static file, in real Chromium', () => {
  it('reaches the page within a few polls after the document is edited', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => (window as { __seen?: unknown[] }).__seen?.length === 1);
    expect(await page.evaluate(() => (window as unknown as { __seen: unknown[] }).__seen)).toEqual([{}]);

    // Ops throw the kill switch.
    document = '{"emergencyDisable":true}';
    const before = requests;
    await page.waitForTimeout(3_500);
    // Every poll asked the server...
    expect(requests - before).toBeGreaterThanOrEqual(2);
    // ...and the page has the switch.
    expect(await page.evaluate(() => (window as unknown as { __seen: unknown[] }).__seen)).toEqual([
      {},
      { emergencyDisable: true },
    ]);
    await page.close();
  });
});
