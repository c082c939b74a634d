import { describe, expect, it, vi } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { assertTransportList, resolveTransports, TransportChain } from '../../../src/transports/fallback';
import type { Transport, TransportConnection } from '../../../src/transports/types';
import { FakeWebSocket, recordingContext, scriptedFetch } from './fakes';

const connection = (name: string): TransportConnection & { name: string } => ({
  name,
  update: async () => {},
  close: () => {},
});

/** A transport that answers each connect with the next scripted outcome (the last one repeats). */
function scripted(name: string, outcomes: Array<'ok' | unknown>): Transport & { attempts: number } {
  const transport = {
    name,
    attempts: 0,
    connect: async () => {
      const outcome = outcomes[Math.min(transport.attempts, outcomes.length - 1)];
      transport.attempts++;
      if (outcome === 'ok') return connection(name);
      throw outcome;
    },
  };
  return transport;
}

const unavailable = () => new RealtimeError('transport_unavailable', 'refused');

/** A connect as the loop makes it, whose server then welcomes it (`noteWelcome(true)`). */
async function welcomed(chain: TransportChain): Promise<void> {
  await chain.connect(recordingContext());
  chain.noteWelcome(true);
}

describe('TransportChain', () => {
  it('connects with the first transport that can, and names it', async () => {
    const ws = scripted('websocket', [unavailable()]);
    const sse = scripted('sse', ['ok']);
    const chain = new TransportChain([ws, sse]);
    expect(chain.currentName).toBeUndefined();
    const result = (await chain.connect(recordingContext())) as { name?: string };
    expect(result.name).toBe('sse');
    expect(chain.currentName).toBe('sse');
  });

  it('moves on after a failure that is not a RealtimeError (a network failure)', async () => {
    const chain = new TransportChain([scripted('a', [new TypeError('fetch failed')]), scripted('b', ['ok'])]);
    await chain.connect(recordingContext());
    expect(chain.currentName).toBe('b');
  });

  it.each(['unauthorized', 'forbidden', 'overloaded', 'bad_request', 'server_error'] as const)(
    'throws a %s answer at once without trying the next transport',
    async (code) => {
      const error = new RealtimeError(code, 'server said no', { status: 401 });
      const next = scripted('sse', ['ok']);
      const chain = new TransportChain([scripted('websocket', [error]), next]);
      await expect(chain.connect(recordingContext())).rejects.toBe(error);
      expect(next.attempts).toBe(0);
    },
  );

  it('throws the last error when every transport is unavailable', async () => {
    const last = new RealtimeError('transport_unavailable', 'last one');
    const chain = new TransportChain([
      scripted('a', [unavailable()]),
      scripted('b', [unavailable()]),
      scripted('c', [last]),
    ]);
    await expect(chain.connect(recordingContext())).rejects.toBe(last);
  });

  it('stops when the signal is aborted, whatever the error', async () => {
    const ctx = recordingContext();
    const next = scripted('b', ['ok']);
    const first: Transport = {
      name: 'a',
      connect: async () => {
        ctx.abort.abort();
        throw unavailable();
      },
    };
    await expect(new TransportChain([first, next]).connect(ctx)).rejects.toMatchObject({
      code: 'transport_unavailable',
    });
    expect(next.attempts).toBe(0);
  });

  it('starts later connects with the transport that was welcomed, and keeps it', async () => {
    const ws = scripted('websocket', [unavailable()]);
    const sse = scripted('sse', ['ok']);
    const poll = scripted('long-poll', ['ok']);
    const chain = new TransportChain([ws, sse, poll]);
    await welcomed(chain);
    await welcomed(chain);
    await welcomed(chain);
    expect(ws.attempts).toBe(1);
    expect(sse.attempts).toBe(3);
    expect(chain.currentName).toBe('sse');
  });

  it('tries the others, in configured order, when the kept transport fails to connect', async () => {
    const ws = scripted('websocket', [unavailable(), 'ok']);
    const sse = scripted('sse', ['ok', unavailable()]);
    const poll = scripted('long-poll', ['ok']);
    const chain = new TransportChain([ws, sse, poll]);
    await welcomed(chain);
    expect(chain.currentName).toBe('sse');
    await welcomed(chain);
    expect(chain.currentName).toBe('websocket');
    expect(poll.attempts).toBe(0);
    // WebSocket is kept now: the next connect tries it, and only it.
    await welcomed(chain);
    expect([ws.attempts, sse.attempts, poll.attempts]).toEqual([3, 2, 0]);
  });

  it('keeps trying the first transport while the one that connected is not welcomed', async () => {
    const ws = scripted('websocket', [unavailable()]);
    const sse = scripted('sse', ['ok']);
    const chain = new TransportChain([ws, sse]);
    // Connected, and then the server answered with an error, say: not a working transport yet.
    await chain.connect(recordingContext());
    await chain.connect(recordingContext());
    expect([ws.attempts, sse.attempts]).toEqual([2, 2]);
    chain.noteWelcome(true);
    await chain.connect(recordingContext());
    expect([ws.attempts, sse.attempts]).toEqual([2, 3]);
  });
});

