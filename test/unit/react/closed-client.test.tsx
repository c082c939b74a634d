// @vitest-environment happy-dom
import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import {
  RealtimeProvider,
  useRealtimePropertyFilter,
  useRealtimeService,
  useRealtimeState,
} from '../../../src/react';
import { cleanupAfterEach } from './fake-timer-cleanup';
import { setup } from './helpers';

// An app that closes its client (logout) re-renders before it hands the
// provider a new one: the closed client's status shows `closed`, and a
// component mounted then (an "offline" banner, the next route) subscribed
// to the closed client, which threw from the effect and took the whole
// React tree down.

const clients = cleanupAfterEach();

function Status() {
  return <p>{useRealtimeState((s) => s.status)}</p>;
}

function Page() {
  useRealtimeService('tasks', () => {});
  useRealtimePropertyFilter('p1');
  return <p>page</p>;
}

describe('hooks mounted on a client the app closed', () => {
  it('do nothing, and the tree stays up', async () => {
    const { client } = setup();
    clients.push(client);
    const view = render(
      <RealtimeProvider client={client}>
        <Status />
      </RealtimeProvider>,
    );
    await client.close();
    await screen.findByText('closed');
    view.rerender(
      <RealtimeProvider client={client}>
        <Status />
        <Page />
      </RealtimeProvider>,
    );
    expect(screen.getByText('page')).toBeTruthy();
    expect(client.getState().services).toEqual([]);
    expect(() => view.unmount()).not.toThrow();
  });
});
