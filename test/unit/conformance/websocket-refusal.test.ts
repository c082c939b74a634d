import { describe, expect, it } from 'vitest';
import { type CheckerWebSocket, openSession } from '../../../src/conformance/sessions';

// The checker reads the first message of a WebSocket for a refusal as the
// client does (src/transports/websocket-codes.ts): an `error` frame the
// client takes as `unauthorized` is one, even where the frame reader would
// refuse the frame (no `message`, a bad `retryAfterMs`).

type Listener = (event: { data?: unknown; code?: number; message?: unknown }) => void;

/** A socket that, once open, answers `hello` with `reply`. */
function answering(reply: string) {
  return class implements CheckerWebSocket {
    readyState = 0;
    readonly #listeners = new Map<string, Listener[]>();
    constructor(_url: string) {
      queueMicrotask(() => {
        this.readyState = 1;
        this.#emit('open', {});
      });
    }
    addEventListener(type: string, listener: Listener): void {
      this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
    }
    send(): void {
      queueMicrotask(() => this.#emit('message', { data: reply }));
    }
    close(): void {
      this.readyState = 3;
    }
    #emit(type: string, event: Parameters<Listener>[0]): void {
      for (const listener of this.#listeners.get(type) ?? []) listener(event);
    }
  };
}

const open = (reply: string) =>
  openSession('websocket', {
    base: 'http://127.0.0.1:9/v2/realtime',
    token: 'bad',
    services: ['tasks'],
    deadline: performance.now() + 2000,
    pollWaitSeconds: 1,
    WebSocket: answering(reply),
  });

describe('the WebSocket refusal the checker reads', () => {
  it.each([
    ['no message', { type: 'error', code: 'unauthorized' }, 'error frame unauthorized: "unauthorized"'],
    [
      'a retryAfterMs that is no number',
      { type: 'error', code: 'unauthorized', message: 'expired', retryAfterMs: 'soon' },
      'error frame unauthorized: "expired"',
    ],
  ])('is unauthorized for an error frame with %s, as the client reads it', async (_, frame, detail) => {
    expect(await open(JSON.stringify(frame))).toEqual({ kind: 'refused', code: 'unauthorized', detail });
  });

  it('names the code the client reads for one it does not know', async () => {
    const opened = await open(JSON.stringify({ type: 'error', code: 'invalid_token', message: 'nope' }));
    expect(opened).toEqual({
      kind: 'refused',
      code: 'server_error',
      detail: 'error frame invalid_token: "nope" (the SDK reads it as server_error)',
    });
  });
});
