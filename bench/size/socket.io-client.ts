// socket.io-client: connect and listen to one event.
import { io } from 'socket.io-client';

io('https://example.com').on('x', (payload: unknown) => console.log(payload));
