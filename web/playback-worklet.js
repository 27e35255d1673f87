// Playback of the converted voice on the audio thread, through a small jitter buffer.
//
// The server sends one message per block, so audio arrives in bursts of `block_frames`. Playback
// starts `marginFrames` of time after `targetFrames` (one block) are buffered: the margin absorbs
// network and compute jitter, and the buffer then swings between about the margin and one block
// plus the margin. When more than `maxFrames` pile up (the page fell behind, e.g. after a stall),
// the oldest audio is dropped back down to target + margin: late audio is worth less than low
// latency, so the delay never drifts upward. On an underrun the output goes silent and playback
// primes again.
//
// Messages in: {type:"audio", samples:Float32Array}, {type:"config", targetFrames, marginFrames,
// maxFrames}, {type:"reset"}. Messages out every ~100 ms: {type:"stats", bufferedFrames, droppedFrames,
// underruns, peak}.
class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions;
    this.ring = new Float32Array(Math.max(1, Math.ceil(sampleRate * 8)));
    this.read = 0;
    this.count = 0;
    this.targetFrames = o.targetFrames;
    this.marginFrames = o.marginFrames;
    this.maxFrames = o.maxFrames;
    this.playing = false;
    this.waitFrames = -1;  // >= 0 while priming: output frames still to wait before playing
    this.droppedFrames = 0;
    this.underruns = 0;
    this.peak = 0;
    this.sinceReport = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (msg.type === "audio") {
      this.push(msg.samples);
    } else if (msg.type === "config") {
      this.targetFrames = msg.targetFrames;
      this.marginFrames = msg.marginFrames;
      this.maxFrames = msg.maxFrames;
    } else if (msg.type === "reset") {
      this.read = 0;
      this.count = 0;
      this.playing = false;
      this.waitFrames = -1;
    }
  }

  drop(n) {
    this.read = (this.read + n) % this.ring.length;
    this.count -= n;
    this.droppedFrames += n;
  }

  push(samples) {
    const cap = this.ring.length;
    let src = samples;
    if (src.length > cap) src = src.subarray(src.length - cap);
    if (this.count + src.length > cap) this.drop(this.count + src.length - cap);
    let write = (this.read + this.count) % cap;
    const first = Math.min(src.length, cap - write);
    this.ring.set(src.subarray(0, first), write);
    if (first < src.length) this.ring.set(src.subarray(first), 0);
    this.count += src.length;
    if (this.count > this.maxFrames) this.drop(this.count - this.targetFrames - this.marginFrames);
  }

  process(inputs, outputs) {
    const out = outputs[0];
    const frames = out[0].length;
    const mono = out[0];
    if (!this.playing) {
      if (this.waitFrames < 0 && this.count >= this.targetFrames) this.waitFrames = this.marginFrames;
      if (this.waitFrames >= 0) {
        this.waitFrames -= frames;
        if (this.waitFrames < 0) {
          this.playing = true;
          this.waitFrames = -1;
        }
      }
    }
    let n = 0;
    if (this.playing) {
      n = Math.min(frames, this.count);
      const cap = this.ring.length;
      for (let i = 0; i < n; i++) {
        const v = this.ring[(this.read + i) % cap];
        mono[i] = v;
        const a = v < 0 ? -v : v;
        if (a > this.peak) this.peak = a;
      }
      this.read = (this.read + n) % cap;
      this.count -= n;
      if (n < frames) {
        this.underruns++;
        this.playing = false;
      }
    }
    mono.fill(0, n);
    for (let c = 1; c < out.length; c++) out[c].set(mono);

    this.sinceReport += frames;
    if (this.sinceReport >= sampleRate / 10) {
      this.port.postMessage({
        type: "stats",
        bufferedFrames: this.count,
        droppedFrames: this.droppedFrames,
        underruns: this.underruns,
        peak: this.peak,
      });
      this.sinceReport = 0;
      this.peak = 0;
    }
    return true;
  }
}

registerProcessor("rvc-playback", PlaybackProcessor);
