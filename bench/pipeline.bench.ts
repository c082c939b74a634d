/**
 * Pipeline benchmark: events/s of the full hot path (JSON.parse + frame
 * validation + gap check + dedup + dispatch) against bare JSON.parse on the
 * very same frame strings, plus the heap kept by one pipeline after a
 * million events. Prints a Markdown table; exits non-zero when a budget of
 * DESIGN.md is missed. Run through `node bench/run.mjs` (it bundles this file
 * and gives node `--expose-gc`).
 */
import os from 'node:os';
import { DEFAULT_FLAGS } from '../src/options';
import { DEFAULT_DEDUP_CAPACITY } from '../src/pipeline/dedup-window';
import { Dispatcher } from '../src/pipeline/dispatcher';
import { EventPipeline, type PipelineSink } from '../src/pipeline/event-pipeline';
import { parseServerFrame } from '../src/protocol/parse';
import { type BatchFrame, type RealtimeEvent, serverFrameSchema } from '../src/protocol/schemas';

const EVENTS_PER_FRAME = 100;
const FRAMES = 200;
const WARMUP_ROUNDS = 5;
const ROUNDS = 15;
const MEMORY_EVENTS = 1_000_000;
const MIN_RATIO = 0.5;
const MAX_HEAP_GROWTH_BYTES = 4 * 1024 * 1024;

const SERVICE = 'tasks';
const TYPES = ['task.created', 'task.updated', 'task.updated', 'task.updated', 'task.deleted'];
const ULID_CHARS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID-looking id that is unique per seq, like the `evt_01H...` of PROTOCOL.md. */
function eventIdOf(seq: number): string {
  let id = '';
  let n = seq * 2_654_435_761;
  for (let i = 0; i < 16; i++) {
    id += ULID_CHARS[n % 32];
    n = Math.floor(n / 32) + seq;
  }
  return `evt_01HZ3K8V${id}${seq.toString(32).toUpperCase()}`;
}

/** One event shaped like PROTOCOL.md's example. */
function makeEvent(seq: number): RealtimeEvent {
  const task = seq % 5000;
  return {
    service: SERVICE,
    entityType: 'task',
    type: TYPES[seq % TYPES.length]!,
    eventId: eventIdOf(seq),
    seq,
    ts: 1763800000123 + seq * 7,
    orgId: 'org_1',
    propertyId: `prop_${seq % 12}`,
    mutationId: seq % 3 === 0 ? `m_${eventIdOf(seq * 7).slice(-8)}` : undefined,
    data: { id: `t_${task}`, title: `Review the quarterly plan, part ${task}` },
  };
}

/** A batch continuing exactly from the previous one: never a gap, never an overlap. */
function makeBatch(index: number): BatchFrame {
  const first = index * EVENTS_PER_FRAME;
  const events: RealtimeEvent[] = [];
  for (let i = 1; i <= EVENTS_PER_FRAME; i++) events.push(makeEvent(first + i));
  return {
    type: 'batch',
    events,
    after: { [SERVICE]: first },
    cursor: { [SERVICE]: first + EVENTS_PER_FRAME },
  };
}

interface Harness {
  pipeline: EventPipeline;
  delivered(): number;
}

/** A pipeline wired to a dispatcher with one no-op subscriber, as in a tab. */
function makeHarness(): Harness {
  const dispatcher = new Dispatcher({
    onHandlerError: (error) => {
      throw error;
    },
    // No filter, no flag: every event is dispatched.
    getState: () => ({ propertyFilter: null, flags: DEFAULT_FLAGS }),
  });
  dispatcher.subscribe(SERVICE, () => {});
  let delivered = 0;
  let lost = 0;
  const sink: PipelineSink = {
    onEvents: (service, events) => {
      delivered += dispatcher.dispatch(service, events).delivered.length;
    },
    onGap: () => {
      lost++;
    },
    onResync: () => {
      lost++;
    },
    onSuppressed: (_service, count) => {
      lost += count;
    },
  };
  const pipeline = new EventPipeline(sink, DEFAULT_DEDUP_CAPACITY);
  pipeline.setServices(dispatcher.services(), {});
  return {
    pipeline,
    delivered: () => {
      if (lost !== 0) throw new Error(`bench frames were not clean: ${lost} suppressed/gaps`);
      return delivered;
    },
  };
}

const texts: string[] = [];
for (let i = 0; i < FRAMES; i++) texts.push(JSON.stringify(makeBatch(i)));
const totalEvents = FRAMES * EVENTS_PER_FRAME;
const totalBytes = texts.reduce((sum, text) => sum + text.length, 0);

// Results are folded into this so no engine can drop the work as dead code.
let checksum = 0;

function roundJsonParse(): number {
  const start = performance.now();
  for (let i = 0; i < texts.length; i++) {
    const frame = JSON.parse(texts[i]!) as { events: unknown[] };
    checksum += frame.events.length;
  }
  return performance.now() - start;
}

function roundPipeline(): number {
  // A fresh pipeline per round: the same frames again would all be duplicates.
  const harness = makeHarness();
  const pipeline = harness.pipeline;
  const start = performance.now();
  for (let i = 0; i < texts.length; i++) {
    const result = parseServerFrame(texts[i]!);
    if (!result.ok) throw new Error(`frame ${i} refused: ${result.reason} ${result.detail ?? ''}`);
    pipeline.applyFrame(result.frame);
  }
  return finish(harness, performance.now() - start);
}

