// The minimal app again, but handing the client a transport object instead of its name: shows whether
// the transports not named can be tree-shaken away.
import { createRealtime, websocketTransport } from '../../src/index';

const realtime = createRealtime({ url: '/v2/realtime', transports: [websocketTransport()] });
realtime.subscribe('tasks', (events) => console.log(events.length));
