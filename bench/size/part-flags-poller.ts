// Part (d) alone: the flags URL poller.
import { FlagsPoller } from '../../src/flags/flags-poller';

console.log(FlagsPoller);
