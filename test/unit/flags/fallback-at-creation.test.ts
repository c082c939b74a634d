import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import { flagsFromEnv } from '../../../src/flags/env-flags';
import { rolloutBucket } from '../../../src/flags/rollout-bucket';
import { globalTimersClock } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';

// A client whose flags turn realtime off from the start (step 0 of the
// rollout plan, `REALTIME_PROVIDER_V2=false`; every org outside a 5 %
// rollout; an org in `disabledOrgs`) fired `fallback` inside createRealtime,
// before the app could attach a listener: `rt.on('fallback', startPolling)`,
// as the docs show it, never ran, and such a page had neither realtime nor
// its non-realtime path.

const clients: RealtimeClient[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

function create(flags: Parameters<typeof createRealtime>[0]['flags'], orgId = 'org_1'): RealtimeClient {
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    scope: { orgId, userId: 'u_1' },
    transports: [createMemoryBackend().transport],
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
    flags,
    platform: { clock: globalTimersClock, window: new EventTarget() },
  });
  clients.push(rt);
  return rt;
}

// An org outside a 5 % rollout.
let outside = 'org_0';
for (let i = 0; rolloutBucket('realtime', outside) < 500; i++) outside = `org_${i}`;

describe('realtime off from the moment the client is created', () => {
  it.each([
    ['disabled', { ...flagsFromEnv({ REALTIME_PROVIDER_V2: 'false' }) }, 'org_1'],
    ['emergency_disable', { emergencyDisable: true }, 'org_1'],
    ['org_disabled', { disabledOrgs: ['org_1'] }, 'org_1'],
    ['not_in_rollout', { rolloutPercent: 5 }, outside],
  ])('fires fallback (%s) to a listener attached right after createRealtime', async (reason, flags, org) => {
    const rt = create(flags, org);
    expect(rt.getState()).toMatchObject({ status: 'disabled', disabledReason: reason });
    const fallbacks: string[] = [];
    rt.on('fallback', (info) => fallbacks.push(info.reason));
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fallbacks).toEqual([reason]);
  });

  it('fires it once, and not at all for a client created on', async () => {
    const off = create({ emergencyDisable: true });
    const on = create({});
    const fallbacks: string[] = [];
    off.on('fallback', (info) => fallbacks.push(`off:${info.reason}`));
    on.on('fallback', (info) => fallbacks.push(`on:${info.reason}`));
    off.subscribe('tasks', () => {});
    on.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fallbacks).toEqual(['off:emergency_disable']);
  });

  it('does not fire the stale reason once the app turned realtime on or changed why it is off', async () => {
    const lifted = create({ emergencyDisable: true });
    const changed = create({ emergencyDisable: true });
    const fallbacks: string[] = [];
    lifted.on('fallback', (info) => fallbacks.push(`lifted:${info.reason}`));
    changed.on('fallback', (info) => fallbacks.push(`changed:${info.reason}`));
    lifted.setFlags({ emergencyDisable: false });
    changed.setFlags({ emergencyDisable: false, enabled: false });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fallbacks).toEqual(['changed:disabled']);
  });

  it('fires it once when the app turned realtime on and off again in the same tick', async () => {
    const rt = create({ emergencyDisable: true });
    const fallbacks: string[] = [];
    rt.on('fallback', (info) => fallbacks.push(info.reason));
    rt.setFlags({ emergencyDisable: false });
    rt.setFlags({ emergencyDisable: true });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fallbacks).toEqual(['emergency_disable']);
  });
});
