/**
 * The synthetic test pattern for link tests: moving colour bars with a frame counter
 * (a canvas) and a 440 Hz tone (WebAudio). A link test never opens the camera or the
 * microphone (REQUIREMENTS H8).
 */

export interface SyntheticMedia {
  readonly stream: MediaStream;
  stop(): void;
}

export function syntheticMedia(width = 160, height = 120, fps = 15): SyntheticMedia {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  if (g === null) throw new Error("no 2D canvas for the test pattern");
  let frame = 0;
  const draw = (): void => {
    const colours = ["#c00", "#0a0", "#00c", "#cc0", "#0cc", "#c0c", "#fff", "#333"];
    const bar = width / colours.length;
    for (const [i, c] of colours.entries()) {
      g.fillStyle = c;
      g.fillRect(((i * bar + frame * 2) % width), 0, bar + 1, height);
    }
    g.fillStyle = "#000";
    g.fillRect(0, height - 20, width, 20);
    g.fillStyle = "#fff";
    g.font = "14px monospace";
    g.fillText(`link test ${frame}`, 4, height - 5);
    frame += 1;
  };
  draw();
  const timer = setInterval(draw, 1000 / fps); // timers, not animation frames: run when hidden too
  const video = canvas.captureStream(fps).getVideoTracks()[0];
  const audio = new AudioContext();
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  gain.gain.value = 0.1;
  const sink = audio.createMediaStreamDestination();
  tone.frequency.value = 440;
  tone.connect(gain).connect(sink);
  tone.start();
  void audio.resume().catch(() => undefined);
  const tracks = [...sink.stream.getAudioTracks(), ...(video ? [video] : [])];
  return {
    stream: new MediaStream(tracks),
    stop(): void {
      clearInterval(timer);
      for (const t of tracks) t.stop();
      tone.stop();
      void audio.close().catch(() => undefined);
    },
  };
}
