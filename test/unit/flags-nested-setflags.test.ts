import { afterEach, describe, expect, it, vi } from 'vitest';
import { setup } from './react/helpers';

// A `statechange` listener that sets flags again while a flags change is
// applied (shadow mode on, and the listener turns it off at once) left the
// handlers dispatched by the first change's flags: the state showed shadow
// mode off, and no handler was called any more.

const toClose: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const client of toClose.splice(0)) await client.close();
});

describe('setFlags from a statechange listener', () => {
  it('dispatches by the flags the state ends with', async () => {
    const { backend, client } = setup();
    toClose.push(client);
    const handler = vi.fn();
    client.subscribe('tasks', handler);
    await vi.waitFor(() => expect(client.getState().status).toBe('connected'));
    client.on('statechange', (state) => {
      if (state.flags.shadowMode) client.setFlags({ shadowMode: false });
    });
    client.setFlags({ shadowMode: true });
    expect(client.getState().flags.shadowMode).toBe(false);
    backend.publish({ service: 'tasks' });
    await vi.waitFor(() => expect(handler).toHaveBeenCalledOnce());
    expect(client.getState().byServiceDelivered).toEqual({ tasks: 1 });
  });
});
