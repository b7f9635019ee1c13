"""Several cameras: one pixel-sail process serving N cameras against N processes of one camera each.

For N = 1, 2, 4 live test sources (`test:640x480@30`), each run publishes as the node does (the sample's four
commands, descriptions on, the shipped policy) for --secs seconds, standalone (--no-ros). Measured per run:
aggregate results per second over all cameras (JSONL lines stamped after a warm-up, divided by the window)
and resident memory (the peak VmHWM of each process, summed over the processes). Prints a table and writes
--out (JSON).

  .venv/bin/python scripts/bench_cameras.py --bin target/release/pixel-sail --secs 40 --out out/bench_cameras.json
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "test:640x480@30"


def hwm_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(bin_, groups, secs, warmup, workdir):
    """Starts one process per group (a list of camera names), all at once; returns (results/s, MiB, per camera)."""
    procs = []
    for k, cameras in enumerate(groups):
        jsonl = workdir / f"p{k}.jsonl"
        cmd = [str(bin_), "run", "--no-ros", "--no-progress", "--model", str(ROOT / "models/tiny"),
               "--prompts-file", str(ROOT / "models/sample/commands.txt"), "--duration-secs", str(secs),
               "--jsonl", str(jsonl)]
        for name in cameras:
            cmd += ["--source", f"{name}={SOURCE}"]
        env = dict(os.environ, RUST_LOG="error")
        procs.append((subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE), jsonl))
    peak = [0] * len(procs)
    started = time.time()
    while any(p.poll() is None for p, _ in procs):
        for i, (p, _) in enumerate(procs):
            if p.poll() is None:
                peak[i] = max(peak[i], hwm_kib(p.pid))
        time.sleep(0.2)
        if time.time() - started > secs + 60:
            for p, _ in procs:
                p.kill()
            raise SystemExit("a run did not end")
    per_camera = {}
    for k, (p, jsonl) in enumerate(procs):
        if p.returncode != 0:
            raise SystemExit(f"a run failed: {p.stderr.read().decode()[-2000:]}")
        lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
        if not lines:
            continue
        t0 = min(x["stamp"] for x in lines)
        for x in lines:
            if x["stamp"] >= t0 + warmup:
                key = f"{k}:{x['camera']}"
                per_camera[key] = per_camera.get(key, 0) + 1
    window = secs - warmup
    rate = sum(per_camera.values()) / window
    return rate, sum(peak) / 1024.0, sorted(round(v / window, 2) for v in per_camera.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target/release/pixel-sail"))
    ap.add_argument("--secs", type=float, default=40.0)
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--counts", default="1,2,4")
    ap.add_argument("--out")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for n in [int(x) for x in a.counts.split(",")]:
            names = [f"cam{i}" for i in range(n)]
            one = run(a.bin, [names], a.secs, a.warmup, Path(d))
            many = run(a.bin, [[c] for c in names], a.secs, a.warmup, Path(d)) if n > 1 else one
            rows.append({"cameras": n, "one_process": {"results_per_s": one[0], "rss_mib": one[1], "per_camera": one[2]},
                         "processes": {"results_per_s": many[0], "rss_mib": many[1], "per_camera": many[2]},
                         "throughput_ratio": one[0] / many[0] if many[0] else None,
                         "memory_ratio": one[1] / many[1] if many[1] else None})
            r = rows[-1]
            print(f"N={n}: one process {one[0]:.2f} results/s {one[1]:.0f} MiB {one[2]} | "
                  f"{n} processes {many[0]:.2f} results/s {many[1]:.0f} MiB {many[2]} | "
                  f"throughput x{r['throughput_ratio']:.2f}, memory x{r['memory_ratio']:.2f}", flush=True)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps({"source": SOURCE, "secs": a.secs, "warmup": a.warmup, "rows": rows},
                                          indent=1))


if __name__ == "__main__":
    main()
