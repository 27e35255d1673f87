// One conversion session over the WebSocket protocol of `rvc-rt serve` (docs/protocol.md):
// config -> ready, then binary audio both ways, with set / stats / ping / bye controls.

/** Raw little-endian sample bytes <-> Float32Array for the two wire formats. */
export function encodeSamples(samples, format) {
  if (format === "pcm_f32le") return samples.buffer.slice(samples.byteOffset, samples.byteOffset + samples.byteLength);
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]));
    out[i] = Math.round(v * 32767);
  }
  return out.buffer;
}

export function decodeSamples(buffer, format) {
  if (format === "pcm_f32le") return new Float32Array(buffer);
  const s16 = new Int16Array(buffer);
  const out = new Float32Array(s16.length);
  for (let i = 0; i < s16.length; i++) out[i] = s16[i] / 32768;
  return out;
}

/** HTTP helpers that send the token as a bearer header. */
export function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Why a connection could not be made or was lost, in words a user can act on. Browsers hide the
 * HTTP status of a refused WebSocket upgrade (the close code is just 1006), so this asks the
 * server's HTTP side: no answer = server gone; 401 = wrong token; 503 = full.
 */
export async function diagnose(token) {
  let health;
  try {
    health = await fetch("/healthz", { cache: "no-store" });
  } catch {
    return "Server unreachable: no answer from rvc-rt serve (is it running? did it stop?).";
  }
  if (!health.ok) return `Server unhealthy: /healthz answered HTTP ${health.status}.`;
  try {
    const r = await fetch("/api/models", { headers: authHeaders(token), cache: "no-store" });
    if (r.status === 401) {
      return token
        ? "Wrong token: the server refused it (401 unauthorized). Check the API token."
        : "This server needs a token: enter its API token (RVC_API_TOKEN) and connect again.";
    }
  } catch {
    return "Server unreachable: the HTTP request failed.";
  }
  return null;
}

const kCloseReasons = {
  1001: "the server is shutting down or the session was idle too long",
  1008: "policy violation (unauthorized, rate limited or reading too slowly)",
  1009: "a message was too large",
  1011: "internal server error",
  1013: "the server is busy (too many sessions)",
};

/**
 * A WebSocket session. Callbacks: onReady(msg), onAudio(Float32Array), onControl(msg) for every
 * other JSON message, onClosed({clean, code, reason, error}) once.
 */
export class Session {
  constructor({ token, config, onReady, onAudio, onControl, onClosed }) {
    this.config = config;
    this.format = config.format;
    this.onReady = onReady;
    this.onAudio = onAudio;
    this.onControl = onControl;
    this.onClosed = onClosed;
    this.ready = null;
    this.lastError = null;
    this.closed = false;
    this.opened = false;
    this.nextId = 1;
    this.pending = new Map();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    this.ws = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => {
      this.opened = true;
      this.ws.send(JSON.stringify({ type: "config", ...config }));
    };
    this.ws.onmessage = (e) => this.onMessage(e);
    this.ws.onclose = (e) => this.finish(e.code, e.reason);
    this.ws.onerror = () => {};  // onclose follows with the code
  }

  onMessage(e) {
    if (typeof e.data !== "string") {
      if (this.ready) this.onAudio(decodeSamples(e.data, this.format));
      return;
    }
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    if (msg.id !== undefined && this.pending.has(msg.id)) {
      this.pending.get(msg.id)(msg);
      this.pending.delete(msg.id);
    }
    if (msg.type === "ready") {
      this.ready = msg;
      this.onReady(msg);
      return;
    }
    if (msg.type === "error") this.lastError = msg;
    this.onControl(msg);
  }

  /** Sends a control message; resolves with the reply that echoes its id. */
  request(msg) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ ...msg, id });
    });
  }

  send(msg) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  sendAudio(samples) {
    if (this.ready && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(encodeSamples(samples, this.format));
    }
  }

  get bufferedAmount() {
    return this.ws.bufferedAmount;
  }

  close() {
    if (this.closed) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, "client closed");
    else this.ws.close();
    this.finish(1000, "client closed");
  }

  finish(code, reason) {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.pending.values()) resolve(null);
    this.pending.clear();
    const clean = code === 1000;
    let error = null;
    if (this.lastError && this.lastError.fatal) {
      error = `${this.lastError.code}: ${this.lastError.message}`;
    } else if (!clean) {
      const why = kCloseReasons[code];
      error = why ? `Connection closed (${code}): ${why}.` : null;
    }
    this.onClosed({ clean, code, reason, error, opened: this.opened });
  }
}
