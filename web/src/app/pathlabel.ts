/**
 * The media path as people see it, the same words as the Python client and the CLI
 * (src/hotline/client/mediapath.py): "via SFU", "direct", "relay over UDP|TCP|TLS" (a
 * connection to the SFU through TURN) and "direct, relayed over UDP|TCP|TLS".
 *
 * And the page's RTCConfiguration: the TURN servers the server handed out with `joined`
 * or `resumed`, and `iceTransportPolicy: "relay"` when the page was opened with
 * `?relay=only` (media through TURN or not at all).
 */

import type { IceServer } from "../protocol/messages.js";

export type PathKind = "sfu" | "direct";

const OVER: Readonly<Record<string, string>> = { udp: "UDP", tcp: "TCP", tls: "TLS" };

/** The label of a connection of `kind` whose selected pair's local candidate is of type
 * `localType`, relayed (for a relay candidate) over `relayProtocol`. */
export function pathLabel(kind: PathKind, localType: string, relayProtocol: string | null): string {
  const over = relayProtocol === null ? undefined : OVER[relayProtocol.toLowerCase()];
  if (localType === "relay" && over !== undefined) {
    return kind === "sfu" ? `relay over ${over}` : `direct, relayed over ${over}`;
  }
  return kind === "sfu" ? "via SFU" : "direct";
}

/** True when the page was opened to send media through the relay only. */
export function relayOnly(search: string = location.search): boolean {
  return new URLSearchParams(search).get("relay") === "only";
}

/** The configuration of a media connection. Throws when relay only is asked for and the
 * server offers no TURN server (the call would have no path at all). */
export function rtcConfiguration(iceServers: readonly IceServer[], onlyRelay: boolean = relayOnly()): RTCConfiguration {
  if (onlyRelay && iceServers.length === 0) throw new Error("relay only, but the server offers no TURN server");
  return {
    iceServers: iceServers.map((s) => ({ urls: [...s.urls], username: s.username, credential: s.credential })),
    iceTransportPolicy: onlyRelay ? "relay" : "all",
  };
}
