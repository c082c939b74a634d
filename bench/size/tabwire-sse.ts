// Minimal tabwire app on the sse transport alone: one client, one service subscribed.
import { createRealtime } from '../../src/index';

const realtime = createRealtime({ url: '/v2/realtime', transports: ['sse'] });
realtime.subscribe('tasks', (events) => console.log(events.length));
