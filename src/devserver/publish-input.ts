import * as z from 'zod/mini';
import { SERVICE_NAME_PATTERN } from '../protocol/schemas';
import type { PublishInput } from './types';

// Each rule says what the field must be: zod's own message is a bare
// "Invalid input", which leaves a caller guessing.
const STRING = 'must be a string';
const SERVICE = "must be a service name: 1..100 of A-Z a-z 0-9 _ . : - (e.g. 'tasks')";

/** What `publish()` and `POST /dev/publish` accept as an event. */
export const publishInputSchema = z.object(
  {
    service: z.string(SERVICE).check(z.regex(SERVICE_NAME_PATTERN, SERVICE)),
    entityType: z.string(STRING),
    type: z.string(STRING),
    eventId: z.optional(
      z.string('must be a non-empty string').check(z.minLength(1, 'must be a non-empty string')),
    ),
    propertyId: z.optional(z.nullable(z.string('must be a string or null'))),
    mutationId: z.optional(z.string(STRING)),
    data: z.optional(z.unknown()),
    ts: z.optional(
      z.number('must be a finite number').check(z.refine(Number.isFinite, 'must be a finite number')),
    ),
  },
  'must be an object with service, entityType and type',
);

/** Body of `POST /dev/publish`. */
export const publishRequestSchema = z.object(
  {
    orgId: z.string('must be a non-empty string').check(z.minLength(1, 'must be a non-empty string')),
    event: publishInputSchema,
  },
  'must be a JSON object { orgId, event }',
);

/** Body of `POST /dev/token`. */
export const tokenRequestSchema = z.object({
  orgId: z.string().check(z.minLength(1)),
  userId: z.string().check(z.minLength(1)),
  ttlMs: z.optional(z.number().check(z.positive())),
});

/**
 * Array levels put around `data` when checking that it serialises: a frame
 * nests it a few levels deeper (`{ events: [{ data }] }`) and may be written
 * from a deeper call stack than `publish`, so nesting that only just fits
 * here must not overflow the stack when the frame goes out.
 */
const SERIALISE_MARGIN_LEVELS = 64;

// The stored event is written as JSON in every flush and replay of its
// service, from a timer where a throw is an uncaught exception; data that
// cannot be written (circular, BigInt, nested past the stack) is refused
// here, before it takes a seq.
function serialisationProblem(data: unknown): string | undefined {
  let probe: unknown = data;
  for (let i = 0; i < SERIALISE_MARGIN_LEVELS; i++) probe = [probe];
  try {
    JSON.stringify(probe);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Validates an event given to `publish()`; a `RangeError` names the bad field. */
export function validatePublishInput(orgId: unknown, event: unknown): PublishInput {
  if (typeof orgId !== 'string' || orgId.length === 0) {
    throw new RangeError(
      `publish(orgId, event): orgId must be a non-empty string, got ${JSON.stringify(orgId)}`,
    );
  }
  const result = publishInputSchema.safeParse(event);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue ? ['event', ...issue.path.map(String)].join('.') : 'event';
    const value = issue
      ? issue.path.reduce<unknown>((v, key) => (v as Record<PropertyKey, unknown>)?.[key], event)
      : event;
    throw new RangeError(`publish: ${field} ${issue?.message ?? 'is invalid'}, got ${JSON.stringify(value)}`);
  }
  const problem = serialisationProblem(result.data.data);
  if (problem !== undefined) {
    throw new RangeError(
      `publish: event.data must be serialisable as JSON, got a value that is not (${problem})`,
    );
  }
  return result.data;
}
