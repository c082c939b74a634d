import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../src/transports/sse-parser';

// A line that outgrew `maxLineChars` while part of it was
// already kept from an earlier chunk left that part behind. It was prepended
// to the next line, the blank line ending the dropped message, so that message
// never ended and the next message (a heartbeat, a reset, a batch) was dropped
// with it.

function parseChunks(chunks: Array<string | Uint8Array>, maxLineChars: number): unknown[] {
  const out: unknown[] = [];
  const parser = new SseParser((message) => out.push(message), {
    maxLineChars,
    onOverflow: () => out.push('overflow'),
  });
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return out;
}

describe('SseParser: an oversized line split over chunks', () => {
  it('drops only the oversized message, not the one after it', () => {
    const chunks = ['event: batch\nd', 'ata: 0123456789AB', 'CDEF\n\n', 'event: heartbeat\ndata: 1\n\n'];
    expect(parseChunks(chunks, 16)).toEqual(['overflow', { event: 'heartbeat', data: '1' }]);
  });

  it('gives the same messages however the bytes are split', () => {
    const line = fc.oneof(
      fc.constantFrom(
        '',
        'data: x',
        'data: 0123456789abcdef',
        'event: e',
        'id: 7',
        ': c',
        'data',
        'data: é😀ab',
      ),
      fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')),
    );
    const eol = fc.constantFrom('\n', '\r', '\r\n');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(line, eol), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 1, max: 16 }),
        (lines, cuts, max) => {
          const bytes = new TextEncoder().encode(lines.map(([l, e]) => l + e).join(''));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let from = 0;
          for (const point of points) {
            chunks.push(bytes.slice(from, point));
            from = point;
          }
          chunks.push(bytes.slice(from));
          expect(parseChunks(chunks, max)).toEqual(parseChunks([bytes], max));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
