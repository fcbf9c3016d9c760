/**
 * What a hotline call hands to the page's call view, shared by the caller's side
 * (hotlines.ts) and the answering standby endpoint (standby.ts): the call's connection,
 * room and id, and how to hang up. The page (main.ts) is the `HotlinesHost`.
 */

import type { SignalingClient } from "../protocol/signaling.js";

export interface HotlineCallStart {
  /** The connection the call runs on (closing it ends the call at the server). */
  readonly client: SignalingClient;
  readonly room: string;
  readonly callId: string;
  /** Tell the far end we hung up (when `client` is not the one that rang). */
  readonly hangup: () => void;
  /** Resolves when the server says the call ended (the far end hung up). */
  readonly ended: Promise<string>;
}

export interface HotlinesHost {
  /** Run a hotline call in the call view (pre-join first); resolves when it ended. */
  startCall(call: HotlineCallStart): Promise<void>;
  /** The room list connection, for the dashboard's data (null while in a call). */
  lobby(): SignalingClient | null;
}

/** Send a hotline request if the connection is still open (a closed one needs none:
 * the server hangs up a closed caller's or answerer's call itself). */
export function tell(client: SignalingClient | null, message: Parameters<SignalingClient["request"]>[0]): void {
  try {
    client?.request(message);
  } catch {
    // not connected any more
  }
}
