/**
 * Apply key-schedule actions to the media side: one SFrame context per participant (the
 * browser twin of src/hotline/crypto/mediakeys.py).
 *
 * `MediaKeys` is what a client's media layer holds: the SFrame context with the keys
 * currently installed, the sender (counter) of each of its own streams, and the latest
 * group code. Feed it the actions of a `KeySchedule`; it resolves to the key messages that
 * must go out. Calls of `apply` are carried out one after the other, in call order.
 */

import type { GroupCode } from "./groupcode.js";
import type { KeyScheduleAction, MemberRejected, SendKeyMessage } from "./keyschedule/index.js";
import { type Slot, parseKid } from "./kid.js";
import { DEFAULT_SUITE, SFrameContext, SFrameSender } from "./sframe.js";

export type Senders = ReadonlyMap<Slot, SFrameSender>;

export interface MediaKeysOptions {
  /** Called with the new senders as soon as a sending key changes (before the old key is
   * removed), so the media layer can switch over at once. */
  readonly onSenders?: (senders: Senders) => void;
}

export class MediaKeys {
  readonly context: SFrameContext;
  onSenders: ((senders: Senders) => void) | null;
  senders: Senders = new Map();
  code: GroupCode | null = null;
  generation = -1;
  readonly rejected: MemberRejected[] = [];
  rotations = 0; // sending keys installed so far
  private tail: Promise<unknown> = Promise.resolve();

  constructor(cipherSuite: number = DEFAULT_SUITE, options: MediaKeysOptions = {}) {
    this.context = new SFrameContext(cipherSuite);
    this.onSenders = options.onSenders ?? null;
  }

  /** Carry out key actions (after those of every earlier call); resolves to the key
   * messages to send. */
  apply(actions: readonly KeyScheduleAction[]): Promise<SendKeyMessage[]> {
    const result = this.tail.then(() => this.applyNow(actions));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async applyNow(actions: readonly KeyScheduleAction[]): Promise<SendKeyMessage[]> {
    const out: SendKeyMessage[] = [];
    for (const action of actions) {
      switch (action.type) {
        case "send_key_message":
          out.push(action);
          break;
        case "install_encryption_key": {
          await Promise.all(action.kids.map((kid) => this.context.addEncryptionKey(kid, action.baseKey)));
          this.senders = new Map(action.kids.map((kid) => [parseKid(kid).slot, new SFrameSender(this.context, kid)]));
          this.onSenders?.(new Map(this.senders));
          this.generation = action.generation;
          this.rotations += 1;
          break;
        }
        case "install_decryption_key":
          await Promise.all(action.kids.map((kid) => this.context.addDecryptionKey(kid, action.baseKey)));
          break;
        case "retire_keys":
          for (const kid of action.kids) {
            if (action.sending) this.context.removeEncryptionKey(kid);
            else this.context.removeDecryptionKey(kid);
          }
          break;
        case "group_code_changed":
          this.code = action.code;
          break;
        case "group_code_pending":
          this.code = null; // never show the last epoch's code as current
          break;
        case "member_rejected":
          this.rejected.push(action);
          break;
      }
    }
    return out;
  }
}
