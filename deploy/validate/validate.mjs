#!/usr/bin/env node
// Checks everything under deploy/ with what a machine without a Docker engine or a Kubernetes cluster has, so
// the deployment files cannot rot unnoticed: YAML syntax; Kubernetes objects against the API's schemas
// (kubernetes-models) and against its field names (TypeScript's excess-property check on the same types); the
// kustomization rendered by `kubectl kustomize` where kubectl is installed; the compose file against the
// compose-spec schema and dclint's rules; references between the files (selectors,
// ports, ConfigMaps, Secrets, compose interpolation and dependencies); systemd units with systemd-analyze;
// the Dockerfile (dockerfile-utils and its packages against scripts/setup); the S3 policy against the
// operations the S3 client performs; every variable name against the settings imageproc reads; and, when
// IMAGEPROC_BINARY names a built imageproc, every deployment's settings through imageproc's own configuration
// check. Needs nothing from the network: `npm ci` in this directory (scripts/setup) installs the packages.
//
//   node deploy/validate/validate.mjs        (ctest: the `deploy` label)

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const deploy = path.resolve(here, "..");
const root = path.resolve(deploy, "..");
const rel = (p) => path.relative(root, p);

if (!fs.existsSync(path.join(here, "node_modules", "yaml"))) {
  console.error(`validate: ${rel(here)}/node_modules is missing; run scripts/setup (npm ci --prefix ${rel(here)})`);
  process.exit(1);
}
const YAML = await import("yaml");

// ---------------------------------------------------------------------------------------------------------
// A check is a name and a function that returns a list of problems (or throws).

const results = [];
async function check(name, fn) {
  let problems;
  try {
    problems = (await fn()) ?? [];
  } catch (e) {
    problems = [`${e.stack ?? e}`];
  }
  if (problems === "skip") {
    results.push({ name, status: "skip" });
    console.log(`skip  ${name}`);
    return;
  }
  results.push({ name, status: problems.length ? "fail" : "pass" });
  console.log(`${problems.length ? "FAIL" : "ok  "}  ${name}`);
  for (const p of problems) console.log(`        ${p}`);
}

const read = (p) => fs.readFileSync(p, "utf8");
const listFiles = (dir, ext) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => path.join(dir, f));

// ---------------------------------------------------------------------------------------------------------
// Facts from the source tree that the deployment files must agree with.

// Every variable imageproc reads (src/core/config.cpp: kVariables and the SCHEDULE_* of kScheduleSettings),
// plus IMAGEPROC_CONFIG; variables of the environment that are not imageproc's own.
function imageprocVariables() {
  const src = read(path.join(root, "src/core/config.cpp"));
  const block = src.slice(src.indexOf("kVariables[] = {"), src.indexOf("};", src.indexOf("kVariables[] = {")));
  const names = new Set([...block.matchAll(/"([A-Z0-9_]+)"/g)].map((m) => m[1]));
  const hpp = read(path.join(root, "src/core/config.hpp"));
  for (const m of hpp.matchAll(/\{"[a-z-]+", "(SCHEDULE_[A-Z_]+)"/g)) names.add(m[1]);
  names.add("IMAGEPROC_CONFIG");
  if (names.size < 50) throw new Error("could not read the variable list of src/core/config.cpp");
  return names;
}
const knownVariables = imageprocVariables();
// Read by libraries, not by imageproc's configuration: TMPDIR (libvips' temporary files), OMP_THREAD_LIMIT
// (Tesseract's OpenMP). WEB_DIST_DIR is the web app setting of the web branch; it is ignored until merged.
const otherVariables = new Set(["TMPDIR", "OMP_THREAD_LIMIT", "WEB_DIST_DIR"]);
const unknownVariables = (names, where) =>
  [...names].filter((n) => !knownVariables.has(n) && !otherVariables.has(n)).map((n) => `${where}: ${n} is not a setting imageproc reads`);

// The worker's memory budget (docs/operations.md#scaling): 100 MB + 50 MB per AI consumer + 6 bytes per pixel of
// IMAGE_MAX_PIXELS per image in flight, from the target of at most 300 MB for a 50-megapixel image.
function workerMemoryBytes(env) {
  const image = Number(env.WORKER_IMAGE_CONCURRENCY ?? 2);
  const ai = Number(env.WORKER_AI_CONCURRENCY ?? 2);
  const pixels = Number(env.IMAGE_MAX_PIXELS ?? 100_000_000);
  return 100e6 + 50e6 * ai + 6 * pixels * image;
}
function parseBytes(v) {
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|K|M|G|k)?$/.exec(String(v).trim());
  if (!m) throw new Error(`cannot read the size ${v}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1024, M: 1024 ** 2, G: 1024 ** 3, k: 1000 }[m[2]] ?? 1;
  return Number(m[1]) * unit;
}
const seconds = (v) => {
  const m = /^(\d+)(ms|s|m|min|h)?$/.exec(String(v).trim());
  if (!m) throw new Error(`cannot read the duration ${v}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, min: 60, h: 3600 }[m[2] ?? "s"];
};

