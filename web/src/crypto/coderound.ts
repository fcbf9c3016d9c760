/**
 * One epoch's commit-then-reveal exchange for the group code, of one member (sans-I/O):
 * the twin of src/hotline/crypto/coderound.py. I reveal my nonce only once I hold a
 * commitment from every peer of my view, and a peer's commitment cannot be replaced.
 */

import type { Bytes } from "./bytes.js";
import { CodeMessage, MSG_COMMIT, MSG_REVEAL, commitment } from "./codecommit.js";
import { KeyMessageError, Reason } from "./errors.js";
import type { Identity } from "./identity.js";

export class CodeRound {
  readonly commits = new Map<number, Uint8Array>(); // peer -> commitment hash
  readonly reveals = new Map<number, Uint8Array>(); // peer -> nonce (matches its commitment)
  readonly bad = new Set<number>(); // peers whose reveal did not match their commitment
  revealed = false;

  private constructor(
    readonly identity: Identity,
    readonly roomId: string,
    readonly me: number,
    readonly epoch: number,
    readonly nonce: Uint8Array,
    readonly commitment: Bytes,
  ) {}

  static async start(identity: Identity, roomId: string, me: number, epoch: number, nonce: Uint8Array): Promise<CodeRound> {
    return new CodeRound(identity, roomId, me, epoch, nonce, await commitment(roomId, me, epoch, nonce));
  }

  private async message(kind: number, to: number, value: Uint8Array): Promise<[number, Bytes]> {
    const msg = await CodeMessage.sign(this.identity, kind, {
      roomId: this.roomId, sender: this.me, recipient: to, epoch: this.epoch, value,
    });
    return [to, msg.encode()];
  }

  /** My signed commitment for each peer. */
  commitments(peers: Iterable<number>): Promise<[number, Bytes][]> {
    return Promise.all([...peers].sort((a, b) => a - b).map((pid) => this.message(MSG_COMMIT, pid, this.commitment)));
  }

  /** Take a peer's commitment or reveal of this epoch (room, recipient and epoch already
   * checked). Rejects (KeyMessageError, state unchanged): a bad signature, a second
   * commitment, a reveal before the commitment or a second reveal. A reveal that does
   * not open the commitment is refused too and marks the peer bad (the code stays
   * pending). */
  async receive(msg: CodeMessage, senderIdentity: Uint8Array): Promise<void> {
    await msg.verify(senderIdentity);
    const pid = msg.sender;
    if (msg.kind === MSG_COMMIT) {
      if (this.commits.has(pid)) throw new KeyMessageError(Reason.STALE, "a second code commitment");
      this.commits.set(pid, msg.value);
      return;
    }
    const committed = this.commits.get(pid);
    if (msg.kind !== MSG_REVEAL || committed === undefined) {
      throw new KeyMessageError(Reason.BINDING, "code reveal before its commitment");
    }
    if (this.reveals.has(pid) || this.bad.has(pid)) throw new KeyMessageError(Reason.STALE, "a second code reveal");
    if (!(await msg.opens(committed))) {
      this.bad.add(pid);
      throw new KeyMessageError(Reason.BINDING, "code reveal does not match its commitment");
    }
    this.reveals.set(pid, msg.value);
  }

  /** My reveal for each of `recipients`, once (and only once) every one of `peers` (my
   * view) has committed. */
  async revealsDue(peers: Iterable<number>, recipients: Iterable<number>): Promise<[number, Bytes][]> {
    if (this.revealed || [...peers].some((pid) => !this.commits.has(pid))) return [];
    this.revealed = true;
    return Promise.all([...recipients].sort((a, b) => a - b).map((pid) => this.message(MSG_REVEAL, pid, this.nonce)));
  }

  /** [identity key, nonce] of me and every peer (`peers`: id -> identity key), or null
   * while the code must stay pending. */
  nonces(peers: ReadonlyMap<number, Uint8Array>, myIdentity: Uint8Array): [Uint8Array, Uint8Array][] | null {
    if (!this.revealed) return null;
    const pairs: [Uint8Array, Uint8Array][] = [[myIdentity, this.nonce]];
    for (const [pid, key] of peers) {
      const nonce = this.reveals.get(pid);
      if (this.bad.has(pid) || nonce === undefined) return null;
      pairs.push([key, nonce]);
    }
    return pairs;
  }
}
