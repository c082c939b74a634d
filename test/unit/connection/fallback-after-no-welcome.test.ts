import { describe, expect, it, onTestFinished } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { TransportChain } from '../../../src/transports/fallback';
import type { Transport, TransportConnection } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// A transport whose server never sends `welcome` (a proxy that accepts the
// WebSocket upgrade and then holds every frame, one that buffers an event
// stream) fails each attempt with `connect_timeout`. The chain moved on only
// when `connect` rejected with `transport_unavailable`, so every next attempt
// tried the same transport first again, for ever: realtime never worked for
// that user although the next transport would have.

/**
 * How a transport answers one connect: `hang` never settles (a WebSocket
 * resolves on the server's first frame), `silent` opens and sends nothing,
 * `close` opens and ends at once, before the loop has the connection in
 * hand (`closeLater`: 10 ms after), `welcome` works, `unavailable` rejects
 * so the chain moves on, `refuse` opens and gets the server's `error` frame.
 */
type Behaviour = 'hang' | 'silent' | 'close' | 'closeLater' | 'welcome' | 'unavailable' | 'refuse';

/** Builds transports that answer each connect with the next behaviour of their script (the last repeats). */
function world() {
  const clock = new FakeClock();
  const tried: string[] = [];
  const welcomes: string[] = [];
  const failures: string[] = [];
  const transport = (name: string, script: Behaviour[]): Transport => {
    let n = 0;
    return {
      name,
      connect: (ctx) => {
        tried.push(name);
        const behaviour = script[Math.min(n++, script.length - 1)]!;
        if (behaviour === 'unavailable')
          return Promise.reject(new RealtimeError('transport_unavailable', 'refused'));
        const connection: TransportConnection = { update: async () => {}, close: () => {} };
        if (behaviour === 'hang') {
          return new Promise((_, reject) =>
            ctx.signal.addEventListener('abort', () => reject(new RealtimeError('closed', 'aborted'))),
          );
        }
        if (behaviour === 'closeLater') clock.setTimeout(() => ctx.onClose({}), 10);
        queueMicrotask(() => {
          if (behaviour === 'welcome') ctx.onFrame(welcomeFrame(`${name}${n}`));
          else if (behaviour === 'close') ctx.onClose({});
          else if (behaviour === 'refuse')
            ctx.onFrame({ type: 'error', code: 'server_error', message: 'busy' });
        });
        return Promise.resolve(connection);
      },
    };
  };
  const run = (transports: Transport[]) => {
    const loop = scriptedLoop(
      clock,
      new TransportChain(transports),
      quietSink({
        welcome: (_frame, name) => welcomes.push(name),
        disconnected: (error) => failures.push(error.code),
      }),
    );
    loop.start();
    onTestFinished(() => loop.stop());
    return loop;
  };
  /** Lets `ms` pass in small steps, so every attempt the loop starts runs. */
  const pass = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 50) {
      await flushPromises();
      clock.advance(50);
    }
    await flushPromises();
  };
  return { transport, run, pass, tried, welcomes, failures };
}

