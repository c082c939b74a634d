import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type SseMessage, SseParser, type SseParserOptions } from '../../../src/transports/sse-parser';

function parseChunks(chunks: Array<string | Uint8Array>, options?: SseParserOptions): SseMessage[] {
  const messages: SseMessage[] = [];
  const parser = new SseParser((message) => messages.push(message), options);
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return messages;
}

const parse = (text: string, options?: SseParserOptions): SseMessage[] => parseChunks([text], options);
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('SseParser: the WHATWG examples', () => {
  it('joins the data lines of one message with LF', () => {
    expect(parse('data: YHOO\ndata: +2\ndata: 10\n\n')).toEqual([{ event: 'message', data: 'YHOO\n+2\n10' }]);
  });

  it('handles comments, ids that persist and ids that are cleared, and one stripped space', () => {
    const stream =
      ': test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n';
    expect(parse(stream)).toEqual([
      { event: 'message', data: 'first event', id: '1' },
      { event: 'message', data: 'second event' },
      { event: 'message', data: ' third event' },
    ]);
  });

  it('dispatches a data field without value as empty data, and drops a message without a blank line', () => {
    expect(parse('data\n\ndata\ndata\n\ndata:')).toEqual([
      { event: 'message', data: '' },
      { event: 'message', data: '\n' },
    ]);
  });

  it('treats "data:test" and "data: test" alike', () => {
    expect(parse('data:test\n\ndata: test\n\n')).toEqual([
      { event: 'message', data: 'test' },
      { event: 'message', data: 'test' },
    ]);
  });
});

describe('SseParser: fields', () => {
  it('uses the event field as the type, and "message" for an empty one', () => {
    expect(parse('event: welcome\ndata: {}\n\nevent\ndata: x\n\n')).toEqual([
      { event: 'welcome', data: '{}' },
      { event: 'message', data: 'x' },
    ]);
  });

  it('does not carry the event type over to the next message', () => {
    expect(parse('event: batch\ndata: 1\n\ndata: 2\n\n').map((m) => m.event)).toEqual(['batch', 'message']);
  });

  it('ignores an id containing NUL and keeps the previous one', () => {
    expect(parse('id: a\ndata: 1\n\nid: b\0c\ndata: 2\n\n')).toEqual([
      { event: 'message', data: '1', id: 'a' },
      { event: 'message', data: '2', id: 'a' },
    ]);
  });

  it('accepts retry only when it is all digits', () => {
    const messages: SseMessage[] = [];
    const parser = new SseParser((m) => messages.push(m));
    parser.push('retry: 1500\ndata: a\n\nretry: 15x\ndata: b\n\nretry:\ndata: c\n\nretry: -1\ndata: d\n\n');
    expect(messages).toEqual([
      { event: 'message', data: 'a', retry: 1500 },
      { event: 'message', data: 'b' },
      { event: 'message', data: 'c' },
      { event: 'message', data: 'd' },
    ]);
    expect(parser.retry).toBe(1500);
  });

  it('keeps a retry of a message without data as the stream retry', () => {
    const parser = new SseParser(() => {});
    parser.push('retry: 3000\n\n');
    expect(parser.retry).toBe(3000);
  });

  it('ignores unknown fields and does not dispatch a message without data', () => {
    expect(parse('foo: bar\n\nevent: x\nid: 7\n\ndata: y\n\n')).toEqual([
      { event: 'message', data: 'y', id: '7' },
    ]);
  });

  it('strips only one leading space and keeps colons inside the value', () => {
    expect(parse('data:   a: b\n\n')).toEqual([{ event: 'message', data: '  a: b' }]);
  });
});

describe('SseParser: line ends', () => {
  const styles = { LF: '\n', CR: '\r', CRLF: '\r\n' };
  for (const [name, eol] of Object.entries(styles)) {
    it(`reads ${name} line ends`, () => {
      const stream = ['event: e', 'data: 1', 'data: 2', '', 'data: 3', '', ''].join(eol);
      expect(parse(stream)).toEqual([
        { event: 'e', data: '1\n2' },
        { event: 'message', data: '3' },
      ]);
    });
  }

  it('reads a mix of line ends in one stream', () => {
    expect(parse('data: a\r\ndata: b\rdata: c\n\r\n')).toEqual([{ event: 'message', data: 'a\nb\nc' }]);
  });

  it('treats a CR at the end of a chunk and an LF at the start of the next as one line end', () => {
    expect(parseChunks(['data: a\r', '\ndata: b\r', '\n\r', '\n'])).toEqual([
      { event: 'message', data: 'a\nb' },
    ]);
  });

  it('treats a CR at the end of a chunk followed by another line as a line end', () => {
    expect(parseChunks(['data: a\r', 'data: b\r', '\r'])).toEqual([{ event: 'message', data: 'a\nb' }]);
  });

  it('treats CR CR as two line ends (the second is the blank line)', () => {
    expect(parse('data: a\r\rdata: b\r\r')).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
  });
});

