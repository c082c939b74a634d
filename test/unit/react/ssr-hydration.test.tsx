// @vitest-environment happy-dom

import { act, waitFor } from '@testing-library/react';
import { lazy, type ReactNode, Suspense, useState } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { RealtimeOptions } from '../../../src/options';
import {
  RealtimeProvider,
  useRealtimeClient,
  useRealtimePropertyFilter,
  useRealtimeService,
  useRealtimeState,
} from '../../../src/react';
import { createMemoryBackend, type MemoryBackend } from '../../../src/testing/memory-backend';
import { memoryOptions } from './helpers';

// Server HTML hydrated in a page (docs/react.md "Server rendering"): the
// server's client and the page's are two clients, and whatever the page
// renders from its own state during hydration must be what the server
// rendered from its own, or React throws the server HTML away.
//
// The server's client is made as Node makes it: there, `leader.strategy:
// 'auto'` resolves to `none` (no locks, no storage; ssr.test.tsx checks it
// in Node), so it is its own leader. The page's resolves `auto` to an
// election (this DOM has localStorage), as a browser does.

// react-dom has no types installed here: only what these tests call.
interface Dom {
  renderToString(node: ReactNode): string;
}
interface DomClient {
  hydrateRoot(
    container: Element,
    node: ReactNode,
    options: { onRecoverableError(error: unknown): void },
  ): { unmount(): void };
}
const { renderToString } = (await import('react-dom/server' as string)) as Dom;
const { hydrateRoot } = (await import('react-dom/client' as string)) as DomClient;

function App() {
  const status = useRealtimeState((s) => s.status);
  const connected = useRealtimeState((s) => s.status === 'connected');
  const role = useRealtimeState((s) => (s.isLeader ? 'leader' : 'follower'));
  const peers = useRealtimeState((s) => s.leader.peers);
  const delivered = useRealtimeState((s) => s.byServiceDelivered.tasks ?? 0);
  const [events, setEvents] = useState(0);
  useRealtimeService('tasks', (batch) => setEvents((n) => n + batch.length));
  useRealtimePropertyFilter(null);
  useRealtimeClient();
  return (
    <p>
      <span id="status">{status}</span> <span id="connected">{String(connected)}</span>{' '}
      <span id="role">{role}</span> <span id="peers">{peers}</span> <span id="delivered">{delivered}</span>{' '}
      <span id="events">{events}</span>
    </p>
  );
}

/** Only subscribes: reads no state. */
function Subscriber() {
  useRealtimeService('tasks', () => {});
  return <p>tasks</p>;
}

function Late() {
  return <b id="late">{useRealtimeState((s) => s.status)}</b>;
}

const clients: RealtimeClient[] = [];
const track = (client: RealtimeClient) => {
  clients.push(client);
  return client;
};
let backend: MemoryBackend;
let browserOptions: RealtimeOptions;
let serverOptions: RealtimeOptions;
let errors: ReturnType<typeof vi.spyOn>;
let root: { unmount(): void } | undefined;
const recoverable: unknown[] = [];

beforeEach(() => {
  backend = createMemoryBackend({ heartbeatMs: 60_000 });
  // One page, one tab: the election of this DOM (the storage lease) is the
  // page's. Its own appKey, so no other file's client shares it.
  browserOptions = memoryOptions(backend, { leader: { strategy: 'auto' }, appKey: `ssr-${Math.random()}` });
  serverOptions = memoryOptions(backend, { leader: { strategy: 'none' } });
  errors = vi.spyOn(console, 'error');
  recoverable.length = 0;
});

afterEach(async () => {
  act(() => root?.unmount());
  root = undefined;
  document.body.innerHTML = '';
  vi.restoreAllMocks();
  for (const client of clients.splice(0)) await client.close();
});

// Server rendering here, in a DOM: the adapter has no layout effect (which
// React 18 warned about on the server), so it warns about nothing.
function serverRender(node: ReactNode): string {
  const html = renderToString(node);
  expect(errors).not.toHaveBeenCalled();
  return html;
}

function hydrate(html: string, page: ReactNode): HTMLElement {
  const container = document.createElement('div');
  container.innerHTML = html;
  document.body.append(container);
  act(() => {
    root = hydrateRoot(container, page, { onRecoverableError: (error) => recoverable.push(error) });
  });
  return container;
}

