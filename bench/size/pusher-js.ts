// pusher-js: connect and bind one event of one channel.
import Pusher from 'pusher-js';

new Pusher('app-key', { cluster: 'eu' }).subscribe('x').bind('e', (data: unknown) => console.log(data));
