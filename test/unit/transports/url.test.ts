import { describe, expect, it } from 'vitest';
import { decodeCursor } from '../../../src/protocol/cursor';
import { kit } from '../../../src/transports/kit';
import { pollUrl } from '../../../src/transports/long-poll';
import { endpointUrl, streamUrl } from '../../../src/transports/url';

const BASE = 'https://api.example.com/v2/realtime';

describe('streamUrl', () => {
  it('appends /stream to the base path and lists services', () => {
    expect(streamUrl(BASE, { services: ['tasks', 'finance'], propertyIds: null })).toBe(
      'https://api.example.com/v2/realtime/stream?services=tasks,finance',
    );
  });

  it('keeps the base path whether or not it ends with a slash', () => {
    expect(streamUrl(`${BASE}/`, { services: ['a'], propertyIds: null })).toBe(
      'https://api.example.com/v2/realtime/stream?services=a',
    );
    expect(streamUrl('http://127.0.0.1:8080', { services: ['a'], propertyIds: null })).toBe(
      'http://127.0.0.1:8080/stream?services=a',
    );
  });

  it('leaves propertyIds out for null (all properties) and keeps an empty list distinct', () => {
    expect(streamUrl(BASE, { services: ['a'], propertyIds: ['p1', 'p2'] })).toContain('&propertyIds=p1,p2');
    expect(streamUrl(BASE, { services: ['a'], propertyIds: null })).not.toContain('propertyIds');
    expect(streamUrl(BASE, { services: ['a'], propertyIds: [] })).toMatch(/&propertyIds=$/);
  });

  it('adds the cursor as base64url JSON, and leaves an empty cursor out', () => {
    const url = new URL(streamUrl(BASE, { services: ['tasks'], propertyIds: null, cursor: { tasks: 57 } }));
    expect(decodeCursor(url.searchParams.get('cursor') ?? '')).toEqual({ tasks: 57 });
    expect(streamUrl(BASE, { services: ['a'], propertyIds: null, cursor: {} })).not.toContain('cursor');
  });

  it('encodes characters that would break the query, item by item', () => {
    const url = streamUrl(BASE, { services: ['a:b'], propertyIds: ['p&1', 'p 2', 'é'] });
    const params = new URL(url).searchParams;
    expect(params.get('services')).toBe('a:b');
    expect(params.get('propertyIds')).toBe('p&1,p 2,é');
  });

  it('keeps a query the base URL already has and drops its fragment', () => {
    expect(streamUrl(`${BASE}?tenant=x#frag`, { services: ['a'], propertyIds: null })).toBe(
      'https://api.example.com/v2/realtime/stream?tenant=x&services=a',
    );
    expect(streamUrl(`${BASE}?`, { services: ['a'], propertyIds: null })).toBe(
      'https://api.example.com/v2/realtime/stream?services=a',
    );
  });

  it('takes another endpoint path', () => {
    expect(streamUrl(BASE, { services: ['a'], propertyIds: null }, '/ws')).toBe(
      'https://api.example.com/v2/realtime/ws?services=a',
    );
  });
});

describe('pollUrl', () => {
  it('puts connectionId, subscription, cursor and wait in the query', () => {
    const url = new URL(
      pollUrl(
        BASE,
        {
          connectionId: 'c 1',
          services: ['tasks'],
          propertyIds: ['p9'],
          cursor: { tasks: 3 },
          wait: 25,
        },
        kit,
      ),
    );
    expect(url.pathname).toBe('/v2/realtime/poll');
    expect(url.searchParams.get('connectionId')).toBe('c 1');
    expect(url.searchParams.get('services')).toBe('tasks');
    expect(url.searchParams.get('propertyIds')).toBe('p9');
    expect(decodeCursor(url.searchParams.get('cursor') ?? '')).toEqual({ tasks: 3 });
    expect(url.searchParams.get('wait')).toBe('25');
  });

  it('has no connectionId before the connection exists', () => {
    expect(pollUrl(BASE, { services: ['a'], propertyIds: null, wait: 0 }, kit)).toBe(
      'https://api.example.com/v2/realtime/poll?services=a&wait=0',
    );
  });
});

describe('endpointUrl', () => {
  it('puts /update-services under the base path', () => {
    expect(endpointUrl(BASE, 'update-services').href).toBe(
      'https://api.example.com/v2/realtime/update-services',
    );
  });
});
