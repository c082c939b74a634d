import { type Browser, type BrowserServer, chromium, type LaunchOptions } from 'playwright-core';
import { inject } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from './chromium-options';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The browser project's shared Chromium (test/browser/global-setup.ts), if it runs one. */
    chromiumWsEndpoint?: string;
  }
}

/** `ignoreDefaultArgs`: Playwright defaults to leave out (the bfcache test drops its `--disable-back-forward-cache`). */
function launchOptions(ignoreDefaultArgs?: string[]): LaunchOptions {
  return {
    executablePath: chromiumPath(),
    args: [...CHROMIUM_ARGS],
    ...(ignoreDefaultArgs && { ignoreDefaultArgs }),
  };
}

/** A Chromium that test files connect to (see {@link launchChromium}). */
export function launchChromiumServer(): Promise<BrowserServer> {
  return chromium.launchServer(launchOptions());
}

/**
 * A Chromium of the test file's own. In the browser project, with the
 * harness's flags, it is a connection to the Chromium the project shares
 * (its global setup launches it once, not once per file, about a second of
 * every file): the file's `close()` then closes every context it made, and
 * only those, and leaves the shared one running for the next file. Browser
 * contexts share nothing (storage, locks, BroadcastChannel, cache), so the
 * files stay apart. Other flags (`ignoreDefaultArgs`), or no shared one (the
 * chaos project), launch a Chromium for the file.
 */
export async function launchChromium(ignoreDefaultArgs?: string[]): Promise<Browser> {
  const shared = ignoreDefaultArgs ? undefined : inject('chromiumWsEndpoint');
  if (shared) return chromium.connect(shared);
  return chromium.launch(launchOptions(ignoreDefaultArgs));
}
