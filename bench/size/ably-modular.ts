// ably/modular: the smallest Realtime client it documents (BaseRealtime + WebSocket + fetch), subscribe to one channel.
import { BaseRealtime, FetchRequest, WebSocketTransport } from 'ably/modular';

new BaseRealtime({ key: 'app.key:secret', plugins: { WebSocketTransport, FetchRequest } }).channels
  .get('x')
  .subscribe((message) => console.log(message.data));
