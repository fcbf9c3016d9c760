/**
 * Interpretation channels in the call page: what this listener hears, and what an
 * interpreter publishes into.
 *
 * - `#channel-picker`: the floor, or one of the room's channels (joined.channels). A change
 *   is applied at once here (the gains of media/channelmix.ts) and sent as `listen`, so that
 *   the SFU forwards that channel's interpreters (and no other channel's) to us.
 * - `#floor-level` (-40..0 dB) and `#floor-mute`: the floor's level, local only.
 * - `#interpret-channel` (interpreters only): the channel our audio goes into (`set_channel`).
 *
 * The page filters too: an interpreter's audio is played only while its signalled channel
 * (MemberInfo.channel, member_channel) is the one chosen here, whatever the SFU forwards.
 */

import { FLOOR, type Listening, streamGain } from "../media/channelmix.js";
import type { ClientEvent, SignalingClient } from "../protocol/signaling.js";
import type { AudioOut } from "./audioout.js";
import type { Roster } from "./roster.js";
import type { AudioSink, SelfLine } from "./tiles.js";
import { $, state } from "./view.js";

export class Channels {
  private listening: Listening = { channels: [], floorDb: 0 };
  /** The level the slider is at (kept while the floor is muted). */
  private level = 0;
  self: SelfLine | null = null;

  constructor(private readonly client: SignalingClient, private readonly roster: Roster,
    private readonly out: AudioOut, private readonly signal: AbortSignal) {}

  /** The gain participant `pid`'s audio is played at, for the current choice. */
  gain(pid: number): number {
    return streamGain(this.client.memberChannels.get(pid) ?? "", this.listening);
  }

  /** Where participant `pid`'s admitted audio goes: played at its gain for the choice. */
  sink(pid: number): AudioSink {
    return (track) => {
      const tile = this.roster.tiles.get(pid);
      if (track === null) {
        this.out.detach(pid);
        if (tile !== undefined) tile.summary.gain = null;
        return;
      }
      const gain = this.gain(pid);
      this.out.attach(pid, track, gain);
      if (tile !== undefined) tile.summary.gain = gain;
    };
  }

  /** After `joined`: the controls for the room's channels (hidden when it has none). */
  start(): void {
    const channels = [...this.client.channels];
    state.listening = { roomChannels: channels, channel: FLOOR, floorDb: 0, interpreting: "" };
    $("interpretation").hidden = channels.length === 0;
    const picker = $("channel-picker") as HTMLSelectElement;
    picker.replaceChildren(option(FLOOR, "the floor (no interpretation)"), ...channels.map((c) => option(c, c)));
    picker.value = FLOOR;
    const level = $("floor-level") as HTMLInputElement;
    const mute = $("floor-mute") as HTMLInputElement;
    level.value = "0";
    mute.checked = false;
    this.showLevel();
    const opts = { signal: this.signal };
    // a browser that started our AudioContext suspended (no user gesture yet) plays at the
    // first click or key press in the page
    for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, () => this.out.resume(), opts);
    picker.addEventListener("change", () => this.choose(picker.value), opts);
    level.addEventListener("input", () => this.setFloor(Number(level.value), mute.checked), opts);
    mute.addEventListener("change", () => this.setFloor(Number(level.value), mute.checked), opts);
    const interpreter = this.client.role === "interpreter" && channels.length > 0;
    $("interpret-row").hidden = !interpreter;
    const into = $("interpret-channel") as HTMLSelectElement;
    into.replaceChildren(option(FLOOR, "the floor (no channel)"), ...channels.map((c) => option(c, c)));
    into.value = this.client.memberChannels.get(this.client.participantId ?? -1) ?? FLOOR;
    if (interpreter) into.addEventListener("change", () => this.interpret(into.value), opts);
  }

  /** A member_channel event: shown and applied (true); false for other events. */
  onEvent(e: ClientEvent): boolean {
    if (e.kind !== "member_channel") return false;
    const pid = Number(e.data["participant_id"]);
    const channel = String(e.data["channel"] ?? "");
    if (pid === this.client.participantId) {
      state.listening.interpreting = channel;
      ($("interpret-channel") as HTMLSelectElement).value = channel;
      this.self?.setChannel(channel);
    } else {
      this.roster.tiles.get(pid)?.setChannel(channel);
      this.apply();
    }
    return true;
  }

  /** The listener picked the floor ("") or a channel. */
  choose(channel: string): void {
    if (channel !== FLOOR && !this.client.channels.includes(channel)) return;
    this.listening = { ...this.listening, channels: channel === FLOOR ? [] : [channel] };
    state.listening.channel = channel;
    this.out.resume(); // a user gesture
    this.apply();
    this.client.listen([...this.listening.channels]);
  }

  /** The floor's level (dB) or muted. */
  setFloor(db: number, muted: boolean): void {
    this.level = Math.max(-40, Math.min(0, Math.round(db)));
    this.listening = { ...this.listening, floorDb: muted ? null : this.level };
    state.listening.floorDb = this.listening.floorDb;
    this.out.resume();
    this.apply();
    this.showLevel();
  }

  private interpret(channel: string): void {
    if (channel !== FLOOR && !this.client.channels.includes(channel)) return;
    this.client.setChannel(channel);
  }

  /** The gains of every participant's audio, now. */
  apply(): void {
    for (const [pid, tile] of this.roster.tiles) {
      const gain = this.gain(pid);
      this.out.setGain(pid, gain);
      if (tile.summary.gain !== null) tile.summary.gain = gain;
      tile.outOfChannel = gain === 0 && tile.summary.channel !== "";
      tile.render(state.activeSpeaker === tile.summary.name);
    }
    const text = this.listening.channels.length === 0 ? "Listening to the floor" : `Listening to ${this.listening.channels.join(", ")}`;
    $("listening").textContent = `${text}; floor ${this.levelText()}.`;
  }

  private levelText(): string {
    return this.listening.floorDb === null ? "muted" : `${this.level} dB`;
  }

  private showLevel(): void {
    const level = $("floor-level") as HTMLInputElement;
    const text = this.levelText();
    $("floor-level-value").textContent = text;
    level.setAttribute("aria-valuetext", text);
    level.disabled = this.listening.floorDb === null;
  }
}

function option(value: string, label: string): HTMLOptionElement {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
}
