import { errorFromResponse, type HttpDeps, send } from './http-request';
import type { UpdateResult } from './types';

// Loaded only with an HTTP transport: the core's error class and helpers come
// in the deps' `kit` (see kit.ts).

/** The body of `POST /update-services`: the connection and its new subscription. */
export interface UpdateServicesBody {
  connectionId: string;
  services: string[];
  propertyIds: string[] | null;
}

/**
 * Changes the subscription of a live HTTP connection in place (SSE and
 * long-poll share it). Resolves with the start cursor of newly added services;
 * rejects with the mapped `RealtimeError` of a non-200 answer, or
 * `invalid_frame` for an answer that is not `{ cursor }`.
 */
export async function postUpdateServices(
  deps: HttpDeps,
  url: string,
  token: string | undefined,
  body: UpdateServicesBody,
  signal: AbortSignal,
): Promise<UpdateResult> {
  const { kit } = deps;
  const endpoint = kit.endpointUrl(url, 'update-services').href;
  const response = await send(
    deps,
    endpoint,
    token,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      signal,
    },
    'update-services',
  );
  if (response.status !== 200) throw await errorFromResponse(response, deps, endpoint);
  // `{ cursor }` and nothing else: the reader, which never throws, keeps only
  // the fields it reads.
  let parsed: UpdateResult | undefined;
  let cause: unknown;
  try {
    parsed = kit.readUpdateServicesResponse(await response.json());
  } catch (error) {
    if (signal.aborted) throw kit.abortedError(signal);
    cause = error;
  }
  if (parsed === undefined) {
    throw new kit.RealtimeError('invalid_frame', 'update-services answer is not JSON { cursor }', {
      cause,
      status: 200,
    });
  }
  return parsed;
}
