/**
 * The call's sound: each remote participant's audio goes through one AudioContext, with a
 * gain per participant (the listener's channel and floor level: media/channelmix.ts), to
 * the speakers. The tiles' video elements stay muted (the track stays on them: Chromium
 * pulls a remote track's audio into WebAudio only while a media element holds it).
 *
 * A track comes here only from `Tile.admit`, i.e. a receiver whose frames come out of the
 * E2EE worker and whose check passed (pipeline.ts): nothing else is ever played. A gain
 * change ramps over RAMP_S (no click) to exactly its value; a new input starts at its gain.
 *
 * Levels: with its element muted, Chromium's receiver stats (audioLevel, totalAudioEnergy)
 * read 0, so each participant's level is measured here, on the decoded audio before its
 * gain (an AnalyserNode read every METER_MS over a window as long): the peak since the
 * last read (0..1, as the stats' audioLevel) and the energy so far (mean square x seconds,
 * as totalAudioEnergy). The active speaker and the tiles' figures come from them.
 */

const RAMP_S = 0.02;
const METER_MS = 80;
const METER_SIZE = 4096; // 85 ms at 48 kHz: the reads cover the audio without a gap

interface Input {
  readonly track: MediaStreamTrack;
  readonly source: MediaStreamAudioSourceNode;
  readonly gain: GainNode;
  readonly meter: AnalyserNode;
  peak: number;
  energy: number;
}

/** A participant's decoded audio, before its gain. */
export interface Level {
  /** The peak since the last call of `level` (0..1). */
  readonly level: number;
  /** Mean square x seconds, summed since its audio came. */
  readonly energy: number;
}

export class AudioOut {
  private ctx: AudioContext | null = null;
  private readonly inputs = new Map<number, Input>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastRead = 0;
  private readonly samples = new Float32Array(METER_SIZE);

  /** Play `track` (participant `pid`'s audio) at `gain`; replaces its previous track. */
  attach(pid: number, track: MediaStreamTrack, gain: number): void {
    const existing = this.inputs.get(pid);
    if (existing?.track === track) return;
    this.detach(pid);
    const ctx = this.context();
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const g = ctx.createGain();
    g.gain.value = gain;
    const meter = ctx.createAnalyser();
    meter.fftSize = METER_SIZE;
    source.connect(meter);
    source.connect(g);
    g.connect(ctx.destination);
    this.inputs.set(pid, { track, source, gain: g, meter, peak: 0, energy: existing?.energy ?? 0 });
    this.timer ??= setInterval(() => this.measure(), METER_MS);
  }

  /** Participant `pid`'s level since the last call, and its energy (null: no audio). */
  level(pid: number): Level | null {
    const input = this.inputs.get(pid);
    if (input === undefined) return null;
    const level = input.peak;
    input.peak = 0;
    return { level, energy: input.energy };
  }

  private measure(): void {
    const now = performance.now();
    const seconds = this.lastRead === 0 ? METER_MS / 1000 : Math.min(1, (now - this.lastRead) / 1000);
    this.lastRead = now;
    for (const input of this.inputs.values()) {
      input.meter.getFloatTimeDomainData(this.samples);
      let peak = 0;
      let square = 0;
      for (const x of this.samples) {
        peak = Math.max(peak, Math.abs(x));
        square += x * x;
      }
      input.peak = Math.max(input.peak, Math.min(1, peak));
      input.energy += (square / this.samples.length) * seconds;
    }
  }

  detach(pid: number): void {
    const input = this.inputs.get(pid);
    if (input === undefined) return;
    this.inputs.delete(pid);
    input.source.disconnect();
    input.gain.disconnect();
    input.meter.disconnect();
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

  /** After a user gesture: a context the browser started suspended may play now. */
  resume(): void {
    if (this.ctx?.state === "suspended") void this.ctx.resume().catch(() => undefined);
  }

  close(): void {
    for (const pid of [...this.inputs.keys()]) this.detach(pid);
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
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
