// rvc-rt web page: microphone -> rvc-rt serve (WebSocket /ws) -> speakers, with live controls.
// Plain ES modules, nothing fetched but this server's own files and API.
import { AudioEngine, MicError, outputSelectionSupported } from "./audio.js";
import { Session, authHeaders, diagnose } from "./session.js";
import { encodeWav } from "./wav.js";

const $ = (id) => document.getElementById(id);
const kChunkMs = 20;          // capture message size (the protocol asks for 10-100 ms)
const kJitterMarginMs = 40;   // playback waits this long after a block arrives
const kMaxUnsentS = 1.0;      // audio queued in the socket beyond this is dropped, not delayed
const kParamSliders = ["pitch", "formant", "index_rate", "rms_mix", "threshold_db"];

const app = {
  engine: null,
  session: null,
  state: "disconnected",
  error: null,
  ready: null,
  stats: null,
  playback: null,
  rttMs: null,
  inDb: -Infinity,
  outDb: -Infinity,
  recording: null,
  timers: [],
};
// Read-only view for tests and the console.
window.rvcPage = {
  get state() { return app.state; },
  get error() { return app.error; },
  get ready() { return app.ready; },
  get stats() { return app.stats; },
  get playback() { return app.playback; },
  get rttMs() { return app.rttMs; },
  get levels() { return { inDb: app.inDb, outDb: app.outDb }; },
};

// ---- display ------------------------------------------------------------------------------

function setState(state, text) {
  app.state = state;
  const el = $("state");
  el.dataset.state = state;
  el.textContent = text || state;
  $("connect").textContent = state === "disconnected" || state === "error" ? "Connect" : "Disconnect";
  $("record").disabled = state !== "streaming";
}

function showError(text) {
  app.error = text;
  const el = $("error");
  el.textContent = text;
  el.hidden = false;
}

function clearError() {
  app.error = null;
  $("error").hidden = true;
}

