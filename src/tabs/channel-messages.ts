import * as z from 'zod/mini';
import { cursorSchema, serviceNameSchema } from '../protocol/schemas';

/**
 * Messages between the tabs of one browser, as they travel on the channel
 * (BroadcastChannel or the storage fallback).
 *
 * Every message is parsed with these schemas before use: another bundle
 * version, an extension or a script on the same origin can post anything on
 * a channel whose name it knows. Unknown keys are stripped (so a `__proto__`
 * key never reaches a plain object we build), and anything invalid is
 * dropped and counted by the caller, never thrown.
 */

/** Version of the message format; a message with another `v` is foreign. */
export const CHANNEL_MESSAGE_VERSION = 1;

/** Upper bound of a tab id; nanoid ids are 21 chars, the margin is for custom ids. */
const MAX_TAB_ID_CHARS = 128;

/** A tab id: 1..128 chars. */
export const tabIdSchema = z.string().check(z.minLength(1), z.maxLength(MAX_TAB_ID_CHARS));

/** Fields of every message: format version, sender and, for a direct reply, the addressee. */
const envelope = {
  v: z.literal(CHANNEL_MESSAGE_VERSION),
  from: tabIdSchema,
  to: z.optional(tabIdSchema),
};

/** A tab announces itself (on start, and in answer to a new leader). */
export const helloMessageSchema = z.object({ ...envelope, type: z.literal('hello') });

/** What a tab wants from the shared connection; the leader subscribes to the union. */
export const needsMessageSchema = z.object({
  ...envelope,
  type: z.literal('needs'),
  services: z.array(serviceNameSchema),
  // `null`: every property (PROTOCOL.md, property filter).
  propertyFilter: z.nullable(z.string()),
});

/** A tab is leaving (pagehide, `close()`): drop its needs without waiting for a timeout. */
export const byeMessageSchema = z.object({ ...envelope, type: z.literal('bye') });

/** Who holds the connection now. */
export const leaderMessageSchema = z.object({
  ...envelope,
  type: z.literal('leader'),
  leaderTabId: tabIdSchema,
});

/**
 * One server frame, relayed once by the leader. Kept as the raw text or
 * object: followers run it through the protocol parser themselves
 * (`parseServerFrame`), so it is validated exactly once, where it is used.
 */
export const frameMessageSchema = z.object({
  ...envelope,
  type: z.literal('frame'),
  frame: z.union([z.string(), z.record(z.string(), z.unknown())]),
});

/** Mirrors `RealtimeStatus` of `src/state.ts`. */
const statusSchema = z.enum(['idle', 'connecting', 'connected', 'reconnecting', 'disabled', 'closed']);

const circuitSchema = z.object({
  state: z.enum(['closed', 'open', 'half-open']),
  consecutiveFailures: z.int().check(z.nonnegative()),
  openedAt: z.optional(z.number()),
});

/** The leader's connection state, mirrored so every tab shows the true one. */
export const stateMessageSchema = z.object({
  ...envelope,
  type: z.literal('state'),
  status: statusSchema,
  transport: z.optional(z.string()),
  circuit: circuitSchema,
  lastSuccessAt: z.optional(z.number()),
  connectionId: z.optional(z.string()),
  disabledReason: z.optional(z.string()),
  lastError: z.optional(z.string()),
});

/** Any subset of `ResolvedFlags` (`src/state.ts`); a tab merges it over what it has. */
export const flagsMessageSchema = z.object({
  ...envelope,
  type: z.literal('flags'),
  flags: z.partial(
    z.object({
      enabled: z.boolean(),
      emergencyDisable: z.boolean(),
      disabledOrgs: z.array(z.string()),
      rolloutPercent: z.number().check(z.gte(0), z.lte(100)),
      shadowMode: z.boolean(),
      disabledServices: z.array(serviceNameSchema),
    }),
  ),
});

/** The shared cursor, so whoever wins the next election resumes from it. */
export const cursorMessageSchema = z.object({
  ...envelope,
  type: z.literal('cursor'),
  cursor: cursorSchema,
});

/**
 * A follower found a gap the relay cannot fill (it missed a relayed frame):
 * the leader has the server replay from this cursor.
 */
export const replayMessageSchema = z.object({
  ...envelope,
  type: z.literal('replay'),
  cursor: cursorSchema,
});

/** Any cross-tab message. */
export const channelMessageSchema = z.discriminatedUnion('type', [
  helloMessageSchema,
  needsMessageSchema,
  byeMessageSchema,
  leaderMessageSchema,
  frameMessageSchema,
  stateMessageSchema,
  flagsMessageSchema,
  cursorMessageSchema,
  replayMessageSchema,
]);

export type ChannelMessage = z.infer<typeof channelMessageSchema>;
export type ChannelMessageType = ChannelMessage['type'];
export type HelloMessage = z.infer<typeof helloMessageSchema>;
export type NeedsMessage = z.infer<typeof needsMessageSchema>;
export type ByeMessage = z.infer<typeof byeMessageSchema>;
export type LeaderMessage = z.infer<typeof leaderMessageSchema>;
export type FrameMessage = z.infer<typeof frameMessageSchema>;
export type StateMessage = z.infer<typeof stateMessageSchema>;
export type FlagsMessage = z.infer<typeof flagsMessageSchema>;
export type CursorMessage = z.infer<typeof cursorMessageSchema>;
export type ReplayMessage = z.infer<typeof replayMessageSchema>;

/** `Omit` applied to each member of a union, so the discriminant still narrows. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A message as a tab hands it to `TabChannel.post`: the channel stamps `v`
 * and `from`, so callers cannot send under another tab's id by mistake.
 */
export type OutgoingChannelMessage = DistributiveOmit<ChannelMessage, 'v' | 'from'>;

/**
 * Validates one received message. Returns `undefined` for anything that is
 * not a valid message of this version; never throws, also not for objects
 * whose getters throw or for (revoked) Proxies.
 */
export function parseChannelMessage(data: unknown): ChannelMessage | undefined {
  try {
    const result = channelMessageSchema.safeParse(data);
    return result.success ? result.data : undefined;
  } catch {
    // Only objects handed in by code (structured clones cannot hold getters
    // or proxies) get here; still just an invalid message.
    return undefined;
  }
}
