export type { RealtimeProviderProps } from './context';
export { RealtimeProvider, useRealtimeClient } from './context';
export { useRealtimePropertyFilter, useRealtimeService, useRealtimeState } from './hooks';
