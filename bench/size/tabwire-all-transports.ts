// Minimal tabwire app with the full fallback chain (the default): websocket, then sse, then long-poll.
import { createRealtime } from '../../src/index';

const realtime = createRealtime({ url: '/v2/realtime', transports: ['websocket', 'sse', 'long-poll'] });
realtime.subscribe('tasks', (events) => console.log(events.length));
