// Part (a) alone: the frame parser and its hand-written readers (no zod in the browser bundle).
import { parseServerFrame } from '../../src/protocol/parse';

console.log(parseServerFrame('{"type":"heartbeat"}'));
