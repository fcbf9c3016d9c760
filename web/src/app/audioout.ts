/**
 * The call's sound: each remote participant's audio goes through one AudioContext, with a
 * gain per participant (the listener's channel and floor level: media/channelmix.ts), to
 * the speakers. The tiles' video elements stay muted (the track stays on them: Chromium
 * pulls a remote track's audio into WebAudio only while a media element holds it).
 *
 * A track comes here only from `Tile.admit`, i.e. a receiver whose frames come out of the
 * E2EE worker and whose check passed (pipeline.ts): nothing else is ever played. A gain
 * change ramps over RAMP_S (no click) to exactly its value; a new input starts at its gain.
 */

const RAMP_S = 0.02;

interface Input {
  readonly track: MediaStreamTrack;
  readonly source: MediaStreamAudioSourceNode;
  readonly gain: GainNode;
}

export class AudioOut {
  private ctx: AudioContext | null = null;
  private readonly inputs = new Map<number, Input>();

  /** Play `track` (participant `pid`'s audio) at `gain`; replaces its previous track. */
  attach(pid: number, track: MediaStreamTrack, gain: number): void {
    const existing = this.inputs.get(pid);
    if (existing?.track === track) return;
    this.detach(pid);
    const ctx = this.context();
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const g = ctx.createGain();
    g.gain.value = gain;
    source.connect(g);
    g.connect(ctx.destination);
    this.inputs.set(pid, { track, source, gain: g });
  }

  detach(pid: number): void {
    const input = this.inputs.get(pid);
    if (input === undefined) return;
    this.inputs.delete(pid);
    input.source.disconnect();
    input.gain.disconnect();
  }

  /** Set participant `pid`'s gain now (a short ramp to exactly `gain`). */
  setGain(pid: number, gain: number): void {
    const input = this.inputs.get(pid);
    if (input === undefined || this.ctx === null) return;
    const param = input.gain.gain;
    const now = this.ctx.currentTime;
    param.cancelScheduledValues(now);
    param.setValueAtTime(param.value, now);
    param.linearRampToValueAtTime(gain, now + RAMP_S);
  }

  /** The gain participant `pid` is played at now (null: nothing of it is played). */
  gainOf(pid: number): number | null {
    return this.inputs.get(pid)?.gain.gain.value ?? null;
  }

  /** After a user gesture: a context the browser started suspended may play now. */
  resume(): void {
    if (this.ctx?.state === "suspended") void this.ctx.resume().catch(() => undefined);
  }

  close(): void {
    for (const pid of [...this.inputs.keys()]) this.detach(pid);
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
  }

  private context(): AudioContext {
    if (this.ctx === null) {
      this.ctx = new AudioContext({ latencyHint: "interactive" });
      this.resume();
    }
    return this.ctx;
  }
}
