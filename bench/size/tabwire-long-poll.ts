// Minimal tabwire app on the long-poll transport alone: one client, one service subscribed.
import { createRealtime } from '../../src/index';

const realtime = createRealtime({ url: '/v2/realtime', transports: ['long-poll'] });
realtime.subscribe('tasks', (events) => console.log(events.length));
