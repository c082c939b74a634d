import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createElement, type ReactNode } from 'react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRealtime } from '../../src/client';
import type { DevServer } from '../../src/devserver/index';
import { Page, providers, ssrOptions } from './fixtures/ssr/app';
import { bundleFixture, launchChromium, orgConnections, publishTasks, startTabsServer } from './harness';

// docs/react.md "Server rendering": HTML rendered in Node (with a client
// made there, as a Next.js server would), hydrated in Chromium by the page's
// own client (fixtures/ssr/main.tsx). No hydration error, and the page then
// connects and receives events. The server's client never connects.

// react-dom has no types installed here: only what this test calls.
const { renderToString } = (await import('react-dom/server' as string)) as {
  renderToString(node: ReactNode): string;
};

let server: DevServer;
let browser: Browser;
const pages = mkdtempSync(join(tmpdir(), 'tabwire-ssr-'));

beforeAll(async () => {
  const build = await bundleFixture('ssr', 'main.tsx');
  server = await startTabsServer({ static: { '/ssr/': pages, '/ssr/_build/': build } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(pages, { recursive: true, force: true });
});

function writePage(name: string, html: string): void {
  writeFileSync(
    join(pages, `${name}.html`),
    `<!doctype html><html><head><meta charset="utf-8"></head><body><div id="root">${html}</div><script type="module" src="/ssr/_build/main.js"></script></body></html>`,
  );
}

describe('server-rendered React app hydrated in Chromium', () => {
  for (const mode of ['client', 'options'] as const) {
    it(`with \`${mode}\`: hydrates without an error, then connects and receives events`, async () => {
      // The server's side, in this Node process.
      const options = ssrOptions(server.origin);
      const rt = createRealtime(options);
      const html = renderToString(
        createElement(Page, {
          provider: mode === 'client' ? providers.client(rt) : providers.options(options),
        }),
      );
      if (mode === 'client') {
        expect(html).toContain('<span id="status">idle</span>');
        expect(html).toContain('<span id="role">follower</span>');
      } else {
        expect(html).toBe('<main></main>');
      }
      writePage(mode, html);

      const context = await browser.newContext();
      const tab = await context.newPage();
      const pageErrors: string[] = [];
      tab.on('pageerror', (e) => pageErrors.push(e.message));
      await tab.goto(`${server.origin}/ssr/${mode}.html?mode=${mode}`);
      await tab.waitForSelector('#status:text-is("connected")', { timeout: 15_000 });
      await tab.waitForSelector('#role:text-is("leader")', { timeout: 5_000 });
      expect(await tab.textContent('#strategy')).toBe('locks');
      publishTasks(server, 'org_ssr', 3);
      await tab.waitForSelector('#events:text-is("3")', { timeout: 5_000 });

      const errors = await tab.evaluate(
        () => (window as unknown as { __ssr: { errors: string[] } }).__ssr.errors,
      );
      expect(errors).toEqual([]);
      expect(pageErrors).toEqual([]);
      // One connection: the page's; the server's client stayed idle.
      expect(orgConnections(server, 'org_ssr')).toHaveLength(1);
      expect(rt.getState().status).toBe('idle');
      await rt.close();
      await context.close();
    });
  }
});
