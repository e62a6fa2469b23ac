"""Single-row latency of one ONNX model, in process: ml-gates against ONNX Runtime's Python API
and against scikit-learn's own `predict_proba` on the pipeline it was exported from.

Usage (after `cargo build --release`; needs scikit-learn, skl2onnx, onnxruntime, pandas, pyarrow):

    python3 bench/onnx_bench.py

It trains examples/churn-sklearn/train.py's pipeline (into a temporary copy), then predicts the
evaluation set's rows one at a time, after a warm-up, three ways: ml-gates' `latency-p99` gate
(`ml-gates evaluate`, the model run by ONNX Runtime's library in process, the row taken from the
frame), `InferenceSession.run` on one row, and `Pipeline.predict_proba` on a one-row frame.
"""
import json
import os
import runpy
import shutil
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort

WARMUP = 100
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ML_GATES_BIN picks another build (BENCHMARKS.md "Building ml-gates" compares the profiles).
binary = os.environ.get("ML_GATES_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "ml-gates"
)

work = tempfile.mkdtemp()
for example in ["churn", "churn-sklearn"]:
    shutil.copytree(os.path.join(root, "examples", example), os.path.join(work, "examples", example),
                    ignore=shutil.ignore_patterns(".ml-gates", "model.onnx"))
trained = runpy.run_path(os.path.join(work, "examples", "churn-sklearn", "train.py"))
pipeline, features = trained["model"], trained["numeric"] + trained["categorical"]
model_file = os.path.join(work, "examples", "churn-sklearn", "model.onnx")

import pandas as pd  # noqa: E402

test = pd.read_parquet(os.path.join(root, "examples", "churn", "data", "test.parquet"))
x = test[features].copy()
for c in trained["numeric"]:
    x[c] = x[c].astype("float64").astype("float32")
# The evaluation set's rows, each once, as ml-gates' latency gate times them (after a warm-up).
ROWS = len(x)


def quantiles(seconds):
    ms = np.array(seconds) * 1000.0
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def timed(call):
    for i in range(WARMUP):
        call(i % ROWS)
    out = []
    for i in range(ROWS):
        start = time.perf_counter()
        call(i)
        out.append(time.perf_counter() - start)
    return quantiles(out)


session = ort.InferenceSession(model_file, providers=["CPUExecutionProvider"])
columns = {c: x[c].to_numpy().reshape(-1, 1) for c in features}
ort_python = timed(lambda i: session.run(None, {c: v[i:i + 1] for c, v in columns.items()}))
sklearn = timed(lambda i: pipeline.predict_proba(x.iloc[[i]]))

config = os.path.join(work, "examples", "churn-sklearn", "ml-gates.yaml")
with open(config) as f:
    text = f.read().replace("latency: {p99_ms: 50, rows: 200, warmup: 20}",
                            f"latency: {{p99_ms: 50, rows: {ROWS}, warmup: {WARMUP}}}")
with open(config, "w") as f:
    f.write(text)
out = subprocess.run([binary, "evaluate", "--config", config, "--format", "json"], capture_output=True, text=True)
report = json.loads(out.stdout)
check = next(c for c in report["checks"] if c["id"] == "latency-p99")
ml_gates = {"p50": check["details"]["p50_ms"], "p99": check["value"]}

print(f"single-row predictions, {ROWS} rows after {WARMUP} warm-up, onnxruntime {ort.__version__}")
print("| predictor | p50 ms | p99 ms | p99 vs ml-gates |")
print("|---|---:|---:|---:|")
for name, q in [("ml-gates (ONNX Runtime in process)", ml_gates), ("ONNX Runtime Python API", ort_python),
                ("scikit-learn predict_proba", sklearn)]:
    print(f"| {name} | {q['p50']:.4f} | {q['p99']:.4f} | {q['p99'] / ml_gates['p99']:.1f}x |")
shutil.rmtree(work)
