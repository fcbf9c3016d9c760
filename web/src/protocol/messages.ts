/**
 * Signaling messages, version 1 (docs/SIGNALING.md). The schema is
 * src/hotline/signaling/messages.py; its types and validator tables are generated into
 * messages.gen.ts (scripts/gen_protocol.py). This is the hand-written rest: parsing what
 * the server sends, encoding what the client sends, and the roles that listen only.
 *
 * Every message is one JSON object `{"v": 1, "type": ..., ...}` in one WebSocket text frame
 * of at most MAX_MESSAGE_BYTES. `parseServer` refuses, with `ProtocolError`, what Python's
 * `parse_server` refuses: not JSON, not an object, a version other than the integer 1, an
 * unknown type, a missing or unknown field, a value of the wrong type (no coercion: a
 * number is not a string, `1.0` and `true` are not integers), a number out of its range, a
 * string too long or short, and binary fields that are not base64url without padding
 * (validate.ts; the cases both sides must agree on are protocol/conformance/signaling/).
 */

import {
  CLIENT_SHAPES, type ClientMessage, MAX_MESSAGE_BYTES, type Role, SERVER_SHAPES, type ServerMessage, VERSION,
} from "./messages.gen.js";
import { b64encode } from "./base64url.js";
import { parseMessage } from "./validate.js";

export * from "./messages.gen.js";
export { b64decode, b64encode } from "./base64url.js";

/** Roles that listen only: the server refuses their `publish` (messages.py LISTEN_ONLY). */
export const LISTEN_ONLY: ReadonlySet<Role> = new Set<Role>(["aide", "press", "recorder"]);

/** Validate one message from the server (ProtocolError if it is refused). */
export function parseServer(text: string): ServerMessage {
  return parseMessage(text, SERVER_SHAPES, VERSION, MAX_MESSAGE_BYTES) as ServerMessage;
}

/** Validate one message from a client, as the server does (the conformance tests use it). */
export function parseClient(text: string): ClientMessage {
  return parseMessage(text, CLIENT_SHAPES, VERSION, MAX_MESSAGE_BYTES) as ClientMessage;
}

/** The JSON text of a client message; binary fields become base64url. */
export function encodeClient(message: ClientMessage): string {
  const out: Record<string, unknown> = { v: VERSION };
  for (const [key, value] of Object.entries(message)) {
    out[key] = value instanceof Uint8Array ? b64encode(value) : value;
  }
  return JSON.stringify(out);
}
