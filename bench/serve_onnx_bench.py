"""`ml-gates serve` against `mlflow models serve` of the same registered ONNX version.

examples/churn-sklearn/train.py fits the scikit-learn pipeline (imputation, scaling, one-hot plan,
logistic regression) and exports model.onnx with skl2onnx. `ml-gates run` gates it and registers
it in a real MLflow server (started here on loopback, sqlite and a local artifact store) as
version 1 with the alias `challenger`: an MLflow model with the onnx and python_function flavors
and a tensor signature. Then both servers serve that one version from MLflow:

- `ml-gates serve --version challenger` (ONNX Runtime in process);
- `mlflow models serve -m models:/churn-sklearn@challenger --env-manager local --workers 2`
  (MLflow's onnx flavor, ONNX Runtime under uvicorn; two workers, its best on two cores).

Both get the same recorded requests, one evaluation row each in MLflow's `inputs` format with
each column an [1, 1] tensor (what MLflow's onnx flavor needs for the graph's per-column inputs;
a missing age is a bare NaN token, as MLflow's Python client writes it), from `ml-gates loadtest`
at fixed rates: an open model, latency from when each request was due. Before timing, every
evaluation row is sent to both in one request and the answers must be equal.

    python3 bench/serve_onnx_bench.py [--seconds 10] [--ml-gates-rates 1000,4000,8000,16000] [--mlflow-rates 200,800,1200,1400,1600]

Needs the release binary, mlflow, onnx, onnxruntime, skl2onnx, scikit-learn, pandas, pyarrow.
"""

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import BIN, ROOT, free_port, measure, wait_ready  # noqa: E402

FEATURES = ["age", "monthly_spend", "tenure_months", "plan"]


def rates(text):
    return [int(r) for r in text.split(",")]


def post(url, body):
    request = urllib.request.Request(url + "/invocations", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{url} answers {e.code}: {e.read().decode()[:500]}") from e


def inputs_body(rows):
    """MLflow's `inputs` format, each column an [n, 1] tensor; NaN for a missing number."""
    columns = {}
    for name in FEATURES:
        values = []
        for v in rows[name]:
            if isinstance(v, str):
                values.append([v])
            elif pd.isna(v):
                values.append(["NaN"])  # replaced by the bare token below
            else:
                values.append([float(v)])
        columns[name] = values
    return json.dumps({"inputs": columns}).replace('["NaN"]', "[NaN]")


def mlflow_server(work):
    port = free_port()
    log = open(os.path.join(work, "mlflow-server.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{work}/mlflow.db", "--artifacts-destination", f"{work}/artifacts"],
        stdout=log, stderr=log, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    start = time.time()
    while time.time() - start < 120:
        try:
            with urllib.request.urlopen(uri + "/health", timeout=1) as r:
                if r.status == 200:
                    return proc, uri
        except OSError:
            time.sleep(0.25)
    raise SystemExit("the MLflow server did not start")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--ml-gates-rates", type=rates, default=[1000, 4000, 8000, 16000])
    parser.add_argument("--mlflow-rates", type=rates, default=[200, 800, 1200, 1400, 1600])
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="serve-onnx-bench-")
    env = dict(os.environ, ML_GATES_OUTPUT=work)
    subprocess.run([sys.executable, os.path.join(ROOT, "examples/churn-sklearn/train.py")], check=True, env=env,
                   capture_output=True)
    tracking, uri = mlflow_server(work)
    try:
        # The example's config up to its staging section, its model from the work folder, its
        # registry the MLflow server.
        text = open(os.path.join(ROOT, "examples/churn-sklearn/ml-gates.yaml")).read()
        gates = text.split("\nstaging:")[0] + "\nevaluate:" + text.split("\nevaluate:")[1]
        gates = gates.replace("../churn/data/", os.path.join(ROOT, "examples/churn/data") + "/")
        gates = gates.replace("model_file: model.onnx", f"model_file: {work}/model.onnx")
        config = os.path.join(work, "ml-gates.yaml")
        with open(config, "w") as f:
            f.write(gates + f"registry:\n  mlflow: {{uri: \"{uri}\", experiment: serve-onnx-bench}}\n")
        run = subprocess.run([BIN, "run", "--config", config, "--format", "json"], capture_output=True, text=True)
        report = json.loads(run.stdout or "{}")
        if run.returncode != 0 or report.get("model_version") != 1:
            raise SystemExit(f"ml-gates run did not register version 1:\n{run.stderr}")

        test = pd.read_parquet(os.path.join(ROOT, "examples/churn/data/test.parquet"))
        requests = os.path.join(work, "requests.jsonl")
        with open(requests, "w") as f:
            for i in range(len(test)):
                f.write(inputs_body(test.iloc[i:i + 1]) + "\n")
        os.environ["MLFLOW_TRACKING_URI"] = uri  # for mlflow models serve, here and in measure()
        servers = {
            "ml-gates serve": lambda port: [BIN, "serve", "--config", config, "--version", "challenger",
                                            "--listen", f"127.0.0.1:{port}"],
            "mlflow models serve (2 workers)": lambda port: [
                sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/churn-sklearn@challenger",
                "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        }

        # The same answers on every evaluation row, in one request each.
        everything = inputs_body(test)
        answers = {}
        for name, command in servers.items():
            port = free_port()
            proc = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                wait_ready(f"http://127.0.0.1:{port}")
                answers[name] = post(f"http://127.0.0.1:{port}", everything)["predictions"]
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        ours, theirs = answers.values()
        labels = [int(x) for x in ours]
        mlflow_labels = [int(x) for x in theirs["label"]] if isinstance(theirs, dict) else theirs
        if labels != mlflow_labels:
            raise SystemExit(f"the two servers answer differently:\n{ours[:10]}\n{theirs}")
        print(f"both servers give the same {len(labels)} labels for the evaluation set")

        results = measure({"ml-gates serve": servers["ml-gates serve"]}, args.ml_gates_rates, args.seconds,
                          requests, check=True)
        results.update(measure({k: v for k, v in servers.items() if k != "ml-gates serve"}, args.mlflow_rates,
                               args.seconds, requests, check=True))
    finally:
        os.killpg(tracking.pid, signal.SIGTERM)
        tracking.wait(timeout=30)

    print(f"{len(test)} recorded requests of 1 row; {args.seconds} s per rate; 2 cores shared with the load generator\n")
    print("| server | rate asked | answered/s | errors | statuses | p50 ms | p90 ms | p99 ms | max ms | peak MiB |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for name, (startup, idle, rows) in results.items():
        for rps, o, rss, peak in rows:
            l = o["latency_ms"] or {}
            statuses = ", ".join(f"{k}: {v}" for k, v in o["statuses"].items())
            print(f"| {name} | {rps} | {o['achieved_rps']} | {o['error_rate'] * 100:.1f} % | {statuses} | {l.get('p50')} | {l.get('p90')} | {l.get('p99')} | {l.get('max')} | {peak:.0f} |")
    print()
    for name, (startup, idle, rows) in results.items():
        kept = [(rps, (o["latency_ms"] or {}).get("p99", math.inf)) for rps, o, _, _ in rows if o["error_rate"] < 0.01]
        best = max(kept) if kept else None
        print(f"{name}: ready in {startup:.2f} s, {idle:.0f} MiB idle; highest rate with under 1 % errors: "
              f"{f'{best[0]}/s at p99 {best[1]} ms' if best else 'none'}")


if __name__ == "__main__":
    main()
