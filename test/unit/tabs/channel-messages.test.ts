import { describe, expect, it } from 'vitest';
import { type ChannelMessage, parseChannelMessage } from '../../../src/tabs/channel-messages';

const base = { v: 1, from: 'tab-a' } as const;

const valid: ChannelMessage[] = [
  { ...base, type: 'hello' },
  { ...base, type: 'hello', to: 'tab-b' },
  { ...base, type: 'needs', services: ['tasks', 'crm'], propertyFilter: null },
  { ...base, type: 'needs', services: [], propertyFilter: 'p1' },
  { ...base, type: 'bye' },
  { ...base, type: 'leader', leaderTabId: 'tab-a' },
  { ...base, type: 'frame', frame: '{"type":"heartbeat","serverTime":1}' },
  { ...base, type: 'frame', frame: { type: 'heartbeat', serverTime: 1 } },
  {
    ...base,
    type: 'state',
    status: 'connected',
    transport: 'websocket',
    circuit: { state: 'closed', consecutiveFailures: 0 },
    lastSuccessAt: 123,
    connectionId: 'c1',
  },
  {
    ...base,
    type: 'state',
    status: 'reconnecting',
    circuit: { state: 'open', consecutiveFailures: 3, openedAt: 5 },
  },
  { ...base, type: 'flags', flags: {} },
  { ...base, type: 'flags', flags: { enabled: false, rolloutPercent: 12.5, disabledServices: ['tasks'] } },
  { ...base, type: 'cursor', cursor: { tasks: 4, crm: 0 } },
];

describe('parseChannelMessage', () => {
  it.each(valid.map((message) => [message.type, message] as const))(
    'accepts a valid %s message',
    (_, message) => {
      expect(parseChannelMessage(message)).toEqual(message);
      // The same after a JSON round trip, as it travels.
      expect(parseChannelMessage(JSON.parse(JSON.stringify(message)))).toEqual(message);
    },
  );

  it('strips unknown keys, including an own __proto__ key from JSON', () => {
    const data: unknown = JSON.parse(
      '{"v":1,"from":"t","type":"flags","extra":1,"__proto__":{"polluted":true},"flags":{"__proto__":{"enabled":true},"shadowMode":true}}',
    );
    const message = parseChannelMessage(data);
    expect(message).toEqual({ v: 1, from: 't', type: 'flags', flags: { shadowMode: true } });
    expect(Object.getPrototypeOf(message)).toBe(Object.prototype);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('does not let a frame object carry a __proto__ key through', () => {
    const message = parseChannelMessage(
      JSON.parse('{"v":1,"from":"t","type":"frame","frame":{"__proto__":{"x":1},"type":"heartbeat"}}'),
    );
    expect(message?.type).toBe('frame');
    const frame = message?.type === 'frame' ? message.frame : undefined;
    expect(Object.getPrototypeOf(frame)).toBe(Object.prototype);
    expect(Object.keys(frame ?? {})).toEqual(['type']);
  });

  it('drops a __proto__ service of a cursor without touching the prototype', () => {
    const message = parseChannelMessage(
      JSON.parse('{"v":1,"from":"t","type":"cursor","cursor":{"__proto__":{"x":1},"tasks":2}}'),
    );
    const cursor = message?.type === 'cursor' ? message.cursor : undefined;
    expect(cursor).toEqual({ tasks: 2 });
    expect(Object.getPrototypeOf(cursor)).toBe(Object.prototype);
  });

  const invalid: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a number', 1],
    ['a string', 'hello'],
    ['an array', [base]],
    ['a function', () => base],
    ['an unknown type', { ...base, type: 'gossip' }],
    ['no type', { ...base }],
    ['another version', { v: 2, from: 'tab-a', type: 'hello' }],
    ['a string version', { v: '1', from: 'tab-a', type: 'hello' }],
    ['no version', { from: 'tab-a', type: 'hello' }],
    ['no sender', { v: 1, type: 'hello' }],
    ['an empty sender', { v: 1, from: '', type: 'hello' }],
    ['a huge sender', { v: 1, from: 'x'.repeat(100_000), type: 'hello' }],
    ['a numeric addressee', { ...base, type: 'hello', to: 7 }],
    ['needs without a filter', { ...base, type: 'needs', services: ['a'] }],
    [
      'needs with a bad service name',
      { ...base, type: 'needs', services: ['no spaces'], propertyFilter: null },
    ],
    [
      'needs with a __proto__ service',
      { ...base, type: 'needs', services: ['__proto__'], propertyFilter: null },
    ],
    ['leader without a leader', { ...base, type: 'leader' }],
    ['a numeric frame', { ...base, type: 'frame', frame: 42 }],
    ['a null frame', { ...base, type: 'frame', frame: null }],
    [
      'a state with a bad status',
      { ...base, type: 'state', status: 'up', circuit: { state: 'closed', consecutiveFailures: 0 } },
    ],
    ['a state without circuit', { ...base, type: 'state', status: 'connected' }],
    ['flags of the wrong type', { ...base, type: 'flags', flags: { enabled: 'yes' } }],
    ['a rollout over 100', { ...base, type: 'flags', flags: { rolloutPercent: 101 } }],
    ['a cursor with a negative seq', { ...base, type: 'cursor', cursor: { tasks: -1 } }],
    ['a cursor with a fractional seq', { ...base, type: 'cursor', cursor: { tasks: 1.5 } }],
  ];

  it.each(invalid)('rejects %s', (_, data) => {
    expect(parseChannelMessage(data)).toBeUndefined();
  });

  it('never throws, also for throwing getters and proxies', () => {
    const getter = Object.defineProperty({ v: 1, from: 't' }, 'type', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    const proxy = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
        has() {
          throw new Error('trap');
        },
        ownKeys() {
          throw new Error('trap');
        },
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    const revocable = Proxy.revocable({ ...base, type: 'hello' }, {});
    revocable.revoke();
    for (const data of [getter, proxy, revocable.proxy]) {
      expect(() => parseChannelMessage(data)).not.toThrow();
      expect(parseChannelMessage(data)).toBeUndefined();
    }
  });
});
