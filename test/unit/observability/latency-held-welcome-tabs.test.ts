import { expect, it, vi } from 'vitest';
import type { RealtimeOptions } from '../../../src/options';
import type { Transport } from '../../../src/transports/types';
import { fakeBrowserEach } from '../tabs/fake-browser-each';

// A proxy that held the welcome made every tab's clock offset about half the
// hold behind the server's (the leader's estimate, `serverTime` plus half
// the connect's round trip, and the followers', told it in the leader's
// `state` message). The events correct it up to half that round trip: the
// leader knows it from its connect, the followers from the same message.

const browser = fakeBrowserEach();
const HOLD_MS = 2000;
/** How late the server stamped the events it publishes (the true delay). */
const DELAY_MS = 300;

/**
 * The backend's transport behind a proxy that holds what a connection gets
 * for its first HOLD_MS (the welcome with it), then passes everything.
 */
function heldAtFirst(inner: Transport): Transport {
  return {
    name: inner.name,
    connect(ctx) {
      let held: (string | object)[] | undefined = [];
      setTimeout(() => {
        const frames = held!;
        held = undefined;
        for (const frame of frames) ctx.onFrame(frame);
      }, HOLD_MS);
      return inner.connect({ ...ctx, onFrame: (frame) => (held ? held.push(frame) : ctx.onFrame(frame)) });
    },
  };
}

/** Within the sketches' relative accuracy (1 %) and a millisecond of `truth`. */
const near = (truth: number) => ({
  asymmetricMatch: (measured: number) => Math.abs(measured - truth) <= truth * 0.01 + 1,
  toString: () => `about ${truth}`,
});

it('leader and followers measure the true delay, the followers told the bound with the offset', async () => {
  const { backend } = browser();
  const options: Partial<RealtimeOptions> = {
    telemetry: { measure: 'always' },
    transports: [heldAtFirst(backend.transport)],
  };
  const tab = () => {
    const rt = browser().tab(options);
    rt.subscribe('tasks', () => {});
    return rt;
  };
  const leader = tab();
  // There at the welcome (relayed: an offset a whole hold behind, then the
  // leader's), and one that opened after it (the leader's only).
  const follower = tab();
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(HOLD_MS);
  expect(leader.getState()).toMatchObject({ status: 'connected', isLeader: true });
  const late = tab();
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(100);
  expect(follower.getState()).toMatchObject({ status: 'connected', isLeader: false });
  expect(late.getState()).toMatchObject({ status: 'connected', isLeader: false });

  // One stamped as it is sent, which proves the offset behind; then the rest.
  backend.publish({ service: 'tasks' });
  for (let i = 0; i < 20; i++) backend.publish({ service: 'tasks', ts: Date.now() - DELAY_MS });
  await vi.advanceTimersByTimeAsync(10_000);
  for (const rt of [leader, follower, late]) {
    expect(rt.getState().byServiceDelivered.tasks).toBe(21);
    expect(rt.getState().sli.deliveryP50Ms).toEqual(near(DELAY_MS));
  }
});

it('a collector loaded after the welcome starts with the bound too', async () => {
  const { backend } = browser();
  const rt = browser().tab({
    leader: { strategy: 'none' },
    transports: [heldAtFirst(backend.transport)],
  });
  rt.subscribe('tasks', () => {});
  await vi.advanceTimersByTimeAsync(HOLD_MS);
  expect(rt.getState().status).toBe('connected');
  // Measuring starts now, at the first `sli` listener.
  rt.on('sli', () => {});
  await vi.dynamicImportSettled();
  backend.publish({ service: 'tasks' });
  for (let i = 0; i < 20; i++) backend.publish({ service: 'tasks', ts: Date.now() - DELAY_MS });
  await vi.advanceTimersByTimeAsync(10_000);
  expect(rt.getState().sli.deliveryP50Ms).toEqual(near(DELAY_MS));
});
