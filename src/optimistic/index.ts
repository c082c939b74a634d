export {
  assertMutationId,
  MAX_MUTATION_ID_LENGTH,
  MUTATION_ID_HEADER,
  newMutationId,
  withMutationId,
} from './mutation-header';
export {
  DEFAULT_MUTATION_TRACKER,
  type MutationCancelReason,
  type MutationEcho,
  type MutationOutcome,
  type MutationStatus,
  MutationTracker,
  type MutationTrackerOptions,
  type MutationTrackerStats,
  type TrackedMutation,
  type TrackOptions,
} from './mutation-tracker';
