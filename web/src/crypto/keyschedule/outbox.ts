/**
 * Outgoing key messages: my new sending key, sealed to each peer this device verified.
 * Python: keyschedule/outbox.py.
 */

import { CryptoError } from "../errors.js";
import type { Identity } from "../identity.js";
import { KeyMessage } from "../keymessage.js";
import type { KeyScheduleConfig, MemberRejected, SendKeyMessage } from "./events.js";
import type { Peer } from "./peers.js";

/** One key message per trusted peer, in id order; a peer whose call key cannot be sealed
 * to is rejected instead (it must not stop the rekey of everyone else). */
export async function sealToPeers(identity: Identity, config: KeyScheduleConfig, peers: ReadonlyMap<number, Peer>,
  at: { readonly me: number; readonly epoch: number; readonly generation: number; readonly baseKey: Uint8Array },
): Promise<[SendKeyMessage[], MemberRejected[]]> {
  // not verified by this device: nothing is sealed to it
  const trusted = [...peers.entries()].filter(([, p]) => p.trusted).sort(([a], [b]) => a - b);
  const sealed = await Promise.allSettled(trusted.map(([pid, peer]) => KeyMessage.seal(
    identity, peer.announcement.callKey, {
      roomId: config.roomId, sender: at.me, recipient: pid, epoch: at.epoch, generation: at.generation,
      cipherSuite: config.cipherSuite, baseKey: at.baseKey,
    })));
  const messages: SendKeyMessage[] = [];
  const rejected: MemberRejected[] = [];
  sealed.forEach((result, i) => {
    const pid = trusted[i]![0];
    if (result.status === "fulfilled") {
      messages.push({ type: "send_key_message", recipient: pid, data: result.value.encode() });
    } else if (result.reason instanceof CryptoError) {
      rejected.push({ type: "member_rejected", participantId: pid, reason: result.reason.reason });
    } else {
      throw result.reason;
    }
  });
  return [messages, rejected];
}
