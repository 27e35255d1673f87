// Audio helpers for the browser end-to-end test: WAV write/read and a YIN pitch estimate.

import fs from "node:fs";

/** A steady voiced tone: harmonics k = 1..n of f0 with amplitude 1/k (a glottal-like buzz). */
export function voicedTone({ f0, sampleRate, seconds, peak = 0.3, harmonics = 20 }) {
  const n = Math.round(seconds * sampleRate);
  const x = new Float32Array(n);
  let norm = 0;
  for (let k = 1; k <= harmonics && k * f0 < sampleRate / 2; k++) norm += 1 / k;
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    let v = 0;
    for (let k = 1; k <= harmonics && k * f0 < sampleRate / 2; k++) {
      v += Math.sin(2 * Math.PI * k * f0 * t) / k;
    }
    x[i] = (peak * v) / norm;
  }
  return x;
}

/** Writes mono 16-bit PCM WAV (the format chromium's fake capture device reads). */
export function writeWav16(file, samples, sampleRate) {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]));
    data.writeInt16LE(Math.round(v * 32767), i * 2);
  }
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "ascii");
  h.writeUInt32LE(36 + data.length, 4);
  h.write("WAVE", 8, "ascii");
  h.write("fmt ", 12, "ascii");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36, "ascii");
  h.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([h, data]));
}

/** Reads a PCM WAV (16-bit int or 32-bit float): {sampleRate, channels, bits, samples (ch 0)}. */
export function readWav(bytes) {
  const b = Buffer.from(bytes);
  if (b.length < 12 || b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE") {
    throw new Error("not a RIFF/WAVE file");
  }
  let fmt = null;
  let off = 12;
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4);
    const size = b.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === "fmt ") {
      fmt = {
        format: b.readUInt16LE(body),
        channels: b.readUInt16LE(body + 2),
        sampleRate: b.readUInt32LE(body + 4),
        bits: b.readUInt16LE(body + 14),
      };
    } else if (id === "data") {
      if (!fmt) throw new Error("WAV data before fmt");
      const bytesPer = fmt.bits / 8;
      const frames = Math.floor(Math.min(size, b.length - body) / (bytesPer * fmt.channels));
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        const p = body + i * bytesPer * fmt.channels;
        samples[i] = fmt.format === 3 ? b.readFloatLE(p) : b.readInt16LE(p) / 32768;
      }
      return { ...fmt, samples };
    }
    off = body + size + (size & 1);
  }
  throw new Error("WAV without data chunk");
}

export function rmsDb(x) {
  let s = 0;
  for (const v of x) s += v * v;
  return 10 * Math.log10(s / Math.max(1, x.length) + 1e-12);
}

/**
 * YIN pitch (de Cheveigné & Kawahara 2002) of one frame: Hz, or 0 when unvoiced (no dip of the
 * cumulative-mean-normalised difference below `threshold`).
 */
function yinFrame(x, start, win, sampleRate, fmin, fmax, threshold) {
  const tauMin = Math.floor(sampleRate / fmax);
  const tauMax = Math.ceil(sampleRate / fmin);
  const d = new Float64Array(tauMax + 2);
  for (let tau = 1; tau <= tauMax + 1; tau++) {
    let s = 0;
    for (let i = 0; i < win; i++) {
      const e = x[start + i] - x[start + i + tau];
      s += e * e;
    }
    d[tau] = s;
  }
  let running = 0;
  const dn = new Float64Array(tauMax + 2);
  dn[0] = 1;
  for (let tau = 1; tau <= tauMax + 1; tau++) {
    running += d[tau];
    dn[tau] = running > 0 ? (d[tau] * tau) / running : 1;
  }
  for (let tau = tauMin; tau <= tauMax; tau++) {
    if (dn[tau] < threshold) {
      while (tau + 1 <= tauMax && dn[tau + 1] < dn[tau]) tau++;
      const a = dn[tau - 1];
      const b = dn[tau];
      const c = dn[tau + 1];
      const denom = a - 2 * b + c;
      const shift = denom > 0 ? (0.5 * (a - c)) / denom : 0;
      return sampleRate / (tau + shift);
    }
  }
  return 0;
}

/** Median F0 in Hz over the voiced, non-silent frames of x; 0 when fewer than 10 are voiced. */
export function medianF0(x, sampleRate, { fmin = 60, fmax = 500, threshold = 0.15 } = {}) {
  const win = Math.round(0.03 * sampleRate);
  const hop = Math.round(0.02 * sampleRate);
  const need = win + Math.ceil(sampleRate / fmin) + 2;
  const f0s = [];
  for (let start = 0; start + need <= x.length; start += hop) {
    if (rmsDb(x.subarray(start, start + win)) < -45) continue;
    const f = yinFrame(x, start, win, sampleRate, fmin, fmax, threshold);
    if (f > 0) f0s.push(f);
  }
  if (f0s.length < 10) return 0;
  f0s.sort((a, b) => a - b);
  return f0s[Math.floor(f0s.length / 2)];
}
