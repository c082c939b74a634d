import { describe, expect, it } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { MemoryStorage } from '../../../src/testing/memory-storage';
import { TransportChain } from '../../../src/transports/fallback';
import type { Transport, TransportConnection } from '../../../src/transports/types';
import { recordingContext } from './fakes';

// Review of 79ee9a6 (the browser remembers the transport it fell back to):
// each test shows a suspected defect and fails on that commit.

const KEY = 'tabwire:v1:app:org_1:u_1:transport';
/** Where a chain over websocket, sse and long-poll keeps it: per list too. */
const STORED = `${KEY}:websocket,sse,long-poll`;
const NOW = 1_700_000_000_000;

/** A transport that answers each connect with the next scripted outcome (the last one repeats); counts preloads. */
function scripted(name: string, outcomes: Array<'ok' | unknown> = ['ok']) {
  const transport = {
    name,
    attempts: 0,
    preloads: 0,
    preload: () => {
      transport.preloads++;
    },
    connect: async (): Promise<TransportConnection> => {
      const outcome = outcomes[Math.min(transport.attempts, outcomes.length - 1)];
      transport.attempts++;
      if (outcome === 'ok') return { update: async () => {}, close: () => {} };
      throw outcome;
    },
  } satisfies Transport & { attempts: number; preloads: number };
  return transport;
}

const unavailable = () =>
  new RealtimeError('transport_unavailable', 'WebSocket error before the server answered');

async function attempt(chain: TransportChain, welcomed: boolean): Promise<string | undefined> {
  await chain.connect(recordingContext());
  chain.noteWelcome(welcomed);
  return chain.currentName;
}

describe('TransportChain remembering a fallback (review)', () => {
  it('preloads the remembered transport, the one its first connect tries first', async () => {
    // The client calls preload() when the first subscriber comes, before the
    // election and the first connect: "the first transport's code downloads
    // while the tabs elect a leader". With SSE remembered, the chain downloads
    // WebSocket's code (never used this hour) and SSE's only once it connects.
    const storage = new MemoryStorage();
    storage.setItem(STORED, JSON.stringify(['sse', NOW - 1000]));
    const [ws, sse, lp] = ['websocket', 'sse', 'long-poll'].map((name) => scripted(name));
    const chain = new TransportChain([ws!, sse!, lp!], storage, KEY, () => NOW);
    chain.preload();
    expect([ws!.preloads, sse!.preloads]).toEqual([0, 1]);
  });

  it('does not pin the browser to a fallback that cost no timeout (a transient transport_unavailable)', async () => {
    // The memory exists to skip the 22 to 48 s of connect timeouts behind a
    // proxy that holds frames. A fallback past a transport that failed at once
    // (one WebSocket error during a server's deploy, a blip) saved nothing,
    // yet it is written too: every page load and new leader of the browser
    // then runs on SSE for an hour (and each of those chains for its life),
    // though WebSocket works again.
    const storage = new MemoryStorage();
    const page = (ws: ReturnType<typeof scripted>) =>
      new TransportChain([ws, scripted('sse'), scripted('long-poll')], storage, KEY, () => NOW);
    expect(await attempt(page(scripted('websocket', [unavailable()])), true)).toBe('sse');
    const next = scripted('websocket');
    expect(await attempt(page(next), true)).toBe('websocket');
    expect(next.attempts).toBe(1);
  });

  it("is not forgotten by a welcome on another client's first transport when that is not this one's", async () => {
    // The key is per app and scope, not per `transports` list: two pages of
    // one app (a dashboard with the default list, an embed with
    // ['long-poll']) lead the same tabs in turn. A welcome on the embed's
    // first transport is read as "the network changed" and removes what the
    // dashboard learnt, though long-poll was the dashboard's fallback too:
    // the dashboard's next leader waits through the dead transports again.
    const storage = new MemoryStorage();
    const dashboard = new TransportChain(
      [scripted('websocket'), scripted('sse'), scripted('long-poll')],
      storage,
      KEY,
      () => NOW,
    );
    // WebSocket, then SSE, each held twice (moved to the end), then long-poll welcomed.
    for (const welcomed of [false, false, false, false]) await attempt(dashboard, welcomed);
    expect(await attempt(dashboard, true)).toBe('long-poll');
    const embed = new TransportChain([scripted('long-poll')], storage, KEY, () => NOW);
    expect(await attempt(embed, true)).toBe('long-poll');
    expect(JSON.parse(storage.getItem(STORED)!)).toEqual(['long-poll', NOW]);
  });
});
