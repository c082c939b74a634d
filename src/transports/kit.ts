import { RealtimeError } from '../errors';
import { encodeCursor } from '../protocol/cursor';
import { readPollResponse, readUpdateServicesResponse } from '../protocol/frame-reader';
import { abortedError, onAbort, REFUSALS, unavailable } from './failures';
import { endpointUrl, hasKeys, streamUrl, subscriptionQuery } from './url';

// What the lazily loaded transports (websocket.ts, sse.ts, long-poll.ts and
// the modules only they import) take from the core. They get it from
// builtins.ts as an argument and import the core's modules for their types
// only: each transport is built into one self-contained file
// (scripts/lazy-parts.mjs), so a core module it imported would be bundled
// into it a second time, with a second copy of its classes; the build
// refuses that. Everything here is in the core's bundle anyway, or so small
// that it costs less there than copied into each transport.
// `RealtimeError` is the core's own class, so `instanceof` and
// `isRealtimeError` hold for the errors the transports make.

/** The core's values the built-in transports use. Only builtins.ts (and tests) import this module. */
export const kit = {
  RealtimeError,
  unavailable,
  abortedError,
  onAbort,
  refusals: REFUSALS,
  encodeCursor,
  hasKeys,
  endpointUrl,
  subscriptionQuery,
  streamUrl,
  readPollResponse,
  readUpdateServicesResponse,
};

/** The type of {@link kit}, for the transports to import with `import type`. */
export type TransportKit = typeof kit;