// KEY=VALUE lines (systemd EnvironmentFile, compose .env).
function envFile(p) {
  const out = {};
  for (const line of read(p).split("\n")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
// Variables whose line is preceded by a comment that starts with "SECRET".
function secretNames(p) {
  const names = new Set();
  let secret = false;
  // A comment block with a line starting "# SECRET" covers the variable lines right below it, up to the next
  // comment or blank line.
  let inComment = false;
  for (const line of read(p).split("\n")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
    if (line.startsWith("#")) {
      if (!inComment) secret = false;
      inComment = true;
      if (/^#\s*SECRET\b/.test(line)) secret = true;
    } else if (m) {
      inComment = false;
      if (secret) names.add(m[1]);
    } else {
      inComment = false;
      secret = false;
    }
  }
  return names;
}

// ---------------------------------------------------------------------------------------------------------
// YAML

const yamlFiles = [path.join(deploy, "compose/compose.yaml"), ...listFiles(path.join(deploy, "kubernetes"), ".yaml")];
const parsed = new Map(); // file -> [documents as JS]

await check("yaml: every document parses (duplicate keys refused)", () => {
  const problems = [];
  for (const file of yamlFiles) {
    const docs = YAML.parseAllDocuments(read(file), { uniqueKeys: true, merge: true, prettyErrors: true });
    const values = [];
    for (const d of docs) {
      for (const e of [...d.errors, ...d.warnings]) problems.push(`${rel(file)}: ${e.message}`);
      const v = d.toJS({ maxAliasCount: 100 });
      if (v !== null && v !== undefined) values.push(v);
    }
    parsed.set(file, values);
  }
  return problems;
});

// ---------------------------------------------------------------------------------------------------------
// Kubernetes

const k8sDir = path.join(deploy, "kubernetes");
const k8sObjects = []; // {file, doc}
for (const [file, docs] of parsed) {
  if (!file.startsWith(k8sDir) || path.basename(file) === "kustomization.yaml") continue;
  for (const doc of docs) k8sObjects.push({ file, doc });
}
const modelPath = (doc) => {
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : [null, doc.apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${doc.kind}` : `kubernetes-models/${version}/${doc.kind}`;
};
const objectName = ({ file, doc }) => `${rel(file)}: ${doc.kind}/${doc.metadata?.name}`;

await check("kubernetes: every object against the API schema (kubernetes-models)", async () => {
  const problems = [];
  if (k8sObjects.length === 0) return ["no Kubernetes objects found"];
  for (const o of k8sObjects) {
    let Model;
    try {
      Model = (await import(modelPath(o.doc)))[o.doc.kind];
    } catch {
      problems.push(`${objectName(o)}: unknown apiVersion/kind ${o.doc.apiVersion} ${o.doc.kind}`);
      continue;
    }
    try {
      new Model(o.doc).validate();
    } catch (e) {
      problems.push(`${objectName(o)}: ${e.message}`);
    }
  }
  return problems;
});

await check("kubernetes: no unknown fields (TypeScript excess-property check)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imageproc-k8s-strict-"));
  try {
    fs.symlinkSync(path.join(here, "node_modules"), path.join(dir, "node_modules"), "dir");
    const files = [];
    k8sObjects.forEach((o, i) => {
      const name = `object${i}.ts`;
      // One assignment per object: the first unknown field of each object is reported with its path.
      fs.writeFileSync(
        path.join(dir, name),
        `// ${objectName(o)}\nimport type { I${o.doc.kind} as T } from "${modelPath(o.doc)}";\n` +
          `export const value: T = ${JSON.stringify(o.doc, null, 1)};\n`,
      );
      files.push(name);
    });
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", skipLibCheck: true, types: [] },
        files,
      }),
    );
    const tsc = spawnSync(process.execPath, [path.join(here, "node_modules/typescript/lib/tsc.js"), "-p", dir, "--pretty", "false"], {
      encoding: "utf8",
    });
    if (tsc.status === 0) return [];
    return (tsc.stdout + tsc.stderr)
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => {
        const m = /object(\d+)\.ts\((\d+),\d+\): (.*)$/.exec(l);
        return m ? `${objectName(k8sObjects[Number(m[1])])}: ${m[3]}` : l;
      });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const byKind = (kind) => k8sObjects.filter((o) => o.doc.kind === kind);
const find = (kind, name) => k8sObjects.find((o) => o.doc.kind === kind && o.doc.metadata?.name === name);
const matches = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
const podSpec = (doc) => doc.spec?.template?.spec;
const allContainers = (spec) => [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];

