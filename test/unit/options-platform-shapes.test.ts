import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/options';

const url = 'http://tabwire.test/v2/realtime';
describe('option groups', () => {
  it('takes null groups, class instances and proxies', () => {
    expect(resolveOptions({ url, scope: null as never }).scope).toEqual({ orgId: '', userId: '' });
    class P {
      random = () => 0.5;
    }
    expect(resolveOptions({ url, platform: new P() as never }).platform.random()).toBe(0.5);
    const proxy = new Proxy({}, { get: (_t, k) => (k === 'random' ? () => 0.25 : undefined) });
    expect(resolveOptions({ url, platform: proxy as never }).platform.random()).toBe(0.25);
    expect(() => resolveOptions({ url, circuit: 5 as never })).toThrow(RangeError);
    expect(() => resolveOptions({ url, telemetry: false as never })).toThrow(/telemetry/);
  });
});
