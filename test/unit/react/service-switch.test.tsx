// @vitest-environment happy-dom
import { render, screen } from '@testing-library/react';
import { useLayoutEffect } from 'react';
import { describe, expect, it } from 'vitest';
import { RealtimeProvider, useRealtimeService, useRealtimeState } from '../../../src/react';
import { cleanupAfterEach } from './fake-timer-cleanup';
import { setup } from './helpers';

// useRealtimeService took the new render's handler at commit (a layout
// effect) but moved its subscription only in the passive effect after it:
// a batch that came in between (a socket message before React flushed the
// passive effects, here a sibling's layout effect) reached the handler
// written for the new service, or for `enabled: false`, with the events of
// the old one. Since the subscription moved to a passive effect (see
// suspense-hidden.test.tsx), the handler checks it is the latest commit's:
// also for a new client from the provider, whose handler must not get the
// old client's batches (another user's, after a logout).

const clients = cleanupAfterEach();

function Service(props: { service: string; enabled: boolean; out: string[] }) {
  useRealtimeService(
    props.service,
    (events) => {
      for (const e of events)
        props.out.push(`${props.service}${props.enabled ? '' : ' (off)'} got ${e.service}`);
    },
    props.enabled,
  );
  return <p>{useRealtimeState((s) => s.status)}</p>;
}

/** Runs `publish` once the commit is in, before its passive effects. */
function AfterCommit({ publish }: { publish?: () => void }) {
  useLayoutEffect(() => {
    publish?.();
  });
  return null;
}

describe('useRealtimeService when its service or enabled changes', () => {
  for (const change of ['service', 'enabled', 'client'] as const) {
    it(`gives no batch of the old subscription to the new handler (${change} changed)`, async () => {
      const { client, backend } = setup();
      const next = setup().client;
      clients.push(client, next);
      const out: string[] = [];
      const ui = (service: string, enabled: boolean, publish?: () => void, given = client) => (
        <RealtimeProvider client={given}>
          <Service service={service} enabled={enabled} out={out} />
          <AfterCommit publish={publish} />
        </RealtimeProvider>
      );
      const view = render(ui('tasks', true));
      await screen.findByText('connected');
      const publish = () => {
        backend.publish({ service: 'tasks' });
      };
      if (change === 'service') view.rerender(ui('users', true, publish));
      else if (change === 'enabled') view.rerender(ui('tasks', false, publish));
      else view.rerender(ui('tasks', true, publish, next));
      expect(out).toEqual([]);
      expect(client.getState().services).toEqual(change === 'service' ? ['users'] : []);
      if (change === 'client') expect(next.getState().services).toEqual(['tasks']);
    });
  }
});