await check("kubernetes: references between objects", () => {
  const problems = [];
  const secretsFile = path.join(k8sDir, "secret.example.yaml");
  for (const o of k8sObjects) {
    const where = objectName(o);
    if (o.doc.kind !== "Namespace" && o.doc.metadata?.namespace !== "imageproc") problems.push(`${where}: namespace is not imageproc`);
    const spec = podSpec(o.doc);
    if (o.doc.kind === "Deployment") {
      if (!matches(o.doc.spec.selector.matchLabels, o.doc.spec.template.metadata?.labels))
        problems.push(`${where}: selector does not match the pod template's labels`);
    }
    if (!spec) continue;
    if (spec.serviceAccountName && !find("ServiceAccount", spec.serviceAccountName))
      problems.push(`${where}: no ServiceAccount ${spec.serviceAccountName}`);
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    for (const v of volumes.values()) {
      if (v.configMap && !find("ConfigMap", v.configMap.name)) problems.push(`${where}: volume ${v.name}: no ConfigMap ${v.configMap.name}`);
      if (v.configMap?.name && v.configMap && find("ConfigMap", v.configMap.name)) {
        const data = find("ConfigMap", v.configMap.name).doc.data ?? {};
        for (const c of allContainers(spec))
          for (const m of c.volumeMounts ?? [])
            if (m.name === v.name && m.subPath && !(m.subPath in data)) problems.push(`${where}: ${c.name} mounts key ${m.subPath}, not in ConfigMap ${v.configMap.name}`);
      }
    }
    for (const c of allContainers(spec)) {
      for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problems.push(`${where}: ${c.name} mounts unknown volume ${m.name}`);
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef && !find("ConfigMap", e.configMapRef.name)) problems.push(`${where}: ${c.name}: no ConfigMap ${e.configMapRef.name}`);
        if (e.secretRef) problems.push(`${where}: ${c.name}: envFrom a whole Secret; name each key (least privilege)`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const secret = (parsed.get(secretsFile) ?? []).find((d) => d.kind === "Secret" && d.metadata?.name === ref.name);
        if (!secret) problems.push(`${where}: ${c.name}: ${e.name} refers to Secret ${ref.name}, not in secret.example.yaml`);
        else if (!(ref.key in (secret.stringData ?? {}))) problems.push(`${where}: ${c.name}: Secret ${ref.name} has no key ${ref.key}`);
      }
    }
  }
  for (const o of byKind("Service")) {
    const targets = byKind("Deployment").filter((d) => matches(o.doc.spec.selector, d.doc.spec.template.metadata?.labels));
    if (targets.length !== 1) problems.push(`${objectName(o)}: selector matches ${targets.length} Deployments`);
    for (const t of targets)
      for (const p of o.doc.spec.ports) {
        const ports = allContainers(podSpec(t.doc)).flatMap((c) => c.ports ?? []);
        const ok = ports.some((cp) => cp.containerPort === p.targetPort || cp.name === p.targetPort);
        if (!ok) problems.push(`${objectName(o)}: targetPort ${p.targetPort} is no container port of ${t.doc.metadata.name}`);
      }
  }
  for (const o of byKind("HorizontalPodAutoscaler")) {
    const t = o.doc.spec.scaleTargetRef;
    if (!find(t.kind, t.name)) problems.push(`${objectName(o)}: no ${t.kind} ${t.name}`);
  }
  for (const o of byKind("PodDisruptionBudget")) {
    const n = byKind("Deployment").filter((d) => matches(o.doc.spec.selector.matchLabels, d.doc.spec.template.metadata?.labels)).length;
    if (n !== 1) problems.push(`${objectName(o)}: selector matches ${n} Deployments`);
  }
  // kustomization: every listed file exists; every manifest but the examples is listed.
  const kustomization = parsed.get(path.join(k8sDir, "kustomization.yaml"))?.[0];
  if (!kustomization) problems.push("kustomization.yaml: missing");
  else {
    const listed = new Set(kustomization.resources ?? []);
    for (const r of listed) if (!fs.existsSync(path.join(k8sDir, r))) problems.push(`kustomization.yaml: ${r} does not exist`);
    for (const f of listFiles(k8sDir, ".yaml").map((f) => path.basename(f)))
      if (f !== "kustomization.yaml" && !f.endsWith(".example.yaml") && !listed.has(f)) problems.push(`kustomization.yaml: ${f} is not listed`);
    for (const f of listed) if (f.endsWith(".example.yaml")) problems.push(`kustomization.yaml: lists the example ${f}`);
    const images = new Set(k8sObjects.flatMap((o) => allContainers(podSpec(o.doc)).map((c) => c.image.split(":")[0])));
    for (const i of kustomization.images ?? []) if (!images.has(i.name)) problems.push(`kustomization.yaml: image ${i.name} is used by no container`);
  }
  return problems;
});

await check("kubernetes: kubectl kustomize renders the kustomization (when kubectl is installed)", () => {
  if (spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status !== 0) return "skip";
  const r = spawnSync("kubectl", ["kustomize", k8sDir], { encoding: "utf8" });
  if (r.status !== 0) return [(r.stderr || r.stdout).trim()];
  const kinds = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS()?.kind).filter(Boolean);
  const expected = (parsed.get(path.join(k8sDir, "kustomization.yaml"))?.[0]?.resources ?? []).flatMap((f) => parsed.get(path.join(k8sDir, f)) ?? []).length;
  const problems = kinds.length === expected ? [] : [`rendered ${kinds.length} objects, the listed files hold ${expected}`];
  const image = parsed.get(path.join(k8sDir, "kustomization.yaml"))[0].images?.[0];
  if (image && !r.stdout.includes(`image: ${image.newName}:${image.newTag}`)) problems.push("the image override was not applied");
  return problems;
});

// The environment a container gets: its ConfigMap(s), its own env, Secrets from the example (empty values).
function containerEnv(spec, container) {
  const env = {};
  for (const e of container.envFrom ?? []) if (e.configMapRef) Object.assign(env, find("ConfigMap", e.configMapRef.name)?.doc.data ?? {});
  const secrets = parsed.get(path.join(k8sDir, "secret.example.yaml")) ?? [];
  for (const e of container.env ?? []) {
    if ("value" in e) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) {
      const s = secrets.find((d) => d.metadata?.name === e.valueFrom.secretKeyRef.name);
      env[e.name] = s?.stringData?.[e.valueFrom.secretKeyRef.key] ?? "";
    } else if (e.valueFrom?.fieldRef) env[e.name] = "pod-name";
  }
  return env;
}
const imageprocContainer = (o) => podSpec(o.doc)?.containers?.find((c) => c.image.startsWith("imageproc:"));