/** The same, validating with the zod schema alone (what parseServerFrame did before the batch reader). */
function roundPipelineZodOnly(): number {
  const harness = makeHarness();
  const pipeline = harness.pipeline;
  const start = performance.now();
  for (let i = 0; i < texts.length; i++) {
    const result = serverFrameSchema.safeParse(JSON.parse(texts[i]!));
    if (!result.success) throw new Error(`frame ${i} refused by zod`);
    pipeline.applyFrame(result.data);
  }
  return finish(harness, performance.now() - start);
}

function finish(harness: Harness, elapsed: number): number {
  const delivered = harness.delivered();
  if (delivered !== totalEvents) throw new Error(`delivered ${delivered} of ${totalEvents}`);
  checksum += delivered;
  return elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function eventsPerSecond(ms: number): number {
  return (totalEvents / ms) * 1000;
}

// Rounds alternate between the variants so that a noisy neighbour or a CPU
// frequency change hits all alike.
const jsonRates: number[] = [];
const pipelineRates: number[] = [];
const zodOnlyRates: number[] = [];
for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
  const jsonMs = roundJsonParse();
  const pipelineMs = roundPipeline();
  const zodOnlyMs = roundPipelineZodOnly();
  if (round >= WARMUP_ROUNDS) {
    jsonRates.push(eventsPerSecond(jsonMs));
    pipelineRates.push(eventsPerSecond(pipelineMs));
    zodOnlyRates.push(eventsPerSecond(zodOnlyMs));
  }
}
const jsonRate = median(jsonRates);
const pipelineRate = median(pipelineRates);
const zodOnlyRate = median(zodOnlyRates);
const ratio = pipelineRate / jsonRate;

// Memory: one pipeline, a million events, heap measured after full GCs.
const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  if (gc !== undefined) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}
const heapBefore = heapUsed();
const memoryHarness = makeHarness();
let heapAt100k = 0;
for (let i = 0; i < MEMORY_EVENTS / EVENTS_PER_FRAME; i++) {
  memoryHarness.pipeline.applyFrame(makeBatch(i));
  if ((i + 1) * EVENTS_PER_FRAME === 100_000) heapAt100k = heapUsed() - heapBefore;
}
const heapGrowth = heapUsed() - heapBefore;
// Still in use after the measurement, so the pipeline could not have been collected before it.
const memoryDelivered = memoryHarness.delivered();
// A pipeline that kept nothing because it delivered nothing would look bounded.
if (memoryDelivered !== MEMORY_EVENTS)
  throw new Error(`memory: delivered ${memoryDelivered} of ${MEMORY_EVENTS} events`);
checksum += memoryDelivered + (memoryHarness.pipeline.getCursor()[SERVICE] ?? 0);

const ratioPass = ratio >= MIN_RATIO;
const memoryPass = gc === undefined || heapGrowth < MAX_HEAP_GROWTH_BYTES;

const fmtRate = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
const verdict = (pass: boolean) => (pass ? 'pass' : '**FAIL**');

const lines = [
  '### Pipeline throughput and memory',
  '',
  `Node ${process.version} · ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical CPUs) · ${new Date().toISOString()}`,
  '',
  `${FRAMES} batch frames × ${EVENTS_PER_FRAME} events (${fmtMB(totalBytes)} of JSON), median of ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up rounds, the three throughput rows alternating round by round.`,
  '',
  '| what | events/s | ratio to JSON.parse | budget |',
  '|---|---:|---:|---|',
  `| bare \`JSON.parse\` | ${fmtRate(jsonRate)} | 1.00 | — |`,
  `| full pipeline: \`parseServerFrame\` (JSON.parse + validation) + \`EventPipeline.applyFrame\` (gap check, dedup) + \`Dispatcher.dispatch\` (1 no-op subscriber) | ${fmtRate(pipelineRate)} | ${ratio.toFixed(2)} | ≥ ${MIN_RATIO.toFixed(2)}: ${verdict(ratioPass)} |`,
  `| for reference: the same pipeline validating with zod's \`serverFrameSchema.safeParse\` alone instead of the batch reader | ${fmtRate(zodOnlyRate)} | ${(zodOnlyRate / jsonRate).toFixed(2)} | not budgeted |`,
  `| memory: heap growth of one pipeline after ${MEMORY_EVENTS.toLocaleString('en-US')} events (dedup window 4,096 keys): **${fmtMB(heapGrowth)}** (${fmtMB(heapAt100k)} after 100,000) | — | — | < 4 MB: ${gc === undefined ? 'not enforced without --expose-gc' : verdict(memoryPass)} |`,
  '',
  gc === undefined
    ? 'Heap measured without `--expose-gc`: garbage not yet collected is included, so the memory figure is only an upper bound and is not enforced.'
    : 'Heap: `process.memoryUsage().heapUsed` after two `global.gc()` calls, before and after, the pipeline still referenced.',
  `<!-- checksum ${checksum} -->`,
];
console.log(lines.join('\n'));

if (!ratioPass || !memoryPass) {
  console.error(
    `pipeline bench: budget missed (ratio ${ratio.toFixed(2)} < ${MIN_RATIO}, or heap growth ${fmtMB(heapGrowth)} ≥ 4 MB)`,
  );
  process.exitCode = 1;
}
