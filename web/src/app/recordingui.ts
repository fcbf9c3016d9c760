/**
 * Recording in the call page (REQUIREMENTS L4; docs/SIGNALING.md "Recording"): every page
 * shows `#recording-indicator` ("● recorded by NAME") while a member records, and a
 * principal answers each recorder's request in the `#record-consent` dialog (Allow /
 * Refuse). The answer is signed with this browser's device key (crypto/consent.ts): the
 * server relays it and cannot make one. The page itself never records.
 */

import { signConsent } from "../crypto/consent.js";
import type { MemberRecording, RecordConsentFrom, RecordRequested } from "../protocol/messages.js";
import type { SignalingClient } from "../protocol/signaling.js";
import { $, button } from "./view.js";

export class RecordingUi {
  private request: RecordRequested | null = null;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly client: SignalingClient, private readonly notice: (text: string) => void) {
    client.onRecording = (m) => this.onMessage(m);
    button("record-allow").addEventListener("click", () => void this.answer(true), { signal: this.abort.signal });
    button("record-refuse").addEventListener("click", () => void this.answer(false), { signal: this.abort.signal });
    this.render();
  }

  private name(pid: number): string {
    return this.client.names.get(pid) ?? `participant ${pid}`;
  }

  /** The indicator, from the members the roster and `member_recording` say record. */
  render(): void {
    const el = $("recording-indicator");
    const who = [...this.client.recording].sort((a, b) => a - b).map((p) => this.name(p));
    el.textContent = who.length > 0 ? `● recorded by ${who.join(", ")}` : "";
    el.hidden = who.length === 0;
  }

  private onMessage(m: RecordRequested | RecordConsentFrom | MemberRecording): void {
    if (m.type === "member_recording") {
      this.render();
      this.notice(m.active ? `${this.name(m.participant_id)} records the ${m.phase} part.`
        : `${this.name(m.participant_id)} stopped recording.`);
    } else if (m.type === "record_requested") {
      if (this.client.role !== "principal") {
        this.notice(`${this.name(m.participant_id)} asks the principals to consent to recording the ${m.phase} part.`);
        return;
      }
      this.ask(m, 20);
    } else {
      this.notice(`${this.name(m.from)} ${m.granted ? "allowed" : "refused"} recording by ${this.name(m.recorder)}.`);
    }
  }

  /** Show the dialog for `m` if it is for the phase this page is in (the phase change may
   * still be on its way through the key schedule: look again, `tries` times). */
  private ask(m: RecordRequested, tries: number): void {
    const view = this.client.phases;
    if (m.phase !== view.phase || m.phase_epoch !== view.epoch) {
      if (tries > 0 && !this.closed) setTimeout(() => this.ask(m, tries - 1), 250);
      else this.notice(`A recording request for another part of the call (${m.phase} from epoch ${m.phase_epoch}) was not shown.`);
      return;
    }
    if (this.closed) return;
    this.request = m;
    $("record-consent-text").textContent = `${this.name(m.participant_id)} asks to record the ${m.phase} part of this call. ` +
      "Allow it? Your answer is signed with this device's key; it holds for this part only.";
    $("record-consent").hidden = false;
  }

  private async answer(granted: boolean): Promise<void> {
    const req = this.request;
    const me = this.client.participantId;
    const recorderKey = req === null ? undefined : this.client.identityKeys.get(req.participant_id);
    $("record-consent").hidden = true;
    this.request = null;
    if (req === null || me === null || recorderKey === undefined) return;
    const signature = await signConsent(this.client.identity, {
      roomId: this.client.room, principal: me, recorder: req.participant_id, recorderKey,
      phase: req.phase, phaseEpoch: req.phase_epoch, granted,
    });
    this.client.request({ type: "record_consent", recorder: req.participant_id, phase: req.phase,
      phase_epoch: req.phase_epoch, granted, signature });
    this.notice(`You ${granted ? "allowed" : "refused"} recording by ${this.name(req.participant_id)} (signed).`);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.client.onRecording = null;
    $("record-consent").hidden = true;
    $("recording-indicator").hidden = true;
  }
}
