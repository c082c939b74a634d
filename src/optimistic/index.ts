export {
  assertMutationId,
  MAX_MUTATION_ID_LENGTH,
  MUTATION_ID_HEADER,
  newMutationId,
  withMutationId,
} from './mutation-header';
export {
  type MutationCancelReason,
  type MutationEcho,
  type MutationOutcome,
  type MutationStatus,
  PendingMutations,
  type TrackedMutation,
  type TrackOptions,
} from './tracked-mutation';
