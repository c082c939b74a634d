import { describe, expect, it } from 'vitest';
import type { FrameChannel } from '../../src/devserver/connection';
import { RealtimeHub } from '../../src/devserver/hub';
import { resolveDevServerOptions } from '../../src/devserver/options';
import type { ServerFrame } from '../../src/protocol/schemas';
import { FakeClock } from '../unit/connection/fake-clock';

// docs/protocol.md: the quarantine `reset` is sent "only for the services
// actually shed". A flush whose events the connection's property filter
// removes withholds nothing from it, so it must not count as shed: a reset
// makes the client throw away and re-fetch a snapshot it has no reason to doubt.
describe('dev server quarantine and property filters', () => {
  function setup() {
    const clock = new FakeClock();
    const options = resolveDevServerOptions({
      batchWindowMs: { min: 5, max: 5 },
      heartbeatMs: 3_600_000,
      quarantine: {
        queueLimitBytes: 100,
        overflowsToQuarantine: 1,
        windowMs: 10_000,
        durationMs: 1000,
        healthyMs: 200,
        lowTierServices: ['analytics'],
      },
      wallClock: clock.wall,
    });
    const hub = new RealtimeHub(options, clock);
    const frames: ServerFrame[] = [];
    let queued = 0;
    const channel: FrameChannel = {
      writeFrame: (frame) => frames.push(frame),
      writeRaw: () => {},
      queuedBytes: () => queued,
      closeWithError: () => {},
      destroy: () => {},
    };
    const setQueued = (bytes: number) => {
      queued = bytes;
    };
    return { clock, hub, frames, channel, setQueued };
  }

  /** An SSE connection of org_q to the low-tier `analytics`, filtered to property p1. */
  function openAnalyticsOnP1(
    hub: ReturnType<typeof setup>['hub'],
    channel: ReturnType<typeof setup>['channel'],
  ) {
    return hub.open({
      transport: 'sse',
      identity: { orgId: 'org_q', userId: 'u_1' },
      token: undefined,
      tokenExpiresAt: undefined,
      origin: undefined,
      services: ['analytics'],
      propertyIds: ['p1'],
      clientCursor: undefined,
      channel,
    });
  }

  it('sends no reset for a low-tier service whose flushes during the quarantine were all filtered out', () => {
    const { clock, hub, frames, channel, setQueued } = setup();
    setQueued(1000); // a slow socket: the welcome's write overflows, quarantine starts
    const { connection } = openAnalyticsOnP1(hub, channel);
    expect(connection.quarantine?.quarantined).toBe(true);

    hub.publish('org_q', { service: 'analytics', entityType: 'chart', type: 'x', propertyId: 'p2' });
    clock.advance(5); // the flush: nothing in it is for this connection
    setQueued(0);
    clock.advance(1500); // healthy again: the quarantine ends
    expect(connection.quarantine?.quarantined).toBe(false);
    expect(frames.filter((f) => f.type === 'reset')).toEqual([]);

    // And the stream simply carries on.
    hub.publish('org_q', { service: 'analytics', entityType: 'chart', type: 'x', propertyId: 'p1' });
    clock.advance(5);
    expect(frames.at(-1)).toMatchObject({ type: 'batch', after: { analytics: 0 }, cursor: { analytics: 2 } });
    hub.shutdown();
  });

  it('still resets a low-tier service when an event for the connection was withheld', () => {
    const { clock, hub, frames, channel, setQueued } = setup();
    setQueued(1000);
    openAnalyticsOnP1(hub, channel);
    hub.publish('org_q', { service: 'analytics', entityType: 'chart', type: 'x', propertyId: 'p1' });
    clock.advance(5);
    expect(frames.filter((f) => f.type === 'batch')).toEqual([]);
    setQueued(0);
    clock.advance(1500);
    expect(frames.filter((f) => f.type === 'reset')).toEqual([
      { type: 'reset', services: ['analytics'], cursor: { analytics: 1 }, reason: 'quarantine' },
    ]);
    hub.shutdown();
  });
});
