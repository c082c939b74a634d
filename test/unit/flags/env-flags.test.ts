import { describe, expect, it } from 'vitest';
import { flagsFromEnv } from '../../../src/flags/env-flags';
import { DEFAULT_FLAGS, resolveFlags } from '../../../src/options';

describe('flagsFromEnv', () => {
  it('maps every variable', () => {
    expect(
      flagsFromEnv({
        REALTIME_PROVIDER_V2: 'true',
        REALTIME_EMERGENCY_DISABLE: 'false',
        REALTIME_DISABLED_ORGS: ' org_1, org_2 ,,org_1, ',
        REALTIME_ROLLOUT_PERCENT: '12.5',
        REALTIME_SHADOW_MODE: 'on',
        REALTIME_DISABLE_FINANCE: 'true',
        REALTIME_DISABLE_WORK_ORDERS: 'yes',
        REALTIME_DISABLE_TASKS: 'false',
        PATH: '/usr/bin',
        REALTIME_SOMETHING_ELSE: 'whatever',
      }),
    ).toEqual({
      enabled: true,
      emergencyDisable: false,
      disabledOrgs: ['org_1', 'org_2'],
      rolloutPercent: 12.5,
      shadowMode: true,
      disabledServices: ['finance', 'work_orders'],
    });
  });

  it('returns nothing for an empty environment', () => {
    expect(flagsFromEnv({})).toEqual({});
    expect(flagsFromEnv({ REALTIME_PROVIDER_V2: undefined })).toEqual({});
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['On', true],
    [' true ', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['NO', false],
    ['off', false],
  ])('reads the boolean %j as %s', (value, expected) => {
    expect(flagsFromEnv({ REALTIME_EMERGENCY_DISABLE: value })).toEqual({ emergencyDisable: expected });
    expect(flagsFromEnv({ REALTIME_PROVIDER_V2: value })).toEqual({ enabled: expected });
    expect(flagsFromEnv({ REALTIME_SHADOW_MODE: value })).toEqual({ shadowMode: expected });
  });

  it('treats a blank scalar as unset and a blank org list as empty', () => {
    expect(flagsFromEnv({ REALTIME_PROVIDER_V2: '', REALTIME_ROLLOUT_PERCENT: '  ' })).toEqual({});
    expect(flagsFromEnv({ REALTIME_DISABLED_ORGS: '' })).toEqual({ disabledOrgs: [] });
    expect(flagsFromEnv({ REALTIME_DISABLE_FINANCE: '' })).toEqual({});
  });

  it.each([
    ['0', 0],
    ['100', 100],
    ['50', 50],
    ['0.01', 0.01],
    [' 33.333 ', 33.333],
  ])('reads the percent %j', (value, expected) => {
    expect(flagsFromEnv({ REALTIME_ROLLOUT_PERCENT: value })).toEqual({ rolloutPercent: expected });
  });

  it('lists no service when every per-service switch is false', () => {
    expect(flagsFromEnv({ REALTIME_DISABLE_FINANCE: 'false' })).toEqual({ disabledServices: [] });
  });

  it.each([
    ['REALTIME_PROVIDER_V2', 'maybe'],
    ['REALTIME_EMERGENCY_DISABLE', 'enabled'],
    ['REALTIME_SHADOW_MODE', '2'],
    ['REALTIME_DISABLE_FINANCE', 'disabled'],
    ['REALTIME_ROLLOUT_PERCENT', '101'],
    ['REALTIME_ROLLOUT_PERCENT', '-1'],
    ['REALTIME_ROLLOUT_PERCENT', '50%'],
    ['REALTIME_ROLLOUT_PERCENT', '1e2'],
    ['REALTIME_ROLLOUT_PERCENT', 'abc'],
    ['REALTIME_ROLLOUT_PERCENT', '0x10'],
    ['REALTIME_ROLLOUT_PERCENT', 'NaN'],
  ])('throws a RangeError naming %s for %j', (name, value) => {
    expect(() => flagsFromEnv({ [name]: value })).toThrow(RangeError);
    expect(() => flagsFromEnv({ [name]: value })).toThrow(name);
    expect(() => flagsFromEnv({ [name]: value })).toThrow(JSON.stringify(value));
  });

  // A bundler's `define` or a typed env object hands over `true` or `50`, not `"true"` or `"50"`.
  it('reads booleans and numbers as their string form', () => {
    expect(
      flagsFromEnv({
        REALTIME_PROVIDER_V2: true,
        REALTIME_EMERGENCY_DISABLE: 0,
        REALTIME_SHADOW_MODE: false,
        REALTIME_ROLLOUT_PERCENT: 12.5,
        REALTIME_DISABLE_FINANCE: 1,
        REALTIME_DISABLE_TASKS: false,
      }),
    ).toEqual({
      enabled: true,
      emergencyDisable: false,
      shadowMode: false,
      rolloutPercent: 12.5,
      disabledServices: ['finance'],
    });
    expect(flagsFromEnv({ REALTIME_DISABLED_ORGS: 42 })).toEqual({ disabledOrgs: ['42'] });
  });

  it.each([
    ['REALTIME_SHADOW_MODE', 2, '2'],
    ['REALTIME_PROVIDER_V2', Number.NaN, 'NaN'],
    ['REALTIME_ROLLOUT_PERCENT', true, 'true'],
    ['REALTIME_ROLLOUT_PERCENT', 101, '101'],
    ['REALTIME_ROLLOUT_PERCENT', null, 'null'],
    ['REALTIME_DISABLE_FINANCE', { on: true }, '{"on":true}'],
    ['REALTIME_DISABLED_ORGS', ['a', 'b'], '["a","b"]'],
    ['REALTIME_DISABLED_ORGS', false, 'false'],
  ])('throws a RangeError naming %s for the non-string %s', (name, value, shown) => {
    const read = () => flagsFromEnv({ [name]: value } as unknown as Record<string, string>);
    expect(read).toThrow(RangeError);
    expect(read).toThrow(`${name} must be `);
    expect(read).toThrow(`, got ${shown}`);
  });

  it('throws for a per-service switch without a service', () => {
    expect(() => flagsFromEnv({ REALTIME_DISABLE_: 'true' })).toThrow(/REALTIME_DISABLE_/);
  });

  it('throws for a non-object env', () => {
    expect(() => flagsFromEnv(null as unknown as Record<string, string>)).toThrow(RangeError);
  });

  it('produces flags resolveFlags accepts', () => {
    const flags = flagsFromEnv({
      REALTIME_PROVIDER_V2: '1',
      REALTIME_DISABLED_ORGS: 'a,b',
      REALTIME_ROLLOUT_PERCENT: '5',
      REALTIME_DISABLE_ANALYTICS: 'true',
    });
    expect(resolveFlags(DEFAULT_FLAGS, flags)).toEqual({
      ...DEFAULT_FLAGS,
      disabledOrgs: ['a', 'b'],
      rolloutPercent: 5,
      disabledServices: ['analytics'],
    });
  });
});
