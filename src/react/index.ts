export type { RealtimeProviderProps } from './context';
export { RealtimeProvider, useRealtimeClient } from './context';
export { useRealtimePropertyFilter, useRealtimeService, useRealtimeState } from './hooks';
export type {
  OptimisticMutation,
  OptimisticMutationContext,
  OptimisticMutationResult,
  OptimisticRollbackReason,
  UseOptimisticMutationOptions,
} from './use-optimistic-mutation';
export { useOptimisticMutation } from './use-optimistic-mutation';
