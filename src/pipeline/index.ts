export {
  DEFAULT_DEDUP_CAPACITY,
  type DedupWindow,
  dedupKey,
  dedupWindow,
  MAX_DEDUP_CAPACITY,
} from './dedup-window';
export { Dispatcher, type DispatcherOptions, type DispatchResult, type EventHandler } from './dispatcher';
export {
  EventPipeline,
  type PipelineGap,
  type PipelineResync,
  type PipelineSink,
  type SuppressReason,
} from './event-pipeline';
