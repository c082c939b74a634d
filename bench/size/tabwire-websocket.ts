// Minimal tabwire app: one client on the WebSocket transport, one service subscribed.
import { createRealtime } from '../../src/index';

const realtime = createRealtime({ url: '/v2/realtime', transports: ['websocket'] });
realtime.subscribe('tasks', (events) => console.log(events.length));
