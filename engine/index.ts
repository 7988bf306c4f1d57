export * from './errors.js';
export * from './position.js';
export * from './records.js';
export type * from './storage.js';
export {
  encodeFrame,
  encodeFrames,
  encodeRecord,
  decodeRecord,
  scanFrames,
  FRAME_HEADER,
  MAX_RECORD_BYTES,
} from './codec.js';
export type { FrameScan } from './codec.js';
