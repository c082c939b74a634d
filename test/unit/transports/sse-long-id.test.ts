import { describe, expect, it } from 'vitest';
import { kit } from '../../../src/transports/kit';
import { sseTransport } from '../../../src/transports/sse';
import { flush, recordingContext, scriptedFetch, streamingResponse } from './fakes';

describe('SSE with the client maxFrameChars', () => {
  it('keeps a small frame whose id line (the whole cursor) is longer than maxFrameChars', async () => {
    const stream = streamingResponse();
    const { fetch } = scriptedFetch(() => stream.response);
    const ctx = recordingContext();
    await sseTransport({ fetch, maxFrameChars: 1024 }, kit).connect(ctx);
    // The connection's whole cursor, as PROTOCOL.md says batches carry: 150 services.
    const id = 'x'.repeat(3000);
    const data = '{"type":"batch","service":"tasks","after":5,"cursor":{"tasks":6},"events":[]}';
    stream.write(`event: batch\nid: ${id}\ndata: ${data}\n\n`);
    await flush();
    expect(ctx.frames).toContain(data);
  });
});