const fmtMs = (ms) => (ms == null || !isFinite(ms) ? "–" : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`);
const fmtDb = (db) => (db > -90 ? `${db.toFixed(0)} dB` : "silent");

function rmsDb(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return samples.length ? 10 * Math.log10(sum / samples.length + 1e-12) : -Infinity;
}

function showLevel(which, db) {
  $(`${which}-meter`).value = Math.max(-60, db);
  $(`${which}-db`).textContent = fmtDb(db);
}

function showSliderValue(input) {
  const v = Number(input.value);
  let text = `${input.value}${input.dataset.unit || ""}`;
  if (input.id === "threshold_db" && v <= -60) text = "off";
  if (input.id === "pitch" || input.id === "formant") text = `${v > 0 ? "+" : ""}${text}`;
  $(`${input.id}-out`).textContent = text;
}

function showReadouts() {
  const r = app.ready;
  const s = app.stats;
  const p = app.playback;
  const rate = app.engine ? app.engine.sampleRate : 0;
  $("latency").textContent = r ? fmtMs(s ? s.latency_ms : r.latency_ms) : "–";
  $("compute").textContent =
    s && s.block_compute_ms ? `${fmtMs(s.block_compute_ms.p50)} / ${fmtMs(s.block_compute_ms.p99)}` : "–";
  $("rtt").textContent = fmtMs(app.rttMs);
  const bufferMs = p && rate ? (1000 * p.bufferedFrames) / rate : null;
  $("buffer").textContent = fmtMs(bufferMs);
  $("glitches").textContent = s || p
    ? `${s ? s.overruns : 0} / ${p ? fmtMs((1000 * p.droppedFrames) / rate) : "–"} / ${p ? p.underruns : 0}`
    : "–";
  $("rate").textContent = r ? `${r.sample_rate} Hz, ${r.format}` : rate ? `${rate} Hz` : "–";
  if (r) {
    // mouth to ear: capture chunk + server (algorithmic) + network + playback buffer + device
    const total = kChunkMs + r.latency_ms + (app.rttMs || 0) + (bufferMs || 0) +
      1000 * app.engine.deviceLatencyS;
    $("latency-total").textContent = `≈ ${fmtMs(total)}`;
  } else {
    $("latency-total").textContent = "–";
  }
}

// ---- voices and devices -------------------------------------------------------------------

const token = () => $("token").value.trim();

async function loadVoices() {
  const select = $("voice");
  const keep = select.value;
  let models = [];
  $("voice-note").textContent = "";
  try {
    const r = await fetch("/api/models", { headers: authHeaders(token()), cache: "no-store" });
    if (r.status === 401) {
      $("voice-note").textContent = "Enter the server's API token to list its voices.";
    } else if (r.ok) {
      models = (await r.json()).models || [];
    }
  } catch {
    $("voice-note").textContent = "Could not reach the server to list voices.";
  }
  select.replaceChildren(new Option("built-in DSP voice", ""));
  for (const m of models) {
    const details = m.error ? "unreadable"
      : [m.version, m.sample_rate ? `${m.sample_rate / 1000} kHz` : null, m.loaded ? "loaded" : null,
        m.index ? "index" : null].filter(Boolean).join(", ");
    const option = new Option(details ? `${m.name} (${details})` : m.name, m.name);
    // A voice the server cannot read is listed (so its file can be found) but not selectable.
    if (m.error) {
      option.disabled = true;
      option.title = m.error;
    }
    select.add(option);
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [id, kind] of [["input-device", "audioinput"], ["output-device", "audiooutput"]]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(new Option("default", ""));
    let n = 0;
    for (const d of devices) {
      if (d.kind !== kind || d.deviceId === "default" || !d.deviceId) continue;
      n++;
      select.add(new Option(d.label || `${kind === "audioinput" ? "microphone" : "output"} ${n}`, d.deviceId));
    }
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }
  if (!outputSelectionSupported()) {
    $("output-device").disabled = true;
    $("output-device").title = "This browser cannot choose the output device (no AudioContext.setSinkId).";
  }
}

// ---- session ------------------------------------------------------------------------------

function currentParams() {
  const params = {};
  for (const id of kParamSliders) params[id] = Number($(id).value);
  params.noise_suppression = $("noise_suppression").value;
  return params;
}

function stopTimers() {
  for (const t of app.timers) clearInterval(t);
  app.timers = [];
}

function openSession() {
  const config = {
    sample_rate: app.engine.sampleRate,
    format: $("format").value,
    channels: 1,
    block_ms: Number($("block_ms").value),
    params: currentParams(),
  };
  if ($("voice").value) config.model = $("voice").value;
  app.ready = null;
  app.stats = null;
  setState("connecting", "connecting…");
  const session = new Session({
    token: token(),
    config,
    onReady: (msg) => {
      if (session !== app.session) return;
      app.ready = msg;
      app.engine.resetPlayback();
      app.engine.configurePlayback(msg.block_ms, kJitterMarginMs);
      setState("streaming", `streaming · ${msg.voice || msg.model || "voice"}`);
      stopTimers();
      app.timers.push(setInterval(() => session.send({ type: "stats" }), 1000));
      app.timers.push(setInterval(async () => {
        const t0 = performance.now();
        const pong = await session.request({ type: "ping" });
        if (pong && pong.type === "pong") app.rttMs = performance.now() - t0;
      }, 2000));
      showReadouts();
    },
    onAudio: (samples) => {
      if (session !== app.session) return;
      app.outDb = rmsDb(samples);
      showLevel("out", app.outDb);
      if (app.recording) {
        app.recording.chunks.push(samples.slice());
        app.recording.frames += samples.length;
      }
      app.engine.push(samples);
    },
    onControl: (msg) => {
      if (session !== app.session) return;
      if (msg.type === "stats") {
        app.stats = msg;
        showReadouts();
      } else if (msg.type === "error") {
        showError(`${msg.code}: ${msg.message}`);
        // A refused config (unknown voice, bad field) leaves nothing to stream: give up cleanly.
        if (!session.ready && !msg.fatal) disconnect({ keepError: true });
      }
    },
    onClosed: async (info) => {
      if (session !== app.session) return;  // replaced by a reconnect or closed by the user
      app.session = null;
      stopTimers();
      let why = info.error;
      if (!why) why = await diagnose(token());
      if (!why && !info.opened) {
        // Token and server are fine, yet the upgrade was refused: the server is full.
        why = "The server refused the session: it is probably full (max-sessions); try again later.";
      }
      if (!why) why = `Connection lost (WebSocket close ${info.code}${info.reason ? `: ${info.reason}` : ""}).`;
      await teardownAudio();
      showError(why);
      setState("error", "disconnected (error)");
    },
  });
  app.session = session;
}

function onCapture(samples) {
  app.inDb = rmsDb(samples);
  showLevel("in", app.inDb);
  const s = app.session;
  if (!s || !s.ready) return;
  // A stalled network must not grow an unbounded backlog: drop audio past kMaxUnsentS.
  const bytesPerSecond = app.engine.sampleRate * (s.format === "pcm_f32le" ? 4 : 2);
  if (s.bufferedAmount > kMaxUnsentS * bytesPerSecond) return;
  s.sendAudio(samples);
}

async function teardownAudio() {
  stopRecording();
  if (app.engine) await app.engine.stop();
  app.engine = null;
  app.playback = null;
}

async function connect() {
  clearError();
  setState("connecting", "connecting…");
  // Ask the HTTP side first: a refused WebSocket upgrade (wrong token, server full) is
  // invisible to the page, which only sees close code 1006.
  const problem = await diagnose(token());
  if (problem) {
    showError(problem);
    setState("error", "not connected");
    return;
  }
  app.engine = new AudioEngine({
    chunkMs: kChunkMs,
    onChunk: onCapture,
    onPlaybackStats: (p) => {
      app.playback = p;
    },
  });
  try {
    await app.engine.start({ inputDeviceId: $("input-device").value, outputDeviceId: $("output-device").value });
  } catch (err) {
    await teardownAudio();
    showError(err instanceof MicError ? err.message : `Audio could not start: ${err.message || err}`);
    setState("error", "not connected");
    return;
  }
  listDevices();  // labels become visible once the microphone is allowed
  openSession();
}

async function disconnect({ keepError = false } = {}) {
  const s = app.session;
  app.session = null;
  stopTimers();
  if (s) s.close();
  await teardownAudio();
  app.ready = null;
  if (!keepError) clearError();
  setState(keepError ? "error" : "disconnected", keepError ? "not connected" : "disconnected");
  showReadouts();
}

/** Settings fixed at config time (voice, block size, format) need a new session. */
function reconnect() {
  if (!app.session || !app.engine) return;
  const old = app.session;
  app.session = null;
  stopTimers();
  old.close();
  app.engine.resetPlayback();
  openSession();
}

// ---- live parameters ----------------------------------------------------------------------

let setTimer = null;
let setDirty = false;
function sendParams() {
  // At most one `set` per 50 ms while a slider moves, always ending with the final value.
  if (setTimer) {
    setDirty = true;
    return;
  }
  const s = app.session;
  if (s && s.ready) {
    s.request({ type: "set", params: currentParams() }).then((reply) => {
      if (reply && reply.type === "error") showError(`${reply.code}: ${reply.message}`);
    });
  }
  setTimer = setTimeout(() => {
    setTimer = null;
    if (setDirty) {
      setDirty = false;
      sendParams();
    }
  }, 50);
}

// ---- recording ----------------------------------------------------------------------------

function startRecording() {
  const a = $("download");
  if (a.href) URL.revokeObjectURL(a.href);
  a.hidden = true;
  const rec = { chunks: [], frames: 0, rate: app.ready.sample_rate, timer: null };
  rec.timer = setInterval(() => {
    $("record-time").textContent = `${(rec.frames / rec.rate).toFixed(1)} s`;
  }, 200);
  app.recording = rec;
  $("record").textContent = "Stop";
}

function stopRecording() {
  const rec = app.recording;
  if (!rec) return;
  app.recording = null;
  clearInterval(rec.timer);
  $("record").textContent = "Record";
  const blob = new Blob([encodeWav(rec.chunks, rec.rate)], { type: "audio/wav" });
  const a = $("download");
  a.href = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  a.download = `rvc-rt-${stamp}.wav`;
  a.hidden = false;
  $("record-time").textContent = `${(rec.frames / rec.rate).toFixed(1)} s recorded`;
}

// ---- wiring -------------------------------------------------------------------------------

function init() {
  const urlToken = new URLSearchParams(location.search).get("token");
  if (urlToken) $("token").value = urlToken;
  for (const input of document.querySelectorAll('input[type="range"]')) {
    showSliderValue(input);
    input.addEventListener("input", () => {
      showSliderValue(input);
      if (input.dataset.param) sendParams();
    });
  }
  $("block_ms").addEventListener("change", reconnect);
  $("voice").addEventListener("change", reconnect);
  $("format").addEventListener("change", reconnect);
  $("noise_suppression").addEventListener("change", sendParams);
  $("token").addEventListener("change", loadVoices);
  $("connect").addEventListener("click", () => {
    if (app.state === "disconnected" || app.state === "error") connect();
    else disconnect();
  });
  $("record").addEventListener("click", () => (app.recording ? stopRecording() : startRecording()));
  $("input-device").addEventListener("change", async () => {
    if (!app.engine) return;
    try {
      await app.engine.setInput($("input-device").value);
    } catch (err) {
      showError(err.message);
    }
  });
  $("output-device").addEventListener("change", async () => {
    if (!app.engine) return;
    try {
      await app.engine.setOutput($("output-device").value);
    } catch (err) {
      showError(`Output device: ${err.message || err}`);
    }
  });
  if (navigator.mediaDevices) navigator.mediaDevices.addEventListener("devicechange", listDevices);
  setInterval(showReadouts, 500);
  setState("disconnected");
  loadVoices();
  listDevices();
}

init();
