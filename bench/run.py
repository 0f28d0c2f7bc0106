#!/usr/bin/env python3
"""Runs the benchmarks of docs/benchmarks.md and prints their tables (Markdown).

    bench/run.py [--smoke] [--rounds R] [SECTION ...]

SECTION is any of: stage (image stage vs sharp, then the floor), floor (the floor and ImageMagick alone), e2e (open-loop uploads through the
real stack), reads (wrk on the list and detail endpoints vs pgbench on the same SQL), memory (worker peak RSS
on 50 MP, API RSS under ten concurrent 40 MB uploads); default: all four. `make bench` runs them all.

--smoke runs every piece once on the tiny corpus with the shortest settings (the `bench` ctest label): it
checks that each benchmark program runs and produces sane output, never how fast.

Needs the release build (build/release: image_stage_bench, imageproc), bench/peers/sharp/node_modules (npm ci),
the corpus (bench/corpus/build), and the Debian tools scripts/setup installs (tjbench, cwebp, ImageMagick,
wrk, pgbench, PostgreSQL, RabbitMQ). Results also go to build/bench-results/<section>.json (the raw figures)
and build/bench-results/report.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The release build by default; the smoke test (ctest) points this at the build it belongs to.
BUILD = Path(os.environ.get("IMAGEPROC_BENCH_BUILD_DIR", ROOT / "build" / "release"))
STAGE_BENCH = BUILD / "bench" / "image_stage_bench"
IMAGEPROC = BUILD / "imageproc"
SHARP_STAGE = ROOT / "bench" / "peers" / "sharp" / "stage.mjs"
LOAD_GEN = ROOT / "bench" / "load" / "upload_load.mjs"
RESULTS = ROOT / "build" / "bench-results"
CONVERT = "/usr/bin/convert"  # ImageMagick's own (a machine may put a stand-in earlier on PATH)
NODE = shutil.which("node") or "node"


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, env: dict | None = None, timeout: float = 1800, cwd: Path | None = None) -> str:
    """Runs cmd, returns its stdout; raises BenchError with its stderr when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stderr[-4000:]}")
    return p.stdout


