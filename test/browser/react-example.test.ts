import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { RealtimeState } from '../../src/state';
import { bundleExample, exampleDir, launchChromium, waitUntil } from './harness';

// The React example (examples/react) in real Chromium, two tabs of one
// origin, against the dev server: a task created in one tab (optimistically,
// through useOptimisticMutation and the dev server's publish endpoint) shows
// up in both; the kill switch toggled in one turns realtime off in both.

let server: DevServer;
let browser: Browser;

beforeAll(async () => {
  const build = await bundleExample('react', 'main.tsx');
  server = await startDevServer({
    batchWindowMs: { min: 5, max: 30 },
    static: { '/react/': exampleDir('react'), '/react/_build/': build },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const realtimeState = (page: Page) =>
  page.evaluate(() => (window as unknown as { __realtimeState: () => RealtimeState }).__realtimeState());

describe('React example in Chromium', () => {
  it('shows a task created in one tab in both, and falls back in both on the kill switch', async () => {
    const context = await browser.newContext();
    const errors: string[] = [];
    const tabs: Page[] = [];
    for (let i = 0; i < 2; i++) {
      const tab = await context.newPage();
      tab.on('pageerror', (e) => errors.push(e.message));
      await tab.goto(`${server.origin}/react/`);
      tabs.push(tab);
    }
    const [a, b] = tabs as [Page, Page];
    for (const tab of tabs) {
      await tab.waitForSelector('#status[data-status="connected"]', { timeout: 15_000 });
    }
    // One leader among the two, shown by the badge.
    const badges = await Promise.all(tabs.map((tab) => tab.textContent('#leader')));
    expect(badges.sort()).toEqual(['follower', 'leader']);

    // Create a task in tab A: optimistic first, then confirmed by its echo.
    await a.fill('#title', 'Write the report');
    await a.click('#add');
    for (const tab of tabs) {
      await tab.waitForSelector('#tasks li:not([data-pending]):has-text("Write the report")', {
        timeout: 5000,
      });
    }
    // Confirmed in A: no greyed copy left, one row.
    expect(await a.$$('#tasks li[data-pending]')).toHaveLength(0);
    expect(await a.$$eval('#tasks li', (items) => items.map((li) => li.textContent))).toHaveLength(1);

    // The kill switch, toggled in tab B, turns realtime off in both within 1 s.
    await b.check('#kill');
    const started = Date.now();
    await Promise.all(
      // #fallback ("Realtime off") renders only while the status is `disabled`.
      tabs.map((tab) => tab.waitForSelector('#fallback', { timeout: 1000 })),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    for (const tab of tabs) {
      const state = await realtimeState(tab);
      expect(state.status).toBe('disabled');
      expect(state.flags.emergencyDisable).toBe(true);
      expect(await tab.getAttribute('#status', 'data-status')).toBe('disabled');
      // The other tab's checkbox follows the flag.
      expect(await tab.isChecked('#kill')).toBe(true);
    }
    // No connection is left open at the server.
    await waitUntil(() => server.connections().filter((c) => c.orgId === 'org_demo').length === 0, {
      timeoutMs: 3000,
      message: 'connections closed after the kill switch',
    });

    expect(errors).toEqual([]);
    await context.close();
  });

  it('rolls a lost write back after its timeout', async () => {
    const context = await browser.newContext();
    const errors: string[] = [];
    const tab = await context.newPage();
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`${server.origin}/react/`);
    await tab.waitForSelector('#status[data-status="connected"]', { timeout: 15_000 });
    await tab.check('#lose-write');
    await tab.fill('#title', 'Never sent');
    await tab.click('#add');
    await tab.waitForSelector('#tasks li[data-pending]:has-text("Never sent")', { timeout: 1000 });
    await tab.waitForSelector('#notice:has-text("rolled back (timed_out)")', { timeout: 5000 });
    expect(await tab.$$('#tasks li:has-text("Never sent")')).toHaveLength(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});