describe('TransportChain.noteWelcome(false): a transport that gets no welcome', () => {
  /** A connect whose attempt then gets no welcome (a welcome timeout, a close before it). */
  const unwelcomed = async (chain: TransportChain): Promise<void> => {
    await chain.connect(recordingContext()).catch(() => {});
    chain.noteWelcome(false);
  };

  it('moves to the end of the order after twice in a row', async () => {
    const ws = scripted('websocket', ['ok']);
    const sse = scripted('sse', ['ok']);
    const poll = scripted('long-poll', ['ok']);
    const chain = new TransportChain([ws, sse, poll]);
    await unwelcomed(chain);
    await unwelcomed(chain);
    expect(ws.attempts).toBe(2);
    await chain.connect(recordingContext());
    expect(chain.currentName).toBe('sse');
    expect([ws.attempts, sse.attempts, poll.attempts]).toEqual([2, 1, 0]);
  });

  it('is tried after every other transport, the most recently silent last', async () => {
    const tried: string[] = [];
    let working = '';
    const make = (name: string): Transport => ({
      name,
      connect: async () => {
        tried.push(name);
        if (name === working) return connection(name);
        throw unavailable();
      },
    });
    const chain = new TransportChain([make('websocket'), make('sse'), make('long-poll')]);
    /** Two unwelcomed attempts through `name`; returns the order of the next connect. */
    const silence = async (name: string): Promise<string[]> => {
      working = name;
      await unwelcomed(chain);
      await unwelcomed(chain);
      working = '';
      tried.length = 0;
      await chain.connect(recordingContext()).catch(() => {});
      return [...tried];
    };
    expect(await silence('websocket')).toEqual(['sse', 'long-poll', 'websocket']);
    expect(await silence('sse')).toEqual(['long-poll', 'websocket', 'sse']);
    // Every one silent in turn: the configured order again.
    expect(await silence('long-poll')).toEqual(['websocket', 'sse', 'long-poll']);
  });

  it('needs the same transport twice, with no welcome in between', async () => {
    const ws = scripted('websocket', [unavailable(), 'ok']);
    const sse = scripted('sse', ['ok']);
    const chain = new TransportChain([ws, sse]);
    // SSE (WebSocket unavailable), then WebSocket: one each, not twice the same.
    await unwelcomed(chain);
    await unwelcomed(chain);
    // A welcome in between: the next one is a first one again.
    await welcomed(chain);
    await unwelcomed(chain);
    await chain.connect(recordingContext());
    expect(chain.currentName).toBe('websocket');
    expect([ws.attempts, sse.attempts]).toEqual([5, 1]);
  });

  it('blames the transport tried last, also when its connect never settled', async () => {
    const ctx = recordingContext();
    const hanging: Transport = { name: 'websocket', connect: () => new Promise(() => {}) };
    const sse = scripted('sse', ['ok']);
    const chain = new TransportChain([hanging, sse]);
    for (let i = 0; i < 2; i++) {
      void chain.connect(ctx);
      chain.noteWelcome(false);
    }
    await chain.connect(recordingContext());
    expect(chain.currentName).toBe('sse');
  });

  it('is preferred again once welcomed', async () => {
    const ws = scripted('websocket', ['ok']);
    const sse = scripted('sse', ['ok', unavailable()]);
    const chain = new TransportChain([ws, sse]);
    await unwelcomed(chain);
    await unwelcomed(chain);
    await welcomed(chain);
    expect(chain.currentName).toBe('sse');
    // SSE unavailable: WebSocket, now last, connects and is welcomed.
    await welcomed(chain);
    expect(chain.currentName).toBe('websocket');
    await welcomed(chain);
    expect([ws.attempts, sse.attempts]).toEqual([4, 2]);
  });

  it('is not preloaded: the transport tried first is', async () => {
    const calls: string[] = [];
    const make = (name: string): Transport => ({
      name,
      connect: async () => connection(name),
      preload: () => calls.push(name),
    });
    const chain = new TransportChain([make('websocket'), make('sse')]);
    await unwelcomed(chain);
    await unwelcomed(chain);
    // Each connect readies its transport first.
    expect(calls).toEqual(['websocket', 'websocket']);
    calls.length = 0;
    chain.preload();
    expect(calls).toEqual(['sse']);
  });

  it('changes nothing with a single transport', async () => {
    const only = scripted('websocket', ['ok']);
    const chain = new TransportChain([only]);
    for (let i = 0; i < 3; i++) await unwelcomed(chain);
    await chain.connect(recordingContext());
    expect(only.attempts).toBe(4);
    expect(chain.currentName).toBe('websocket');
  });
});

