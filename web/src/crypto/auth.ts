/**
 * Proofs of identity-key possession for the signaling server, bound to that server (the
 * twin of src/hotline/crypto/auth.py; vectors: tests/vectors/auth-v1.json).
 *
 * Signed: "hotline/v1 {purpose}" 0x00 || challenge || identity_key || bytes8(origin) ||
 * bytes8(channel_binding) [|| SHA-256(code)]. The origin is the server's as this page
 * knows it: the URL it opens its WebSocket to, as `scheme://host:port` (ws -> http,
 * wss -> https, the port always written). Browsers expose no TLS channel binding, so
 * the page's proofs carry an empty one: the origin alone binds them to the server.
 */

import { type Bytes, ascii, concat } from "./bytes.js";
import type { Identity } from "./identity.js";

const SCHEMES: Readonly<Record<string, string>> = { "http:": "http", "ws:": "http", "https:": "https", "wss:": "https" };
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: "80", https: "443" };
export const MAX_ORIGIN = 255;

/** The origin a proof names for `url` (http/https/ws/wss); throws RangeError otherwise. */
export function originOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new RangeError(`not a URL: ${JSON.stringify(url)}`);
  }
  const scheme = SCHEMES[parsed.protocol];
  if (scheme === undefined || parsed.hostname === "") throw new RangeError(`not an http(s) or ws(s) URL: ${JSON.stringify(url)}`);
  const origin = `${scheme}://${parsed.hostname.toLowerCase()}:${parsed.port || DEFAULT_PORTS[scheme]!}`;
  if (new TextEncoder().encode(origin).length > MAX_ORIGIN) throw new RangeError("origin too long");
  return origin;
}

/** True if `url` is plain http/ws to a host that is not this machine (loopback). */
export function insecureTransport(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol !== "ws:" && parsed.protocol !== "http:") return false;
  const host = parsed.hostname.toLowerCase();
  return !(host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/** The bytes a proof signs. */
export async function proofMessage(purpose: "auth" | "enroll", challenge: Uint8Array, identityKey: Uint8Array,
                                   origin: string, channelBinding: Uint8Array = new Uint8Array(0), code = ""): Promise<Bytes> {
  const originBytes = new TextEncoder().encode(origin);
  if (originBytes.length > MAX_ORIGIN || channelBinding.length > 255) throw new RangeError("origin or channel binding too long");
  const codeHash = code ? new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code))) : new Uint8Array(0);
  return concat(ascii(`hotline/v1 ${purpose}\0`), challenge, identityKey, Uint8Array.of(originBytes.length), originBytes,
    Uint8Array.of(channelBinding.length), channelBinding, codeHash);
}

/** Proof that `identity` answers `challenge` of the server at `origin`. */
export async function prove(identity: Identity, purpose: "auth" | "enroll", challenge: Uint8Array, origin: string,
                            code = ""): Promise<Bytes> {
  return identity.sign(await proofMessage(purpose, challenge, identity.publicKey, origin, new Uint8Array(0), code));
}