def timed(cmd: list[str], *, env: dict | None = None, timeout: float = 1800) -> dict:
    """Runs cmd as a whole process: wall seconds, user+system CPU seconds and peak RSS (KiB), from the kernel's
    accounting of the finished child (wait4: microsecond CPU times, what `/usr/bin/time -v` prints rounded)."""
    # stderr goes to a file, not a pipe nobody reads while the child runs (a chatty child would block on it).
    with tempfile.TemporaryFile() as err_file:
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file, env=env)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                raise BenchError(f"{cmd[0]} timed out")
            time.sleep(0.002)
        wall = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        err_file.seek(0)
        err = err_file.read().decode(errors="replace")
    if p.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{err[-4000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rssKiB": usage.ru_maxrss}


def median(values):
    return statistics.median(values) if values else float("nan")


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def table(headers: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------------------------------------------------
# Image stage: ours vs sharp (alternating runs), the floor (tjbench + cwebp), ImageMagick.
# ---------------------------------------------------------------------------------------------------------

# File → images per process run (enough for a few seconds of work per run at full size).
STAGE_FILES = {
    "camera-12mp.jpg": 3,
    "camera-24mp.jpg": 2,
    "camera-12mp-o6-p3.jpg": 3,
    "camera-24mp-progressive.jpg": 2,
    "synthetic-12mp.jpg": 3,
    "alpha-2000.png": 4,
    "web-800.jpg": 40,
}
FLOOR_FILES = ["camera-12mp.jpg", "camera-24mp.jpg"]
MAGICK_FILES = ["camera-12mp.jpg", "camera-24mp.jpg"]


def stage_commands(path: Path, concurrency: int, iterations: int):
    # The same work list for both: `iterations` times the file, `concurrency` images in flight.
    common = ["--concurrency", str(concurrency), "--iterations", str(iterations), str(path)]
    return {"imageproc": [str(STAGE_BENCH), *common], "sharp": [NODE, str(SHARP_STAGE), *common]}


def outputs_agree(ours: dict, theirs: dict) -> tuple[bool, str]:
    """Same outputs (names and formats, dimensions within 1 px of rounding) and sizes in the same ballpark."""
    a = {f"{o['name']}.{o['format']}": o for o in ours["outputs"]}
    b = {f"{o['name']}.{o['format']}": o for o in theirs["outputs"]}
    if a.keys() != b.keys():
        return False, f"outputs differ: {sorted(a)} vs {sorted(b)}"
    notes, ok = [], True
    for name in a:
        if abs(a[name]["width"] - b[name]["width"]) > 1 or abs(a[name]["height"] - b[name]["height"]) > 1:
            ok = False
            notes.append(f"{name} {a[name]['width']}x{a[name]['height']} vs {b[name]['width']}x{b[name]['height']}")
        ratio = a[name]["bytes"] / max(1, b[name]["bytes"])
        if not 0.5 <= ratio <= 2.0:
            ok = False
            notes.append(f"{name} bytes {a[name]['bytes']} vs {b[name]['bytes']}")
    return ok, "; ".join(notes)


SMOKE_STAGE_FILES = ["camera-12mp.jpg", "camera-24mp.jpg", "camera-12mp-o6-p3.jpg", "alpha-2000.png"]


def bench_stage(corpus: Path, rounds: int, smoke: bool) -> tuple[str, dict]:
    files = {name: 1 for name in SMOKE_STAGE_FILES} if smoke else STAGE_FILES
    raw: dict = {"loadBefore": load_average(), "runs": {}}
    rows, checks = [], []
    for name, iterations in files.items():
        path = corpus / name
        for concurrency in (1, 2):
            # Concurrency 2 gets twice the images so both slots stay busy.
            cmds = stage_commands(path, concurrency, iterations * concurrency)
            results = {"imageproc": [], "sharp": []}
            # Warm-up (page cache, lazy loading of libraries), then A B A B …
            for peer in cmds:
                if not smoke:
                    run(cmds[peer])
            for _ in range(rounds):
                for peer in ("imageproc", "sharp"):
                    results[peer].append(json.loads(run(cmds[peer])))
            raw["runs"][f"{name}@{concurrency}"] = results
            ours, theirs = results["imageproc"], results["sharp"]
            speed = [a["imagesPerSecond"] / b["imagesPerSecond"] for a, b in zip(ours, theirs)]
            cpu = [b["cpuSecondsPerImage"] / a["cpuSecondsPerImage"] for a, b in zip(ours, theirs)]
            rows.append([name, concurrency,
                         median([r["imagesPerSecond"] for r in ours]), median([r["imagesPerSecond"] for r in theirs]),
                         median(speed),
                         median([r["cpuSecondsPerImage"] for r in ours]),
                         median([r["cpuSecondsPerImage"] for r in theirs]), median(cpu),
                         median([r["peakRssKiB"] for r in ours]) / 1024,
                         median([r["peakRssKiB"] for r in theirs]) / 1024])
            if concurrency == 1:
                ok, note = outputs_agree(ours[-1]["files"][0], theirs[-1]["files"][0])
                checks.append((name, ok, note, ours[-1]["files"][0], theirs[-1]["files"][0]))
            log(f"stage {name} c={concurrency}: ours/sharp images/s {median(speed):.2f}")
    raw["loadAfter"] = load_average()
    versions = {"imageproc libvips": raw["runs"][next(iter(raw["runs"]))]["imageproc"][0]["libvips"],
                "sharp": raw["runs"][next(iter(raw["runs"]))]["sharp"][0]["sharp"],
                "sharp libvips": raw["runs"][next(iter(raw["runs"]))]["sharp"][0]["libvips"]}
    raw["versions"] = versions

    out = ["### Image stage: imageproc vs sharp",
           f"Medians of {rounds} alternating runs (A B A B) per row; ratio = median of the per-pair ratios "
           f"(> 1: imageproc better). Load average before/after: {raw['loadBefore']} / {raw['loadAfter']}. "
           f"libvips {versions['imageproc libvips']} (ours) vs sharp {versions['sharp']} with libvips "
           f"{versions['sharp libvips']}.", "",
           table(["file", "images at once", "ours img/s", "sharp img/s", "throughput ratio",
                  "ours CPU-s/img", "sharp CPU-s/img", "CPU ratio (sharp/ours)", "ours peak RSS MiB",
                  "sharp peak RSS MiB"], rows), ""]
    out += ["Outputs compared (last run, concurrency 1): dimensions within 1 px, bytes within 2×:", ""]
    out.append(table(["file", "agree", "ours (name WxH bytes)", "sharp (name WxH bytes)", "note"],
                     [[n, "yes" if ok else "NO", " ".join(f"{o['name']} {o['width']}x{o['height']} {o['bytes']}"
                                                         for o in a["outputs"]),
                       " ".join(f"{o['name']} {o['width']}x{o['height']} {o['bytes']}" for o in b["outputs"]), note]
                      for n, ok, note, a, b in checks]))
    raw["outputsAgree"] = all(ok for _, ok, *_ in checks)
    raw["rows"] = rows
    return "\n".join(out), raw


def floor_for(path: Path, work: Path, repeats: int) -> dict:
    """The floor: libjpeg-turbo's decode of the JPEG to RGB plus `cwebp -q 80 -m 4` of the decoded pixels, each
    run alternating with our image stage and sharp's on the same file (D E O S D E O S …), so every floor/ours
    and floor/sharp pair shares the machine's state.

    CPU-seconds of whole processes: `djpeg` (libjpeg-turbo's decoder, the one tjbench times) and cwebp from a
    PPM; ours: image_stage_bench's CPU-seconds per image (2 images per run, start-up excluded). tjbench's own
    frame rate (wall clock, 1 s of decoding) is kept as a cross-check.
    """
    ppm = work / (path.stem + ".ppm")
    run(["vips", "copy", str(path), str(ppm)])
    decode, encode, ours, ours_wall, ratios, tj, sharp, sharp_ratios = [], [], [], [], [], [], [], []
    iterations = "1" if repeats == 1 else "2"
    for _ in range(repeats):
        d = timed(["djpeg", "-rgb", "-outfile", "/dev/null", str(path)])["cpu"]
        e = timed(["cwebp", "-quiet", "-q", "80", "-m", "4", str(ppm), "-o", str(work / "floor.webp")])["cpu"]
        o = json.loads(run([str(STAGE_BENCH), "--iterations", iterations, str(path)]))
        sh = json.loads(run([NODE, str(SHARP_STAGE), "--iterations", iterations, str(path)]))
        decode.append(d)
        encode.append(e)
        ours.append(o["cpuSecondsPerImage"])
        ours_wall.append(1 / o["imagesPerSecond"])
        ratios.append(o["cpuSecondsPerImage"] / (d + e))
        sharp.append(sh["cpuSecondsPerImage"])
        sharp_ratios.append(sh["cpuSecondsPerImage"] / (d + e))
        out = run(["tjbench", str(path), "-rgb", "-benchtime", "1" if repeats > 1 else "0.1", "-warmup", "0",
                   "-nowrite"])
        tj.append(1 / float(re.search(r"Decompress\s+--> Frame rate:\s+([\d.]+) fps", out).group(1)))
    return {"decode": median(decode), "encode": median(encode), "total": median(decode) + median(encode),
            "ours": median(ours), "oursWall": median(ours_wall), "ratio": median(ratios),
            "sharp": median(sharp), "sharpRatio": median(sharp_ratios),
            "tjbenchWall": median(tj), "webpBytes": (work / "floor.webp").stat().st_size,
            "oursBytes": o["files"][0]["outputs"][-1]["bytes"]}


def magick_for(path: Path, work: Path, repeats: int) -> dict:
    """ImageMagick as the naive peer: one convert per image writing the same four outputs."""
    out = work / "magick"
    out.mkdir(exist_ok=True)
    cmd = [CONVERT, str(path), "-auto-orient", "-colorspace", "sRGB", "-strip",
           "-define", "webp:method=4"]
    for box in (1024, 512, 128):
        cmd += ["(", "+clone", "-resize", f"{box}x{box}>", "-quality", "75", "-write",
                str(out / f"thumb-{box}.webp"), "+delete", ")"]
    cmd += ["-quality", "80", str(out / "optimized.webp")]
    runs = [timed(cmd) for _ in range(repeats)]
    sizes = {f.stem: f.stat().st_size for f in out.glob("*.webp")}
    return {"wall": median([r["wall"] for r in runs]), "cpu": median([r["cpu"] for r in runs]),
            "rssKiB": median([r["rssKiB"] for r in runs]), "bytes": sizes}


def bench_floor(corpus: Path, smoke: bool) -> tuple[str, dict]:
    raw = {"loadBefore": load_average(), "floor": {}, "magick": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        work = Path(tmp)
        for name in FLOOR_FILES:
            f = floor_for(corpus / name, work, 1 if smoke else 5)
            m = magick_for(corpus / name, work, 1 if smoke else 2)
            raw["floor"][name], raw["magick"][name] = f, m
            rows.append([name, f["decode"], f["tjbenchWall"], f["encode"], f["total"], f["ours"], f["oursWall"],
                         f["ratio"], f["sharp"], f["sharpRatio"], m["cpu"], m["wall"], m["cpu"] / f["ours"],
                         m["rssKiB"] / 1024,
                         f"{m['bytes'].get('optimized', 0)} / {f['webpBytes']} / {f['oursBytes']}"])
            log(f"floor {name}: ours CPU / floor {f['ratio']:.2f}, sharp CPU / floor {f['sharpRatio']:.2f}")
    raw["loadAfter"] = load_average()
    raw["rows"] = rows
    out = ["### Image stage vs the floor and ImageMagick",
           "Floor = libjpeg-turbo decode of the JPEG to RGB (`djpeg -rgb`, CPU-seconds; tjbench's wall-clock "
           "time per frame beside it) + `cwebp -q 80 -m 4` of the decoded pixels (CPU-seconds), one core each; "
           "ours = image_stage_bench's CPU-seconds per image (all four outputs and the metadata) and sharp = "
           "stage.mjs's, each run in turn with each floor measurement; medians of "
           f"{1 if smoke else 5}, ratios = medians of the per-round ratios. "
           "ImageMagick: one `convert` per image writing the same four outputs, whole-process figures, median "
           f"of {1 if smoke else 2}. Load average before/after: {raw['loadBefore']} / {raw['loadAfter']}.", "",
           table(["file", "decode CPU-s", "tjbench wall-s/frame", "cwebp CPU-s", "floor s", "ours CPU-s",
                  "ours wall-s", "ours / floor (CPU)", "sharp CPU-s", "sharp / floor (CPU)", "convert CPU-s",
                  "convert wall-s", "convert / ours (CPU)",
                  "convert peak RSS MiB", "optimized.webp bytes: convert / cwebp / ours"], rows)]
    return "\n".join(out), raw


# ---------------------------------------------------------------------------------------------------------
# The real stack: PostgreSQL and RabbitMQ (scripts/services, or the test services when their variables are
# set, as under ctest), a database of its own, `imageproc api` and `imageproc worker` from the release build.
# ---------------------------------------------------------------------------------------------------------

import threading
import urllib.request
import uuid


class Process:
    """An imageproc child: its JSON log lines collected, waited for by content, stopped with SIGTERM."""

    def __init__(self, args: list[str], env: dict, ready: str, timeout: float = 90):
        self.lines: list[str] = []
        self.count = 0  # lines read in all
        self.proc = subprocess.Popen([str(IMAGEPROC), *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready_line = self.wait_for(ready, timeout)
        if self.ready_line is None:
            self.stop()
            raise BenchError(f"imageproc {args[0]} did not start:\n" + "\n".join(self.lines[-30:]))

    def _read(self):
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self.count += 1
                if len(self.lines) > 4000:  # an access-log line per request: keep the recent ones only
                    del self.lines[:2000]
                self._cv.notify_all()

    def wait_for(self, needle: str, timeout: float):
        """The first line from now on (or already read, at start) containing needle, or None."""
        deadline = time.monotonic() + timeout
        seen = self.count - len(self.lines)
        with self._cv:
            while True:
                first = self.count - len(self.lines)
                for line in self.lines[max(0, seen - first):]:
                    if needle in line:
                        return line
                seen = self.count
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    return None
                self._cv.wait(0.1)

    def status(self) -> dict:
        """VmRSS and VmHWM (KiB) from /proc."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Stack:
    """Services + one database + api (+ worker). Use as a context manager."""

    def __init__(self, name: str, worker: bool = True, extra_env: dict | None = None):
        self.name, self.worker_wanted, self.extra_env = name, worker, extra_env or {}
        self.services_dir = self.admin_url = self.objects = None
        self.api = self.worker = None

    def __enter__(self):
        env = dict(os.environ)
        if not (env.get("IMAGEPROC_TEST_DATABASE_URL") and env.get("IMAGEPROC_TEST_AMQP_URL")):
            log("starting PostgreSQL and RabbitMQ (scripts/services)")
            out = run([str(ROOT / "scripts" / "services"), "start"],
                      env={**env, "SERVICES": "postgres rabbitmq"}, timeout=300)
            for line in out.splitlines():
                m = re.match(r"export (\w+)=(.*)", line)
                if m:
                    env[m.group(1)] = m.group(2).strip("'\"")
            self.services_dir = env["IMAGEPROC_TEST_SERVICES_DIR"]
        try:
            self.admin_url = env["IMAGEPROC_TEST_DATABASE_URL"]
            self.db_name = f"bench_{self.name}_{os.getpid()}"
            self.psql_admin(f"CREATE DATABASE {self.db_name}")
            self.db_url = self.admin_url.rsplit("/", 1)[0] + "/" + self.db_name
            self.objects = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-objects-"))
            self.env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("IMAGEPROC_TEST_")},
                "DATABASE_URL": self.db_url,
                "AMQP_URL": env["IMAGEPROC_TEST_AMQP_URL"],
                "QUEUE_PREFIX": self.db_name + ".",
                "JWT_SECRET": "bench-jwt-secret-0123456789abcdef0123456789",
                "STORAGE_BACKEND": "local",
                "STORAGE_LOCAL_DIR": str(self.objects),
                "STORAGE_SIGNING_SECRET": "bench-storage-secret-0123456789abcdef012345",
                "IMAGEPROC_HTTP_ADDR": "127.0.0.1:0",
                "AUTH_COOKIE_SECURE": "false",
                "RATE_LIMIT_UPLOAD_PER_MINUTE": "100000",
                "RATE_LIMIT_READ_PER_MINUTE": "1000000",
                "RATE_LIMIT_AUTH_PER_MINUTE": "1000",
                "AI_PROVIDER": "local",
                "LOG_FORMAT": "json",
                **self.extra_env,
            }
            self.api = Process(["api"], self.env, '"api listening"')
            self.port = json.loads(self.api.ready_line)["port"]
            self.url = f"http://127.0.0.1:{self.port}"
            if self.worker_wanted:
                self.worker = Process(["worker"], {**self.env, "WORKER_INSTANCE": f"bench-{self.name}"},
                                      '"worker started"')
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for p in (self.worker, self.api):
            if p:
                p.stop()
        if self.admin_url:
            try:
                self.psql_admin(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
            except BenchError as e:
                log(str(e))
        if self.objects:
            shutil.rmtree(self.objects, ignore_errors=True)
        if self.services_dir:
            subprocess.run([str(ROOT / "scripts" / "services"), "stop", self.services_dir],
                           capture_output=True, timeout=120)

    def psql_admin(self, sql: str) -> str:
        return run(["psql", self.admin_url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])

    def psql(self, sql: str) -> str:
        return run(["psql", self.db_url, "-v", "ON_ERROR_STOP=1", "-Atq", "-F", "\t", "-c", sql], timeout=600)

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def register(self, who: str = "bench") -> tuple[str, str]:
        """A new account: (access token, user id)."""
        email = f"{who}-{uuid.uuid4().hex[:8]}@bench.example"
        answer = self.request("POST", "/api/auth/register",
                              {"name": who, "email": email, "password": "bench-password-123"})
        me = self.request("GET", "/api/auth/me", token=answer["token"])
        return answer["token"], me.get("userId") or me.get("id")


# ---------------------------------------------------------------------------------------------------------
# End to end: open-loop uploads at 50/80/95 % of the measured maximum; timestamps from the database.
# ---------------------------------------------------------------------------------------------------------

E2E_FILES = ["camera-12mp.jpg", "camera-12mp-o6-p3.jpg", "web-800.jpg", "camera-24mp.jpg", "alpha-2000.png",
             "synthetic-12mp.jpg", "camera-24mp-progressive.jpg"]

TIMESTAMPS_SQL = """
SELECT j.id,
       extract(epoch FROM j.created_at) * 1000,
       (SELECT extract(epoch FROM min(o.published_at)) * 1000 FROM outbox o
         WHERE o.payload ->> 'jobId' = j.id::text AND o.routing_key LIKE '%image-jobs%'),
       extract(epoch FROM j.started_at) * 1000, extract(epoch FROM j.completed_at) * 1000,
       extract(epoch FROM j.ai_started_at) * 1000, extract(epoch FROM j.ai_completed_at) * 1000,
       j.status, j.ai_status
FROM jobs j WHERE j.id = ANY('{IDS}'::uuid[])"""


def upload_load(stack: Stack, token: str, corpus: Path, rate: float, count: int, files=None,
                max_in_flight: int = 64) -> dict:
    paths = [str(corpus / f) for f in (files or E2E_FILES)]
    out = run([NODE, str(LOAD_GEN), "--url", stack.url, "--token", token, "--rate", str(rate), "--count",
               str(count), "--max-in-flight", str(max_in_flight), *paths], timeout=3600)
    return json.loads(out)


def wait_done(stack: Stack, ids: list[str], timeout: float) -> list[dict]:
    """Waits until every job's image and AI stage are final; returns their timestamps (epoch ms)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = []
        for line in stack.psql(TIMESTAMPS_SQL.replace("IDS", ",".join(ids))).splitlines():
            f = line.split("\t")
            num = lambda v: float(v) if v else None
            rows.append({"id": f[0], "created": num(f[1]), "published": num(f[2]), "started": num(f[3]),
                         "completed": num(f[4]), "aiStarted": num(f[5]), "aiCompleted": num(f[6]),
                         "status": f[7], "aiStatus": f[8]})
        done = [r for r in rows if r["status"] in ("Completed", "Error")
                and r["aiStatus"] in ("Completed", "Error", "Skipped")]
        if len(done) == len(ids):
            return rows
        if time.monotonic() > deadline:
            raise BenchError(f"{len(ids) - len(done)} of {len(ids)} jobs not finished after {timeout:.0f}s")
        time.sleep(0.5)


def latency_row(label: str, load: dict, rows: list[dict]) -> tuple[list, dict]:
    answered = {u["jobId"]: u for u in load["uploads"] if u.get("jobId")}
    def series(f):
        return [v for v in (f(r) for r in rows) if v is not None]
    upload = series(lambda r: answered[r["id"]]["answeredMs"] - answered[r["id"]]["sentMs"])
    publish = series(lambda r: r["published"] - r["created"] if r["published"] else None)
    wait = series(lambda r: r["started"] - r["created"])
    process = series(lambda r: r["completed"] - r["started"])
    ai_wait = series(lambda r: r["aiStarted"] - r["completed"] if r["aiStarted"] else None)
    ai = series(lambda r: r["aiCompleted"] - r["aiStarted"] if r["aiStarted"] and r["aiCompleted"] else None)
    total = series(lambda r: (r["aiCompleted"] or r["completed"]) - r["created"])
    failed = sum(1 for r in rows if r["status"] != "Completed" or r["aiStatus"] != "Completed")
    def p(v):
        return f"{percentile(v, 50):.0f} / {percentile(v, 95):.0f} / {percentile(v, 99):.0f}" if v else "-"
    raw = {"upload": upload, "publish": publish, "queueWait": wait, "processing": process, "aiWait": ai_wait,
           "ai": ai, "total": total, "failed": failed}
    return [label, f"{load['requestedRate'] * 60:.1f}", f"{(load['achievedRate'] or 0) * 60:.1f}", len(rows),
            failed, p(upload), p(publish), p(wait), p(process), p(ai_wait), p(ai), p(total)], raw


def bench_e2e(corpus: Path, smoke: bool) -> tuple[str, dict]:
    raw = {"loadBefore": load_average()}
    rows = []
    with Stack("e2e") as stack:
        token, _ = stack.register()
        # 1. The maximum: a backlog of uploads sent at once; completions per minute while it drains.
        burst = 2 if smoke else 28
        load = upload_load(stack, token, corpus, rate=100, count=burst, max_in_flight=burst)
        ids = [u["jobId"] for u in load["uploads"] if u.get("jobId")]
        if len(ids) != burst:
            raise BenchError(f"saturation: {burst - len(ids)} uploads refused: {load['statuses']}")
        done = wait_done(stack, ids, 1800)
        first_start = min(r["started"] for r in done)
        last_done = max(r["aiCompleted"] or r["completed"] for r in done)
        maximum = len(done) / ((last_done - first_start) / 60000)
        raw["maximumPerMinute"] = maximum
        row, raw["saturation"] = latency_row("backlog (max)", load, done)
        rows.append(row)
        log(f"e2e maximum {maximum:.1f} images/min")
        # 2. Light load (the < 50 ms target), then 50 / 80 / 95 % of the maximum.
        seconds = 5 if smoke else 120
        phases = [("light (10 %)", 0.10)] + [(f"{int(f * 100)} %", f) for f in (0.5, 0.8, 0.95)]
        if smoke:
            phases = [("50 %", 0.5)]
        for label, fraction in phases:
            rate = fraction * maximum / 60
            count = 2 if smoke else max(8, round(rate * seconds))
            load = upload_load(stack, token, corpus, rate=rate, count=count)
            ids = [u["jobId"] for u in load["uploads"] if u.get("jobId")]
            if len(ids) != count:
                raise BenchError(f"{label}: {count - len(ids)} uploads refused or skipped: {load['statuses']}")
            done = wait_done(stack, ids, 1800)
            row, raw[label] = latency_row(label, load, done)
            rows.append(row)
            log(f"e2e {label}: queue wait p50 {percentile(raw[label]['queueWait'], 50):.0f} ms")
        raw["workerVmHWMKiB"] = stack.worker.status().get("VmHWM")
    raw["loadAfter"] = load_average()
    raw["rows"] = rows
    out = ["### End to end: uploads through the API to AI Completed (1 api + 1 worker)",
           f"Open-loop arrivals at a constant rate, files round robin ({', '.join(E2E_FILES)}); the worker with "
           "its defaults (2 image + 2 AI consumers, local AI provider: Tesseract). Maximum = a backlog of "
           f"{2 if smoke else 28} uploads drained (jobs / (last AI completion − first worker start)): "
           f"**{maximum:.1f} images/minute**. Times in ms, p50 / p95 / p99, from the database's timestamps "
           "(created_at = upload accepted, outbox published_at, started_at, completed_at, ai_started_at, "
           "ai_completed_at) and the client's upload response time. Load average before/after: "
           f"{raw['loadBefore']} / {raw['loadAfter']}.", "",
           table(["phase", "offered /min", "sent /min", "jobs", "not Completed", "upload response",
                  "accepted → published", "accepted → worker started (queue wait)", "image processing",
                  "image done → AI started", "AI processing", "accepted → AI Completed"], rows)]
    return "\n".join(out), raw


# ---------------------------------------------------------------------------------------------------------
# API reads vs pgbench on the same SQL (taken from src/db/jobs.cpp).
# ---------------------------------------------------------------------------------------------------------

def cpp_sql(expression: str, constants: dict) -> str:
    """Evaluates a C++ concatenation of raw string literals, "…" literals and named constants."""
    out = []
    for m in re.finditer(r'R"\((.*?)\)"|"((?:[^"\\]|\\.)*)"|\b(k\w+)\b', expression, re.S):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(m.group(2))
        else:
            out.append(constants[m.group(3)])
    return "".join(out)


def repository_sql() -> dict:
    """The list and find_for_user statements exactly as JobRepository sends them."""
    source = (ROOT / "src" / "db" / "jobs.cpp").read_text()
    constants = {}
    for m in re.finditer(r'constexpr const char\* (k\w+) =\s*(.*?);\n', source, re.S):
        constants[m.group(1)] = cpp_sql(m.group(2), constants)
    body = source[source.index("JobListPage JobRepository::list("):]
    list_expr = re.search(r"static const std::string sql = (.*?);\n", body, re.S).group(1)
    sql = {"list": cpp_sql(list_expr, constants),
           "detail": "SELECT " + constants["kColumns"] + constants["kFindForUser"]}
    if "$6" not in sql["list"] or "$2" not in sql["detail"]:
        raise BenchError("could not read the list/find_for_user SQL from src/db/jobs.cpp")
    return sql


SEED_SQL = """
INSERT INTO users (id, email, name, password_hash)
SELECT md5('bench-user-' || n)::uuid, 'seed' || n || '@bench.example', 'Seed ' || n, 'not-a-hash'
FROM generate_series(1, 99) n;
INSERT INTO jobs (id, user_id, status, ai_status, original_key, original_filename, mime_type, file_size, sha256,
                  width, height, created_at, started_at, completed_at, outputs, metadata, ai_started_at,
                  ai_completed_at, ai_analysis)
SELECT id, owner, 'Completed', 'Completed', 'originals/' || owner || '/' || id, 'IMG_' || g || '.jpg',
       'image/jpeg', 3000000 + g % 5000000, md5(g::text) || md5((g + 1)::text), 4000, 3000,
       now() - g * interval '37 seconds', now() - g * interval '37 seconds' + interval '40 ms',
       now() - g * interval '37 seconds' + interval '1400 ms',
       (SELECT jsonb_agg(jsonb_build_object('name', o.name, 'format', 'webp', 'width', o.w, 'height', o.h,
                                            'bytes', o.b, 'key', 'processed/' || owner || '/' || id || '/' ||
                                            o.name || '.webp'))
        FROM (VALUES ('thumb-128', 128, 96, 3500), ('thumb-512', 512, 384, 36000),
                     ('thumb-1024', 1024, 768, 115000), ('optimized', 4000, 3000, 1250000)) o(name, w, h, b)),
       jsonb_build_object('width', 4000, 'height', 3000, 'format', 'jpeg', 'fileSize', 3000000 + g % 5000000,
         'orientation', 1, 'hasAlpha', false, 'colorSpace', 'srgb', 'frames', 1,
         'exif', jsonb_build_object('Make', 'Canon', 'Model', 'Canon EOS R6', 'ExposureTime', '1/250',
           'FNumber', 5.6, 'ISO', 200, 'FocalLength', 35, 'LensModel', 'RF24-105mm F4 L IS USM',
           'DateTimeOriginal', '2026:06:14 10:21:33', 'Software', 'bench', 'ExposureProgram', 'Manual',
           'MeteringMode', 'Pattern', 'Flash', 'Off', 'WhiteBalance', 'Auto', 'ColorSpace', 'sRGB'),
         'gps', jsonb_build_object('lat', 48.85837, 'lon', 2.294481),
         'dominantColors', jsonb_build_array('#2C381B', '#8CA7B8', '#E6A458', '#98522B', '#271C28'),
         'blurhash', 'LJDlTV|.^0TL00Ad9}n4wHXTnjR*', 'phash', lpad(to_hex(g), 16, '0')),
       now() - g * interval '37 seconds' + interval '1500 ms', now() - g * interval '37 seconds' + interval '2600 ms',
       jsonb_build_object('summary', 'A forest path between tall spruce trees, photo ' || g,
         'tags', jsonb_build_array(jsonb_build_object('label', 'forest', 'confidence', 0.93),
                                   jsonb_build_object('label', 'path', 'confidence', 0.88),
                                   jsonb_build_object('label', 'trees', 'confidence', 0.85),
                                   jsonb_build_object('label', 'green', 'confidence', 0.7),
                                   jsonb_build_object('label', 'outdoor', 'confidence', 0.66)),
         'ocrText', '', 'safety', jsonb_build_object('adult', false, 'violence', false),
         'provider', 'local', 'model', 'tesseract-5', 'latencyMs', 1100, 'tokens', 0, 'costUsd', 0)
FROM (SELECT g, md5('bench-job-' || g)::uuid AS id,
             CASE WHEN g <= @OWN@ THEN '@USER@'::uuid ELSE md5('bench-user-' || (g % 99 + 1))::uuid END AS owner
      FROM generate_series(1, @TOTAL@) g) s;
ANALYZE jobs;
"""


def wrk(url: str, token: str, connections: int, seconds: int) -> dict:
    out = run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-H",
               f"Authorization: Bearer {token}", url], timeout=seconds + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": float(p50.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)],
            "p99": float(p99.group(1)) * scale, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socketErrors": errors.group(1) if errors else "", "output": out}


def pgbench(db_url: str, script: Path, variables: dict, connections: int, seconds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        args = ["pgbench", "-n", "-M", "extended", "-c", str(connections), "-j", "2", "-T", str(seconds),
                "-f", str(script), "-l", "--log-prefix", f"{tmp}/log"]
        for k, v in variables.items():
            args += ["-D", f"{k}={v}"]
        out = run([*args, db_url], timeout=seconds + 60)
        latencies = []
        for f in Path(tmp).glob("log*"):
            for line in f.read_text().splitlines():
                latencies.append(int(line.split()[2]) / 1000)  # microseconds → ms
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    return {"rps": tps, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "transactions": len(latencies)}


def bench_reads(corpus: Path, smoke: bool) -> tuple[str, dict]:
    sql = repository_sql()
    total, own = (2000, 200) if smoke else (100_000, 1000)
    seconds, connections = (1, 4) if smoke else (20, 8)
    rounds = 1 if smoke else 3
    raw = {"loadBefore": load_average(), "jobs": total, "ownJobs": own, "sql": sql}
    rows = []
    with Stack("reads", worker=False) as stack:
        token, user_id = stack.register()
        log(f"reads: seeding {total} jobs")
        stack.psql(SEED_SQL.replace("@OWN@", str(own)).replace("@USER@", user_id).replace("@TOTAL@", str(total)))
        job = stack.psql(f"SELECT id FROM jobs WHERE user_id = '{user_id}' ORDER BY created_at DESC LIMIT 1 OFFSET 7").strip()
        with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
            # The statements with pgbench variables in place of $n (extended protocol: sent as parameters).
            list_sql = (sql["list"].replace("$1", ":user").replace("$2::text", "NULL::text")
                        .replace("$3::text", "NULL::text").replace("$3", "NULL").replace("$2", "NULL")
                        .replace("$4", "20").replace("$5", "0").replace("$6", "'thumb-512'"))
            detail_sql = sql["detail"].replace("$1", ":job").replace("$2", ":user")
            scripts = {"list": Path(tmp) / "list.sql", "detail": Path(tmp) / "detail.sql"}
            scripts["list"].write_text(" ".join(list_sql.split()) + ";\n")
            scripts["detail"].write_text(" ".join(detail_sql.split()) + ";\n")
            kept = RESULTS / "smoke" if smoke else RESULTS  # beside this run's report
            kept.mkdir(parents=True, exist_ok=True)
            (kept / "pgbench-list.sql").write_text(scripts["list"].read_text())
            (kept / "pgbench-detail.sql").write_text(scripts["detail"].read_text())
            urls = {"list": f"{stack.url}/api/images?page=1&pageSize=20", "detail": f"{stack.url}/api/images/{job}"}
            check = stack.request("GET", "/api/images?page=1&pageSize=20", token=token)
            if len(check.get("items", [])) != 20:
                raise BenchError(f"list answered {str(check)[:300]}")
            for name in ("list", "detail"):
                results = {"api": [], "pgbench": []}
                for _ in range(rounds):  # alternating
                    results["api"].append(wrk(urls[name], token, connections, seconds))
                    results["pgbench"].append(pgbench(stack.db_url, scripts[name], {"user": user_id, "job": job},
                                                      connections, seconds))
                for r in results["api"]:
                    if r["non2xx"] or r["socketErrors"]:
                        raise BenchError(f"wrk {name}: {r['non2xx']} non-2xx, socket errors {r['socketErrors']}")
                    r.pop("output")
                raw[name] = results
                api_rps = median([r["rps"] for r in results["api"]])
                pg_rps = median([r["rps"] for r in results["pgbench"]])
                ratio = median([b["rps"] / a["rps"] for a, b in zip(results["api"], results["pgbench"])])
                api_p99 = median([r["p99"] for r in results["api"]])
                pg_p99 = median([r["p99"] for r in results["pgbench"]])
                rows.append([f"GET {urls[name].split(str(stack.port))[1].replace(job, '{id}')}", api_rps, pg_rps,
                             ratio, median([r["p50"] for r in results["api"]]),
                             median([r["p50"] for r in results["pgbench"]]), api_p99, pg_p99,
                             median([a["p99"] / b["p99"] for a, b in zip(results["api"], results["pgbench"])])])
                log(f"reads {name}: pgbench/api throughput {ratio:.2f}")
    raw["loadAfter"] = load_average()
    raw["rows"] = rows
    out = ["### API reads vs pgbench on the same SQL",
           f"{total} jobs seeded with `generate_series` (realistic outputs, metadata with EXIF, AI analysis), "
           f"{own} of them the caller's. wrk: {connections} connections, 2 threads, {seconds} s, bearer token; "
           f"pgbench: the same statements from src/db/jobs.cpp (`-M extended`; the user and job ids as "
           f"parameters, the values the API binds for this URL written in: no filter, no search, 20 rows from "
           f"offset 0, thumb-512), {connections} clients, 2 threads, {seconds} s, against the same server. Medians of "
           f"{rounds} alternating runs; ratio = pgbench/api throughput (target ≤ 2). Load average before/after: "
           f"{raw['loadBefore']} / {raw['loadAfter']}.", "",
           table(["endpoint", "api req/s", "pgbench tx/s", "ratio (pgbench/api)", "api p50 ms", "pgbench p50 ms",
                  "api p99 ms", "pgbench p99 ms", "p99 ratio"], rows)]
    return "\n".join(out), raw


# ---------------------------------------------------------------------------------------------------------
# Memory: worker peak RSS on 50 MP; API RSS while ten 40 MB uploads arrive at once.
# ---------------------------------------------------------------------------------------------------------

def bench_memory(corpus: Path, smoke: bool) -> tuple[str, dict]:
    raw = {"loadBefore": load_average()}
    large = corpus / "large-50mp.jpg"
    stage, sharp = [], []
    for _ in range(1 if smoke else 3):  # alternating
        stage.append(timed([str(STAGE_BENCH), str(large)]))
        sharp.append(timed([NODE, str(SHARP_STAGE), str(large)]))
    raw["stageBench50mp"], raw["sharp50mp"] = stage, sharp
    upload = corpus / "upload-40mb.jpg"
    with Stack("memory", extra_env={"WORKER_IMAGE_CONCURRENCY": "1"}) as stack:
        token, _ = stack.register()
        # Worker: one 50 MP upload, processed through both stages; its VmHWM afterwards.
        before = stack.worker.status()
        load = upload_load(stack, token, corpus, rate=1, count=1, files=["large-50mp.jpg"])
        wait_done(stack, [load["uploads"][0]["jobId"]], 600)
        after = stack.worker.status()
        raw["worker"] = {"before": before, "after": after}
        # API: ten concurrent 40 MB uploads; RSS sampled every 20 ms.
        samples, stop = [], threading.Event()
        def sample():
            while not stop.is_set():
                samples.append((time.monotonic(), stack.api.status()["VmRSS"]))
                time.sleep(0.02)
        idle = stack.api.status()
        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.monotonic()
        load = upload_load(stack, token, corpus, rate=1000, count=10, files=["upload-40mb.jpg"])
        t1 = time.monotonic()
        time.sleep(0.5)
        stop.set()
        sampler.join()
        statuses = load["statuses"]
        if statuses.get("202") != 10:
            raise BenchError(f"40 MB uploads: {statuses}")
        during = [rss for t, rss in samples if t0 <= t <= t1]
        raw["api"] = {"idle": idle, "peakDuring": max(during, default=idle["VmRSS"]), "after": stack.api.status(),
                      "samples": len(during), "seconds": t1 - t0, "uploadBytes": upload.stat().st_size}
    # The worker with its default settings (2 image consumers): two 50 MP uploads at once.
    with Stack("memory_two") as stack:
        token, _ = stack.register()
        before_two = stack.worker.status()
        load = upload_load(stack, token, corpus, rate=1000, count=2, files=["large-50mp.jpg"])
        wait_done(stack, [u["jobId"] for u in load["uploads"]], 900)
        raw["workerTwo"] = {"before": before_two, "after": stack.worker.status()}
    raw["loadAfter"] = load_average()
    mib = lambda kib: kib / 1024
    a = raw["api"]
    rows = [["image_stage_bench, large-50mp.jpg (process_image alone), peak RSS",
             mib(median([r["rssKiB"] for r in stage])), f"{median([r['cpu'] for r in stage]):.2f} CPU-s"],
            ["sharp peer (stage.mjs), large-50mp.jpg, peak RSS", mib(median([r["rssKiB"] for r in sharp])),
             f"{median([r['cpu'] for r in sharp]):.2f} CPU-s"],
            ["imageproc worker after the 50 MP job (both stages), VmHWM", mib(after["VmHWM"]),
             f"VmHWM before it: {mib(before['VmHWM']):.0f} MiB"],
            ["imageproc worker after two 50 MP jobs at once (default: 2 image consumers), VmHWM",
             mib(raw["workerTwo"]["after"]["VmHWM"]),
             f"VmHWM before them: {mib(raw['workerTwo']['before']['VmHWM']):.0f} MiB"],
            ["imageproc api, idle (VmRSS)", mib(a["idle"]["VmRSS"]), ""],
            [f"imageproc api, peak VmRSS during ten concurrent {a['uploadBytes'] / 1e6:.0f} MB uploads",
             mib(a["peakDuring"]), f"{a['samples']} samples over {a['seconds']:.1f} s"],
            ["imageproc api, VmRSS after them", mib(a["after"]["VmRSS"]),
             f"peak − idle: {mib(a['peakDuring'] - a['idle']['VmRSS']):.1f} MiB for "
             f"{10 * a['uploadBytes'] / 1e6:.0f} MB received; VmHWM {mib(a['after']['VmHWM']):.0f} MiB (reached "
             "before the uploads: Argon2id at sign-up)" if a["after"]["VmHWM"] == a["idle"]["VmHWM"] else
             f"peak − idle: {mib(a['peakDuring'] - a['idle']['VmRSS']):.1f} MiB; VmHWM {mib(a['after']['VmHWM']):.0f} MiB"]]
    raw["rows"] = rows
    out = ["### Memory", f"Release build. Load average before/after: {raw['loadBefore']} / {raw['loadAfter']}.", "",
           table(["what", "MiB", "note"], rows)]
    return "\n".join(out), raw


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny corpus, one run of each piece")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per comparison (default 3)")
    parser.add_argument("sections", nargs="*", default=["stage", "e2e", "reads", "memory"])
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = RESULTS / ("smoke" if args.smoke else "")
    results.mkdir(parents=True, exist_ok=True)

    corpus = ROOT / "build" / ("bench-corpus-tiny" if args.smoke else "bench-corpus")
    run([str(ROOT / "bench" / "corpus" / "build"), *(["--tiny"] if args.smoke else []), str(corpus)])
    for need in (STAGE_BENCH, IMAGEPROC):
        if not need.exists():
            raise BenchError(f"{need} is missing: cmake --preset release && cmake --build --preset release")

    report = [f"## Benchmarks ({'smoke' if args.smoke else 'full'} run)", "",
              f"Machine: {os.cpu_count()} CPUs, {platform_cpu()}; load average at start {load_average()}.", ""]
    sections = {}
    if "stage" in args.sections:
        text, raw = bench_stage(corpus, rounds, args.smoke)
        report += [text, ""]
        sections["stage"] = raw
    if "stage" in args.sections or "floor" in args.sections:
        text, raw = bench_floor(corpus, args.smoke)
        report += [text, ""]
        sections["floor"] = raw
    for name in ("e2e", "reads", "memory"):
        if name in args.sections:
            text, raw = globals()[f"bench_{name}"](corpus, args.smoke)
            report += [text, ""]
            sections[name] = raw
    for name, raw in sections.items():
        (results / f"{name}.json").write_text(json.dumps(raw, indent=1))
    (results / "report.md").write_text("\n".join(report))
    print("\n".join(report))
    return 0


def platform_cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(str(e))
        sys.exit(1)
