"""Benchmark: the OCI registry backend on loopback (Debian's `docker-registry`, the CNCF
distribution registry, started by this script without authentication): `ml-gates register` of N
versions one after another, then what a pull request reads from the registry with N versions in
it (`ml-gates models show champion` and `ml-gates models list`, which read the champion, every
version's record and the history), counted in the registry's own access log: requests, bytes
sent by the registry, and time.

Usage (from the repository root, after `cargo build --release`; needs Debian's docker-registry,
installed by scripts/test.sh):
    python3 bench/registry_oci_bench.py [N]     # default N = 50

The settling delay is the default (1,500 ms): each registration commits one state generation.
"""
import json
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import benchkit

BINARY = benchkit.binary()
free_port = benchkit.free_port

# The combined log format: … "METHOD /path HTTP/1.1" status bytes …
LINE = re.compile(r'"(\w+) (/v2/\S*) HTTP/[\d.]+" (\d+) (\d+|-)')


def access(log):
    """(requests, of which writes, bytes the registry sent) in the log so far."""
    requests = writes = sent = 0
    for line in pathlib.Path(log).read_text(errors="replace").splitlines():
        m = LINE.search(line)
        if not m:
            continue
        requests += 1
        writes += m.group(1) not in ("GET", "HEAD")
        sent += int(m.group(4)) if m.group(4) != "-" else 0
    return requests, writes, sent


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} not found: run `cargo build --release` first (or set ML_GATES_BIN)")
    work = pathlib.Path(tempfile.mkdtemp())
    server, port, log = benchkit.start_docker_registry(work)
    try:
        ws = benchkit.workspace(work / "ws", f'oci: {{repository: "127.0.0.1:{port}/bench/churn"}}')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ML_GATES_OCI_"))}
        env["DOCKER_CONFIG"] = str(work / "no-docker-config")

        def ml_gates(*args):
            t0 = time.perf_counter()
            out = subprocess.run([str(BINARY), *args], cwd=ws, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"ml-gates {' '.join(args)}: {out.stderr}")
            return time.perf_counter() - t0, out.stdout

        ml_gates("train")
        times, per = [], []
        for i in range(n):
            before = access(log)
            t, _ = ml_gates("register")
            after = access(log)
            times.append(t)
            per.append(tuple(a - b for a, b in zip(after, before)))
        ml_gates("promote", str(n), "--reason", "bench")
        # What a pull request reads: the champion (with its record) and every version's record
        # with the history, each a process as the action's stages would open the registry.
        reads = {}
        for what in (["models", "show", "champion", "--format", "json"], ["models", "list", "--format", "json"]):
            before = access(log)
            t, out = ml_gates(*what)
            after = access(log)
            reads[" ".join(what[:3] if what[1] == "show" else what[:2])] = (t, *(a - b for a, b in zip(after, before)))
        listed = json.loads(out)
        assert len(listed["versions"]) == n, listed
        print(f"Machine: {os.cpu_count()} cores, {platform.machine()}, docker-registry "
              f"{subprocess.run(['docker-registry', '--version'], capture_output=True, text=True).stdout.split()[-1]}; "
              f"{n} versions, settle_ms 1500")
        print()
        print("| what | time | requests | of which writes | bytes from the registry |")
        print("|---|---:|---:|---:|---:|")
        med = lambda xs: statistics.median(xs)  # noqa: E731
        print(f"| `ml-gates register` (median of {n}) | {med(times) * 1000:.0f} ms | {med([p[0] for p in per]):.0f} | "
              f"{med([p[1] for p in per]):.0f} | {med([p[2] for p in per]):,.0f} |")
        print(f"| the {n}th registration | {times[-1] * 1000:.0f} ms | {per[-1][0]} | {per[-1][1]} | {per[-1][2]:,} |")
        for what, (t, requests, writes, sent) in reads.items():
            print(f"| `ml-gates {what}` with {n} versions | {t * 1000:.0f} ms | {requests} | {writes} | {sent:,} |")
    finally:
        benchkit.stop(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
