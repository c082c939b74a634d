import { describe, expect, it } from 'vitest';
import { MUTATION_ID_HEADER, newMutationId, withMutationId } from '../../../src/optimistic';

describe('MUTATION_ID_HEADER', () => {
  it('is the documented header name', () => {
    expect(MUTATION_ID_HEADER).toBe('X-Realtime-Mutation-Id');
  });
});

describe('newMutationId', () => {
  it('is m_ plus 21 URL-safe random characters, unique per call', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newMutationId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^m_[A-Za-z0-9_-]{21}$/);
  });

  it('makes a valid header value', () => {
    const id = newMutationId();
    expect(new Headers(withMutationId(undefined, id).headers).get(MUTATION_ID_HEADER)).toBe(id);
  });
});

describe('withMutationId', () => {
  it('creates a record of headers when init or its headers are missing', () => {
    expect(withMutationId(undefined, 'm_1')).toStrictEqual({ headers: { 'X-Realtime-Mutation-Id': 'm_1' } });
    expect(withMutationId({ method: 'POST' }, 'm_1')).toStrictEqual({
      method: 'POST',
      headers: { 'X-Realtime-Mutation-Id': 'm_1' },
    });
  });

  it('copies a record, replacing the header in any letter case, without mutating it', () => {
    const headers = { 'Content-Type': 'application/json', 'x-realtime-mutation-id': 'old' };
    const init: RequestInit = { method: 'POST', body: '{}', headers };
    // A copy made here, not by structuredClone: under the vmThreads pool that
    // returns objects of Node's realm, which toStrictEqual tells apart.
    const frozen = { method: init.method, body: init.body, headers: { ...headers } };
    const out = withMutationId(init, 'm_1');
    expect(out).toStrictEqual({
      method: 'POST',
      body: '{}',
      headers: { 'Content-Type': 'application/json', 'X-Realtime-Mutation-Id': 'm_1' },
    });
    expect(out).not.toBe(init);
    expect(out.headers).not.toBe(headers);
    expect(init).toStrictEqual(frozen);
  });

  it('copies an array of pairs, replacing the header, without mutating it', () => {
    const headers: [string, string][] = [
      ['Accept', 'application/json'],
      ['X-REALTIME-MUTATION-ID', 'old'],
    ];
    const init: RequestInit = { headers };
    const out = withMutationId(init, 'm_2');
    expect(out.headers).toStrictEqual([
      ['Accept', 'application/json'],
      ['X-Realtime-Mutation-Id', 'm_2'],
    ]);
    expect(out.headers).not.toBe(headers);
    expect(headers).toStrictEqual([
      ['Accept', 'application/json'],
      ['X-REALTIME-MUTATION-ID', 'old'],
    ]);
    expect(init.headers).toBe(headers);
  });

  it('copies a Headers object, replacing the header, without mutating it', () => {
    const headers = new Headers({ Authorization: 'Bearer t', 'X-Realtime-Mutation-Id': 'old' });
    const init: RequestInit = { method: 'PATCH', headers };
    const out = withMutationId(init, 'm_3');
    expect(out.headers).toBeInstanceOf(Headers);
    expect(out.headers).not.toBe(headers);
    const copy = out.headers as Headers;
    expect(copy.get('authorization')).toBe('Bearer t');
    expect(copy.get(MUTATION_ID_HEADER)).toBe('m_3');
    expect([...copy.keys()]).toStrictEqual(['authorization', 'x-realtime-mutation-id']);
    expect(headers.get(MUTATION_ID_HEADER)).toBe('old');
    expect(init.headers).toBe(headers);
    expect(out.method).toBe('PATCH');
  });

  it('handles a Headers-like object from another realm or polyfill', () => {
    const entries: [string, string][] = [['accept', 'text/plain']];
    const like = {
      forEach(callback: (value: string, name: string) => void) {
        for (const [name, value] of entries) callback(value, name);
      },
    };
    const out = withMutationId({ headers: like as unknown as HeadersInit }, 'm_4');
    const copy = out.headers as Headers;
    expect(copy.get('accept')).toBe('text/plain');
    expect(copy.get(MUTATION_ID_HEADER)).toBe('m_4');
    expect(entries).toStrictEqual([['accept', 'text/plain']]);
  });

  // fetch takes any iterable of pairs (WebIDL sequence): `headers.entries()`, a generator, a Map, a Set.
  it.each([
    [
      'an iterator from Headers.entries()',
      () =>
        new Headers([
          ['Accept', 'text/plain'],
          ['X-Realtime-Mutation-Id', 'old'],
        ]).entries(),
    ],
    [
      'a generator',
      function* () {
        yield ['accept', 'text/plain'];
        yield ['x-realtime-mutation-id', 'old'];
      },
    ],
    [
      'a Map',
      () =>
        new Map([
          ['accept', 'text/plain'],
          ['x-realtime-mutation-id', 'old'],
        ]),
    ],
    [
      'a Set of pairs',
      () =>
        new Set([
          ['accept', 'text/plain'],
          ['x-realtime-mutation-id', 'old'],
        ]),
    ],
  ])('copies %s to an array of pairs, replacing the header', (_, make) => {
    const out = withMutationId({ headers: make() as unknown as HeadersInit }, 'm_8');
    expect(out.headers).toStrictEqual([
      ['accept', 'text/plain'],
      ['X-Realtime-Mutation-Id', 'm_8'],
    ]);
  });

  it('leaves the input usable for a fetch Request', () => {
    const out = withMutationId({ method: 'POST', headers: [['a', 'b']] }, 'm_5');
    const request = new Request('https://example.test/api', out);
    expect(request.headers.get('x-realtime-mutation-id')).toBe('m_5');
    expect(request.headers.get('a')).toBe('b');
  });

  it("keeps a Request's headers, method and body when that Request is passed as init too", async () => {
    const request = new Request('https://example.test/api', {
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
      body: '{"a":1}',
    });
    const sent = new Request(request, withMutationId(request, 'm_6'));
    expect(sent.method).toBe('POST');
    expect(sent.headers.get('authorization')).toBe('Bearer t');
    expect(sent.headers.get('content-type')).toBe('application/json');
    expect(sent.headers.get(MUTATION_ID_HEADER)).toBe('m_6');
    await expect(sent.text()).resolves.toBe('{"a":1}');
    // What the doc warns against: headers of init replace all of the request's.
    const bare = new Request(
      new Request(request.url, { headers: { Authorization: 'Bearer t' } }),
      withMutationId({}, 'm_7'),
    );
    expect(bare.headers.get('authorization')).toBeNull();
  });

  it('accepts an id of exactly 200 visible ASCII characters', () => {
    const id = `!${'~'.repeat(199)}`;
    expect(new Headers(withMutationId(undefined, id).headers).get(MUTATION_ID_HEADER)).toBe(id);
  });

  it.each([
    ['', '""'],
    ['a b', '"a b"'],
    ['x'.repeat(201), `"${'x'.repeat(38)}…`],
    [null, 'null'],
  ])('rejects mutation id %j with a RangeError', (id, shown) => {
    expect(() => withMutationId({}, id as string)).toThrow(
      new RangeError(`mutationId must be a string of 1..200 visible ASCII [!-~], got ${shown}`),
    );
  });
});
