/**
 * The non-crypto part of src/hotline/errors.py: errors of our own use (`UsageError`) and of
 * remote input (`ProtocolError`). Crypto failures are `CryptoError`s (src/crypto/errors.ts).
 */

export class HotlineError extends Error {
  constructor(message = "") {
    super(message);
    this.name = new.target.name;
  }
}

/** Our side is at fault: configuration, arguments or call order. */
export class LocalError extends HotlineError {}

/** An API was used wrongly (bad argument, wrong state). */
export class UsageError extends LocalError {}

/** Input from a peer or the server was refused. */
export class RemoteError extends HotlineError {}

/** A message was malformed, of an unknown type, or of an unsupported version. */
export class ProtocolError extends RemoteError {}
