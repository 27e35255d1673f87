// The page's two AudioWorklet processors (web/capture-worklet.js, web/playback-worklet.js) run
// here in node, in a sandbox that provides the AudioWorkletGlobalScope names they use, driven
// quantum by quantum like the browser's audio thread drives them:
//
//   node tests/e2e/web/worklets_check.mjs       (CTest runs it as worklets_check)
//
// Capture: stereo is mixed to mono, chunks have exactly chunkFrames samples in order.
// Playback (jitter buffer): playback starts `margin` after a block is buffered; steady block
// arrivals play gap-free with the buffer bounded; a burst of late blocks is dropped back to
// target + margin (the delay does not drift); an underrun goes silent and primes again.

import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, "../../../web");
const kRate = 48000;
const kQuantum = 128;
const maxOf = (a) => a.reduce((m, v) => (v > m ? v : m), -Infinity);

let failures = 0;
function check(ok, what, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? `: ${detail}` : ""}`);
  if (!ok) failures++;
  return ok;
}

/** Loads a worklet file; returns (options) => processor instance with a fake port. */
function loadProcessor(file, name) {
  const registered = {};
  class AudioWorkletProcessor {
    constructor() {
      const posted = [];
      this.port = { posted, postMessage: (m) => posted.push(m), onmessage: null };
    }
  }
  const sandbox = {
    AudioWorkletProcessor,
    registerProcessor: (n, cls) => (registered[n] = cls),
    sampleRate: kRate,
    Float32Array,
    Math,
  };
  vm.runInNewContext(fs.readFileSync(path.join(web, file), "utf8"), sandbox, { filename: file });
  const Cls = registered[name];
  if (!Cls) throw new Error(`${file} does not register ${name}`);
  return (processorOptions) => {
    const p = new Cls({ processorOptions });
    p.deliver = (msg) => p.port.onmessage && p.port.onmessage({ data: msg });
    return p;
  };
}

function checkCapture() {
  const make = loadProcessor("capture-worklet.js", "rvc-capture");
  const chunk = 960;
  const p = make({ chunkFrames: chunk });
  let t = 0;
  const out = [[new Float32Array(kQuantum), new Float32Array(kQuantum)]];
  let alive = true;
  for (let q = 0; q < 40; q++) {
    const l = new Float32Array(kQuantum);
    const r = new Float32Array(kQuantum);
    for (let i = 0; i < kQuantum; i++, t++) {
      l[i] = t / 10000;
      r[i] = -t / 20000;  // mono = (l + r) / 2 = t / 40000
    }
    out[0][0].fill(1);
    alive &&= p.process([[l, r]], out) === true;
  }
  check(alive, "capture: process keeps the node alive");
  const chunks = p.port.posted;
  check(chunks.length === Math.floor((40 * kQuantum) / chunk) && chunks.every((c) => c.length === chunk),
    "capture: whole chunks of chunkFrames", `${chunks.length} x ${chunks[0] && chunks[0].length}`);
  let ok = true;
  let n = 0;
  for (const c of chunks) for (const v of c) ok &&= Math.abs(v - n++ / 40000) < 1e-6;
  check(ok, "capture: stereo mixed to mono, samples in order, none lost");
  check(out[0][0].every((v) => v === 0), "capture: its output stays silent");
  const idle = make({ chunkFrames: chunk });
  idle.process([[]], [[new Float32Array(kQuantum)]]);
  check(idle.port.posted.length === 0, "capture: no input, no chunks");
}

/** Simulated playback: blocks of `block` frames arrive at given quanta; returns what played. */
function runPlayback(arrivals, quanta, { block, margin, max }) {
  const make = loadProcessor("playback-worklet.js", "rvc-playback");
  const p = make({ targetFrames: block, marginFrames: margin, maxFrames: max });
  const played = [];
  let next = 0;
  let value = 1;
  const buffered = [];
  for (let q = 0; q < quanta; q++) {
    while (next < arrivals.length && arrivals[next] === q) {
      const b = new Float32Array(block);
      for (let i = 0; i < block; i++) b[i] = value++;  // sample k carries the value k
      p.deliver({ type: "audio", samples: b });
      next++;
    }
    const out = [[new Float32Array(kQuantum), new Float32Array(kQuantum)]];
    p.process([], out);
    played.push(...out[0][0]);
    buffered.push(p.count);
  }
  const stats = p.port.posted.filter((m) => m.type === "stats").pop();
  return { played, buffered, stats };
}

function checkPlayback() {
  const block = 4800;  // 100 ms
  const margin = 1920; // 40 ms
  const max = 2 * block + margin;
  const blockQuanta = block / kQuantum;  // 37.5 quanta per block
  const steady = Array.from({ length: 30 }, (_, k) => Math.round(k * blockQuanta));
  const r1 = runPlayback(steady, Math.round(30 * blockQuanta), { block, margin, max });
  const first = r1.played.findIndex((v) => v !== 0);
  check(Math.abs(first - margin) <= kQuantum, "playback: starts a margin after the first block",
    `${first} frames vs margin ${margin}`);
  let gapFree = true;
  for (let i = first + 1; i < r1.played.length; i++) gapFree &&= r1.played[i] === r1.played[i - 1] + 1;
  check(gapFree, "playback: steady blocks play gap-free, in order");
  const afterStart = r1.buffered.slice(Math.ceil(first / kQuantum) + 1);
  const maxBuf = maxOf(afterStart);
  check(maxBuf <= block + margin + kQuantum, "playback: buffer stays within one block + margin",
    `max ${maxBuf} frames`);
  check(r1.stats && r1.stats.underruns === 0 && r1.stats.droppedFrames === 0, "playback: no underrun, nothing dropped",
    JSON.stringify(r1.stats));

  // A stall: no blocks for 0.5 s, then the five late blocks at once and the stream resumes.
  const stalled = steady.map((q, k) => (k >= 5 && k < 10 ? Math.round(10 * blockQuanta) : q));
  const r2 = runPlayback(stalled, Math.round(30 * blockQuanta), { block, margin, max });
  const tailBuf = maxOf(r2.buffered.slice(Math.round(12 * blockQuanta)));
  check(r2.stats.underruns >= 1, "playback: the stall is an underrun (silence, then priming again)",
    JSON.stringify(r2.stats));
  check(r2.stats.droppedFrames >= 2 * block, "playback: late audio beyond one extra block is dropped",
    `${r2.stats.droppedFrames} frames dropped`);
  check(tailBuf <= block + margin + kQuantum, "playback: after the burst the delay is back to normal (no drift)",
    `max ${tailBuf} frames buffered`);
  // The newest audio survives the drop: the last sample played is the newest one delivered
  // minus what is still buffered.
  const lastPlayed = maxOf(r2.played);
  check(lastPlayed === 30 * block - r2.buffered[r2.buffered.length - 1], "playback: the oldest audio is what gets dropped");
}

try {
  checkCapture();
  checkPlayback();
} catch (e) {
  console.log(`FAIL ${e.stack || e.message}`);
  failures++;
}
console.log(failures ? `worklets: ${failures} check(s) failed` : "worklets: all checks passed");
process.exit(failures ? 1 : 0);
