import type { WebSocketServerClass } from './websocket';

/** Message of the error thrown when the optional peer dependency `ws` is missing. */
export const MISSING_WS_MESSAGE = "tabwire/devserver needs the 'ws' package: npm install -D ws";

type WsModule = {
  WebSocketServer?: WebSocketServerClass;
  default?: { WebSocketServer?: WebSocketServerClass };
};

/**
 * Loads `ws`'s `WebSocketServer` at run time: `ws` is an optional peer
 * dependency, so nothing may import it statically. `importWs` is replaceable
 * so the missing-package error can be tested.
 */
export async function loadWebSocketServer(
  importWs: () => Promise<unknown> = () => import('ws'),
): Promise<WebSocketServerClass> {
  let mod: WsModule;
  try {
    mod = (await importWs()) as WsModule;
  } catch (cause) {
    throw new Error(MISSING_WS_MESSAGE, { cause });
  }
  // ESM exposes it as a named export; a CJS interop wrapper may only have `default`.
  const ctor = mod.WebSocketServer ?? mod.default?.WebSocketServer;
  if (typeof ctor !== 'function') throw new Error(MISSING_WS_MESSAGE);
  return ctor;
}
