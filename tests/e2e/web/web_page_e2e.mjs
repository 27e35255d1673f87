// End-to-end test of the web page (web/) against a real `rvc-rt serve`, in headless Debian
// chromium driven by playwright-core, with chromium's fake microphone playing a voiced tone.
//
//   node tests/e2e/web/web_page_e2e.mjs         (from anywhere; CTest runs it as web_page_e2e)
//
// Environment: RVC_RT_BIN (default build/rvc-rt), CHROMIUM (default /usr/bin/chromium),
// RVC_E2E_SCREENSHOT (default docs/web-page.png; "" = none), RVC_E2E_KEEP=1 keeps the temp dir.
//
// What it checks, in order: a wrong token gives a plain error and no session; the right token
// (from ?token=) connects and streams with the built-in voice; the recorded converted audio has
// the page's sample rate, a sane level and the pitch shift asked for in the config; a live slider
// change moves the pitch on the same session; a new block size and wire format reconnect and keep
// it; the latency and block-compute readouts show numbers; the page fits a phone-sized screen; a
// refused microphone and a stopping server show plain errors. Exit status 0 = all passed.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { medianF0, readWav, rmsDb, voicedTone, writeWav16 } from "./audio_util.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const bin = process.env.RVC_RT_BIN || path.join(repo, "build/rvc-rt");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const screenshot = process.env.RVC_E2E_SCREENSHOT ?? path.join(repo, "docs/web-page.png");

const kToken = "e2e-secret-token";
const kRate = 48000;
const kInputF0 = 150;
const kPitch1 = 5;          // semitones in the config
const kPitch2 = -7;         // semitones set live
const kRatioTolerance = 0.03;
const kRecordMs = 2500;

