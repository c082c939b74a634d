// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { installDevtools } from '../../../src/vanilla';
import { cleanups, setup } from './harness';

// With two clients on one page (two backends), window.__realtimeState
// showed the one installed last only, and closing or uninstalling it left
// either a hook on a closed client (installDevtools) or no hook at all
// (`devtools: true`), though the other client was still open.

afterEach(() => {
  delete (window as DevtoolsWindow).__realtimeState;
});

const client = (devtools: boolean): RealtimeClient => setup({ devtools }).rt;

type DevtoolsWindow = Window & { __realtimeState?: () => unknown };
const hook = () => (window as DevtoolsWindow).__realtimeState;

describe('window.__realtimeState with several clients', () => {
  it('with `devtools: true`, shows every open client, then the one left, exactly as getState()', async () => {
    const a = client(true);
    expect(hook()?.()).toBe(a.getState());
    const b = client(true);
    expect(hook()?.()).toEqual([a.getState(), b.getState()]);
    await b.close();
    expect(hook()?.()).toBe(a.getState());
    await a.close();
    // No client left: the hook stays, and says so.
    expect(hook()?.()).toBeUndefined();
  });

  it('with installDevtools, drops a closed client and an uninstalled one', async () => {
    const a = client(false);
    const b = client(false);
    const uninstallA = installDevtools(a);
    cleanups.push(installDevtools(b));
    expect(hook()?.()).toEqual([a.getState(), b.getState()]);
    await b.close();
    expect(hook()?.()).toBe(a.getState());
    uninstallA();
    uninstallA();
    expect(hook()).toBeUndefined();
  });

  it('shows a client installed both ways once, until both are gone', () => {
    const a = client(true);
    const uninstall = installDevtools(a);
    expect(hook()?.()).toBe(a.getState());
    uninstall();
    expect(hook()?.()).toBe(a.getState());
    // Another client, shown by installDevtools only: its uninstall hides it alone.
    const b = client(false);
    const uninstallB = installDevtools(b);
    expect(hook()?.()).toEqual([a.getState(), b.getState()]);
    uninstallB();
    expect(hook()?.()).toBe(a.getState());
  });

  it('keeps a client installed twice shown until both installs are undone', () => {
    const a = client(false);
    const first = installDevtools(a);
    const second = installDevtools(a);
    first();
    expect(hook()?.()).toBe(a.getState());
    second();
    expect(hook()).toBeUndefined();
  });
});
