import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from './chromium-options';

/** A Chromium whose hidden pages behave as users' do; `close()` ends it and removes its profile. */
export interface BackgroundChromium {
  readonly browser: Browser;
  close(): Promise<void>;
}

/**
 * A Chromium with real background behaviour: started here rather than by
 * Playwright, whose launch adds `--disable-background-timer-throttling`,
 * `--disable-backgrounding-occluded-windows` and
 * `--disable-renderer-backgrounding`, and attached with
 * `connectOverCDP({ noDefaults: true })`, whose default context
 * (`browser.contexts()[0]`) gets no focus emulation. So a page behind
 * another tab is really hidden (`document.visibilityState`), its timers are
 * throttled as Chrome throttles them, and `Page.setWebLifecycleState` really
 * freezes it. `args` are added to the flags of every test Chromium.
 */
export async function launchBackgroundChromium(args: readonly string[] = []): Promise<BackgroundChromium> {
  const dir = mkdtempSync(join(tmpdir(), 'tabwire-background-'));
  const child: ChildProcess = spawn(
    chromiumPath(),
    [...CHROMIUM_ARGS, ...args, '--remote-debugging-port=0', `--user-data-dir=${dir}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // Asked to quit rather than killed: a killed Chromium's helper
      // processes went on writing into the profile folder for seconds.
      const cdp = await browser?.newBrowserCDPSession().catch(() => undefined);
      // No answer comes: the browser is gone first.
      void cdp?.send('Browser.close').catch(() => {});
      const late = new Promise((resolve) => setTimeout(resolve, 5000, 'late'));
      if (!cdp || (await Promise.race([exited, late])) === 'late') child.kill();
      await exited;
    }
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      // A helper process still writing: a folder left in the temp dir fails no test.
    }
  };
  let browser: Browser | undefined;
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk;
        const found = /DevTools listening on (ws:\S+)/.exec(err);
        if (found) resolve(found[1]!);
      });
      child.on('exit', () => reject(new Error(`Chromium exited: ${err}`)));
      setTimeout(() => reject(new Error(`no DevTools endpoint after 20 s: ${err}`)), 20_000).unref();
    });
    browser = await chromium.connectOverCDP(endpoint, { noDefaults: true });
  } catch (e) {
    await close();
    throw e;
  }
  return { browser, close };
}
