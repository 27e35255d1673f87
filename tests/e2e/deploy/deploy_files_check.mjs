// Checks the container and Kubernetes files (deploy/) without a container engine:
//
//   node tests/e2e/deploy/deploy_files_check.mjs     (CTest runs it as deploy_files_check)
//
// - deploy/Dockerfile: every COPY source is a tracked file or directory that .dockerignore lets
//   through, every repo script a RUN calls was copied in, the cmake options exist, the build stage
//   installs every library package scripts/setup installs, the final stage runs as a non-root
//   user with a HEALTHCHECK on /healthz through a tool it installs, EXPOSE / VOLUME / web root
//   agree with its RVC_* environment, and deploy/runtime-packages.sh names installed packages
//   for the real binary;
// - every RVC_* variable in the Dockerfile, compose file and manifests is a setting that
//   `rvc-rt serve --print-config` accepts (run with those values);
// - deploy/docker-compose.yml and deploy/k8s/*.yaml parse as YAML; the manifests validate against
//   the Kubernetes API schemas (kubernetes-models) and agree with each other (labels, ports,
//   probes on /healthz and /readyz, resources, HPA target, volume claims, kustomization list).
//
// Environment: RVC_RT_BIN (default build/rvc-rt). Exit status 0 = all passed.

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Service } from "kubernetes-models/v1/Service";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const bin = process.env.RVC_RT_BIN || path.join(repo, "build/rvc-rt");
const read = (rel) => fs.readFileSync(path.join(repo, rel), "utf8");

let failures = 0;
function check(ok, what, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? `: ${detail}` : ""}`);
  if (!ok) failures++;
  return ok;
}

// ---- Dockerfile ---------------------------------------------------------------------------

/** Instructions of a Dockerfile: [{op, args, stage}] with continuations joined, comments dropped. */
export function parseDockerfile(text) {
  const out = [];
  let stage = -1;
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) continue;
    if (pending && line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    if (!full) continue;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (!m) throw new Error(`Dockerfile: cannot parse line: ${full}`);
    const op = m[1].toUpperCase();
    if (op === "FROM") stage++;
    out.push({ op, args: m[2].trim(), stage });
  }
  if (pending) throw new Error("Dockerfile: ends inside a line continuation");
  return out;
}

/** .dockerignore semantics for the patterns used here: globs with *, ! re-includes, last wins. */
export function dockerIgnored(patterns, rel) {
  const parts = rel.split("/");
  let ignored = false;
  for (let p of patterns) {
    const negate = p.startsWith("!");
    if (negate) p = p.slice(1);
    p = p.replace(/^\/+|\/+$/g, "");
    const re = new RegExp(`^${p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")}$`);
    // A pattern matches the path or any directory above it.
    for (let i = 1; i <= parts.length; i++) {
      if (re.test(parts.slice(0, i).join("/"))) {
        ignored = !negate;
        break;
      }
    }
  }
  return ignored;
}

function envOf(instructions) {
  const env = {};
  for (const ins of instructions) {
    if (ins.op !== "ENV") continue;
    for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, "");
  }
  return env;
}

function aptPackages(runArgs) {
  const pkgs = [];
  for (const m of runArgs.matchAll(/apt-get install ([^&|;]*)/g)) {
    for (const w of m[1].split(/\s+/)) if (w && !w.startsWith("-")) pkgs.push(w);
  }
  return pkgs;
}

