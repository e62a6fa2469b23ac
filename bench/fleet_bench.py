"""Benchmark: a fleet of `ml-gates serve` replicas following a registry. For each backend (a
folder, an OCI registry: Debian's docker-registry, an MLflow tracking server), three replicas
with their default polling interval (1 s for the folder, 5 s for OCI and MLflow) follow the
registry while `ml-gates routing set` writes N routing changes, one after another, each at a
random moment of the polling cycle; for each change, the time from the write returning to every replica serving the new generation (each
replica's GET /ready says which it serves, polled every 10 ms). Then, with nothing changing for
30 s, what each replica costs the registry: requests per minute (the registry's access log for
OCI, a counting proxy in front of MLflow; for the folder, reads of one small file).

Usage (from the repository root, after `cargo build --release`; needs docker-registry and mlflow,
which scripts/test.sh installs):
    python3 bench/fleet_bench.py [N]      # default N = 50
"""
import json
import os
import pathlib
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import benchkit

BINARY = benchkit.binary()
CHAMPION = benchkit.ROOT / "examples" / "churn" / "models" / "champion.model"


def generation(url):
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as r:
            return json.load(r).get("generation", -1)
    except Exception:
        return -1


def run_backend(kind, n, work):
    """(seconds to every replica per change, idle requests per minute per replica, watch)."""
    servers, counter, requests_so_far = [], None, None
    if kind == "folder":
        registry = f'path: "{work / "registry"}"'
    elif kind == "oci":
        server, port, log = benchkit.start_docker_registry(work)
        servers.append(server)
        registry = f'oci: {{repository: "127.0.0.1:{port}/bench/churn"}}'
        line = re.compile(r'"(\w+) (/v2/\S*) HTTP/[\d.]+"')
        requests_so_far = lambda: sum(1 for l in log.read_text(errors="replace").splitlines() if line.search(l))  # noqa: E731
    else:
        server, port = benchkit.start_mlflow(work)
        servers.append(server)
        counter = benchkit.CountingProxy(port)
        registry = f'mlflow: {{uri: "{counter.url}", experiment: bench}}'
        requests_so_far = lambda: counter.snapshot()[0]  # noqa: E731
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_", "ML_GATES_"))}
    env["DOCKER_CONFIG"] = str(work / "no-docker-config")
    admin = benchkit.workspace(work / "admin", registry)

    def ml_gates(*args, cwd=admin):
        out = subprocess.run([str(BINARY), *args], cwd=cwd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"ml-gates {' '.join(args)}: {out.stderr}")
        return out.stdout

    replicas = []
    try:
        ml_gates("register", "--model", str(CHAMPION))
        ml_gates("register", "--model", str(CHAMPION))
        ml_gates("promote", "1")
        for i in range(3):
            home = benchkit.workspace(work / f"replica{i}", registry)
            p = subprocess.Popen([str(BINARY), "serve", "--listen", "127.0.0.1:0"], cwd=home, env=env,
                                 stderr=subprocess.PIPE, text=True)
            first = p.stderr.readline()
            url = first.split(" on ")[1].split(": ")[0]
            threading.Thread(target=lambda s=p.stderr: [None for _ in s], daemon=True).start()
            replicas.append((p, url))
        watch = 1.0 if kind == "folder" else 5.0
        table = admin / "table.json"
        times = []
        for i in range(n):
            # At a random moment of the polling cycle, as changes come.
            time.sleep(random.uniform(0, watch))
            table.write_text(json.dumps({"stable": 1 + i % 2, "reason": f"bench {i}"}))
            out = ml_gates("routing", "set", str(table))
            g = int(re.search(r"routing generation (\d+)", out).group(1))
            written = time.perf_counter()
            pending = {url for _, url in replicas}
            while pending:
                pending = {u for u in pending if generation(u) < g}
                if pending:
                    time.sleep(0.01)
            times.append(time.perf_counter() - written)
        idle = None
        if requests_so_far is not None:
            before = requests_so_far()
            time.sleep(30)
            idle = (requests_so_far() - before) / 3 * 2  # per replica, per minute
        else:
            idle = 60 / watch
        return times, idle, watch
    finally:
        for p, _ in replicas:
            p.terminate()
            p.wait()
        if counter:
            counter.shutdown()
        for s in servers:
            benchkit.stop(s)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} not found: run `cargo build --release` first (or set ML_GATES_BIN)")
    rows = []
    for kind in ("folder", "oci", "mlflow"):
        work = pathlib.Path(tempfile.mkdtemp())
        try:
            times, idle, watch = run_backend(kind, n, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows.append((kind, watch, statistics.median(times), max(times), idle))
        print(f"{kind}: done", file=sys.stderr)
    import mlflow
    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}; 3 replicas, {n} routing changes each; "
          f"mlflow {mlflow.__version__}")
    print()
    print("| backend | polling interval | change → every replica serving it, p50 | max | idle requests per minute per replica |")
    print("|---|---:|---:|---:|---:|")
    for kind, watch, p50, top, idle in rows:
        what = "file reads" if kind == "folder" else "requests"
        print(f"| {kind} | {watch:.0f} s | {p50 * 1000:.0f} ms | {top * 1000:.0f} ms | {idle:.1f} {what} |")


if __name__ == "__main__":
    main()
