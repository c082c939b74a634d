import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { channelName } from '../../../src/tabs/channel-name';

describe('channelName', () => {
  it('joins version, app, org and user', () => {
    expect(channelName('app', { orgId: 'org1', userId: 'u1' })).toBe('tabwire:v1:app:org1:u1');
  });

  it('escapes the parts so a separator in one part cannot shift the others', () => {
    const a = channelName('app', { orgId: 'a:b', userId: 'c' });
    const b = channelName('app', { orgId: 'a', userId: 'b:c' });
    expect(a).not.toBe(b);
    expect(channelName('x:y', { orgId: 'z', userId: 'u' })).not.toBe(
      channelName('x', { orgId: 'y:z', userId: 'u' }),
    );
    expect(a).toBe('tabwire:v1:app:a%3Ab:c');
  });

  it('differs per app, org and user, and is stable for the same scope', () => {
    const base = channelName('app', { orgId: 'o', userId: 'u' });
    expect(channelName('app', { orgId: 'o', userId: 'u' })).toBe(base);
    expect(channelName('app2', { orgId: 'o', userId: 'u' })).not.toBe(base);
    expect(channelName('app', { orgId: 'o2', userId: 'u' })).not.toBe(base);
    expect(channelName('app', { orgId: 'o', userId: 'u2' })).not.toBe(base);
  });

  it('never gives two different scopes the same name (property)', () => {
    const part = fc.string({ unit: fc.constantFrom('a', ':', '%', '3', 'A', 'é', '\u{1F600}') });
    fc.assert(
      fc.property(fc.tuple(part, part, part), fc.tuple(part, part, part), ([a1, o1, u1], [a2, o2, u2]) => {
        fc.pre(a1 !== '' && a2 !== '');
        fc.pre(a1 !== a2 || o1 !== o2 || u1 !== u2);
        expect(channelName(a1, { orgId: o1, userId: u1 })).not.toBe(
          channelName(a2, { orgId: o2, userId: u2 }),
        );
      }),
    );
  });
});