describe('TransportChain.preload', () => {
  it('asks the transport tried first, and survives one that throws', () => {
    const calls: string[] = [];
    const make = (name: string, preload?: () => void): Transport => ({
      name,
      connect: async () => connection(name),
      ...(preload ? { preload } : {}),
    });
    new TransportChain([make('a', () => calls.push('a')), make('b', () => calls.push('b'))]).preload();
    expect(calls).toEqual(['a']);
    new TransportChain([make('plain'), make('b', () => calls.push('b'))]).preload();
    expect(calls).toEqual(['a']);
    expect(() =>
      new TransportChain([
        make('bad', () => {
          throw new Error('custom preload broke');
        }),
      ]).preload(),
    ).not.toThrow();
  });
});

describe('resolveTransports', () => {
  it('builds the built-ins by name and keeps Transport objects', () => {
    const custom: Transport = { name: 'custom', connect: async () => connection('custom') };
    const list = resolveTransports(['websocket', 'sse', 'long-poll', custom], {});
    expect(list.map((t) => t.name)).toEqual(['websocket', 'sse', 'long-poll', 'custom']);
    expect(list[3]).toBe(custom);
  });
  it('loads a named built-in on its first connect; a failed load is transport_unavailable and retried', async () => {
    vi.doMock('../../../src/transports/sse', () => {
      throw new Error('chunk 404 after a deploy');
    });
    const { fetch, calls } = scriptedFetch(() => new Response(null, { status: 401 }));
    const [sse] = resolveTransports(['sse'], { fetch });
    await expect(sse!.connect(recordingContext())).rejects.toMatchObject({
      code: 'transport_unavailable',
      message: 'could not load the sse transport',
    });
    expect(calls).toHaveLength(0);
    vi.doUnmock('../../../src/transports/sse');
    vi.resetModules();
    await expect(sse!.connect(recordingContext())).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toHaveLength(1);
  });

  it('hands the platform WebSocket and fetch to the built-ins', async () => {
    const sockets: FakeWebSocket[] = [];
    class RecordingWebSocket extends FakeWebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const { fetch, calls } = scriptedFetch(() => new Response(null, { status: 401 }));
    const [ws, sse] = resolveTransports(['websocket', 'sse'], { WebSocket: RecordingWebSocket, fetch });
    ws!.connect(recordingContext()).catch(() => {});
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    await expect(sse!.connect(recordingContext())).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toHaveLength(1);
  });
});

// options.ts checks the `transports` option with it, once; resolveTransports trusts it.
describe('assertTransportList', () => {
  it('rejects an unknown name with a RangeError naming the entry and the value', () => {
    expect(() => assertTransportList('transports', ['websocket', 'carrier-pigeon'])).toThrow(
      /transports\[1\].*"carrier-pigeon"/,
    );
    expect(() => assertTransportList('transports', [42])).toThrow(RangeError);
    expect(() => assertTransportList('transports', [null])).toThrow(/transports\[0\].*null/);
    expect(() =>
      assertTransportList('transports', [Object.assign(() => {}, { connect: async () => connection('f') })]),
    ).toThrow(RangeError);
    expect(() => assertTransportList('transports', [{ name: 'x' }])).toThrow(RangeError);
    expect(() => assertTransportList('transports', [{ connect: async () => connection('x') }])).toThrow(
      RangeError,
    );
    expect(() => assertTransportList('transports', [])).toThrow(RangeError);
    expect(() => assertTransportList('transports', 'websocket')).toThrow(RangeError);
    expect(() => assertTransportList('transports', ['toString'])).toThrow(RangeError);
  });

  it('accepts built-in names and Transport objects', () => {
    const custom: Transport = { name: 'custom', connect: async () => connection('custom') };
    expect(() => assertTransportList('transports', ['websocket', 'sse', 'long-poll', custom])).not.toThrow();
  });
});
