import type { RealtimeHub } from './hub';
import type { DevServerFaults } from './types';

/** The fault hooks of a dev server, acting on its hub. */
export function createFaults(hub: RealtimeHub, onDrop: () => void): DevServerFaults {
  return {
    delay(ms) {
      if (!Number.isFinite(ms) || ms < 0)
        throw new RangeError(`faults.delay: ms must be a finite number >= 0, got ${ms}`);
      hub.delayMs = ms;
    },
    dropConnections() {
      hub.dropConnections();
      onDrop();
    },
    expireTokens() {
      hub.expireTokens();
    },
    revokeUser(orgId, userId) {
      hub.revokeUser(orgId, userId);
    },
    refuseWebSocket(refuse) {
      hub.refuseWebSocket = refuse;
    },
    silenceWebSocket(silent) {
      hub.silenceWebSocket = silent;
    },
    sendRaw(orgId, text) {
      hub.sendRaw(orgId, text);
    },
  };
}