await check("kubernetes: probes, shutdown, migrations, memory and security settings", () => {
  const problems = [];
  const api = find("Deployment", "imageproc-api");
  const worker = find("Deployment", "imageproc-worker");
  const job = find("Job", "imageproc-migrate");
  if (!api || !worker || !job) return ["imageproc-api, imageproc-worker or imageproc-migrate is missing"];
  const apiContainer = imageprocContainer(api);
  const apiEnv = containerEnv(podSpec(api.doc), apiContainer);
  if (apiContainer.readinessProbe?.httpGet?.path !== "/readyz") problems.push("api: readiness probe is not GET /readyz");
  if (apiContainer.livenessProbe?.httpGet?.path !== "/healthz") problems.push("api: liveness probe is not GET /healthz");
  const preStop = apiContainer.lifecycle?.preStop?.exec?.command;
  const sleep = preStop?.[0] === "sleep" ? Number(preStop[1]) : 0;
  if (!sleep) problems.push("api: no preStop sleep");
  const grace = Number(apiEnv.HTTP_SHUTDOWN_GRACE_SECONDS ?? 20);
  if (podSpec(api.doc).terminationGracePeriodSeconds < sleep + grace + 5)
    problems.push(`api: terminationGracePeriodSeconds below preStop ${sleep} s + HTTP_SHUTDOWN_GRACE_SECONDS ${grace} s + 5 s`);
  if (!/^0\.0\.0\.0:/.test(apiEnv.IMAGEPROC_HTTP_ADDR ?? "")) problems.push("api: IMAGEPROC_HTTP_ADDR does not listen on 0.0.0.0 (probes reach the pod IP)");
  for (const [name, o] of [["api", api], ["worker", worker]]) {
    const env = containerEnv(podSpec(o.doc), imageprocContainer(o));
    if (env.MIGRATE_ON_START !== "false") problems.push(`${name}: MIGRATE_ON_START is not false (the Job migrates)`);
    const mount = imageprocContainer(o).volumeMounts?.find((m) => m.mountPath === env.IMAGEPROC_TEMP_DIR);
    if (!mount || !podSpec(o.doc).volumes.find((v) => v.name === mount.name)?.emptyDir)
      problems.push(`${name}: IMAGEPROC_TEMP_DIR (${env.IMAGEPROC_TEMP_DIR}) is not an emptyDir mount`);
    if (env.TMPDIR !== env.IMAGEPROC_TEMP_DIR) problems.push(`${name}: TMPDIR (libvips' temporary files) is not the scratch emptyDir`);
  }
  const workerContainer = imageprocContainer(worker);
  const workerEnv = containerEnv(podSpec(worker.doc), workerContainer);
  const need = workerMemoryBytes(workerEnv);
  const limit = parseBytes(workerContainer.resources?.limits?.memory ?? "0");
  if (limit < need) problems.push(`worker: memory limit ${workerContainer.resources?.limits?.memory} is below the budget of ${Math.ceil(need / 1e6)} MB`);
  if (podSpec(worker.doc).terminationGracePeriodSeconds < 120) problems.push("worker: terminationGracePeriodSeconds below 120 s (an image plus one AI call)");
  if (workerEnv.OMP_THREAD_LIMIT !== "1") problems.push("worker: OMP_THREAD_LIMIT is not 1");
  if (!workerEnv.WORKER_INSTANCE) problems.push("worker: WORKER_INSTANCE is not set per pod");
  for (const o of [api, worker, job]) {
    const spec = podSpec(o.doc);
    if (spec.securityContext?.runAsNonRoot !== true) problems.push(`${objectName(o)}: runAsNonRoot is not true`);
    if (spec.securityContext?.seccompProfile?.type !== "RuntimeDefault") problems.push(`${objectName(o)}: no RuntimeDefault seccomp profile`);
    if (spec.automountServiceAccountToken !== false) problems.push(`${objectName(o)}: mounts a service account token`);
    for (const c of allContainers(spec)) {
      const sc = c.securityContext ?? {};
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${objectName(o)}: ${c.name}: root file system is writable`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${objectName(o)}: ${c.name}: allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${objectName(o)}: ${c.name}: capabilities are not dropped`);
      if (!c.resources?.requests || !c.resources?.limits?.memory) problems.push(`${objectName(o)}: ${c.name}: no requests or memory limit`);
    }
  }
  const jobContainer = podSpec(job.doc).containers[0];
  if (JSON.stringify(jobContainer.args) !== '["migrate"]') problems.push("migrate Job: does not run `imageproc migrate`");
  const names = new Set();
  for (const o of k8sObjects.filter((o) => o.doc.kind === "ConfigMap" && o.doc.metadata.name === "imageproc-config"))
    for (const k of Object.keys(o.doc.data)) names.add(k);
  for (const o of [api, worker, job]) for (const c of podSpec(o.doc).containers) for (const e of c.env ?? []) names.add(e.name);
  for (const d of parsed.get(path.join(k8sDir, "secret.example.yaml")) ?? []) for (const k of Object.keys(d.stringData ?? {})) names.add(k);
  problems.push(...unknownVariables(names, "kubernetes"));
  for (const d of parsed.get(path.join(k8sDir, "secret.example.yaml")) ?? [])
    for (const [k, v] of Object.entries(d.stringData ?? {})) if (v !== "") problems.push(`secret.example.yaml: ${d.metadata.name}.${k} is not an empty placeholder`);
  return problems;
});

// ---------------------------------------------------------------------------------------------------------
// Compose

const composeFile = path.join(deploy, "compose/compose.yaml");
const composeEnvExample = path.join(deploy, "compose/env.example");

