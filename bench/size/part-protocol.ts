// Part (a) alone: zod/mini with the protocol's frame schemas and the frame parser.
import { parseServerFrame } from '../../src/protocol/parse';

console.log(parseServerFrame('{"type":"heartbeat"}'));
