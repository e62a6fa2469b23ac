"""Benchmark: the MLflow registry backend on loopback, beside MLflow's own Python client doing the
same work, to set next to bench/registry_oci_bench.py. An MLflow tracking server (SQLite backend,
the artifact proxy) is started by this script behind a small counting proxy (in this script), so
that requests and bytes are counted the same way for ml-gates and for MLflow's client.

1. `ml-gates register` of N versions one after another (a process each);
2. the same N registrations with MLflow's Python client, as a glue script does them (a run, its
   params and metrics, the model file as an artifact, a model version, in one process);
3. what a pull request reads with N versions registered: the champion and its record, then every
   version's record (the history): `ml-gates models show champion` and `ml-gates models list`
   (a process each), and with MLflow's client `get_model_version_by_alias` + `get_run`, then
   `search_model_versions` + `get_run` per version (timed after `import mlflow`).

Usage (from the repository root, after `cargo build --release`; needs mlflow, installed by
scripts/test.sh from requirements-test.txt):
    python3 bench/registry_mlflow_bench.py [N]     # default N = 50
"""
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import benchkit

BINARY = benchkit.binary()
free_port = benchkit.free_port


CLIENT_REGISTER = """
import sys, time, mlflow
from mlflow import MlflowClient
uri, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("bench-client")
client = MlflowClient(uri)
client.create_registered_model("churn_client")
times = []
for i in range(n):
    t0 = time.perf_counter()
    with mlflow.start_run() as run:
        mlflow.log_params({"max_iterations": 200, "model": "logistic_regression"})
        mlflow.log_metrics({"accuracy": 0.8, "roc_auc": 0.85})
        mlflow.log_artifact(model, artifact_path="model")
    client.create_model_version("churn_client", f"runs:/{run.info.run_id}/model", run.info.run_id)
    times.append(time.perf_counter() - t0)
client.set_registered_model_alias("churn_client", "champion", str(n))
print("TIMES " + " ".join(f"{t:.6f}" for t in times))
"""

CLIENT_READ = """
import json, sys, time
t_import = time.perf_counter()
import mlflow
from mlflow import MlflowClient
t_import = time.perf_counter() - t_import
uri, what = sys.argv[1], sys.argv[2]
client = MlflowClient(uri)
t0 = time.perf_counter()
if what == "champion":
    mv = client.get_model_version_by_alias("churn_client", "champion")
    run = client.get_run(mv.run_id)
    found = 1
else:
    versions = client.search_model_versions("name='churn_client'", max_results=10000)
    runs = [client.get_run(v.run_id) for v in versions]
    found = len(runs)
print("RESULT " + json.dumps({"seconds": time.perf_counter() - t0, "import": t_import, "found": found}))
"""


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} not found: run `cargo build --release` first (or set ML_GATES_BIN)")
    work = pathlib.Path(tempfile.mkdtemp())
    server, port = benchkit.start_mlflow(work)
    front = benchkit.CountingProxy(port)
    counter = front
    uri = front.url
    try:
        ws = benchkit.workspace(work / "ws", f'mlflow: {{uri: "{uri}", experiment: bench}}')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}

        def measured(command):
            before = counter.snapshot()
            t0 = time.perf_counter()
            out = subprocess.run(command, cwd=ws, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            if out.returncode != 0:
                raise SystemExit(f"{' '.join(command)}: {out.stderr}")
            return seconds, tuple(a - b for a, b in zip(counter.snapshot(), before)), out.stdout

        def ml_gates(*args):
            return measured([str(BINARY), *args])

        ml_gates("train")
        times, per = [], []
        for _ in range(n):
            t, counts, _ = ml_gates("register")
            times.append(t)
            per.append(counts)
        ml_gates("promote", str(n), "--reason", "bench")
        reads = {}
        for what in (["models", "show", "champion", "--format", "json"], ["models", "list", "--format", "json"]):
            t, counts, out = ml_gates(*what)
            reads[" ".join(what[:3] if what[1] == "show" else what[:2])] = (t, *counts)
        assert len(json.loads(out)["versions"]) == n

        # MLflow's client: the registrations in one process, then the reads.
        before = counter.snapshot()
        t, _, out = measured([sys.executable, "-c", CLIENT_REGISTER, uri, str(ws / ".ml-gates" / "churn.model"), str(n)])
        client_counts = tuple(a - b for a, b in zip(counter.snapshot(), before))
        line = next(l for l in out.splitlines() if l.startswith("TIMES "))
        client_times = [float(x) for x in line.split()[1:]]
        client_reads = {}
        for what in ("champion", "history"):
            _, counts, out = measured([sys.executable, "-c", CLIENT_READ, uri, what])
            result = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[7:])
            assert result["found"] == (1 if what == "champion" else n), result
            client_reads[what] = (result["seconds"], result["import"], *counts)

        import mlflow
        print(f"Machine: {os.cpu_count()} cores, {platform.machine()}, mlflow {mlflow.__version__} "
              f"(SQLite, --workers 1), Python {platform.python_version()}; {n} versions")
        print()
        print("| what | time | requests | of which writes | bytes from the server |")
        print("|---|---:|---:|---:|---:|")
        med = statistics.median
        print(f"| `ml-gates register` (a process, median of {n}) | {med(times) * 1000:.0f} ms | "
              f"{med([p[0] for p in per]):.0f} | {med([p[1] for p in per]):.0f} | {med([p[2] for p in per]):,.0f} |")
        print(f"| MLflow client: run, params, metrics, artifact, model version (median of {n}, in one process) | "
              f"{med(client_times) * 1000:.0f} ms | {client_counts[0] / n:.0f} | {client_counts[1] / n:.0f} | "
              f"{client_counts[2] / n:,.0f} |")
        for what, (t, requests, writes, sent) in reads.items():
            print(f"| `ml-gates {what}` with {n} versions (a process) | {t * 1000:.0f} ms | {requests} | {writes} | {sent:,} |")
        labels = {"champion": "MLflow client: the champion by alias and its run",
                  "history": f"MLflow client: every version and its run ({n})"}
        for what, (t, imported, requests, writes, sent) in client_reads.items():
            print(f"| {labels[what]} (after a {imported:.1f} s `import mlflow`) | {t * 1000:.0f} ms | "
                  f"{requests} | {writes} | {sent:,} |")
    finally:
        front.shutdown()
        benchkit.stop(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
