// Part (c) alone: the sampled SLI reporter (with what it needs: telemetry payload, sketches, counters).
import { SliReporter } from '../../src/observability/sli-reporter';

console.log(SliReporter);