let failures = 0;
function check(ok, what, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? `: ${detail}` : ""}`);
  if (!ok) failures++;
  return ok;
}

function fail(message) {
  throw new Error(message);
}

/** Starts the server on free ports; resolves with {proc, url} once it prints its ports. */
function startServer(tmp) {
  const models = path.join(tmp, "models");
  fs.mkdirSync(models);
  // A voice file the server cannot read: the voice picker must list it, disabled, with the reason.
  fs.writeFileSync(path.join(models, "broken.pth"), "");
  // No --web-root: the default must find the page when run from the repository root.
  const args = ["serve", "--host", "127.0.0.1", "--port", "0", "--tcp-port", "-1", "--token", kToken,
    "--models-dir", models];
  const proc = spawn(bin, args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not report its port in 30 s:\n${log.join("\n")}`)), 30000);
    const onLine = (line) => {
      log.push(line);
      const m = /listening http=([\d.]+):(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: `http://${m[1]}:${m[2]}`, log });
      }
    };
    readline.createInterface({ input: proc.stdout }).on("line", onLine);
    readline.createInterface({ input: proc.stderr }).on("line", onLine);
    proc.on("error", (e) => reject(new Error(`cannot start ${bin}: ${e.message}`)));
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${log.join("\n")}`));
    });
  });
}

/** Clicks Record, waits, clicks Stop, downloads the WAV through the page's link. */
async function recordConverted(page, tmp, name) {
  await page.click("#record");
  await page.waitForTimeout(kRecordMs);
  await page.click("#record");
  await page.waitForSelector("#download:not([hidden])");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  const file = path.join(tmp, name);
  await download.saveAs(file);
  return readWav(fs.readFileSync(file));
}

async function main() {
  if (!fs.existsSync(bin)) fail(`${bin} not found: build rvc-rt first (scripts/build)`);
  if (!fs.existsSync(chromiumPath)) fail(`${chromiumPath} not found: run scripts/setup (Debian package chromium)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rvc-web-e2e-"));

  // The fake microphone: chromium loops this file.
  const tone = voicedTone({ f0: kInputF0, sampleRate: kRate, seconds: 4 });
  const toneFile = path.join(tmp, "tone.wav");
  writeWav16(toneFile, tone, kRate);
  const inputF0 = medianF0(tone, kRate);
  check(Math.abs(inputF0 / kInputF0 - 1) < 0.01, "F0 estimator finds the input tone", `${inputF0.toFixed(1)} Hz`);

  const server = await startServer(tmp);
  let serverExit = null;
  const serverExited = new Promise((resolve) => server.proc.on("exit", (code, signal) => {
    serverExit = { code, signal };
    resolve();
  }));
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${toneFile}`,
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });

    // 1. Wrong token: a plain error, no streaming.
    await page.goto(`${server.url}/?token=wrong-token`);
    check((await page.title()).includes("rvc-rt"), "page served at / by rvc-rt serve (default web root)");
    await page.click("#connect");
    await page.waitForFunction(() => window.rvcPage.state === "error", null, { timeout: 10000 });
    const tokenError = await page.textContent("#error");
    check(/wrong token/i.test(tokenError) && (await page.isVisible("#error")), "wrong token shows a clear error",
      JSON.stringify(tokenError));
    // Browsers log the refused /api/models request (401) as a console error: expected here.
    pageErrors.length = 0;

    // 2. Right token from the URL, pitch +5 in the config, built-in voice.
    await page.goto(`${server.url}/?token=${kToken}`);
    check((await page.inputValue("#token")) === kToken, "token read from ?token=");
    check((await page.inputValue("#voice")) === "", "built-in voice offered and selected");
    await page.waitForSelector('#voice option[value="broken"]', { state: "attached", timeout: 5000 });
    const broken = await page.$eval('#voice option[value="broken"]', (o) => ({ disabled: o.disabled, title: o.title }));
    check(broken.disabled && /broken\.pth/.test(broken.title), "voice picker lists /api/models (unreadable voice disabled, reason shown)",
      JSON.stringify(broken));
    await page.fill("#pitch", String(kPitch1));
    await page.click("#connect");
    await page.waitForFunction(() => window.rvcPage.state === "streaming", null, { timeout: 15000 });
    const ready = await page.evaluate(() => window.rvcPage.ready);
    check(ready.params.pitch === kPitch1, "config carried the slider's pitch", JSON.stringify(ready.params));
    check(ready.sample_rate > 0 && ready.block_frames > 0, "server answered ready", JSON.stringify(ready));
    check((await page.isHidden("#error")), "no error shown while streaming");

    // Let the voice warm up (its latency) and the jitter buffer settle.
    await page.waitForTimeout(1500);
    const wav1 = await recordConverted(page, tmp, "converted-1.wav");
    const pageRate = await page.evaluate(() => window.rvcPage.ready.sample_rate);
    check(wav1.sampleRate === pageRate && wav1.channels === 1, "recording is mono at the session rate",
      `${wav1.sampleRate} Hz, ${wav1.channels} ch`);
    const seconds1 = wav1.samples.length / wav1.sampleRate;
    check(seconds1 > 0.8 * kRecordMs / 1000, "recording holds the streamed audio", `${seconds1.toFixed(2)} s`);
    const level1 = rmsDb(wav1.samples);
    check(level1 > rmsDb(tone) - 12 && level1 < 0, "converted level", `${level1.toFixed(1)} dBFS (input ${rmsDb(tone).toFixed(1)})`);
    const f1 = medianF0(wav1.samples, wav1.sampleRate);
    const want1 = 2 ** (kPitch1 / 12);
    check(Math.abs(f1 / inputF0 / want1 - 1) < kRatioTolerance, `pitch +${kPitch1} st`,
      `F0 ${f1.toFixed(1)} Hz / ${inputF0.toFixed(1)} Hz = ${(f1 / inputF0).toFixed(3)}, want ${want1.toFixed(3)}`);
    const levels = await page.evaluate(() => window.rvcPage.levels);
    check(levels.inDb > -40 && levels.outDb > -40, "level meters move", JSON.stringify(levels));

    // 3. Live change: drag the pitch slider, keep streaming on the same session.
    const sessionBefore = ready.session;
    await page.fill("#pitch", String(kPitch2));
    await page.waitForTimeout(1000);
    const wav2 = await recordConverted(page, tmp, "converted-2.wav");
    const f2 = medianF0(wav2.samples, wav2.sampleRate);
    const want2 = 2 ** (kPitch2 / 12);
    check(Math.abs(f2 / inputF0 / want2 - 1) < kRatioTolerance, `pitch ${kPitch2} st set live`,
      `F0 ${f2.toFixed(1)} Hz / ${inputF0.toFixed(1)} Hz = ${(f2 / inputF0).toFixed(3)}, want ${want2.toFixed(3)}`);
    check((await page.evaluate(() => window.rvcPage.ready.session)) === sessionBefore, "same session after the live change");

    // 4. Block size and wire format are fixed per session: changing them reconnects with a new
    //    config that keeps the live parameters.
    await page.selectOption("#format", "pcm_s16le");
    await page.fill("#block_ms", "200");
    await page.waitForFunction((before) => {
      const r = window.rvcPage.ready;
      return window.rvcPage.state === "streaming" && r && r.session !== before && r.block_ms === 200 &&
        r.format === "pcm_s16le";
    }, sessionBefore, { timeout: 15000 });
    const ready3 = await page.evaluate(() => window.rvcPage.ready);
    check(ready3.params.pitch === kPitch2, "block size and format change reconnect with the live params",
      `session ${ready3.session}, ${ready3.block_ms} ms, ${ready3.format}, pitch ${ready3.params.pitch}`);
    await page.waitForTimeout(1500);
    const wav3 = await recordConverted(page, tmp, "converted-3.wav");
    const f3 = medianF0(wav3.samples, wav3.sampleRate);
    check(Math.abs(f3 / inputF0 / want2 - 1) < kRatioTolerance && rmsDb(wav3.samples) > rmsDb(tone) - 12,
      "int16 audio at 200 ms blocks keeps pitch and level",
      `ratio ${(f3 / inputF0).toFixed(3)}, ${rmsDb(wav3.samples).toFixed(1)} dBFS`);

    // 5. Readouts from `stats` and the playback buffer.
    await page.waitForFunction(() => window.rvcPage.stats && window.rvcPage.rttMs != null, null, { timeout: 5000 });
    const readouts = await page.evaluate(() => Object.fromEntries(
      ["latency", "compute", "latency-total", "rtt", "buffer"].map((id) => [id, document.getElementById(id).textContent])));
    check(/\d+ ms/.test(readouts.latency) && /\d.* ms \/ \d.* ms/.test(readouts.compute) &&
      /≈ \d+ ms/.test(readouts["latency-total"]), "latency and block-compute readouts", JSON.stringify(readouts));
    const playback = await page.evaluate(() => window.rvcPage.playback);
    check(playback && playback.bufferedFrames / pageRate < 0.5, "playback buffer stays small",
      JSON.stringify(playback));

    if (screenshot) {
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`     screenshot: ${path.relative(repo, screenshot)}`);
    }

    // 6. Phone-sized screen: nothing wider than the viewport.
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, "fits a 375 px wide screen", `overflow ${overflow} px`);
    await page.setViewportSize({ width: 1100, height: 900 });

    check(pageErrors.length === 0, "no script errors in the page", pageErrors.join(" | "));

    // 7. Microphone refused: a browser without the auto-accept flag denies getUserMedia.
    const denying = await chromium.launch({ executablePath: chromiumPath, headless: true,
      args: ["--use-fake-device-for-media-stream"] });
    try {
      const p2 = await denying.newPage();
      await p2.goto(`${server.url}/?token=${kToken}`);
      await p2.click("#connect");
      await p2.waitForFunction(() => window.rvcPage.state === "error", null, { timeout: 10000 });
      const micError = await p2.textContent("#error");
      check(/microphone refused/i.test(micError), "refused microphone shows a clear error", JSON.stringify(micError));
    } finally {
      await denying.close();
    }

    // 8. Server gone: SIGTERM while streaming -> a plain error in the page.
    server.proc.kill("SIGTERM");
    await page.waitForFunction(() => window.rvcPage.state === "error", null, { timeout: 15000 });
    const goneError = await page.textContent("#error");
    check(/shutting|unreachable|closed|lost/i.test(goneError), "server going away shows an error", JSON.stringify(goneError));
    await Promise.race([serverExited, new Promise((r) => setTimeout(r, 10000))]);
    check(serverExit && serverExit.code === 0, "server drained and exited 0 on SIGTERM", JSON.stringify(serverExit));
  } finally {
    await browser.close();
    if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
    if (process.env.RVC_E2E_KEEP !== "1") fs.rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept ${tmp}`);
  }
}

try {
  await main();
} catch (e) {
  console.log(`FAIL ${e.message}`);
  failures++;
}
console.log(failures ? `web page e2e: ${failures} check(s) failed` : "web page e2e: all checks passed");
process.exit(failures ? 1 : 0);