await check("compose: compose-spec schema and dclint rules", () => {
  const r = spawnSync(
    process.execPath,
    [path.join(here, "node_modules/dclint/bin/dclint.cjs"), "--no-color", "-c", path.join(here, "dclint.json"), composeFile],
    { encoding: "utf8" },
  );
  if (r.status === 0) return [];
  return (r.stdout + r.stderr).split("\n").filter((l) => l.trim());
});

// Compose's interpolation of ${VAR}, ${VAR:-default}, ${VAR:?message} and $$ with the example .env.
function interpolate(value, env, problems, where) {
  if (typeof value !== "string") return value;
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (all, name, op, arg) => {
    if (all === "$$") return "$";
    const v = env[name];
    if (op === ":-" || op === "-") return v ? v : arg;
    if (op === ":?" || op === "?") return v ?? "";
    if (v === undefined) problems.push(`${where}: \${${name}} has no default and is not in env.example`);
    return v ?? "";
  });
}
function composeServices() {
  const doc = parsed.get(composeFile)?.[0];
  const env = envFile(composeEnvExample);
  const problems = [];
  const services = {};
  for (const [name, svc] of Object.entries(doc.services)) {
    const environment = {};
    for (const [k, v] of Object.entries(svc.environment ?? {})) environment[k] = interpolate(String(v ?? ""), env, problems, `${name}.${k}`);
    services[name] = { ...svc, environment };
  }
  return { doc, services, problems, env };
}

await check("compose: interpolation, dependencies, proxy address, shutdown and memory", () => {
  const { doc, services, problems, env } = composeServices();
  const text = read(composeFile);
  const secrets = secretNames(composeEnvExample);
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?/g)) {
    const [, name, op] = m;
    if (!(name in env)) problems.push(`\${${name}} is not in env.example`);
    if ((op === ":?" || op === "?") && !secrets.has(name)) problems.push(`\${${name}} is required but not marked SECRET in env.example`);
  }
  for (const s of secrets) if (env[s] !== "") problems.push(`env.example: SECRET ${s} is not empty`);
  for (const [name, svc] of Object.entries(services)) {
    for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
      if (!services[dep]) problems.push(`${name}: depends on unknown service ${dep}`);
      const c = cond?.condition;
      if (c === "service_healthy" && !services[dep]?.healthcheck) problems.push(`${name}: waits for ${dep} to be healthy, but it has no healthcheck`);
      if (c === "service_completed_successfully" && services[dep]?.restart !== "no") problems.push(`${name}: waits for one-shot ${dep}, which restarts`);
    }
    for (const v of svc.volumes ?? []) {
      const source = typeof v === "string" ? v.split(":")[0] : v.source;
      if (source.startsWith(".") && !fs.existsSync(path.resolve(path.dirname(composeFile), source))) problems.push(`${name}: mounts missing file ${source}`);
    }
    if (svc.build) {
      const ctx = path.resolve(path.dirname(composeFile), svc.build.context);
      if (!fs.existsSync(path.join(ctx, svc.build.dockerfile))) problems.push(`${name}: no Dockerfile ${svc.build.dockerfile} in ${svc.build.context}`);
    }
  }
  for (const name of ["api", "worker"]) {
    const svc = services[name];
    if (!svc) {
      problems.push(`no ${name} service`);
      continue;
    }
    if ((svc.deploy?.replicas ?? 1) < 2) problems.push(`${name}: fewer than 2 replicas`);
    if (svc.environment.MIGRATE_ON_START !== "false") problems.push(`${name}: MIGRATE_ON_START is not false (the migrate service migrates)`);
    if (svc.depends_on?.migrate?.condition !== "service_completed_successfully") problems.push(`${name}: does not wait for migrate to complete`);
    problems.push(...unknownVariables(Object.keys(svc.environment), `compose ${name}`));
  }
  const proxyAddress = services.proxy?.networks?.default?.ipv4_address;
  const subnet = doc.networks?.default?.ipam?.config?.[0]?.subnet ?? "";
  if (!proxyAddress || services.api?.environment.TRUSTED_PROXIES !== proxyAddress) problems.push("api: TRUSTED_PROXIES is not the proxy's ipv4_address");
  if (!subnet.startsWith(proxyAddress?.split(".").slice(0, 3).join(".") + ".")) problems.push(`proxy address ${proxyAddress} is outside the subnet ${subnet}`);
  const grace = Number(services.api?.environment.HTTP_SHUTDOWN_GRACE_SECONDS ?? 20);
  if (seconds(services.api?.stop_grace_period ?? "10s") <= grace) problems.push("api: stop_grace_period does not exceed HTTP_SHUTDOWN_GRACE_SECONDS");
  if (seconds(services.worker?.stop_grace_period ?? "10s") < 120) problems.push("worker: stop_grace_period below 120 s");
  const limit = services.worker?.deploy?.resources?.limits?.memory;
  if (!limit || parseBytes(limit) < workerMemoryBytes(services.worker.environment)) problems.push(`worker: memory limit ${limit} is below the budget`);
  const nginx = read(path.join(deploy, "compose/nginx.conf"));
  if (!nginx.includes("server api:8080")) problems.push("nginx.conf: does not proxy to api:8080");
  return problems;
});

// ---------------------------------------------------------------------------------------------------------
// systemd

