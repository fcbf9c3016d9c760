/**
 * The other participants of a call, as tiles by participant id: made when they join (or
 * are in the room when we join), updated when their media or trust mark changes, removed
 * when they leave.
 */

import type { ClientEvent, SignalingClient } from "../protocol/signaling.js";
import type { Decrypted } from "./tilefigures.js";
import { type AudioSink, Tile } from "./tiles.js";
import { showTrust } from "./trustui.js";
import { state } from "./view.js";

export class Roster {
  readonly tiles = new Map<number, Tile>();
  /** What the worker had decrypted for each participant at the last poll. */
  readonly decrypted = new Map<number, Decrypted>();

  constructor(private readonly client: SignalingClient, private readonly ended: () => boolean,
    /** Where each participant's admitted audio is played (channels.ts). */
    private readonly sink: (pid: number) => AudioSink) {}

  /** A member event (joined, left, trust, media): applied, and true; false for others. */
  onEvent(e: ClientEvent): boolean {
    const pid = Number(e.data["participant_id"]);
    if (e.kind === "member_joined") {
      this.tile(pid);
    } else if (e.kind === "member_left") {
      showTrust(this.client, pid, null, null);
      this.remove(pid);
    } else if (e.kind === "unverified" || e.kind === "accepted" || e.kind === "refused") {
      this.showTrust(pid);
    } else if (e.kind === "member_media") {
      const tile = this.tiles.get(pid);
      const media = this.client.media.get(pid);
      if (tile !== undefined && media !== undefined) {
        tile.setMedia(media);
        tile.render(state.activeSpeaker === tile.summary.name);
      }
    } else {
      return false;
    }
    return true;
  }

  /** The participant's tile (made now if it has none); null for ourselves. */
  tile(pid: number): Tile | null {
    if (pid === this.client.participantId) return null;
    const existing = this.tiles.get(pid);
    if (existing !== undefined) return existing;
    const name = this.client.names.get(pid) ?? `participant ${pid}`;
    const tile = new Tile(pid, name, this.client.roles.get(pid) ?? "delegate",
      this.client.media.get(pid) ?? { audio: true, video: true, screen: false }, this.sink(pid),
      this.client.memberChannels.get(pid) ?? "");
    this.tiles.set(pid, tile);
    return tile;
  }

  /** The participant's trust mark: UNVERIFIED with Accept/Refuse, or none. */
  showTrust(pid: number): void {
    if (this.ended() || pid === this.client.participantId) return;
    const tile = this.tile(pid);
    showTrust(this.client, pid, this.client.unverified.get(pid) ?? null, tile?.element ?? null);
  }

  remove(pid: number): void {
    const tile = this.tiles.get(pid);
    if (tile === undefined) return;
    this.tiles.delete(pid);
    this.decrypted.delete(pid);
    tile.remove();
  }

  removeAll(): void {
    for (const pid of [...this.tiles.keys()]) this.remove(pid);
  }
}
