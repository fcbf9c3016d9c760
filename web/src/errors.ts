/**
 * The non-crypto part of src/hotline/errors.py: errors of our own use (`UsageError`), of
 * remote input (`ProtocolError`), and the requests the server refused (`ServerError`, one
 * class per wire code). Crypto failures are `CryptoError`s (src/crypto/errors.ts).
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

/** The server could not be reached or closed the connection. */
export class ConnectionFailed extends RemoteError {}

/**
 * A request the server refused: one class per wire code of the server's `error` message
 * (`SERVER_ERRORS`, the table of src/hotline/errors.py; both are checked against
 * protocol/conformance/errors/wire-codes.json). `code` is the code received (a code this
 * version does not know stays a plain `ServerError` with that code); the message is
 * `"<code>: <message>"`.
 */
export class ServerError extends RemoteError {
  readonly code: string;

  constructor(message: string, code?: string) {
    const wire = code ?? codeOf(new.target);
    super(`${wire}: ${message}`);
    this.code = wire;
  }
}

/** Authentication failed or is required. */
export class Unauthorized extends ServerError {}

/** Authenticated, but not allowed (not a member, revoked device, a hotline key not pinned). */
export class Forbidden extends ServerError {}

/** The request needs a joined participant. */
export class NotInRoom extends ServerError {}

/** No seat of this device to take back (expired, or a wrong token). */
export class ResumeRefused extends ServerError {}

/** The server found our request malformed or out of order. */
export class BadRequest extends ServerError {}

/** The server's state refuses the request (a used code, a call answered already). */
export class Refused extends ServerError {}

/** The server failed; it tells no more. */
export class InternalError extends ServerError {}

/** The wire codes of the server's `error` message, and the class raised for each. */
export const SERVER_ERRORS: Readonly<Record<string, new (message: string) => ServerError>> = {
  unauthorized: Unauthorized,
  forbidden: Forbidden,
  not_in_room: NotInRoom,
  resume_refused: ResumeRefused,
  bad_request: BadRequest,
  refused: Refused,
  internal: InternalError,
};

function codeOf(cls: unknown): string {
  return Object.entries(SERVER_ERRORS).find(([, c]) => c === cls)?.[0] ?? "internal";
}

/** The error to raise for an `error` message the server sent. */
export function serverError(code: string, message: string): ServerError {
  const cls = Object.hasOwn(SERVER_ERRORS, code) ? SERVER_ERRORS[code] : undefined;
  return cls !== undefined ? new cls(message) : new ServerError(message, code);
}
