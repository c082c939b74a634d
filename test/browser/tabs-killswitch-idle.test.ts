import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  openSafetyTab,
  orgConnections,
  publishTasks,
  setPageFlags,
  setUpServerAndChromium,
  sleep,
  startSafetyServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// A kill switch thrown with setFlags in one tab and lifted while another tab
// had no subscribers (idle, out of the channel): when the idle tab subscribes
// again it is connected, not disabled, and it does not hand the old switch on
// to a tab opened after it (src/client.ts `#ownFlags`; the fake-browser
// version is test/unit/tabs/stale-kill-switch.test.ts).
//
// The safety page is opened with no services; the test subscribes and
// unsubscribes in the page, keeping the handler's seqs in `__tw.seqs.tasks`.

const env = setUpServerAndChromium(startSafetyServer);

type SubWindow = {
  __tw: {
    rt: { subscribe(service: string, handler: (events: Array<{ seq: number }>) => void): () => void };
    seqs: Record<string, number[]>;
  };
  __twOff?: () => void;
};

function subscribe(page: Page): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as SubWindow;
    const seqs = w.__tw.seqs.tasks ?? [];
    w.__tw.seqs.tasks = seqs;
    w.__twOff = w.__tw.rt.subscribe('tasks', (events) => {
      for (const e of events) seqs.push(e.seq);
    });
  });
}

function unsubscribe(page: Page): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as SubWindow;
    w.__twOff?.();
    w.__twOff = undefined;
  });
}

describe('a kill switch lifted while a tab was idle, in real Chromium', () => {
  it('the idle tab is connected when it subscribes again, and so is a tab opened after it', async () => {
    const org = 'org_killswitch_idle';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const a = await openSafetyTab(context, env.server.origin, { org, services: [] }, errors);
    await subscribe(a);
    await waitUntil(async () => (await tabState(a)).status === 'connected', { message: 'A connected' });
    const b = await openSafetyTab(context, env.server.origin, { org, services: [] }, errors);
    await subscribe(b);
    await waitUntil(async () => (await tabState(b)).status === 'connected', { message: 'B connected' });
    expect((await tabState(a)).isLeader).toBe(true);
    expect((await tabState(b)).isLeader).toBe(false);

    // ── A throws the switch: both off ──
    await setPageFlags(a, { emergencyDisable: true });
    await waitUntil(
      async () => (await Promise.all([a, b].map(tabState))).every((s) => s.status === 'disabled'),
      { timeoutMs: 3000, message: 'both tabs disabled' },
    );

    // ── B goes idle (no subscribers, past idleGraceMs = 1 s); A lifts the switch meanwhile ──
    await unsubscribe(b);
    // Disabled wins over idle in the state, so wait the grace delay out.
    await sleep(1500);
    expect((await tabState(b)).services).toEqual([]);
    await setPageFlags(a, { emergencyDisable: false });
    await waitUntil(async () => (await tabState(a)).status === 'connected', {
      message: 'A connected after the lift',
    });
    // B heard nothing: it was out of the channel.
    expect((await tabState(b)).flags.emergencyDisable).toBe(true);

    // ── B subscribes again ──
    await subscribe(b);
    await waitUntil(async () => (await tabState(b)).status === 'connected', {
      timeoutMs: 4000,
      message: 'B connected after subscribing again',
    }).catch(async (e: Error) => {
      throw new Error(`${e.message}; B: ${JSON.stringify(await tabState(b))}`);
    });
    expect((await tabState(b)).flags.emergencyDisable).toBe(false);
    expect((await tabState(b)).disabledReason).toBeUndefined();
    const seq1 = publishTasks(env.server, org, 1);
    await waitUntil(async () => (await tabSeqs(b)).includes(seq1), { message: `B got seq ${seq1}` });

    // ── A closes: B leads; a tab opened now must not inherit the old switch ──
    await a.close();
    await waitUntil(async () => (await tabState(b)).isLeader && (await tabState(b)).status === 'connected', {
      timeoutMs: 5000,
      message: 'B leader and connected',
    });
    const c = await openSafetyTab(context, env.server.origin, { org, services: [] }, errors);
    await subscribe(c);
    await waitUntil(async () => (await tabState(c)).status === 'connected', {
      timeoutMs: 4000,
      message: 'C connected',
    }).catch(async (e: Error) => {
      throw new Error(`${e.message}; C: ${JSON.stringify(await tabState(c))}`);
    });
    expect((await tabState(c)).flags.emergencyDisable).toBe(false);
    expect((await tabState(b)).status).toBe('connected');
    const seq2 = publishTasks(env.server, org, 1);
    await waitUntil(async () => (await tabSeqs(c)).includes(seq2) && (await tabSeqs(b)).includes(seq2), {
      message: `B and C got seq ${seq2}`,
    });
    await sleep(200);
    expect(await tabSeqs(c)).toEqual([seq2]);
    expect(await tabSeqs(b)).toEqual([seq1, seq2]);
    expect(orgConnections(env.server, org).length).toBe(1);
    expect(errors).toEqual([]);
    await context.close();
  }, 20_000);
});
