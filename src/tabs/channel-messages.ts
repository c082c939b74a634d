import type * as z from 'zod/mini';
import { DEFAULT_FLAGS, FLAG_CHECKS } from '../options';
import { isPropertyId } from '../protocol/property-id';
import {
  arrayOf,
  type Field,
  is,
  isSeq,
  isServiceName,
  num,
  oneOf,
  type Reader,
  readCursor,
  readMember,
  readRecord,
  readServiceNames,
  recordOf,
  shape,
  str,
  text,
} from '../protocol/read';
import type { ResolvedFlags } from '../state';
import { guarded } from '../util/guarded';
import type {
  byeMessageSchema,
  channelMessageSchema,
  cursorMessageSchema,
  flagsMessageSchema,
  frameMessageSchema,
  helloMessageSchema,
  leaderMessageSchema,
  needsMessageSchema,
  replayMessageSchema,
  stateMessageSchema,
  syncMessageSchema,
} from './channel-schemas';

/**
 * Messages between the tabs of one browser, as they travel on the channel
 * (BroadcastChannel or the storage fallback).
 *
 * Every message is read before use: another bundle version, an extension or
 * a script on the same origin can post anything on a channel whose name it
 * knows. The zod schemas of channel-schemas.ts define each message; the
 * browser bundle carries the compact readers below instead, which accept
 * exactly what the schemas accept and return a strictly equal value
 * (test/unit/tabs/channel-reader.test.ts). Unknown keys are stripped (so a
 * `__proto__` key never reaches a plain object we build), and anything
 * invalid is dropped and counted by the caller, never thrown.
 */

/** Version of the message format; a message with another `v` is foreign. */
export const CHANNEL_MESSAGE_VERSION = 1;

/** Upper bound of a tab id; ours are 21 chars (util/random-id.ts), the margin is for custom ids. */
export const MAX_TAB_ID_CHARS = 128;

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
export type SyncMessage = z.infer<typeof syncMessageSchema>;
/** The leader's estimate of the server's clock, as its `state` message carries it. */
export type ClockEstimate = Pick<StateMessage, 'serverClockOffsetMs' | 'serverClockOffsetErrorMs'>;

/** `Omit` applied to each member of a union, so the discriminant still narrows. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A message as a tab hands it to `TabChannel.post`: the channel stamps `v`
 * and `from`, so callers cannot send under another tab's id by mistake.
 */
export type OutgoingChannelMessage = DistributiveOmit<ChannelMessage, 'v' | 'from'>;

// The readers, one line per field of the schema, in the schema's key order.

const tabId = text(1, MAX_TAB_ID_CHARS);
/** A reset's id in a cursor answer: '' for one relayed without an id. */
const epochId = text(0, MAX_TAB_ID_CHARS);

/** `envelope`: the fields every message starts with. */
const ENVELOPE: readonly Field[] = [
  ['v', oneOf(CHANNEL_MESSAGE_VERSION)],
  ['from', tabId],
  ['to', tabId, 1],
];

/**
 * `ResolvedFlags`, each optional, in its order (zod's schema reads them so):
 * a value as `setFlags` takes it, but for `disabledServices` when `services`
 * reads it: in `flags`, a name that is none is refused too (the leader never
 * sends one); a flags `document` takes any strings, as the URL serves them.
 * The checks throw; a reader gives `undefined` instead.
 */
const FLAG_NAMES = Object.keys(DEFAULT_FLAGS) as (keyof ResolvedFlags)[];
const flagFields = (services?: Reader): readonly Field[] =>
  FLAG_NAMES.map((name) => [
    name,
    (name === 'disabledServices' && services) ||
      ((value) => guarded(() => FLAG_CHECKS[name](name, value) ?? value)),
    1,
  ]);
const FLAGS = flagFields(readServiceNames);

/** The fields after `type`, per message type. */
const FIELDS: Record<string, readonly Field[]> = {
  hello: [],
  needs: [
    ['services', readServiceNames],
    // An invalid id drops the message: the leader would put it in the URL of
    // every tab's connection (a lone surrogate makes building it throw).
    ['propertyFilter', is((value) => value === null || isPropertyId(value))],
  ],
  bye: [],
  sync: [],
  leader: [['leaderTabId', tabId]],
  // `str` gives `undefined` for anything but a string (never for '').
  frame: [
    ['frame', (value) => str(value) ?? readRecord(value)],
    ['epoch', tabId, 1],
  ],
  state: [
    ['status', oneOf('idle', 'connecting', 'connected', 'reconnecting', 'disabled', 'closed')],
    ['transport', str, 1],
    [
      'circuit',
      shape([
        ['state', oneOf('closed', 'open', 'half-open')],
        ['consecutiveFailures', is(isSeq)],
        ['openedAt', num, 1],
      ]),
    ],
    ['lastSuccessAt', num, 1],
    ['connectionId', str, 1],
    ['disabledReason', str, 1],
    ['lastError', str, 1],
    ['serverClockOffsetMs', num, 1],
    ['serverClockOffsetErrorMs', num, 1],
    [
      'rollback',
      shape([
        ['reason', oneOf('error_rate', 'circuit_open', 'invariant_violation')],
        ['detail', str],
        ['ms', num],
      ]),
      1,
    ],
  ],
  flags: [
    ['flags', shape(FLAGS)],
    ['fromUrl', arrayOf((value) => FLAG_NAMES.includes(value as keyof ResolvedFlags)), 1],
    ['document', shape(flagFields()), 1],
  ],
  cursor: [
    ['cursor', readCursor],
    ['epochs', recordOf(isServiceName, (value) => epochId(value) !== undefined), 1],
  ],
  replay: [['cursor', readCursor]],
};

/**
 * Validates one received message. Returns `undefined` for anything that is
 * not a valid message of this version; never throws, also not for objects
 * whose getters throw or for (revoked) Proxies.
 */
export function parseChannelMessage(data: unknown): ChannelMessage | undefined {
  // The discriminator, as `z.discriminatedUnion('type', …)` picks the member,
  // read from anything: `null`/`undefined` throw (an invalid message, as
  // does a throwing getter or a Proxy: only objects handed in by code, since
  // structured clones cannot hold them), and readObject refuses every
  // non-object whatever its `type`.
  return guarded(() => readMember(data, (data as { type?: unknown }).type, FIELDS, ENVELOPE));
}