describe('SseParser: bytes', () => {
  it('strips one leading BOM, also when its bytes are split', () => {
    const bytes = utf8('\uFEFFdata: x\n\n');
    expect(parseChunks([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)])).toEqual([
      { event: 'message', data: 'x' },
    ]);
  });

  it('keeps a second BOM (it makes the first field name unknown)', () => {
    expect(parse('\uFEFF\uFEFFdata: x\n\ndata: y\n\n')).toEqual([{ event: 'message', data: 'y' }]);
  });

  it('does not strip a BOM that is not at the start of the stream', () => {
    expect(parse('data: \uFEFFx\n\n')).toEqual([{ event: 'message', data: '\uFEFFx' }]);
  });

  it('decodes multi-byte characters split at every byte', () => {
    const bytes = utf8('data: é€😀\n\n');
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual([
        { event: 'message', data: 'é€😀' },
      ]);
    }
  });

  it('discards an unfinished message at end() and is ready for a new stream', () => {
    const messages: SseMessage[] = [];
    const parser = new SseParser((m) => messages.push(m));
    parser.push('data: lost\n');
    parser.end();
    parser.push('\uFEFFdata: kept\n\n');
    expect(messages).toEqual([{ event: 'message', data: 'kept' }]);
  });
});

describe('SseParser: bounds', () => {
  it('rejects an invalid maxLineChars with a RangeError naming it', () => {
    expect(() => new SseParser(() => {}, { maxLineChars: 0 })).toThrow(/maxLineChars.*0/);
    expect(() => new SseParser(() => {}, { maxLineChars: 1.5 })).toThrow(RangeError);
  });

  // docs/options.md: the `production` build trusts its callers (the SSE
  // transport derives the bound from options already checked).
  describe('in the production build', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it('no longer refuses an invalid maxLineChars', () => {
      vi.stubEnv('NODE_ENV', 'production');
      expect(() => new SseParser(() => {}, { maxLineChars: 0 })).not.toThrow();
      expect(() => new SseParser(() => {}, { maxLineChars: 1.5 })).not.toThrow();
    });

    it.each([undefined, 1, 10, 12, Number.MAX_SAFE_INTEGER])(
      'parses with maxLineChars %s as the default build does',
      (maxLineChars) => {
        const stream = [
          'data: ok\n\nid: 1\ndata: 0123',
          '456789',
          'abcdef\ndata: more\n',
          '\ndata: next\n\n',
        ];
        const run = (mode: string) => {
          vi.stubEnv('NODE_ENV', mode);
          const overflows: number[] = [];
          const messages = parseChunks(stream, {
            maxLineChars,
            onOverflow: (o) => overflows.push(o.maxLineChars),
          });
          return { messages, overflows };
        };
        expect(run('production')).toEqual(run('test'));
      },
    );
  });

  it('discards a message whose line outgrows the bound across chunks, reports it once, and goes on', () => {
    const overflows: number[] = [];
    const messages = parseChunks(
      ['data: ok\n\nid: 1\ndata: 0123', '456789', 'abcdef\ndata: more\n', 'x', '\n\ndata: next\n\n'],
      {
        maxLineChars: 12,
        onOverflow: ({ maxLineChars }) => overflows.push(maxLineChars),
      },
    );
    expect(messages).toEqual([
      { event: 'message', data: 'ok' },
      { event: 'message', data: 'next', id: '1' },
    ]);
    expect(overflows).toEqual([12]);
  });

  it('discards a message whose line outgrows the bound within one chunk', () => {
    const overflows: unknown[] = [];
    expect(
      parse('data: 0123456789abcdef\n\ndata: ok\n\n', {
        maxLineChars: 10,
        onOverflow: (o) => overflows.push(o),
      }),
    ).toEqual([{ event: 'message', data: 'ok' }]);
    expect(overflows).toHaveLength(1);
  });

  it('discards a message whose data lines together outgrow the bound', () => {
    const overflows: unknown[] = [];
    const lines = 'data: 12345678\n'.repeat(5);
    expect(
      parse(`${lines}\ndata: ok\n\n`, { maxLineChars: 20, onOverflow: (o) => overflows.push(o) }),
    ).toEqual([{ event: 'message', data: 'ok' }]);
    expect(overflows).toHaveLength(1);
  });

  it('reads a line exactly at the bound', () => {
    expect(parse('data: 1234\n\n', { maxLineChars: 10 })).toEqual([{ event: 'message', data: '1234' }]);
  });

  it('reads a long line that arrives in many chunks in linear time', () => {
    const chunkSize = 1024;
    const chunks = 8 * 1024; // 8 Mi chars in 8192 chunks: a quadratic rescan would take minutes
    const piece = 'x'.repeat(chunkSize);
    let length = 0;
    const parser = new SseParser((message) => {
      length = message.data.length;
    });
    const started = performance.now();
    parser.push('data: ');
    for (let i = 0; i < chunks; i++) parser.push(piece);
    parser.push('\n\n');
    expect(length).toBe(chunkSize * chunks);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

// --- property tests ---------------------------------------------------------

interface Spec {
  event?: string;
  id?: string;
  retry?: number;
  comment?: string;
  dataLines: string[];
}

const noLineEnd = (s: string): boolean => !s.includes('\n') && !s.includes('\r');
const lineText = fc.string({ unit: 'binary', maxLength: 12 }).filter(noLineEnd);
const fieldText = fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).filter(noLineEnd);

const specArb: fc.Arbitrary<Spec> = fc.record(
  {
    event: fieldText,
    id: fc.oneof(fieldText, fc.constant('a\0b')),
    retry: fc.nat({ max: 100_000 }),
    comment: lineText,
    dataLines: fc.array(lineText, { maxLength: 4 }),
  },
  { requiredKeys: ['dataLines'] },
);

const eolArb = fc.constantFrom('\n', '\r', '\r\n');

/** Serialises the messages with a line end chosen per line. */
function serialise(specs: Spec[], eols: string[]): string {
  let i = 0;
  let out = '';
  const line = (text: string): void => {
    const eol = eols[i++ % eols.length]!;
    // A CR and then a blank line ended by LF would read as one CRLF: end that blank line with CRLF.
    out += text === '' && eol === '\n' && out.endsWith('\r') ? '\r\n' : `${text}${eol}`;
  };
  for (const spec of specs) {
    if (spec.comment !== undefined) line(`:${spec.comment}`);
    if (spec.event !== undefined) line(`event: ${spec.event}`);
    if (spec.id !== undefined) line(`id: ${spec.id}`);
    if (spec.retry !== undefined) line(`retry: ${spec.retry}`);
    for (const data of spec.dataLines) line(`data: ${data}`);
    line('');
  }
  return out;
}

/** What the spec says these messages dispatch. */
function expected(specs: Spec[]): SseMessage[] {
  let lastEventId = '';
  const out: SseMessage[] = [];
  for (const spec of specs) {
    if (spec.id !== undefined && !spec.id.includes('\0')) lastEventId = spec.id;
    if (spec.dataLines.length === 0) continue;
    const message: SseMessage = { event: spec.event ?? 'message', data: spec.dataLines.join('\n') };
    if (lastEventId !== '') message.id = lastEventId;
    if (spec.retry !== undefined) message.retry = spec.retry;
    out.push(message);
  }
  return out;
}

function splitAt<T extends { length: number; slice(a: number, b?: number): T }>(
  whole: T,
  cuts: number[],
): T[] {
  const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
  const parts: T[] = [];
  let from = 0;
  for (const point of points) {
    parts.push(whole.slice(from, point));
    from = point;
  }
  parts.push(whole.slice(from));
  return parts;
}

describe('SseParser: properties', () => {
  it('gives the same messages for the whole byte stream and for it split at any points', () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { maxLength: 6 }),
        fc.array(eolArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (specs, eols, cuts) => {
          const bytes = utf8(serialise(specs, eols));
          const whole = parseChunks([bytes]);
          expect(whole).toEqual(expected(specs));
          expect(parseChunks(splitAt(bytes, cuts))).toEqual(whole);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('gives the same messages for text chunks split at any points, including between CR and LF', () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { maxLength: 6 }),
        fc.array(eolArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (specs, eols, cuts) => {
          const text = serialise(specs, eols);
          expect(parseChunks(splitAt(text, cuts))).toEqual(expected(specs));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('gives the same messages when fed one byte at a time', () => {
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 4 }), eolArb, (specs, eol) => {
        const bytes = utf8(serialise(specs, [eol]));
        const singles: Uint8Array[] = [];
        for (let i = 0; i < bytes.length; i++) singles.push(bytes.subarray(i, i + 1));
        expect(parseChunks(singles)).toEqual(expected(specs));
      }),
      { numRuns: 100 },
    );
  });
});
