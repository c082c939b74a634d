import type { CheckerWebSocketClass } from './sessions';

type WsModule = { WebSocket?: unknown; default?: unknown };

/**
 * The WebSocket client class: the optional peer `ws` (loaded at run time, as
 * the dev server loads it: nothing may import it statically), else the
 * platform's global `WebSocket` (Node ≥ 22), else `undefined`: the
 * WebSocket checks are then skipped. `importWs` and `platform` are
 * replaceable for tests.
 */
export async function loadWebSocketClient(
  importWs: () => Promise<unknown> = () => import('ws'),
  platform: { WebSocket?: unknown } = globalThis,
): Promise<CheckerWebSocketClass | undefined> {
  try {
    const mod = (await importWs()) as WsModule;
    // ESM has it as a named export; a CJS interop wrapper may only have `default`.
    const fromDefault = mod.default as WsModule | undefined;
    const ctor = mod.WebSocket ?? fromDefault?.WebSocket ?? mod.default;
    if (typeof ctor === 'function') return ctor as CheckerWebSocketClass;
  } catch {
    // not installed: the platform's, if any
  }
  return typeof platform.WebSocket === 'function' ? (platform.WebSocket as CheckerWebSocketClass) : undefined;
}
