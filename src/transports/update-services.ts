import { RealtimeError } from '../errors';
import { readUpdateServicesResponse } from '../protocol/frame-reader';
import { abortedError } from './failures';
import { errorFromResponse, type HttpDeps, send } from './http-request';
import type { UpdateResult } from './types';
import { endpointUrl } from './url';

/** What one `POST /update-services` needs. */
export interface UpdateServicesRequest extends HttpDeps {
  url: string;
  token: string | undefined;
  connectionId: string;
  services: string[];
  propertyIds: string[] | null;
  signal: AbortSignal;
}

/**
 * Changes the subscription of a live HTTP connection in place (SSE and
 * long-poll share it). Resolves with the start cursor of newly added services;
 * rejects with the mapped `RealtimeError` of a non-200 answer, or
 * `invalid_frame` for an answer that is not `{ cursor }`.
 */
export async function postUpdateServices(request: UpdateServicesRequest): Promise<UpdateResult> {
  const { signal } = request;
  const response = await send(
    request.fetch,
    endpointUrl(request.url, 'update-services').href,
    request.token,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        connectionId: request.connectionId,
        services: request.services,
        propertyIds: request.propertyIds,
      }),
      signal,
    },
    'update-services',
  );
  if (response.status !== 200) throw await errorFromResponse(response, request.now);
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (signal.aborted) throw abortedError(signal);
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
