export * from './schemas';
export { encodeCursor, decodeCursor } from './cursor';
export { parseServerFrame, type FrameParseResult } from './parse';
