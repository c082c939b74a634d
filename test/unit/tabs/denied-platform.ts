import type { LockManagerLike, StorageLike } from '../../../src/tabs/leader-election';
import type { MemoryStorage } from '../../../src/testing';

// A context where the browser refuses Web Locks and storage (an opaque
// origin, site data blocked): see locks-denied.test.ts.

/** What navigator.locks answers in such a context. */
export const deniedLocks: LockManagerLike = {
  request: () =>
    Promise.reject(
      new DOMException(
        "Failed to execute 'request' on 'LockManager': Access to the Locks API is denied in this context.",
        'SecurityError',
      ),
    ),
};

/** And localStorage: every call throws. */
export const deniedStorage: StorageLike = {
  getItem: () => {
    throw new DOMException('denied', 'SecurityError');
  },
  setItem: () => {
    throw new DOMException('denied', 'SecurityError');
  },
  removeItem: () => {
    throw new DOMException('denied', 'SecurityError');
  },
};

/** `shared`, whose writes throw as when the origin's quota is full (reads and removals work). */
export function fullStorage(shared: MemoryStorage): StorageLike {
  return {
    getItem: (key) => shared.getItem(key),
    setItem: () => {
      throw new DOMException('full', 'QuotaExceededError');
    },
    removeItem: (key) => shared.removeItem(key),
  };
}
