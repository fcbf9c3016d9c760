/**
 * Media frames on the wire: codec bytes kept clear, the rest SFrame-protected
 * (docs/PROTOCOL.md "Wire frame"; src/hotline/crypto/frames.py).
 *
 *     wire frame = clear || SFrame(header || ciphertext || tag),  metadata = clear
 *
 *     codec  clear bytes
 *     Opus   1 (the TOC byte)
 *     VP8    10 on key frames (bit 0 of byte 0 is 0), else 3
 *     VP9    0 (works fully encrypted)
 *
 * A frame shorter than its clear part is refused (`SFrameError(TRUNCATED)`), as is any
 * wire frame that does not authenticate. Holding frames whose key is not known yet
 * (Python's FrameReceiver) belongs to the media pipeline and is not here.
 */

import { type Bytes, concat, copy } from "./bytes.js";
import { Reason, SFrameError } from "./errors.js";
import { type SFrameContext, type SFrameSender, decodeHeader } from "./sframe.js";

export const Codec = { OPUS: "opus", VP8: "vp8", VP9: "vp9" } as const;
export type Codec = (typeof Codec)[keyof typeof Codec];

/** Number of leading bytes of `frame` that stay in the clear. */
export function clearLength(codec: Codec, frame: Uint8Array): number {
  let n: number;
  if (codec === Codec.OPUS) {
    n = 1;
  } else if (codec === Codec.VP8) {
    const first = frame[0];
    if (first === undefined) throw new SFrameError(Reason.TRUNCATED, "empty VP8 frame");
    n = (first & 0x01) === 0 ? 10 : 3;
  } else if (codec === Codec.VP9) {
    n = 0;
  } else {
    throw new RangeError("unknown codec");
  }
  if (frame.length < n) throw new SFrameError(Reason.TRUNCATED, `${codec} frame shorter than its clear bytes`);
  return n;
}

/** Encrypt one encoded frame for the wire. The sender's counter is taken at call time. */
export async function protect(sender: SFrameSender, codec: Codec, frame: Uint8Array): Promise<Bytes> {
  const n = clearLength(codec, frame);
  const clear = copy(frame, 0, n);
  const sealed = sender.encrypt(clear, frame.subarray(n)); // called before any await
  return concat(clear, await sealed);
}

/** Decrypt one wire frame back to the encoded frame. */
export async function unprotect(context: SFrameContext, codec: Codec, wire: Uint8Array): Promise<Bytes> {
  const n = clearLength(codec, wire);
  const clear = copy(wire, 0, n);
  return concat(clear, await context.decrypt(clear, wire.subarray(n)));
}

/** The KID of a wire frame, read without any key. */
export function frameKid(codec: Codec, wire: Uint8Array): bigint {
  return decodeHeader(wire.subarray(clearLength(codec, wire))).kid;
}
