import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { RealtimeState } from '../../src/state';
import { bundleExample, exampleDir, launchChromium } from './harness';

// The vanilla demo in real Chromium, two tabs of one origin, against the dev
// server: both connect, both receive every published event once, in order.

let server: DevServer;
let browser: Browser;

beforeAll(async () => {
  const build = await bundleExample('vanilla');
  server = await startDevServer({
    batchWindowMs: { min: 5, max: 30 },
    static: { '/': exampleDir('vanilla'), '/_build/': build },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('vanilla demo in Chromium', () => {
  it('works in two tabs: each receives every event exactly once, in order', async () => {
    const context = await browser.newContext();
    const tabs = [await context.newPage(), await context.newPage()];
    const errors: string[] = [];
    for (const tab of tabs) {
      tab.on('pageerror', (e) => errors.push(e.message));
      await tab.goto(`${server.origin}/`);
    }
    for (const tab of tabs) {
      await tab.waitForFunction(
        () =>
          (window as unknown as { __realtimeState: () => RealtimeState }).__realtimeState().status ===
          'connected',
      );
    }
    for (let i = 0; i < 20; i++) {
      server.publish('org_demo', { service: 'tasks', entityType: 'task', type: 'task.updated', data: { i } });
    }
    for (const tab of tabs) {
      await tab.waitForFunction(() => document.querySelectorAll('#events li').length >= 20);
      const seqs = await tab.$$eval('#events li', (items) =>
        items.map((li) => Number(/#(\d+)/.exec(li.textContent ?? '')?.[1])).reverse(),
      );
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const state = await tab.evaluate(() =>
        (window as unknown as { __realtimeState: () => RealtimeState }).__realtimeState(),
      );
      expect(state.byServiceDelivered.tasks).toBe(20);
      expect(JSON.stringify(state)).not.toMatch(/token/i);
    }
    expect(errors).toEqual([]);
    await context.close();
  });
});
