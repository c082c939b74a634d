export { decodeCursor, encodeCursor } from './cursor';
export { type FrameParseResult, parseServerFrame } from './parse';
export * from './schemas';
