import type { RealtimeError } from '../errors';

/**
 * The `connectionId` of a `welcome` frame's JSON text, or `undefined`. This is
 * the one frame an HTTP transport reads itself (the core validates all of
 * them), because `POST /update-services` must name the connection.
 */
export function connectionIdOfWelcome(text: string): string | undefined {
  try {
    return connectionIdOfWelcomeObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The `connectionId` of an already-parsed `welcome` frame, or `undefined`. */
export function connectionIdOfWelcomeObject(frame: unknown): string | undefined {
  if (typeof frame !== 'object' || frame === null) return undefined;
  const { type, connectionId } = frame as { type?: unknown; connectionId?: unknown };
  return type === 'welcome' && typeof connectionId === 'string' && connectionId !== ''
    ? connectionId
    : undefined;
}

/**
 * Calls that need the connection id before the `welcome` frame has arrived
 * (an SSE connect resolves on the 200, before the first frame) wait here.
 */
export class WelcomeWaiters {
  readonly #waiting: Array<{ resolve(id: string): void; reject(error: RealtimeError): void }> = [];
  #outcome: { id: string } | { error: RealtimeError } | undefined;

  /** Resolves with the connection id, or rejects if the connection ends first. */
  wait(): Promise<string> {
    const outcome = this.#outcome;
    if (outcome !== undefined) {
      return 'id' in outcome ? Promise.resolve(outcome.id) : Promise.reject(outcome.error);
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  resolve(id: string): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = { id };
    for (const waiter of this.#waiting.splice(0)) waiter.resolve(id);
  }

  reject(error: RealtimeError): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = { error };
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }
}
