"""`ml-gates serve` against `mlflow models serve` on an equivalent model and the same requests.

The churn example's model (median imputation, standard scaling, one-hot plan, logistic
regression) is trained by ml-gates and by scikit-learn (the same pipeline as a scikit-learn
Pipeline, saved with mlflow.sklearn). Both servers get the same recorded requests (one evaluation
row each, MLflow's dataframe_split) from `ml-gates loadtest` at fixed rates: an open model whose
latency counts from when each request was due. Memory is the server's whole process tree (RSS
now and peak). The load generator runs on the same 2-core machine as the server.

    python3 bench/serve_bench.py [seconds per rate] [rates...]

Needs the release binary (cargo build --release), mlflow, scikit-learn, pandas, pyarrow.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("ML_GATES_BIN") or os.path.join(TARGET, "release", "ml-gates")
FEATURES = ["age", "monthly_spend", "tenure_months", "plan"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, seconds=120):
    start = time.time()
    while time.time() - start < seconds:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1) as r:
                if r.status == 200:
                    return time.time() - start
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} never became ready")


def tree_memory(pid):
    """RSS and peak RSS (MiB) of a process and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except OSError:
                pass
    rss = hwm = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, hwm / 1024


def loadtest(url, rps, seconds, requests):
    out = subprocess.run(
        [BIN, "loadtest", "--target", url, "--rps", str(rps), "--duration", f"{seconds}s",
         "--requests", requests, "--format", "json"],
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measure(servers, rates, seconds, requests, check=False):
    """Start each server (name → command for a port), wait until it is ready, warm it up, then
    load-test it at each rate: {name: (startup s, idle MiB, [(rate, outcome, rss, peak)])}.
    With `check`, a server that fails the first requests stops the benchmark."""
    results = {}
    for name, command in servers.items():
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            startup = wait_ready(url)
            idle_rss, _ = tree_memory(proc.pid)
            if check:
                first = loadtest(url, 20, 1, requests)
                if first["error_rate"] > 0:
                    raise SystemExit(f"{name} does not answer the requests: {first['statuses']}")
            loadtest(url, 50, 2, requests)
            rows = []
            for rps in rates:
                outcome = loadtest(url, rps, seconds, requests)
                rss, peak = tree_memory(proc.pid)
                rows.append((rps, outcome, rss, peak))
            results[name] = (startup, idle_rss, rows)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            time.sleep(2)
    return results


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rates = [int(r) for r in sys.argv[2:]] or [100, 500, 1000, 2000]
    work = tempfile.mkdtemp(prefix="serve-bench-")
    # The example's data and training sections (its later stages are not needed here).
    example = open(os.path.join(ROOT, "examples/churn/ml-gates.yaml")).read()
    example = example.split("\nevaluate:")[0].replace("data/", os.path.join(ROOT, "examples/churn/data") + "/")
    config = os.path.join(work, "ml-gates.yaml")
    with open(config, "w") as f:
        f.write(example + "\n")
    model = os.path.join(work, "churn.model")
    subprocess.run([BIN, "train", "--config", config, "--model", model], check=True, capture_output=True)

    train = pd.read_parquet(os.path.join(ROOT, "examples/churn/data/train.parquet"))
    test = pd.read_parquet(os.path.join(ROOT, "examples/churn/data/test.parquet"))
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    import mlflow.sklearn
    numeric = ["age", "monthly_spend", "tenure_months"]
    # Numbers as floats, so rows with missing values pass MLflow's schema enforcement.
    for frame in (train, test):
        frame[numeric] = frame[numeric].astype("float64")
    pipe = Pipeline([
        ("features", ColumnTransformer([
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ])),
        ("model", LogisticRegression(max_iter=200)),
    ]).fit(train[FEATURES], train["churn"])
    sk_dir = os.path.join(work, "sklearn-model")
    mlflow.sklearn.save_model(pipe, sk_dir, input_example=test[FEATURES].head(2),
                              serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)

    requests = os.path.join(work, "requests.jsonl")
    with open(requests, "w") as f:
        for row in test[FEATURES].itertuples(index=False):
            values = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row]
            f.write(json.dumps({"dataframe_split": {"columns": FEATURES, "data": [values]}}) + "\n")

    servers = {
        "ml-gates serve": lambda port: [BIN, "serve", "--model", model, "--listen", f"127.0.0.1:{port}"],
        "mlflow models serve (2 workers)": lambda port: [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", sk_dir, "--env-manager", "local",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
    }
    results = measure(servers, rates, seconds, requests)

    print(f"{len(open(requests).readlines())} recorded requests of 1 row; {seconds} s per rate; 2 cores shared with the load generator\n")
    print("| server | rate asked | answered/s | errors | statuses | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | RSS MiB | peak MiB |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (startup, idle, rows) in results.items():
        for rps, o, rss, peak in rows:
            l = o["latency_ms"] or {}
            statuses = ", ".join(f"{k}: {v}" for k, v in o["statuses"].items())
            print(f"| {name} | {rps} | {o['achieved_rps']} | {o['error_rate'] * 100:.1f} % | {statuses} | {l.get('p50')} | {l.get('p90')} | {l.get('p99')} | {l.get('p999')} | {l.get('max')} | {rss:.0f} | {peak:.0f} |")
    print()
    for name, (startup, idle, rows) in results.items():
        print(f"{name}: ready in {startup:.2f} s, {idle:.0f} MiB idle")
    ours, theirs = list(results.values())
    print()
    # Side by side only where both kept up (under 1 % errors): past that, a p99 measures a queue.
    for (rps, a, _, pa), (_, b, _, pb) in zip(ours[2], theirs[2]):
        la, lb = a["latency_ms"] or {}, b["latency_ms"] or {}
        if a["error_rate"] < 0.01 and b["error_rate"] < 0.01:
            print(f"at {rps}/s: p99 {lb['p99'] / la['p99']:.1f}x lower, peak memory {pb / pa:.1f}x lower")
    for name, (_, _, rows) in results.items():
        kept = [rps for rps, o, _, _ in rows if o["error_rate"] < 0.01]
        print(f"{name}: highest rate tried with under 1 % errors: {max(kept) if kept else 'none'} per second")


if __name__ == "__main__":
    main()
