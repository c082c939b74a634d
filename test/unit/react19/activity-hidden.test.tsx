// @vitest-environment happy-dom
import { act, render, screen } from '@testing-library/react';
import { Activity } from 'react';
import { describe, expect, it } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import {
  type OptimisticRollbackReason,
  RealtimeProvider,
  useOptimisticMutation,
  useRealtimePropertyFilter,
  useRealtimeService,
  useRealtimeState,
} from '../../../src/react';
import { cleanupAfterEach } from '../react/fake-timer-cleanup';
import { setup } from '../react/helpers';

// docs/react.md: a component React 19.2's <Activity mode="hidden"> hides
// runs its effects' cleanups: it unsubscribes (the tab goes idle if it was
// the last subscriber), lets go of the property filter and cancels what is
// pending (rolled back as `cancelled`), until it is shown again. (React 18
// has no Activity: this file is outside test/unit/react/, which the react18
// project runs again.)

const clients = cleanupAfterEach();

interface Seen {
  mutate?: (title: string) => Promise<unknown>;
  rolledBack: OptimisticRollbackReason[];
}

function Page({ seen }: { seen: Seen }) {
  useRealtimeService('tasks', () => {});
  useRealtimePropertyFilter('p1');
  const { mutate } = useOptimisticMutation<string>({
    mutate: () => new Promise(() => {}), // the write never answers
    rollback: (_title, _id, reason) => seen.rolledBack.push(reason),
    timeoutMs: 60_000,
  });
  seen.mutate = mutate;
  return null;
}

function Status() {
  return <p>{useRealtimeState((s) => s.status)}</p>;
}

function app(client: RealtimeClient, mode: 'visible' | 'hidden', seen: Seen) {
  return (
    <RealtimeProvider client={client}>
      <Status />
      <Activity mode={mode}>
        <Page seen={seen} />
      </Activity>
    </RealtimeProvider>
  );
}

describe('hooks in content <Activity mode="hidden"> hides', () => {
  it('unsubscribe, let go of the filter and cancel pending mutations; shown again, subscribe and filter again', async () => {
    const { client, subscriptions } = setup({ idleGraceMs: 0 });
    clients.push(client);
    const seen: Seen = { rolledBack: [] };
    const view = render(app(client, 'visible', seen));
    await screen.findByText('connected');
    expect(subscriptions.live('tasks')).toBe(1);
    expect(client.getState().propertyFilter).toBe('p1');
    act(() => {
      void seen.mutate?.('a');
    });

    view.rerender(app(client, 'hidden', seen));
    await screen.findByText('idle');
    expect(subscriptions.live('tasks')).toBe(0);
    expect(client.getState().propertyFilter).toBeNull();
    expect(seen.rolledBack).toEqual(['cancelled']);

    view.rerender(app(client, 'visible', seen));
    await screen.findByText('connected');
    expect(subscriptions.live('tasks')).toBe(1);
    expect(client.getState().propertyFilter).toBe('p1');
  });
});
