import { errorFromResponse, type HttpDeps, send } from './http-request';
import type { UpdateResult } from './types';

// Loaded only with an HTTP transport: the core's error class and helpers come
// in the request's `kit` (see kit.ts).

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
  const { signal, kit } = request;
  const response = await send(
    request,
    kit.endpointUrl(request.url, 'update-services').href,
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
  if (response.status !== 200) throw await errorFromResponse(response, request);
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (signal.aborted) throw kit.abortedError(signal);
    throw new kit.RealtimeError('invalid_frame', 'update-services answered with something that is not JSON', {
      cause: error,
      status: 200,
    });
  }
  const parsed = kit.readUpdateServicesResponse(body);
  if (parsed === undefined) {
    throw new kit.RealtimeError('invalid_frame', 'update-services answer is not { cursor }', { status: 200 });
  }
  return { cursor: parsed.cursor };
}