const unitDir = path.join(deploy, "systemd");
const unitFiles = listFiles(unitDir, ".service");
function unitDirectives(file) {
  const out = [];
  let section = "";
  for (const line of read(file).split("\n")) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) section = s[1];
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.push({ section, key: m[1], value: m[2] });
  }
  return out;
}
const hardeningKeys = new Set([
  "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
  "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
  "ProtectProc", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "RemoveIPC",
  "UMask", "CapabilityBoundingSet", "AmbientCapabilities", "RestrictAddressFamilies", "SystemCallArchitectures",
  "SystemCallFilter", "SystemCallErrorNumber",
]);

function unitRoot() {
  // A root with the units, the programs they run and systemd's own units, for `--root`.
  const r = fs.mkdtempSync(path.join(os.tmpdir(), "imageproc-systemd-"));
  fs.mkdirSync(path.join(r, "etc/systemd/system"), { recursive: true });
  fs.mkdirSync(path.join(r, "usr/local/bin"), { recursive: true });
  fs.mkdirSync(path.join(r, "usr/bin"), { recursive: true });
  fs.mkdirSync(path.join(r, "usr/lib/systemd"), { recursive: true });
  fs.mkdirSync(path.join(r, "etc/imageproc"), { recursive: true });
  fs.cpSync("/usr/lib/systemd/system", path.join(r, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
  for (const f of unitFiles) fs.copyFileSync(f, path.join(r, "etc/systemd/system", path.basename(f)));
  fs.writeFileSync(path.join(r, "usr/local/bin/imageproc"), "#!/bin/sh\n", { mode: 0o755 });
  fs.copyFileSync("/usr/bin/find", path.join(r, "usr/bin/find"));
  fs.chmodSync(path.join(r, "usr/bin/find"), 0o755);
  fs.copyFileSync(path.join(unitDir, "imageproc.env.example"), path.join(r, "etc/imageproc/imageproc.env"));
  return r;
}
const unitNames = () => unitFiles.map((f) => path.basename(f)).map((n) => (n.endsWith("@.service") ? n.replace("@.service", "@1.service") : n));
const haveSystemd = spawnSync("systemd-analyze", ["--version"]).status === 0;

await check("systemd: systemd-analyze verify (any message fails)", () => {
  if (!haveSystemd) return ["systemd-analyze is not installed (Debian package systemd; scripts/setup installs it)"];
  const r = unitRoot();
  try {
    const v = spawnSync("systemd-analyze", ["verify", `--root=${r}`, ...unitNames()], { encoding: "utf8" });
    const out = (v.stdout + v.stderr).split("\n").filter((l) => l.trim());
    return v.status === 0 && out.length === 0 ? [] : out.length ? out : [`exit status ${v.status}`];
  } finally {
    fs.rmSync(r, { recursive: true, force: true });
  }
});

await check("systemd: systemd-analyze security exposure at most 2.0 (of 10)", () => {
  if (!haveSystemd) return ["systemd-analyze is not installed"];
  const r = unitRoot();
  const problems = [];
  try {
    for (const u of unitNames()) {
      const s = spawnSync("systemd-analyze", ["security", "--offline=yes", `--root=${r}`, "--no-pager", u], { encoding: "utf8" });
      const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(s.stdout);
      if (!m) problems.push(`${u}: no exposure level (${(s.stderr || s.stdout).trim().split("\n").pop()})`);
      else if (Number(m[1]) > 2.0) problems.push(`${u}: exposure ${m[1]}`);
    }
  } finally {
    fs.rmSync(r, { recursive: true, force: true });
  }
  return problems;
});

await check("systemd: the units agree with each other, the env file and the binary's shutdown", () => {
  const problems = [];
  const units = Object.fromEntries(unitFiles.map((f) => [path.basename(f), unitDirectives(f)]));
  const hardening = (u) =>
    units[u]
      .filter((d) => hardeningKeys.has(d.key))
      .map((d) => `${d.key}=${d.value}`)
      .join("\n");
  const reference = hardening("imageproc-api.service");
  for (const u of Object.keys(units)) {
    if (hardening(u) !== reference) problems.push(`${u}: hardening differs from imageproc-api.service`);
    const get = (k) => units[u].filter((d) => d.key === k).map((d) => d.value);
    if (get("User")[0] !== "imageproc") problems.push(`${u}: User is not imageproc`);
    if (!get("EnvironmentFile").includes("/etc/imageproc/imageproc.env")) problems.push(`${u}: does not read /etc/imageproc/imageproc.env`);
    const exec = get("ExecStart")[0] ?? "";
    if (!exec.startsWith("/usr/local/bin/imageproc ")) problems.push(`${u}: ExecStart is not /usr/local/bin/imageproc`);
    if (u !== "imageproc-migrate.service") {
      if (!get("After").join(" ").includes("imageproc-migrate.service")) problems.push(`${u}: does not start after imageproc-migrate.service`);
      if (!get("RestartPreventExitStatus").includes("2")) problems.push(`${u}: restarts on exit status 2 (invalid configuration)`);
      const temp = get("Environment").join(" ");
      const cache = get("CacheDirectory")[0];
      if (!temp.includes(`IMAGEPROC_TEMP_DIR=%C/${cache}`) || !temp.includes(`TMPDIR=%C/${cache}`)) problems.push(`${u}: scratch space is not its CacheDirectory`);
    }
  }
  const worker = (u) =>
    read(path.join(unitDir, u))
      .replaceAll("worker-%i", "worker")
      .split("\n")
      .filter((l) => /^[A-Za-z]+=/.test(l) && !/^(Description|Environment=WORKER_INSTANCE)=?/.test(l))
      .join("\n");
  if (worker("imageproc-worker.service") !== worker("imageproc-worker@.service")) problems.push("imageproc-worker.service and imageproc-worker@.service differ beyond the instance name");
  const env = envFile(path.join(unitDir, "imageproc.env.example"));
  for (const k of ["IMAGEPROC_TEMP_DIR", "TMPDIR", "WORKER_INSTANCE", "OMP_THREAD_LIMIT"])
    if (k in env) problems.push(`imageproc.env.example sets ${k}, which would override the units' value`);
  for (const s of secretNames(path.join(unitDir, "imageproc.env.example"))) if (env[s] !== "") problems.push(`imageproc.env.example: SECRET ${s} is not empty`);
  problems.push(...unknownVariables(Object.keys(env), "imageproc.env.example"));
  const stop = (u) => seconds(units[u].find((d) => d.key === "TimeoutStopSec").value);
  if (stop("imageproc-api.service") <= Number(env.HTTP_SHUTDOWN_GRACE_SECONDS ?? 20)) problems.push("api: TimeoutStopSec does not exceed HTTP_SHUTDOWN_GRACE_SECONDS");
  if (stop("imageproc-worker.service") < 120) problems.push("worker: TimeoutStopSec below 120 s");
  const memory = parseBytes(units["imageproc-worker.service"].find((d) => d.key === "MemoryMax").value);
  if (memory < workerMemoryBytes(env)) problems.push(`worker: MemoryMax below the budget of ${Math.ceil(workerMemoryBytes(env) / 1e6)} MB`);
  return problems;
});

// ---------------------------------------------------------------------------------------------------------
// Dockerfile

const dockerfile = path.join(deploy, "Dockerfile");
await check("dockerfile: dockerfile-utils diagnostics, stages, packages against scripts/setup, build context", async () => {
  const { validate } = await import("dockerfile-utils");
  const text = read(dockerfile);
  const problems = validate(text).map((d) => `Dockerfile:${d.range.start.line + 1}: ${d.message}`);
  const stages = [...text.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)].map((m) => ({ image: m[1], name: m[2] }));
  if (!stages.every((s) => /^debian:bookworm(-slim)?$/.test(s.image))) problems.push("a stage is not debian:bookworm(-slim)");
  const last = text.slice(text.lastIndexOf("\nFROM "));
  const user = [...last.matchAll(/^USER (\S+)$/gm)].pop()?.[1];
  if (!user || /^(0|root)(:|$)/.test(user)) problems.push("the runtime stage does not switch to a non-root USER");
  if (!/^ENTRYPOINT \["\/usr\/local\/bin\/imageproc"\]$/m.test(last)) problems.push("ENTRYPOINT is not the exec form of /usr/local/bin/imageproc");
  if (/apt-get install(?![^&]*--no-install-recommends)/.test(text)) problems.push("apt-get install without --no-install-recommends");
  // Build stage packages: scripts/setup's toolchain (less what the image does not use) and libraries (less the
  // test-only ones; the image builds with IMAGEPROC_TESTS=OFF and IMAGEPROC_BENCH=OFF).
  const setup = read(path.join(root, "scripts/setup"));
  const group = (label) => {
    const start = setup.indexOf(`# ${label}`);
    const rest = setup.slice(setup.indexOf("\n", start) + 1);
    return rest.slice(0, rest.indexOf("  #")).split(/\s+/).filter(Boolean);
  };
  const notInImage = new Set(["ccache", "git", "clang-format", "clang-tidy", "libgtest-dev", "libgmock-dev", "libbenchmark-dev"]);
  const buildStage = text.slice(text.indexOf("AS build"), text.indexOf("\nFROM ", text.indexOf("AS build")));
  for (const p of [...group("toolchain"), ...group("libraries (DESIGN §2)"), ...group("OCR of the local AI provider (English data)")])
    if (!notInImage.has(p) && !p.startsWith("tesseract-ocr-") && !new RegExp(`\\s${p.replace(/[.+]/g, "\\$&")}(\\s|$)`).test(buildStage))
      problems.push(`build stage lacks ${p} (scripts/setup installs it)`);
  if (!/IMAGEPROC_TESTS=OFF/.test(buildStage) || !/IMAGEPROC_BENCH=OFF/.test(buildStage)) problems.push("build stage builds the tests or benchmarks without their packages");
  if (!/\stesseract-ocr-eng(\s|$)/.test(last)) problems.push("runtime stage lacks tesseract-ocr-eng (AI_OCR_LANGUAGE=eng)");
  // Every COPY source from the context is let through by Dockerfile.dockerignore.
  const allow = read(path.join(deploy, "Dockerfile.dockerignore"))
    .split("\n")
    .filter((l) => l.startsWith("!"))
    .map((l) => l.slice(1).replace(/\/$/, ""));
  for (const m of text.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm))
    for (const src of m[1].split(/\s+/).filter((s) => !s.startsWith("--"))) {
      const base = src.replace(/\/$/, "").replace(/\[(.)\]/g, "$1");
      if (!allow.some((a) => base === a || base.startsWith(a + "/"))) problems.push(`COPY ${src}: excluded by Dockerfile.dockerignore`);
      if (!src.includes("[") && !fs.existsSync(path.join(root, base))) problems.push(`COPY ${src}: not in the repository`);
    }
  return problems;
});

