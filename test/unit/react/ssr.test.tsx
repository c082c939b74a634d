import { PassThrough } from 'node:stream';
import type { ReactNode } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import {
  RealtimeProvider,
  useOptimisticMutation,
  useRealtimeClient,
  useRealtimePropertyFilter,
  useRealtimeService,
  useRealtimeState,
} from '../../../src/react';

// Server rendering, as docs/react.md "Server rendering" promises it: in Node
// (this file has no DOM environment), with React 19 in the `unit` project
// and React 18 in `react18`. The hydration of this HTML in a page is
// ssr-hydration.test.tsx's.

// react-dom has no types installed here: only what these tests call.
interface ServerDom {
  renderToString(node: ReactNode): string;
  renderToPipeableStream(
    node: ReactNode,
    options: { onAllReady(): void; onShellError(error: unknown): void; onError(error: unknown): void },
  ): { pipe(destination: NodeJS.WritableStream): void };
}
const { renderToString, renderToPipeableStream } = (await import('react-dom/server' as string)) as ServerDom;

function streamToString(node: ReactNode): Promise<string> {
  return new Promise((resolve, reject) => {
    const { pipe } = renderToPipeableStream(node, {
      onAllReady() {
        const out = new PassThrough();
        let html = '';
        out.on('data', (chunk: Buffer) => {
          html += chunk.toString();
        });
        out.on('end', () => resolve(html));
        pipe(out);
      },
      onShellError: reject,
      onError: reject,
    });
  });
}

const options = {
  url: 'http://127.0.0.1:1/v2/realtime',
  scope: { orgId: 'org_ssr', userId: 'u_1' },
  devtools: false,
  telemetry: { sampleRate: 0 },
} as const;

// Every hook of tabwire/react, in one component.
function App() {
  const status = useRealtimeState((s) => s.status);
  const connected = useRealtimeState((s) => s.status === 'connected');
  const tab = useRealtimeState((s) => `${s.tabId}/${s.isLeader}/${s.electionStrategy}`);
  const client = useRealtimeClient();
  useRealtimeService('tasks', () => {
    throw new Error('no event is delivered on the server');
  });
  useRealtimePropertyFilter('prop_1');
  const { pending } = useOptimisticMutation<string>({ mutate: async () => {} });
  return (
    <p>
      status: {status}, connected: {String(connected)}, tab: {tab}, pending: {pending}, same client:{' '}
      {String(client.getState().status === status)}
    </p>
  );
}

const renderers = { renderToString, renderToPipeableStream: streamToString } as const;

let errors: ReturnType<typeof vi.spyOn>;
let warnings: ReturnType<typeof vi.spyOn>;
const network = vi.fn((what: string) => {
  throw new Error(`${what} called during server rendering`);
});
const clients: RealtimeClient[] = [];

beforeEach(() => {
  errors = vi.spyOn(console, 'error');
  warnings = vi.spyOn(console, 'warn');
  vi.stubGlobal('fetch', () => network('fetch'));
  vi.stubGlobal(
    'WebSocket',
    class {
      constructor() {
        network('WebSocket');
      }
    },
  );
  vi.stubGlobal(
    'EventSource',
    class {
      constructor() {
        network('EventSource');
      }
    },
  );
  // Not setImmediate: React's stream renderer works with it.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
});

afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  network.mockClear();
  for (const client of clients.splice(0)) await client.close();
});

function expectQuiet() {
  expect(network).not.toHaveBeenCalled();
  expect(errors).not.toHaveBeenCalled();
  expect(warnings).not.toHaveBeenCalled();
  // Nothing scheduled: the server process can exit.
  expect(vi.getTimerCount()).toBe(0);
}

describe('server rendering (no DOM)', () => {
  it('runs where no browser global exists', () => {
    for (const name of ['window', 'document', 'localStorage', 'sessionStorage', 'indexedDB', 'location']) {
      expect(name in globalThis, name).toBe(false);
    }
    expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined();
  });

  for (const [name, render] of Object.entries(renderers)) {
    describe(name, () => {
      it('renders the children of a `client` provider with the idle state, and opens nothing', async () => {
        const rt = createRealtime(options);
        clients.push(rt);
        const html = await render(
          <RealtimeProvider client={rt}>
            <App />
          </RealtimeProvider>,
        );
        expect(html).toContain('status: <!-- -->idle');
        expect(html).toContain('connected: <!-- -->false');
        expect(html).toContain('pending: <!-- -->0');
        // Not the server client's own tab fields (below): the page's client
        // cannot know them, and must render the same when it hydrates.
        expect(html).toContain('tab: <!-- -->/false/none');
        expect(rt.getState()).toMatchObject({ isLeader: true, electionStrategy: 'none' });
        expect(html).toContain('same client:<!-- --> <!-- -->true');
        expect(rt.getState()).toMatchObject({ status: 'idle', services: [], propertyFilter: null });
        expectQuiet();
        // Nothing left behind either: the client closes at once.
        await expect(rt.close()).resolves.toBeUndefined();
        expect(vi.getTimerCount()).toBe(0);
      });

      it('renders nothing for an `options` provider, and creates no client', async () => {
        const html = await render(
          <RealtimeProvider options={options}>
            <App />
          </RealtimeProvider>,
        );
        expect(html).toBe('');
        expectQuiet();
      });
    });
  }
});
