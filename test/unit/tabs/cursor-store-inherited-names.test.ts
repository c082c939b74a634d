import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { readCursor } from '../../../src/protocol/read';
import { channelName } from '../../../src/tabs/channel-name';
import { CursorStore } from '../../../src/tabs/cursor-store';
import { globalTimersClock } from '../../../src/testing/fake-browser';

// A service may be named `toString`, `valueOf`, `hasOwnProperty`…: the
// service-name pattern refuses only `__proto__`, `constructor` and
// `prototype`. The store's max-merge looked the seq of such a service up with
// `merged[service]` on a plain object, found Object.prototype's function
// where the other cursor had none, and stored Math.max(function, seq): NaN.
// A NaN is no seq, so the whole record then failed to load: an app reopened
// after that write resumed no service at all (each from the server's head,
// missing what was published while it was closed).

const NAME = channelName('app', { orgId: 'org-1', userId: 'user-1' });
const stores: CursorStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function makeStore(indexedDB: IDBFactory): CursorStore {
  const store = new CursorStore({ name: NAME, read: readCursor, indexedDB, clock: globalTimersClock });
  stores.push(store);
  return store;
}

describe('CursorStore: services named like Object.prototype members', () => {
  for (const service of ['toString', 'valueOf', 'hasOwnProperty']) {
    it(`keeps the record loadable when \`${service}\` joins a stored cursor`, async () => {
      const indexedDB = new IDBFactory();
      const tab = makeStore(indexedDB);
      tab.save({ tasks: 3 });
      await tab.flush();
      tab.save({ tasks: 4, [service]: 7 });
      await tab.flush();
      expect(await makeStore(indexedDB).load()).toEqual({ tasks: 4, [service]: 7 });
    });

    it(`keeps the record loadable when \`${service}\` joins within one write window`, async () => {
      const indexedDB = new IDBFactory();
      const tab = makeStore(indexedDB);
      tab.save({ tasks: 3 });
      tab.save({ tasks: 4, [service]: 7 });
      await tab.flush();
      expect(await makeStore(indexedDB).load()).toEqual({ tasks: 4, [service]: 7 });
    });
  }
});
