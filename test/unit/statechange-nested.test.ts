import { afterEach, describe, expect, it, vi } from 'vitest';
import { setup } from './react/helpers';

// A `statechange` listener that changes the state again (closes the client,
// sets the property filter) has every listener told of the newer state at
// once; the listeners after it in the list were then handed the older one,
// last: after `closed`, which the docs promise is the last statechange, a
// listener heard `connected` again, and a status banner kept showing it.

const toClose: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const client of toClose.splice(0)) await client.close();
});

describe('statechange while a listener changes the state again', () => {
  it('ends with `closed` for every listener when one closes the client', async () => {
    const { client } = setup();
    toClose.push(client);
    client.on('statechange', ({ status }) => {
      if (status === 'connected') void client.close();
    });
    const seen: string[] = [];
    client.on('statechange', ({ status }) => seen.push(status));
    client.subscribe('tasks', () => {});
    await until(() => client.getState().status === 'closed');
    expect(seen.at(-1)).toBe('closed');
    expect(seen.filter((status) => status === 'closed')).toHaveLength(1);
  });

  it('hands no listener an older state after a newer one when one sets the filter', async () => {
    const { client } = setup();
    toClose.push(client);
    client.on('statechange', ({ status }) => {
      if (status === 'connected') client.setPropertyFilter('p1');
    });
    const filters: Array<string | null> = [];
    client.on('statechange', (state) => filters.push(state.propertyFilter));
    client.subscribe('tasks', () => {});
    await until(() => client.getState().propertyFilter === 'p1');
    expect(filters.slice(filters.indexOf('p1'))).not.toContain(null);
  });
});

async function until(check: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(check()).toBe(true));
}
