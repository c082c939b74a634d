// What a session that measures SLIs loads (see the client's #measure): the
// collector with its sketches, SLOs and alerts, and the report built from it.
export { SliCollector } from './sli-collector';
export { buildSliReport, sliState } from './sli-report';
