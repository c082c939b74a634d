import * as z from 'zod/mini';
import { flagsPayloadSchema } from '../flags/flags-schema';
import { cursorSchema, propertyIdSchema, serviceNameSchema } from '../protocol/schemas';
import { CHANNEL_MESSAGE_VERSION, MAX_TAB_ID_CHARS } from './channel-messages';

/**
 * The zod definition of every message between the tabs of one browser (see
 * channel-messages.ts) and of the storage lease of leader-election.ts.
 *
 * Normative, but test-only: the browser bundle must not carry zod, so
 * runtime code reads this input with the hand-written readers of
 * channel-messages.ts and leader-election.ts, which
 * test/unit/tabs/channel-reader.test.ts proves equal to these schemas
 * (differential property tests). Change a schema here and its reader there
 * together; the test fails until both agree.
 */

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
  // `null`: every property (PROTOCOL.md, property filter). A valid id only:
  // the leader puts every tab's into the shared connection's URL.
  propertyFilter: z.nullable(propertyIdSchema),
});

/** A tab is leaving (pagehide, `close()`): drop its needs without waiting for a timeout. */
export const byeMessageSchema = z.object({ ...envelope, type: z.literal('bye') });

/**
 * A follower that heard no frame for a while (realtime was off in it) asks
 * the leader for its cursor, as the answer to a hello gives it, without the
 * rest of that answer (the leader's flags would undo what turned it back on).
 */
export const syncMessageSchema = z.object({ ...envelope, type: z.literal('sync') });

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
  /**
   * With a `reset`: the id the leader gave that new epoch, which every tab
   * that applied it keeps (see `cursor.epochs`).
   */
  epoch: z.optional(tabIdSchema),
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
  /**
   * The leader's estimate of the server's clock minus the wall clock (ms),
   * which every tab of the browser shares: a follower that joined after the
   * welcome measures delivery latency with it.
   */
  serverClockOffsetMs: z.optional(z.number()),
  /**
   * How far the true offset may be from that estimate, at most: half the
   * round trip of the welcome it came from. A follower's SLI collector
   * corrects the offset by no more (SliCollector.setClockOffset). 0 (an
   * offset a relayed welcome gave) or missing (a leader of an older
   * version): no correction.
   */
  serverClockOffsetErrorMs: z.optional(z.number()),
  /**
   * The leader's own rollback guard has tripped: why, and the ms left of its
   * cooldown (0: the rest of the session). A tab that takes over from it
   * takes the trip over, rather than connecting into the server that tripped it.
   */
  rollback: z.optional(
    z.object({
      reason: z.enum(['error_rate', 'circuit_open', 'invariant_violation']),
      detail: z.string(),
      ms: z.number(),
    }),
  ),
});

/** Mirrors `ResolvedFlags` of `src/state.ts`. */
const flagsSchema = z.object({
  enabled: z.boolean(),
  emergencyDisable: z.boolean(),
  disabledOrgs: z.array(z.string()),
  rolloutPercent: z.number().check(z.gte(0), z.lte(100)),
  shadowMode: z.boolean(),
  disabledServices: z.array(serviceNameSchema),
});

/** Any subset of `ResolvedFlags` (`src/state.ts`); a tab merges it over what it has. */
export const flagsMessageSchema = z.object({
  ...envelope,
  type: z.literal('flags'),
  flags: z.partial(flagsSchema),
  /**
   * The flags whose value in the sender came from a flags URL document (its
   * own poll, or heard so from another tab): a tab with a flags URL puts its
   * page's own values back when its next document leaves them out, as for
   * its own last document's. Names not in `flags` say nothing. In a change
   * (no `to`), sent when a tab's own document changed, a flag of `flags` not
   * named is one that document left out. Absent from a `setFlags` and from
   * older versions.
   */
  fromUrl: z.optional(z.array(z.keyof(flagsSchema))),
  /**
   * In a leader's direct message (its answer to a hello): the flags URL's
   * document as its poller last knows it, its own poll's or another tab's
   * (see `fromUrl`), as the URL serves it (`disabledServices` of any
   * strings). A tab whose poller has no document yet takes it for its last
   * one, so its first poll of the unchanged document is no change and does
   * not undo a `setFlags` in every tab. Absent from a leader without a
   * flags poller or whose poller has none yet, and from older versions.
   */
  document: z.optional(flagsPayloadSchema),
});

/** The shared cursor, so whoever wins the next election resumes from it. */
export const cursorMessageSchema = z.object({
  ...envelope,
  type: z.literal('cursor'),
  cursor: cursorSchema,
  /**
   * In the leader's answer to a hello: per service, the id of the last
   * `reset` it applied (ids of a frame message's `epoch`). A tab that kept its
   * cursor through a time it heard nothing (the back/forward cache, realtime
   * off in that tab) and holds another id missed a reset: its cursor is of an
   * old epoch. '' names a reset relayed without an id (by an older version).
   */
  epochs: z.optional(z.record(serviceNameSchema, z.string().check(z.maxLength(MAX_TAB_ID_CHARS)))),
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
  syncMessageSchema,
  leaderMessageSchema,
  frameMessageSchema,
  stateMessageSchema,
  flagsMessageSchema,
  cursorMessageSchema,
  replayMessageSchema,
]);

/**
 * The storage lease `{ tabId, nonce, v: 1 }` of the `storage` election
 * strategy (`LEASE_VERSION` of leader-election.ts is 1).
 */
export const leaseSchema = z.object({
  tabId: z.string().check(z.minLength(1), z.maxLength(128)),
  nonce: z.string().check(z.minLength(1), z.maxLength(64)),
  v: z.literal(1),
});
