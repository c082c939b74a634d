// ably (default entry, its Realtime client): connect and subscribe to one channel.
import * as Ably from 'ably';

new Ably.Realtime({ key: 'app.key:secret' }).channels
  .get('x')
  .subscribe((message) => console.log(message.data));
