import type { WallClock } from '../clock';
import { RealtimeError } from '../errors';
import { readUpdateServicesResponse } from '../protocol/frame-reader';
import { abortedError, networkError } from './failures';
import { errorFromResponse } from './http-errors';
import type { UpdateResult } from './types';
import { updateServicesUrl } from './url';

/** What one `POST /update-services` needs. */
export interface UpdateServicesRequest {
  fetch: typeof fetch;
  url: string;
  token: string | undefined;
  connectionId: string;
  services: string[];
  propertyIds: string[] | null;
  signal: AbortSignal;
  now: WallClock;
}

/**
 * Changes the subscription of a live HTTP connection in place (SSE and
 * long-poll share it). Resolves with the start cursor of newly added services;
 * rejects with the mapped `RealtimeError` of a non-200 answer, or
 * `invalid_frame` for an answer that is not `{ cursor }`.
 */
export async function postUpdateServices(request: UpdateServicesRequest): Promise<UpdateResult> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (request.token !== undefined) headers.Authorization = `Bearer ${request.token}`;
  const doFetch = request.fetch;
  let response: Response;
  try {
    response = await doFetch(updateServicesUrl(request.url), {
      method: 'POST',
      headers,
      body: JSON.stringify({
        connectionId: request.connectionId,
        services: request.services,
        propertyIds: request.propertyIds,
      }),
      signal: request.signal,
      cache: 'no-store',
    });
  } catch (error) {
    throw request.signal.aborted ? abortedError(request.signal) : networkError(error, 'update-services');
  }
  if (response.status !== 200) throw await errorFromResponse(response, request.now);
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (request.signal.aborted) throw abortedError(request.signal);
    throw new RealtimeError('invalid_frame', 'update-services answered with something that is not JSON', {
      cause: error,
      status: 200,
    });
  }
  const parsed = readUpdateServicesResponse(body);
  if (parsed === undefined) {
    throw new RealtimeError('invalid_frame', 'update-services answer is not { cursor }', { status: 200 });
  }
  return { cursor: parsed.cursor };
}
