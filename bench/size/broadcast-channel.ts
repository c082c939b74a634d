// broadcast-channel: leader election between tabs only (no network connection at all).
import { BroadcastChannel, createLeaderElection } from 'broadcast-channel';

const channel = new BroadcastChannel('x');
createLeaderElection(channel)
  .awaitLeadership()
  .then(() => console.log('leader'));
