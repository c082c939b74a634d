// Ambient declarations the docs' code samples may use without declaring them:
// an app's own objects (a query client, a token endpoint, a component), and
// the usual test helpers. Written as a global script next to every sample by
// test/integration/docs-samples.test.ts; kept as a string here so that it
// never leaks into the repo's own type-check.
//
// Add a name here only when a sample uses it the way real app code would
// have it in scope; never to paper over a wrong API in a sample.
export const SAMPLES_PRELUDE = `
// The app's query cache (TanStack Query's QueryClient, reduced to what samples call).
// setQueryData returns the data it set, as TanStack's does (TData | undefined):
// a sample that returns its result where only void is allowed must fail here too.
declare const queryClient: {
  setQueryData(key: readonly unknown[], data: unknown): unknown;
  invalidateQueries(filters?: { queryKey?: readonly unknown[] }): Promise<void>;
};
// The app's own token endpoint.
declare function fetchToken(): Promise<string>;
// A client created elsewhere in the app.
declare const rt: import('tabwire').RealtimeClient;
// A component of the app.
declare function TaskList(): import('react').ReactNode;
declare function App(): import('react').ReactNode;
// Legacy page code that samples migrate.
declare function refresh(events: unknown): void;
declare function rollback(): void;
declare function showToast(message: string): void;
declare function startPolling(): void;
declare function stopPolling(): void;
declare const selectedPropertyId: string | null;

// docs/testing.md: the pieces its fragments continue from.
declare const backend: import('tabwire/testing').MemoryBackend;
declare const browser: import('tabwire/testing').FakeBrowser;
declare const tab: import('tabwire').RealtimeClient;
declare const createFakeBrowser: typeof import('tabwire/testing').createFakeBrowser;
declare const render: typeof import('@testing-library/react').render;
declare const act: typeof import('@testing-library/react').act;
// docs/testing.md's React fragment continues a file that imported it.

// docs/transports.md: the message bus a custom transport wraps.
interface MyBusChannel {
  onMessage(listener: (text: string) => void): void;
  onEnd(listener: (status?: number) => void): void;
  resubscribe(services: string[], propertyIds: string[] | null): Promise<void>;
  auth(token: string): void;
  close(): void;
}
interface MyBus {
  open(request: { services: string[]; cursor: Record<string, number>; token?: string }): Promise<MyBusChannel>;
}
`;