// ---------------------------------------------------------------------------------------------------------
// S3 policy: exactly the IAM actions behind the operations src/storage/s3/s3_store.cpp performs.

await check("s3: bucket-policy.json grants exactly what the S3 client uses", () => {
  const problems = [];
  const policy = JSON.parse(read(path.join(deploy, "s3/bucket-policy.json")));
  const store = read(path.join(root, "src/storage/s3/s3_store.cpp"));
  const operations = new Set([...store.matchAll(/(?:object_request\("|operation = ")(\w+)"/g)].map((m) => m[1]));
  // IAM action of each S3 API operation (HeadObject is authorised as GetObject, HeadBucket and ListObjectsV2
  // as ListBucket, DeleteObjects per key as DeleteObject); presigned GETs are GetObject too.
  const action = { PutObject: "s3:PutObject", GetObject: "s3:GetObject", HeadObject: "s3:GetObject", DeleteObject: "s3:DeleteObject", DeleteObjects: "s3:DeleteObject", ListObjectsV2: "s3:ListBucket", HeadBucket: "s3:ListBucket" };
  const needed = new Set();
  for (const op of operations) {
    if (!action[op]) problems.push(`s3_store.cpp performs ${op}, which the check does not map to an IAM action`);
    else needed.add(action[op]);
  }
  const granted = new Set(policy.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => [].concat(s.Action)));
  for (const a of needed) if (!granted.has(a)) problems.push(`the policy does not grant ${a}`);
  for (const a of granted) if (!needed.has(a)) problems.push(`the policy grants ${a}, which imageproc does not use`);
  const resources = policy.Statement.flatMap((s) => [].concat(s.Resource));
  const contracts = read(path.join(root, "src/contracts/jobs.hpp"));
  for (const prefix of [...contracts.matchAll(/k\w+Prefix = "([a-z]+\/)"/g)].map((m) => m[1]))
    if (!resources.includes(`arn:aws:s3:::imageproc/${prefix}*`)) problems.push(`the policy does not cover the key prefix ${prefix}`);
  const config = find("ConfigMap", "imageproc-config")?.doc.data;
  if (config?.S3_BUCKET !== "imageproc") problems.push("the Kubernetes ConfigMap's S3_BUCKET is not the policy's bucket");
  return problems;
});

// ---------------------------------------------------------------------------------------------------------
// Every deployment's settings through the real configuration check of imageproc. A sentinel LOG_LEVEL makes
// the check fail on purpose (exit status 2, before anything connects); every other problem it reports must be an
// empty SECRET placeholder.

await check("config: imageproc's own check accepts every deployment's settings (only empty secrets missing)", () => {
  const binary = process.env.IMAGEPROC_BINARY;
  if (!binary || !fs.existsSync(binary)) return "skip";
  const cases = [];
  const systemdEnv = envFile(path.join(unitDir, "imageproc.env.example"));
  const systemdSecrets = secretNames(path.join(unitDir, "imageproc.env.example"));
  for (const [role, extra] of [["api", {}], ["worker", { OMP_THREAD_LIMIT: "1", WORKER_INSTANCE: "host-1" }], ["migrate", {}]])
    cases.push({ where: `systemd ${role}`, role, env: { ...systemdEnv, ...extra }, secrets: systemdSecrets });
  const { services } = composeServices();
  const composeSecrets = secretNames(composeEnvExample);
  const composeDoc = parsed.get(composeFile)[0];
  for (const role of ["api", "worker", "migrate"]) {
    // A variable is secret when its value comes from a SECRET of env.example.
    const raw = composeDoc.services[role].environment ?? {};
    const secrets = new Set(Object.keys(raw).filter((k) => [...composeSecrets].some((s) => String(raw[k]).includes(`\${${s}`))));
    cases.push({ where: `compose ${role}`, role, env: services[role].environment, secrets });
  }
  const k8sSecrets = new Set();
  for (const d of parsed.get(path.join(k8sDir, "secret.example.yaml")) ?? []) for (const k of Object.keys(d.stringData ?? {})) k8sSecrets.add(k);
  for (const [role, kind, name] of [["api", "Deployment", "imageproc-api"], ["worker", "Deployment", "imageproc-worker"], ["migrate", "Job", "imageproc-migrate"]]) {
    const o = find(kind, name);
    cases.push({ where: `kubernetes ${role}`, role, env: containerEnv(podSpec(o.doc), podSpec(o.doc).containers[0]), secrets: k8sSecrets });
  }
  const problems = [];
  for (const c of cases) {
    const env = { PATH: "/usr/bin:/bin", ...c.env, LOG_LEVEL: "validate-sentinel", ASAN_OPTIONS: "detect_leaks=0" };
    const r = spawnSync(binary, [c.role], { env, encoding: "utf8", timeout: 20000 });
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("  - ")).map((l) => l.slice(4));
    if (r.status !== 2 || !lines.some((l) => l.startsWith("LOG_LEVEL must be one of"))) {
      problems.push(`${c.where}: expected the configuration check to stop it (exit 2), got exit ${r.status}: ${r.stderr.trim().split("\n").slice(0, 3).join(" | ")}`);
      continue;
    }
    for (const l of lines) {
      if (l.startsWith("LOG_LEVEL must be one of")) continue;
      const variable = /^([A-Z0-9_]+)/.exec(l)?.[1];
      if (!variable || !c.secrets.has(variable) || (c.env[variable] ?? "") !== "") problems.push(`${c.where}: ${l}`);
    }
  }
  return problems;
});

// ---------------------------------------------------------------------------------------------------------

const passed = results.filter((r) => r.status === "pass").length;
const failed = results.filter((r) => r.status === "fail").length;
const skipped = results.filter((r) => r.status === "skip").length;
console.log(`deploy: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed ? 1 : 0);
