import { SERVICE_NAME_PATTERN } from '../protocol/read';
import type { ResolvedFlags } from '../state';
import { describeValue } from '../util/validate';

/** The environment-style names {@link flagsFromEnv} reads, besides `REALTIME_DISABLE_<SERVICE>`. */
export const ENV_FLAG_NAMES = {
  enabled: 'REALTIME_PROVIDER_V2',
  emergencyDisable: 'REALTIME_EMERGENCY_DISABLE',
  disabledOrgs: 'REALTIME_DISABLED_ORGS',
  rolloutPercent: 'REALTIME_ROLLOUT_PERCENT',
  shadowMode: 'REALTIME_SHADOW_MODE',
} as const;

/** Prefix of the per-service kill switches: `REALTIME_DISABLE_FINANCE=true` disables `finance`. */
export const ENV_DISABLE_SERVICE_PREFIX = 'REALTIME_DISABLE_';

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
// Plain decimals only: "12.5" yes; "1e2", "0x10", "50%", "-1" no.
const PERCENT = /^\d+(\.\d+)?$/;

function invalid(name: string, value: unknown, expected: string): never {
  throw new RangeError(`${name} must be ${expected}, got ${describeValue(value)}`);
}

function parseBoolean(name: string, value: unknown): boolean {
  const word = String(value).trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return invalid(name, value, 'one of true/false, 1/0, yes/no, on/off');
}

function parsePercent(name: string, value: unknown): number {
  const text = String(value).trim();
  const percent = Number(text);
  if (!PERCENT.test(text) || !(percent >= 0 && percent <= 100)) {
    return invalid(name, value, 'a number ≥ 0 and ≤ 100');
  }
  return percent;
}

// Trimmed, empties dropped, first occurrence kept.
function parseList(value: string): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return [...new Set(items)];
}

/**
 * Maps environment-style flag variables (as a server renders them into the
 * page, or a bundler's `import.meta.env`) to flags for `createRealtime({
 * flags })` or `rt.setFlags`:
 *
 * | variable | flag |
 * |---|---|
 * | `REALTIME_PROVIDER_V2` | `enabled` |
 * | `REALTIME_EMERGENCY_DISABLE` | `emergencyDisable` |
 * | `REALTIME_DISABLED_ORGS` (comma-separated) | `disabledOrgs` |
 * | `REALTIME_ROLLOUT_PERCENT` (0..100, decimals allowed) | `rolloutPercent` |
 * | `REALTIME_SHADOW_MODE` | `shadowMode` |
 * | `REALTIME_DISABLE_<SERVICE>` | `disabledServices` |
 *
 * - Booleans accept `true/false`, `1/0`, `yes/no`, `on/off` in any case.
 * - A variable that is absent, or empty or blank, is not set and leaves its
 *   flag out of the result — except `REALTIME_DISABLED_ORGS`, where empty
 *   means the empty list. The list is split on commas, trimmed, empties
 *   dropped and duplicates removed.
 * - `REALTIME_DISABLE_<SERVICE>`: the service is the rest of the name in
 *   lower case, underscores kept (`REALTIME_DISABLE_FINANCE` → `finance`,
 *   `REALTIME_DISABLE_WORK_ORDERS` → `work_orders`). When any such variable is
 *   set, `disabledServices` is exactly the services whose variable is true,
 *   sorted — the environment is then the whole truth about per-service
 *   switches.
 * - Names are matched exactly (upper case); other variables are ignored,
 *   but any `REALTIME_` one must be a string, a number or a boolean (or
 *   `undefined`). A number or boolean reads as its string form (`true`,
 *   `0`, `12.5`), except in `REALTIME_DISABLED_ORGS`, which takes no boolean
 *   (`false` would be an org named "false", not "no org").
 *
 * @throws RangeError naming the variable and its value when a value is not
 *   valid: it is configuration, and a kill switch that silently did not parse
 *   is worse than a page that fails loudly in development.
 */
export function flagsFromEnv(
  env: Readonly<Record<string, string | number | boolean | undefined>>,
): Partial<ResolvedFlags> {
  if (typeof env !== 'object' || env === null) {
    throw new RangeError(`env must be an object, got ${describeValue(env)}`);
  }
  const flags: Partial<ResolvedFlags> = {};
  const disabledServices = new Set<string>();
  let anyServiceSwitch = false;

  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith('REALTIME_')) continue;
    const type = typeof raw;
    if (type !== 'string' && type !== 'number' && type !== 'boolean')
      invalid(name, raw, 'a string, number or boolean');
    const blank = String(raw).trim() === '';
    switch (name) {
      case ENV_FLAG_NAMES.enabled:
        if (!blank) flags.enabled = parseBoolean(name, raw);
        break;
      case ENV_FLAG_NAMES.emergencyDisable:
        if (!blank) flags.emergencyDisable = parseBoolean(name, raw);
        break;
      case ENV_FLAG_NAMES.shadowMode:
        if (!blank) flags.shadowMode = parseBoolean(name, raw);
        break;
      case ENV_FLAG_NAMES.rolloutPercent:
        if (!blank) flags.rolloutPercent = parsePercent(name, raw);
        break;
      case ENV_FLAG_NAMES.disabledOrgs:
        if (type === 'boolean') invalid(name, raw, 'a comma-separated list of orgs');
        flags.disabledOrgs = parseList(String(raw));
        break;
      default: {
        if (!name.startsWith(ENV_DISABLE_SERVICE_PREFIX) || blank) break;
        const service = name.slice(ENV_DISABLE_SERVICE_PREFIX.length).toLowerCase();
        if (!SERVICE_NAME_PATTERN.test(service)) {
          throw new RangeError(
            `${name} does not name a service after ${ENV_DISABLE_SERVICE_PREFIX}, got ${describeValue(service)}`,
          );
        }
        anyServiceSwitch = true;
        if (parseBoolean(name, raw)) disabledServices.add(service);
      }
    }
  }
  if (anyServiceSwitch) flags.disabledServices = [...disabledServices].sort();
  return flags;
}
