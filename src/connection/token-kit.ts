import { RealtimeError } from '../errors';
import { reportListenerError } from '../util/emitter';
import { describeValue } from '../util/validate';
import { Timer } from './timer';

// What the token provider (token-provider.ts) takes from the core. The
// provider is loaded on demand, only by clients with `auth.getToken`, and
// built into one self-contained file (scripts/lazy-parts.mjs): a core module
// it imported would be bundled into it a second time, with a second copy of
// its classes (`instanceof RealtimeError` would fail for its errors). So it
// imports the core's modules for their types only and gets their values
// here, as an argument. All of it is in the core's bundle anyway.

/** The core's values the token provider uses. */
export const tokenKit = { RealtimeError, Timer, reportListenerError, describeValue };

/** The type of {@link tokenKit}, for token-provider.ts to import with `import type`. */
export type TokenKit = typeof tokenKit;
