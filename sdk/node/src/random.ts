// Random hex for event ids (128 bits), trace ids (128) and span ids (64), from the OS's CSPRNG.
// Drawn from a pool refilled 4 KiB at a time: one randomFillSync per 256 ids instead of one per id.
import { randomFillSync } from "node:crypto";

const POOL = Buffer.allocUnsafe(4096);
let offset = POOL.length;

/** `bytes` random bytes as lower-case hex (bytes <= 64). */
export function randomHex(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const hex = POOL.toString("hex", offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A hex id that is not all zeros (W3C Trace Context forbids all-zero trace and span ids). */
export function nonZeroHex(bytes: number): string {
  let hex = randomHex(bytes);
  while (/^0+$/.test(hex)) hex = randomHex(bytes);
  return hex;
}