const text = (container: HTMLElement, id: string) => container.querySelector(`#${id}`)?.textContent;

async function receivesEvents(container: HTMLElement) {
  await waitFor(() => expect(text(container, 'status')).toBe('connected'), { timeout: 3000 });
  expect(text(container, 'connected')).toBe('true');
  expect(text(container, 'role')).toBe('leader');
  act(() => {
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
  });
  await waitFor(() => expect(text(container, 'events')).toBe('2'), { timeout: 3000 });
  await waitFor(() => expect(text(container, 'delivered')).toBe('2'), { timeout: 3000 });
}

/** `Late` as a lazy component whose code arrives when `load()` is called (a streamed part, a lazy route). */
function lateLoaded(): { PageLate: ReturnType<typeof lazy<typeof Late>>; load: () => void } {
  let load = () => {};
  const PageLate = lazy(
    () => new Promise<{ default: typeof Late }>((resolve) => (load = () => resolve({ default: Late }))),
  );
  return { PageLate, load: () => load() };
}

describe('hydrating server HTML', () => {
  it('with `client`: hydrates without a mismatch, then connects and receives events', async () => {
    const server = track(createRealtime(serverOptions));
    const html = serverRender(
      <RealtimeProvider client={server}>
        <App />
      </RealtimeProvider>,
    );
    expect(html).toContain('<span id="status">idle</span>');

    const browser = track(createRealtime(browserOptions));
    // The page's client is not the server's: another tab id and election.
    expect(browser.getState().electionStrategy).not.toBe(server.getState().electionStrategy);
    const container = hydrate(
      html,
      <RealtimeProvider client={browser}>
        <App />
      </RealtimeProvider>,
    );
    expect(recoverable).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
    await receivesEvents(container);
    expect(recoverable).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
  });

  it('with `options`: hydrates the empty server HTML, then creates its client, connects and receives events', async () => {
    const html = serverRender(
      <RealtimeProvider options={serverOptions}>
        <App />
      </RealtimeProvider>,
    );
    expect(html).toBe('');
    const container = hydrate(
      html,
      <RealtimeProvider options={browserOptions}>
        <App />
      </RealtimeProvider>,
    );
    expect(recoverable).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
    await receivesEvents(container);
    expect(recoverable).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
  });

  it('hydrates a boundary that comes in after the page connected like the rest', async () => {
    // A Suspense boundary whose code the page loads later (a lazy route, a
    // streamed part): it hydrates once the rest did, its effects ran and the
    // client connected, and it must still match the server's `idle`.
    const page = (late: ReactNode, client: RealtimeClient) => (
      <RealtimeProvider client={client}>
        <App />
        <Suspense fallback={<i>loading</i>}>{late}</Suspense>
      </RealtimeProvider>
    );
    // The server had the code: the boundary's content is in the HTML.
    const html = serverRender(page(<Late />, track(createRealtime(serverOptions))));
    expect(html).toContain('<b id="late">idle</b>');

    const { PageLate, load } = lateLoaded();
    const container = hydrate(html, page(<PageLate />, track(createRealtime(browserOptions))));
    await receivesEvents(container);
    expect(text(container, 'late')).toBe('idle'); // still the server's
    await act(async () => load());
    await waitFor(() => expect(text(container, 'late')).toBe('connected'));
    expect(recoverable).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
  });

  it('hydrates a late boundary that is the first to read the state, after the rest subscribed', async () => {
    // The rest of the page only subscribes (useRealtimeService, at its
    // commit): the boundary that comes in later is the first to read the
    // state, once the client connected. It must still match the server's.
    const page = (late: ReactNode, client: RealtimeClient) => (
      <RealtimeProvider client={client}>
        <Subscriber />
        <Suspense fallback={<i>loading</i>}>{late}</Suspense>
      </RealtimeProvider>
    );
    const html = serverRender(page(<Late />, track(createRealtime(serverOptions))));
    expect(html).toContain('<b id="late">idle</b>');

    const { PageLate, load } = lateLoaded();
    const browser = track(createRealtime(browserOptions));
    const container = hydrate(html, page(<PageLate />, browser));
    await waitFor(() => expect(browser.getState().status).toBe('connected'), { timeout: 3000 });
    await act(async () => load());
    await waitFor(() => expect(text(container, 'late')).toBe('connected'));
    expect(recoverable).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
  });
});
