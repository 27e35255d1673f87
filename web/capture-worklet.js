// Microphone capture on the audio thread: mixes the input to mono and posts it to the page in
// chunks of `chunkFrames` samples (the protocol wants 10-100 ms per message, not 128-frame
// quanta). Each chunk is a fresh Float32Array whose buffer is transferred, never shared.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.chunkFrames = options.processorOptions.chunkFrames;
    this.buf = new Float32Array(this.chunkFrames);
    this.fill = 0;
  }

  process(inputs, outputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const left = input[0];
      const right = input.length > 1 ? input[1] : null;
      for (let i = 0; i < left.length; i++) {
        this.buf[this.fill++] = right ? 0.5 * (left[i] + right[i]) : left[i];
        if (this.fill === this.chunkFrames) {
          this.port.postMessage(this.buf, [this.buf.buffer]);
          this.buf = new Float32Array(this.chunkFrames);
          this.fill = 0;
        }
      }
    }
    // The output stays silent: it is connected only so that the graph keeps pulling this node.
    for (const channel of outputs[0]) channel.fill(0);
    return true;
  }
}

registerProcessor("rvc-capture", CaptureProcessor);
