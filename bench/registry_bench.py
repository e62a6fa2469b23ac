"""Benchmark: registering a model in MLflow with `ml-gates register` against MLflow's own Python
client doing the same work, against the same tracking server.

Usage (from the repository root, after `cargo build --release`; needs mlflow, as in
requirements-test.txt):
    python3 bench/registry_bench.py [N]        # default N = 10 registrations each

What one registration is, on both sides: an experiment looked up, a run created with the model's
params, its 15 metrics and the lineage as tags, the model file uploaded through the server's
artifact proxy, a model version created from `runs:/<run_id>/model`, and the `challenger` alias
set. The glue users write today is a Python script in a CI step, so the MLflow side is measured
twice: as a process per registration (`python register.py`, interpreter start-up and `import
mlflow` included, as a CI step pays them) and in process (a loop after the import, the best case
for the client). ml-gates is a process per registration (`ml-gates register`, which also reads the
config, fingerprints the data files and verifies the model). The local folder registry is timed
too, for reference. Peak memory (max RSS) of the processes comes from /usr/bin/time.
"""
import json
import os
import pathlib
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import benchkit

ROOT = benchkit.ROOT
BINARY = benchkit.binary()

CONFIG = benchkit.CONFIG + 'registry:\n  mlflow: {uri: "URI", experiment: bench-mlgates}\n'

MLFLOW_SCRIPT = r'''
import json, sys, time
t0 = time.perf_counter()
import mlflow, mlflow.exceptions
from mlflow import MlflowClient
imported = time.perf_counter() - t0
uri, model_file, report_file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
report = json.load(open(report_file))
mlflow.set_tracking_uri(uri)
client = MlflowClient()
times = []
for _ in range(n):
    t = time.perf_counter()
    mlflow.set_experiment("bench-python")
    with mlflow.start_run(run_name="python churn") as run:
        mlflow.log_params({"max_iterations": 200})
        mlflow.log_metrics(report["metrics"])
        mlflow.set_tags({"git_sha": "0" * 40, "config_hash": "c" * 64, "train_data": "a" * 64, "test_data": "b" * 64,
                         "verdict": report["verdict"]})
        mlflow.log_artifact(model_file, artifact_path="model")
    try:
        client.create_registered_model("churn-python")
    except mlflow.exceptions.MlflowException:
        pass  # it exists
    # MLflow 3's mlflow.register_model wants a LoggedModel; a plain model file goes through the client.
    version = client.create_model_version("churn-python", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("churn-python", "challenger", version.version)
    times.append(time.perf_counter() - t)
print(json.dumps({"import": imported, "times": times}))
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, **kw):
    """Wall time and max RSS (MiB) of one process."""
    t = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"{cmd} failed:\n{out.stdout}\n{out.stderr}")
    rss = int(out.stderr.strip().splitlines()[-1]) / 1024
    return wall, rss, out.stdout


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if not BINARY.exists():
        sys.exit(f"{BINARY} not found: run `cargo build --release` first")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="registry-bench-"))
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db", "--artifacts-destination", str(tmp / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(480):
            try:
                if urllib.request.urlopen(f"{uri}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.25)
        ws = tmp / "ws"
        (ws / "data").mkdir(parents=True)
        for f in ["train.parquet", "test.parquet"]:
            shutil.copy(ROOT / "examples/churn/data" / f, ws / "data" / f)
        (ws / "ml-gates.yaml").write_text(CONFIG.replace("URI", uri))
        local = CONFIG.replace(f'  mlflow: {{uri: "URI", experiment: bench-mlgates}}\n', "  path: local-registry\n")
        (ws / "local.yaml").write_text(local)
        trained = subprocess.run([str(BINARY), "train"], cwd=ws, capture_output=True, text=True)
        if trained.returncode != 0:
            sys.exit(f"ml-gates train failed:\n{trained.stderr}")
        report = subprocess.run([str(BINARY), "evaluate", "--format", "json"], cwd=ws, capture_output=True, text=True)
        (ws / "report.json").write_text(report.stdout)
        model = ws / ".ml-gates/churn.model"

        def run_many(args):
            walls, rss = [], []
            for _ in range(n):
                w, r, _ = timed([str(BINARY)] + args, cwd=ws)
                walls.append(w)
                rss.append(r)
            return statistics.median(walls), max(rss)

        script = tmp / "register.py"
        script.write_text(MLFLOW_SCRIPT)
        # Warm-up, not timed: the server's first requests (migrations, its job consumers starting)
        # are slow whoever sends them.
        timed([str(BINARY), "register", "--report", "report.json"], cwd=ws)
        timed([sys.executable, str(script), uri, str(model), str(ws / "report.json"), "1"])
        # The server's background job consumers keep both cores busy for a while after start-up.
        time.sleep(30)
        # Interleaved, so both sides meet the server in the same state.
        ours, theirs = ([], []), ([], [])
        for _ in range(n):
            w, r, _ = timed([str(BINARY), "register", "--report", "report.json"], cwd=ws)
            ours[0].append(w)
            ours[1].append(r)
            w, r, _ = timed([sys.executable, str(script), uri, str(model), str(ws / "report.json"), "1"])
            theirs[0].append(w)
            theirs[1].append(r)
        mlgates_mlflow = (statistics.median(ours[0]), max(ours[1]))
        python_process = (statistics.median(theirs[0]), max(theirs[1]))
        mlgates_local = run_many(["register", "--config", "local.yaml", "--report", "report.json"])
        _, loop_rss, out = timed([sys.executable, str(script), uri, str(model), str(ws / "report.json"), str(n)])
        loop = json.loads(out.strip().splitlines()[-1])  # mlflow prints run links before it
        python_loop = statistics.median(loop["times"])
        # Check both sides registered what they claim, through the REST API.
        def count(name):
            with urllib.request.urlopen(f"{uri}/api/2.0/mlflow/model-versions/search?filter=name%3D%27{name}%27&max_results=1000") as r:
                return len(json.load(r).get("model_versions", []))
        assert count("churn") == n + 1, count("churn")
        assert count("churn-python") == 2 * n + 1, count("churn-python")
    finally:
        os.killpg(server.pid, 15)
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    import mlflow
    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
          f"mlflow {mlflow.__version__}; {n} registrations each; medians\n")
    print("| what | per registration | peak memory | ratio (MLflow client / ml-gates) |")
    print("|---|---:|---:|---:|")
    base = mlgates_mlflow[0]
    print(f"| `ml-gates register` → MLflow (a process each) | {base * 1000:.0f} ms | {mlgates_mlflow[1]:.0f} MiB | 1x |")
    print(f"| `python register.py` with the MLflow client (a process each) | {python_process[0] * 1000:.0f} ms | "
          f"{python_process[1]:.0f} MiB | {python_process[0] / base:.1f}x |")
    print(f"| the MLflow client in a loop, after `import mlflow` ({loop['import'] * 1000:.0f} ms once) | "
          f"{python_loop * 1000:.0f} ms | {loop_rss:.0f} MiB | {python_loop / base:.1f}x |")
    print(f"| `ml-gates register` → the local folder (a process each) | {mlgates_local[0] * 1000:.0f} ms | "
          f"{mlgates_local[1]:.0f} MiB | - |")


if __name__ == "__main__":
    main()
