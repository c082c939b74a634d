import type { LockManagerLike, StorageLike } from '../../../src/tabs/leader-election';

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
