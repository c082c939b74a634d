import * as z from 'zod/mini';

import { PROPERTY_ID_PATTERN } from './property-id';
import { SERVICE_NAME_PATTERN } from './read';

export { PROPERTY_ID_PATTERN, SERVICE_NAME_PATTERN };

/** A service name: letters, digits, `_ . : -`, 1..100 chars, never a prototype key. */
export const serviceNameSchema = z.string().check(z.regex(SERVICE_NAME_PATTERN));

/** A property id of a property filter: non-empty, no comma, no lone surrogate. */
export const propertyIdSchema = z.string().check(z.regex(PROPERTY_ID_PATTERN));

/** A sequence number: a safe integer ≥ 0. */
export const seqSchema = z.int().check(z.nonnegative());

/** `{ [service]: seq }` as it travels on the wire. */
export const cursorSchema = z.record(serviceNameSchema, seqSchema);

/** One event of a service, as PROTOCOL.md defines it. */
export const eventSchema = z.object({
  service: serviceNameSchema,
  entityType: z.string(),
  type: z.string(),
  eventId: z.optional(z.string()),
  seq: z.int().check(z.positive()),
  ts: z.number(),
  orgId: z.string(),
  propertyId: z.optional(z.nullable(z.string())),
  mutationId: z.optional(z.string()),
  data: z.optional(z.unknown()),
});

export const welcomeFrameSchema = z.object({
  type: z.literal('welcome'),
  connectionId: z.string().check(z.minLength(1)),
  serverTime: z.number(),
  heartbeatMs: z.int().check(z.positive()),
  cursor: cursorSchema,
});

export const batchFrameSchema = z.object({
  type: z.literal('batch'),
  events: z.array(eventSchema),
  after: cursorSchema,
  cursor: cursorSchema,
});

export const heartbeatFrameSchema = z.object({
  type: z.literal('heartbeat'),
  serverTime: z.number(),
});

export const resetFrameSchema = z.object({
  type: z.literal('reset'),
  services: z.array(serviceNameSchema),
  cursor: cursorSchema,
  reason: z.string(),
});

export const errorCodeSchema = z.enum(['unauthorized', 'forbidden', 'bad_request', 'overloaded']);

export const errorFrameSchema = z.object({
  type: z.literal('error'),
  // Unknown codes from a newer server are accepted and treated as transient.
  code: z.string(),
  message: z.string(),
  retryAfterMs: z.optional(z.number().check(z.nonnegative())),
});

/** Any server → client frame. */
export const serverFrameSchema = z.discriminatedUnion('type', [
  welcomeFrameSchema,
  batchFrameSchema,
  heartbeatFrameSchema,
  resetFrameSchema,
  errorFrameSchema,
]);

const propertyIdsSchema = z.nullable(z.array(z.string()));

export const helloFrameSchema = z.object({
  type: z.literal('hello'),
  token: z.optional(z.string()),
  services: z.array(serviceNameSchema),
  propertyIds: propertyIdsSchema,
  cursor: cursorSchema,
});

export const updateFrameSchema = z.object({
  type: z.literal('update'),
  services: z.array(serviceNameSchema),
  propertyIds: propertyIdsSchema,
});

export const authFrameSchema = z.object({
  type: z.literal('auth'),
  token: z.string(),
});

/** Any client → server frame (WebSocket only). */
export const clientFrameSchema = z.discriminatedUnion('type', [
  helloFrameSchema,
  updateFrameSchema,
  authFrameSchema,
]);

/** Body of `POST /update-services`. */
export const updateServicesRequestSchema = z.object({
  connectionId: z.string().check(z.minLength(1)),
  services: z.array(serviceNameSchema),
  propertyIds: propertyIdsSchema,
});

/** Answer of `POST /update-services`. */
export const updateServicesResponseSchema = z.object({ cursor: cursorSchema });

/** Answer of `GET /poll` with status 200. */
export const pollResponseSchema = z.object({ frames: z.array(z.unknown()) });

/** `{ [service]: seq }`: per service, the last seq accounted for (PROTOCOL.md, "cursor"). */
export type Cursor = z.infer<typeof cursorSchema>;

/**
 * One event of a service, as a handler receives it (PROTOCOL.md, "Event").
 * Written out rather than inferred from {@link eventSchema}, so that editors
 * show its fields and their docs; {@link SameShape} holds the two together.
 */
export interface RealtimeEvent {
  /** The service (event stream) it belongs to, e.g. `tasks`. */
  service: string;
  /** The kind of entity that changed, e.g. `task`: the backend's vocabulary. */
  entityType: string;
  /** What happened, e.g. `task.updated`: the backend's vocabulary. */
  type: string;
  /** The server's id of the event; the dedup key is `entityType:eventId`, or the seq without one. */
  eventId?: string;
  /** Position in the stream of its org and service: an integer ≥ 1, one more per event. */
  seq: number;
  /** Server time of the change, epoch milliseconds. */
  ts: number;
  /** The org it belongs to. */
  orgId: string;
  /** The property it concerns, if any; what the property filter looks at. */
  propertyId?: string | null;
  /** The id of the write that caused it (`withMutationId`), echoed by the backend. */
  mutationId?: string;
  /** The payload: `unknown`, as no schema of yours was checked; validate it before use. */
  data?: unknown;
}

/** `true` when `A` and `B` are assignable to each other. */
type SameShape<A, B> = [A, B] extends [B, A] ? true : false;
/** Compiles only for `true`. */
type Holds<T extends true> = T;
// biome-ignore lint/correctness/noUnusedVariables: a compile-time check, nothing to use.
type EventShapeChecked = Holds<SameShape<z.infer<typeof eventSchema>, RealtimeEvent>>;
export type WelcomeFrame = z.infer<typeof welcomeFrameSchema>;
export type BatchFrame = z.infer<typeof batchFrameSchema>;
export type HeartbeatFrame = z.infer<typeof heartbeatFrameSchema>;
export type ResetFrame = z.infer<typeof resetFrameSchema>;
export type ErrorFrame = z.infer<typeof errorFrameSchema>;
export type ServerFrame = z.infer<typeof serverFrameSchema>;
export type HelloFrame = z.infer<typeof helloFrameSchema>;
export type UpdateFrame = z.infer<typeof updateFrameSchema>;
export type AuthFrame = z.infer<typeof authFrameSchema>;
export type ClientFrame = z.infer<typeof clientFrameSchema>;
