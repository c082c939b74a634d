import * as z from 'zod/mini';

/**
 * A flags document as the flags URL serves it: any subset of the flags, with
 * the bounds `resolveFlags` enforces. Unknown keys are stripped, so a newer
 * server may add flags without breaking older clients.
 *
 * The definition only: the poller reads documents with `readFlagsDocument`
 * (read-flags.ts), which a differential property test holds to this schema,
 * so the poller's chunk carries no zod.
 */
export const flagsPayloadSchema = z.object({
  enabled: z.optional(z.boolean()),
  emergencyDisable: z.optional(z.boolean()),
  disabledOrgs: z.optional(z.array(z.string())),
  rolloutPercent: z.optional(z.number().check(z.gte(0), z.lte(100))),
  shadowMode: z.optional(z.boolean()),
  disabledServices: z.optional(z.array(z.string())),
});
