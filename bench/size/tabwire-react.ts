// The minimal app (tabwire-websocket.ts) plus the React adapter: a provider given that client and one
// component subscribed with useRealtimeService. scripts/size.mjs reports this minus tabwire-websocket.ts.
import { createElement } from 'react';
import { createRealtime } from '../../src/index';
import { RealtimeProvider, useRealtimeService } from '../../src/react/index';

const realtime = createRealtime({ url: '/v2/realtime', transports: ['websocket'] });
realtime.subscribe('tasks', (events) => console.log(events.length));

function Tasks() {
  useRealtimeService('tasks', (events) => console.log(events.length));
  return null;
}

export const app = createElement(RealtimeProvider, { client: realtime }, createElement(Tasks));
