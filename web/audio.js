// The page's audio: microphone -> capture worklet -> onChunk(Float32Array), and
// push(Float32Array) -> playback worklet (jitter buffer) -> output device. One AudioContext at
// the device's native rate; the server gets audio at that rate, so nothing is resampled here.

export class MicError extends Error {}

function micErrorText(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone refused: allow microphone access for this page in the browser's site settings, then connect again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone found (or the chosen one is gone): plug one in or pick another input.";
    case "NotReadableError":
      return "The microphone is busy or failed to start (another program may hold it).";
    default:
      return `Microphone error: ${err && err.message ? err.message : err}`;
  }
}

export class AudioEngine {
  /** chunkMs: capture message size; onChunk(samples); onPlaybackStats(stats). */
  constructor({ chunkMs, onChunk, onPlaybackStats }) {
    this.chunkMs = chunkMs;
    this.onChunk = onChunk;
    this.onPlaybackStats = onPlaybackStats;
    this.ctx = null;
    this.stream = null;
    this.source = null;
    this.capture = null;
    this.playback = null;
  }

  get sampleRate() {
    return this.ctx ? this.ctx.sampleRate : 0;
  }

  /** Output latency of the device path in seconds (what the browser knows of it). */
  get deviceLatencyS() {
    if (!this.ctx) return 0;
    return (this.ctx.baseLatency || 0) + (this.ctx.outputLatency || 0);
  }

  async start({ inputDeviceId, outputDeviceId }) {
    if (!window.isSecureContext || !navigator.mediaDevices || !window.AudioWorkletNode) {
      throw new MicError(
        "The microphone needs a secure page: open it as http://localhost:PORT/ or through HTTPS.");
    }
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    await this.ctx.audioWorklet.addModule("capture-worklet.js");
    await this.ctx.audioWorklet.addModule("playback-worklet.js");
    const rate = this.ctx.sampleRate;
    this.playback = new AudioWorkletNode(this.ctx, "rvc-playback", {
      numberOfInputs: 0,
      outputChannelCount: [2],
      processorOptions: {
        targetFrames: Math.round(rate * 0.1),
        marginFrames: Math.round(rate * 0.04),
        maxFrames: Math.round(rate * 0.24),
      },
    });
    this.playback.port.onmessage = (e) => this.onPlaybackStats(e.data);
    this.playback.connect(this.ctx.destination);
    await this.setOutput(outputDeviceId);
    await this.setInput(inputDeviceId);
    if (this.ctx.state !== "running") await this.ctx.resume();
  }

  async setInput(deviceId) {
    const constraints = {
      audio: {
        deviceId: deviceId ? { exact: deviceId } : undefined,
        channelCount: 1,
        echoCancellation: false,
        noiseSuppression: false,
        autoGainControl: false,
      },
    };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      throw new MicError(micErrorText(err));
    }
    this.stopInput();
    this.stream = stream;
    this.source = this.ctx.createMediaStreamSource(stream);
    this.capture = new AudioWorkletNode(this.ctx, "rvc-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      processorOptions: { chunkFrames: Math.round((this.ctx.sampleRate * this.chunkMs) / 1000) },
    });
    this.capture.port.onmessage = (e) => this.onChunk(e.data);
    this.source.connect(this.capture);
    this.capture.connect(this.ctx.destination);  // silent; keeps the node pulled
  }

  /** Picks the output device; returns false where the browser cannot choose one. */
  async setOutput(deviceId) {
    if (!this.ctx || typeof this.ctx.setSinkId !== "function") return false;
    await this.ctx.setSinkId(deviceId || "");
    return true;
  }

  /**
   * Jitter buffer for blocks of blockMs: play marginMs after a block is buffered; drop the oldest
   * audio once more than one extra block piles up.
   */
  configurePlayback(blockMs, marginMs) {
    if (!this.playback) return;
    const frames = (ms) => Math.round((this.ctx.sampleRate * ms) / 1000);
    this.playback.port.postMessage({
      type: "config",
      targetFrames: frames(blockMs),
      marginFrames: frames(marginMs),
      maxFrames: frames(2 * blockMs + marginMs),
    });
  }

  resetPlayback() {
    if (this.playback) this.playback.port.postMessage({ type: "reset" });
  }

  push(samples) {
    if (this.playback) this.playback.port.postMessage({ type: "audio", samples }, [samples.buffer]);
  }

  stopInput() {
    if (this.capture) this.capture.disconnect();
    if (this.source) this.source.disconnect();
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.capture = this.source = this.stream = null;
  }

  async stop() {
    this.stopInput();
    if (this.ctx) await this.ctx.close();
    this.ctx = null;
    this.playback = null;
  }
}

export function outputSelectionSupported() {
  return typeof AudioContext !== "undefined" && typeof AudioContext.prototype.setSinkId === "function";
}