describe('a transport that connects but is never welcomed', () => {
  it('hands over to the next transport after two welcome timeouts in a row (a WebSocket that hangs)', async () => {
    const w = world();
    w.run([w.transport('websocket', ['hang']), w.transport('sse', ['welcome'])]);
    // Two timeouts of 1 s and a backoff of 100-200 ms after each.
    await w.pass(2600);
    expect(w.tried).toEqual(['websocket', 'websocket', 'sse']);
    expect(w.failures).toEqual(['connect_timeout', 'connect_timeout']);
    expect(w.welcomes).toEqual(['sse']);
  });

  it('does the same for a transport whose connect resolves and that then says nothing (a buffering proxy)', async () => {
    const w = world();
    w.run([w.transport('sse', ['silent']), w.transport('long-poll', ['welcome'])]);
    await w.pass(2600);
    expect(w.tried).toEqual(['sse', 'sse', 'long-poll']);
    expect(w.welcomes).toEqual(['long-poll']);
  });

  it('and for one whose connection closes before the welcome', async () => {
    const w = world();
    w.run([w.transport('sse', ['close', 'closeLater']), w.transport('long-poll', ['welcome'])]);
    await w.pass(600);
    expect(w.failures).toEqual(['connection_lost', 'connection_lost']);
    expect(w.tried).toEqual(['sse', 'sse', 'long-poll']);
    expect(w.welcomes).toEqual(['long-poll']);
  });

  it('keeps the transport that took over, and tries the silent one only after all others', async () => {
    const w = world();
    const loop = w.run([
      w.transport('websocket', ['hang']),
      w.transport('sse', ['welcome', 'unavailable']),
      w.transport('long-poll', ['welcome']),
    ]);
    await w.pass(2600);
    expect(w.welcomes).toEqual(['sse']);
    // SSE fails to connect now: long-poll is next, not the silent WebSocket.
    loop.reconnectNow();
    await w.pass(100);
    expect(w.tried).toEqual(['websocket', 'websocket', 'sse', 'sse', 'long-poll']);
    expect(w.welcomes).toEqual(['sse', 'long-poll']);
  });

  it('does not demote a transport for one slow welcome', async () => {
    const w = world();
    const loop = w.run([
      w.transport('websocket', ['hang', 'welcome', 'hang', 'welcome']),
      w.transport('sse', ['welcome']),
    ]);
    await w.pass(1300);
    expect(w.welcomes).toEqual(['websocket']);
    // The welcome in between: the next timeout is a first one again.
    loop.reconnectNow();
    await w.pass(1300);
    expect(w.tried).toEqual(['websocket', 'websocket', 'websocket', 'websocket']);
    expect(w.welcomes).toEqual(['websocket', 'websocket']);
  });

  it('counts neither a server answer nor an attempt the client gave up itself', async () => {
    const w = world();
    const loop = w.run([
      w.transport('websocket', ['refuse', 'refuse', 'hang']),
      w.transport('sse', ['welcome']),
    ]);
    await w.pass(600);
    expect(w.failures).toEqual(['server_error', 'server_error']);
    // A reconnect (the network back, a tab shown) abandons a hanging attempt: no failure of the transport.
    loop.reconnectNow();
    await w.pass(50);
    loop.reconnectNow();
    await w.pass(50);
    expect(w.tried).toEqual(['websocket', 'websocket', 'websocket', 'websocket', 'websocket']);
    expect(w.welcomes).toEqual([]);
  });

  it('keeps retrying the only transport of a one-transport list', async () => {
    const w = world();
    w.run([w.transport('websocket', ['hang', 'hang', 'hang', 'welcome'])]);
    // Three timeouts open the circuit (the default threshold): its cooldown is 1 s.
    await w.pass(5000);
    expect(w.tried).toEqual(['websocket', 'websocket', 'websocket', 'websocket']);
    expect(w.welcomes).toEqual(['websocket']);
  });

  it('takes a silent transport back once it is welcomed again', async () => {
    const w = world();
    const loop = w.run([
      w.transport('websocket', ['hang', 'hang', 'welcome']),
      w.transport('sse', ['welcome', 'unavailable']),
    ]);
    await w.pass(2600);
    expect(w.welcomes).toEqual(['sse']);
    // SSE fails to connect: the silent WebSocket is the one left, and it works now.
    loop.reconnectNow();
    await w.pass(100);
    expect(w.welcomes).toEqual(['sse', 'websocket']);
    // Welcomed: it is the preferred one again, tried first.
    loop.reconnectNow();
    await w.pass(100);
    expect(w.tried.slice(-1)).toEqual(['websocket']);
    expect(w.welcomes).toEqual(['sse', 'websocket', 'websocket']);
  });
});