function checkDockerfile(tracked, rvcVars) {
  const text = read("deploy/Dockerfile");
  const ins = parseDockerfile(text);
  const froms = ins.filter((i) => i.op === "FROM");
  check(froms.length >= 2 && froms.every((f) => /^debian:12(-slim)?\b/.test(f.args)),
    "Dockerfile: multi-stage on Debian 12", froms.map((f) => f.args).join(" | "));
  const stageNames = froms.map((f) => (/\bAS\s+(\S+)/i.exec(f.args) || [])[1]);
  const last = froms.length - 1;

  const ignore = read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const copied = [];
  for (const c of ins.filter((i) => i.op === "COPY")) {
    const words = c.args.split(/\s+/);
    const from = words.find((w) => w.startsWith("--from="));
    const paths = words.filter((w) => !w.startsWith("--"));
    const dest = paths.pop();
    if (from) {
      const ref = from.slice(7);
      check(stageNames.slice(0, c.stage).includes(ref), `Dockerfile: COPY --from=${ref} names an earlier stage`);
      continue;
    }
    for (const src of paths) {
      const rel = src.replace(/^\.\//, "").replace(/\/$/, "");
      const files = tracked.filter((f) => f === rel || f.startsWith(`${rel}/`));
      check(files.length > 0, `Dockerfile: COPY ${src} exists in the repository`, `${files.length} tracked file(s)`);
      const dropped = files.filter((f) => dockerIgnored(ignore, f));
      check(dropped.length === 0, `Dockerfile: COPY ${src} is not excluded by .dockerignore`, dropped.slice(0, 3).join(" "));
      copied.push({ src: rel, dest, stage: c.stage });
    }
  }

  // Repo scripts that RUN calls must have been copied into that stage.
  for (const r of ins.filter((i) => i.op === "RUN")) {
    for (const m of r.args.matchAll(/(?:^|\s)((?:deploy|scripts)\/[\w./-]+)/g)) {
      const script = m[1];
      check(tracked.includes(script) && copied.some((c) => c.stage === r.stage && (c.src === script || script.startsWith(`${c.src}/`))),
        `Dockerfile: RUN ${script} is tracked and copied into its stage`);
    }
    for (const m of r.args.matchAll(/-D(RVC_\w+)=/g)) {
      check(new RegExp(`option\\(${m[1]}\\b`).test(read("CMakeLists.txt")), `Dockerfile: cmake option ${m[1]} exists`);
    }
  }

  // The build stage has every library package scripts/setup installs.
  const setup = read("scripts/setup");
  const libs = (/# libraries\n([\s\S]*?)\n\s*#/.exec(setup) || [, ""])[1].split(/\s+/).filter(Boolean);
  const buildPkgs = ins.filter((i) => i.op === "RUN" && i.stage === 0).flatMap((i) => aptPackages(i.args));
  const missing = libs.filter((p) => !buildPkgs.includes(p));
  check(libs.length > 0 && missing.length === 0, "Dockerfile: build stage installs scripts/setup's libraries",
    missing.length ? `missing ${missing.join(" ")}` : `${libs.length} packages`);

  // Final stage: non-root, healthcheck on /healthz with a tool it installs, consistent env.
  const final = ins.filter((i) => i.stage === last);
  const user = final.filter((i) => i.op === "USER").pop();
  check(user && !/^(root|0)(:|$)/.test(user.args), "Dockerfile: runs as a non-root user", user ? user.args : "no USER");
  const useradd = final.some((i) => i.op === "RUN" && user && i.args.includes(`useradd`) && i.args.includes(user.args.split(":")[0]));
  check(useradd, "Dockerfile: the USER is created in the image");
  const health = final.find((i) => i.op === "HEALTHCHECK");
  const finalPkgs = final.filter((i) => i.op === "RUN").flatMap((i) => aptPackages(i.args));
  const tool = health ? (/CMD\s+(\S+)/.exec(health.args) || [])[1] : null;
  check(health && /\/healthz/.test(health.args) && (finalPkgs.includes(tool) || tool === "rvc-rt"),
    "Dockerfile: HEALTHCHECK on /healthz with a tool in the image", health ? `${tool}` : "none");
  const env = envOf(final);
  const expose = final.filter((i) => i.op === "EXPOSE").flatMap((i) => i.args.split(/\s+/)).map((p) => p.split("/")[0]);
  check(expose.includes(env.RVC_PORT) && expose.includes(env.RVC_TCP_PORT),
    "Dockerfile: EXPOSE matches RVC_PORT and RVC_TCP_PORT", `${expose} vs ${env.RVC_PORT},${env.RVC_TCP_PORT}`);
  const volumes = final.filter((i) => i.op === "VOLUME").map((i) => i.args).join(" ");
  check(volumes.includes(`"${env.RVC_MODELS_DIR}"`) || volumes.split(/\s+/).includes(env.RVC_MODELS_DIR),
    "Dockerfile: the models directory is a volume", `${volumes} / RVC_MODELS_DIR=${env.RVC_MODELS_DIR}`);
  const web = copied.find((c) => c.stage === last && c.src === "web");
  check(web && web.dest.replace(/\/$/, "") === env.RVC_WEB_ROOT && tracked.includes("web/index.html"),
    "Dockerfile: RVC_WEB_ROOT is where the page is copied", `${web && web.dest} / ${env.RVC_WEB_ROOT}`);
  const binCopy = final.find((i) => i.op === "COPY" && /rvc-rt\s+\/usr\/(local\/)?bin\//.test(i.args));
  check(binCopy && /rvc-rt/.test((final.find((i) => i.op === "ENTRYPOINT") || {}).args || ""),
    "Dockerfile: ENTRYPOINT runs the copied rvc-rt");

  for (const k of Object.keys(env)) if (k.startsWith("RVC_")) rvcVars.set(k, env[k]);
  checkBuildContext(ins, tracked);
  return env;
}

/**
 * The build stage's sources alone are enough to configure: copy the tracked files its COPY lines
 * name into a scratch directory (as the image would hold them) and run its cmake command there.
 */
function checkBuildContext(ins, tracked) {
  const build = ins.filter((i) => i.stage === 0);
  const run = build.find((i) => i.op === "RUN" && /\bcmake -S\b/.test(i.args));
  if (!check(run, "Dockerfile: the build stage runs cmake")) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rvc-docker-context-"));
  try {
    for (const c of build.filter((i) => i.op === "COPY" && !i.args.includes("--from="))) {
      const [src, dest] = c.args.split(/\s+/).filter((w) => !w.startsWith("--"));
      const rel = src.replace(/\/$/, "");
      for (const f of tracked.filter((t) => t === rel || t.startsWith(`${rel}/`))) {
        // COPY semantics: a file goes to dest (into it when dest ends in /); a directory's
        // contents go into dest.
        const inImage = f === rel ? (dest.endsWith("/") ? path.join(dest, path.basename(f)) : dest)
          : path.join(dest, path.relative(rel, f));
        const to = path.join(dir, inImage);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.copyFileSync(path.join(repo, f), to);
      }
    }
    const cmd = /(cmake -S[^&]*)/.exec(run.args)[1].trim();
    const r = spawnSync("bash", ["-c", `${cmd} >/dev/null`], { cwd: dir, encoding: "utf8", timeout: 120000 });
    check(r.status === 0, "Dockerfile: cmake configures from the copied sources alone",
      r.status === 0 ? cmd : (r.stderr || "").split("\n").slice(0, 5).join(" | "));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function checkRuntimePackages() {
  const script = path.join(repo, "deploy/runtime-packages.sh");
  const r = spawnSync(script, [bin], { encoding: "utf8" });
  const pkgs = r.stdout.split("\n").filter(Boolean);
  check(r.status === 0 && pkgs.includes("libc6") && pkgs.includes("libstdc++6"),
    "runtime-packages.sh: names the packages of the binary's libraries", pkgs.join(" ") || r.stderr);
  const notInstalled = pkgs.filter((p) => spawnSync("dpkg-query", ["-W", p]).status !== 0);
  check(notInstalled.length === 0, "runtime-packages.sh: every name is a real package", notInstalled.join(" "));
  const bad = spawnSync(script, ["/nonexistent/rvc-rt"], { encoding: "utf8" });
  check(bad.status !== 0 && /nonexistent/.test(bad.stderr), "runtime-packages.sh: a missing binary is an error");
  // A library from outside the package database (here: a copy first on the library path) would
  // be missing in the runtime image: the script must refuse rather than leave it out.
  const ownedLib = execFileSync("ldd", [bin], { encoding: "utf8" }).split("\n")
    .map((l) => (/=> (\/\S+)/.exec(l) || [])[1]).find((l) => l && /libsndfile|libsoxr/.test(l));
  if (check(ownedLib, "runtime-packages.sh: the binary links libsndfile or libsoxr")) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rvc-deploy-"));
    fs.copyFileSync(ownedLib, path.join(dir, path.basename(ownedLib)));
    const r2 = spawnSync(script, [bin], { encoding: "utf8", env: { ...process.env, LD_LIBRARY_PATH: dir } });
    fs.rmSync(dir, { recursive: true, force: true });
    check(r2.status !== 0 && r2.stderr.includes("no Debian package owns it"),
      "runtime-packages.sh: a library no package owns is an error", r2.stderr.trim());
  }
}

// ---- YAML ---------------------------------------------------------------------------------

function parseYamlFile(rel) {
  const docs = YAML.parseAllDocuments(read(rel));
  const errors = docs.flatMap((d) => [...d.errors, ...d.warnings].map((e) => e.message));
  check(errors.length === 0, `${rel}: parses as YAML`, errors.join("; "));
  return docs.map((d) => d.toJS()).filter((d) => d != null);
}

function checkCompose(dockerEnv, rvcVars) {
  const compose = parseYamlFile("deploy/docker-compose.yml")[0] || {};
  const services = Object.values(compose.services || {});
  check(services.length === 1, "compose: one service", Object.keys(compose.services || {}).join(" "));
  const s = services[0] || {};
  const context = path.resolve(repo, "deploy", (s.build || {}).context || ".");
  check(context === repo && fs.existsSync(path.join(context, s.build.dockerfile || "Dockerfile")),
    "compose: builds deploy/Dockerfile from the repository root");
  const containerPorts = (s.ports || []).map((p) => String(p).split(":").pop());
  check(containerPorts.includes(dockerEnv.RVC_PORT) && containerPorts.includes(dockerEnv.RVC_TCP_PORT),
    "compose: publishes the HTTP and TCP ports", containerPorts.join(" "));
  const target = (v) => (/:(\/[^:]*)(:ro|:rw)?$/.exec(String(v)) || [])[1];
  check((s.volumes || []).some((v) => target(v) === dockerEnv.RVC_MODELS_DIR),
    "compose: mounts the models volume", (s.volumes || []).join(" "));
  const hc = s.healthcheck || {};
  check([].concat(hc.test || []).join(" ").includes(`:${dockerEnv.RVC_PORT}/healthz`) && hc.interval,
    "compose: healthcheck on /healthz");
  check(["always", "unless-stopped", "on-failure"].includes(s.restart), "compose: restart policy", s.restart);
  const env = s.environment || {};
  check(/\$\{RVC_API_TOKEN:\?/.test(read("deploy/docker-compose.yml")), "compose: refuses to start without RVC_API_TOKEN");
  for (const [k, v] of Object.entries(env)) {
    // ${VAR:-default} -> default, for the settings check below.
    const m = /^\$\{\w+:-([^}]*)\}$/.exec(String(v));
    if (k.startsWith("RVC_") && k !== "RVC_API_TOKEN") rvcVars.set(k, m ? m[1] : String(v));
  }
}

function checkKubernetes(rvcVars) {
  const dir = path.join(repo, "deploy/k8s");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  const objects = [];
  let kustomization = null;
  for (const f of files) {
    for (const doc of parseYamlFile(`deploy/k8s/${f}`)) {
      if (doc.kind === "Kustomization") kustomization = { file: f, doc };
      else objects.push({ file: f, doc });
    }
  }
  const classes = { Deployment, Service, HorizontalPodAutoscaler, PersistentVolumeClaim };
  for (const { file, doc } of objects) {
    const Model = classes[doc.kind];
    if (!check(Model, `k8s ${file}: known kind`, doc.kind)) continue;
    let err = "";
    try {
      const obj = new Model(doc);
      if (obj.apiVersion !== doc.apiVersion) err = `apiVersion ${doc.apiVersion}, expected ${obj.apiVersion}`;
      else obj.validate();
    } catch (e) {
      err = e.message;
    }
    check(!err, `k8s ${file}: ${doc.kind} ${doc.metadata && doc.metadata.name} validates against the API schema`, err);
  }
  check(kustomization && JSON.stringify([...kustomization.doc.resources].sort()) ===
    JSON.stringify(files.filter((f) => f !== kustomization.file)),
  "k8s: kustomization lists every manifest", kustomization ? kustomization.doc.resources.join(" ") : "none");

  const of = (kind) => objects.filter((o) => o.doc.kind === kind).map((o) => o.doc);
  const [dep] = of("Deployment");
  if (!check(dep, "k8s: a Deployment")) return;
  const podLabels = dep.spec.template.metadata.labels || {};
  const sub = (a, b) => Object.entries(a || {}).every(([k, v]) => b[k] === v) && Object.keys(a || {}).length > 0;
  check(sub(dep.spec.selector.matchLabels, podLabels), "k8s: Deployment selector matches its pod labels");
  const c = dep.spec.template.spec.containers[0];
  const portNames = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
  const probe = (p, want) => p && p.httpGet && p.httpGet.path === want && portNames.has(p.httpGet.port);
  check(probe(c.livenessProbe, "/healthz"), "k8s: liveness probe on /healthz");
  check(probe(c.readinessProbe, "/readyz"), "k8s: readiness probe on /readyz");
  const res = c.resources || {};
  check(res.requests && res.requests.cpu && res.requests.memory && res.limits && res.limits.cpu && res.limits.memory,
    "k8s: resource requests and limits", JSON.stringify(res));
  const sec = dep.spec.template.spec.securityContext || {};
  check(sec.runAsNonRoot === true && sec.runAsUser > 0, "k8s: runs as non-root");
  const volumes = new Map((dep.spec.template.spec.volumes || []).map((v) => [v.name, v]));
  check((c.volumeMounts || []).every((m) => volumes.has(m.name)), "k8s: every volume mount has a volume");
  const models = (c.volumeMounts || []).find((m) => m.mountPath === "/models");
  const claim = models && volumes.get(models.name).persistentVolumeClaim;
  check(claim && of("PersistentVolumeClaim").some((p) => p.metadata.name === claim.claimName),
    "k8s: /models comes from a claim defined here");
  check(c.env.some((e) => e.name === "RVC_API_TOKEN" && e.valueFrom && e.valueFrom.secretKeyRef),
    "k8s: the token comes from a Secret");
  for (const e of c.env) if (e.name.startsWith("RVC_") && e.value !== undefined) rvcVars.set(e.name, e.value);

  for (const svc of of("Service")) {
    check(sub(svc.spec.selector, podLabels), `k8s: Service ${svc.metadata.name} selects the pods`);
    check(svc.spec.ports.every((p) => portNames.has(p.targetPort) || [...portNames.values()].includes(p.targetPort)),
      `k8s: Service ${svc.metadata.name} targets container ports`);
  }
  for (const hpa of of("HorizontalPodAutoscaler")) {
    const t = hpa.spec.scaleTargetRef;
    check(t.kind === "Deployment" && t.name === dep.metadata.name && hpa.spec.minReplicas <= hpa.spec.maxReplicas,
      `k8s: HPA ${hpa.metadata.name} scales the Deployment`);
    const cpuMetric = (hpa.spec.metrics || []).some((m) => m.resource && m.resource.name === "cpu");
    check(!cpuMetric || (res.requests && res.requests.cpu), "k8s: CPU utilisation target has a CPU request");
  }
}

// ---- settings -----------------------------------------------------------------------------

/** Every RVC_* variable the deploy files set is a serve setting, and the values are valid. */
function checkSettings(rvcVars) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("RVC_") && k !== "RVC_RT_BIN") delete env[k];
  for (const [k, v] of rvcVars) env[k] = v;
  env.RVC_API_TOKEN = "check-token";
  const r = spawnSync(bin, ["serve", "--print-config"], { encoding: "utf8", env, timeout: 20000 });
  check(r.status === 0, "rvc-rt serve --print-config accepts the deploy environment", (r.stderr || "").trim());
  const keys = new Set([...r.stdout.matchAll(/^\s*([\w-]+)\s*=/gm)].map((m) => m[1]));
  const unknown = [...rvcVars.keys()].filter((k) => !keys.has(k.slice(4).toLowerCase().replace(/_/g, "-")));
  check(keys.size > 0 && unknown.length === 0, "every RVC_* variable in deploy/ is a serve setting",
    unknown.length ? `unknown: ${unknown.join(" ")}` : [...rvcVars.keys()].join(" "));
}

function main() {
  const tracked = execFileSync("git", ["ls-files"], { cwd: repo, encoding: "utf8" }).split("\n").filter(Boolean);
  const rvcVars = new Map();
  const dockerEnv = checkDockerfile(tracked, rvcVars);
  checkRuntimePackages();
  checkCompose(dockerEnv, rvcVars);
  checkKubernetes(rvcVars);
  checkSettings(rvcVars);
}

try {
  main();
} catch (e) {
  console.log(`FAIL ${e.stack || e.message}`);
  failures++;
}
console.log(failures ? `deploy files: ${failures} check(s) failed` : "deploy files: all checks passed");
process.exit(failures ? 1 : 0);
