/**
 * The `connectionId` of an already-parsed `welcome` frame, or `undefined`.
 * This is the one frame an HTTP transport reads itself (the core validates
 * all of them), because `POST /update-services` must name the connection.
 */
export function connectionIdOfWelcomeObject(frame: unknown): string | undefined {
  if (typeof frame !== 'object' || frame === null) return undefined;
  const { type, connectionId } = frame as { type?: unknown; connectionId?: unknown };
  return type === 'welcome' && typeof connectionId === 'string' && connectionId !== ''
    ? connectionId
    : undefined;
}
