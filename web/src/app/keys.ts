/**
 * Key actions of the key schedule mirrored into the transform worker, in the order the
 * schedule produced them (postMessage keeps it): sending keys per slot, receiving keys
 * installed and retired. Shared by a call and a link test.
 */

import type { KeyScheduleAction } from "../crypto/keyschedule/index.js";
import { parseKid } from "../crypto/kid.js";
import type { MediaE2EE } from "../media/pipeline.js";

export function mirrorKeys(
  e2ee: MediaE2EE, actions: readonly KeyScheduleAction[], failed: (error: unknown) => void,
  onCode?: (code: { digits: string; words: string } | null) => void,
): void {
  for (const action of actions) {
    if (action.type === "install_encryption_key") {
      for (const kid of action.kids) e2ee.setSendingKey(parseKid(kid).slot, kid, action.baseKey).catch(failed);
    } else if (action.type === "install_decryption_key") {
      for (const kid of action.kids) e2ee.installKey(kid, action.baseKey).catch(failed);
    } else if (action.type === "retire_keys" && !action.sending) {
      for (const kid of action.kids) e2ee.retireKey(kid).catch(failed);
    } else if (action.type === "group_code_changed") {
      onCode?.({ digits: action.code.digits, words: action.code.words });
    } else if (action.type === "group_code_pending") {
      onCode?.(null); // the new epoch's reveals are not all in: never the old code
    }
  }
}
