// centrifuge (JSON protocol, the default entry): connect and subscribe to one channel.
import { Centrifuge } from 'centrifuge';

const centrifuge = new Centrifuge('wss://example.com/connection/websocket');
const sub = centrifuge.newSubscription('x');
sub.on('publication', (ctx) => console.log(ctx.data));
sub.subscribe();
centrifuge.connect();
