"""`ml-gates serve` of an ONNX model against `mlflow models serve` of the same ONNX file.

examples/churn-sklearn/train.py fits the scikit-learn pipeline (imputation, scaling, one-hot plan,
logistic regression) and exports model.onnx with skl2onnx. ml-gates serves that file in process
through ONNX Runtime (`ml-gates serve --model model.onnx`). MLflow's onnx flavor cannot serve
this graph (it feeds each DataFrame column as a 1-D array, and a pandas 3 string column as an
Arrow array; the script shows its error), so MLflow serves the same pipeline as users otherwise
would: saved with `mlflow.sklearn`, behind `mlflow models serve` (uvicorn, 2 workers). Both get
the same recorded requests (one evaluation row each, MLflow's dataframe_split) from
`ml-gates loadtest` at fixed rates, as bench/serve_bench.py does.

    python3 bench/serve_onnx_bench.py [seconds per rate] [rates...]

Needs the release binary, mlflow, onnx, onnxruntime, skl2onnx, scikit-learn, pandas, pyarrow.
"""

import json
import os
import subprocess
import sys
import tempfile

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import BIN, ROOT, measure  # noqa: E402

FEATURES = ["age", "monthly_spend", "tenure_months", "plan"]


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rates = [int(r) for r in sys.argv[2:]] or [100, 200, 400, 1000, 2000]
    work = tempfile.mkdtemp(prefix="serve-onnx-bench-")
    env = dict(os.environ, ML_GATES_OUTPUT=work)
    subprocess.run([sys.executable, os.path.join(ROOT, "examples/churn-sklearn/train.py")], check=True, env=env,
                   capture_output=True)
    model = os.path.join(work, "model.onnx")
    config = os.path.join(work, "ml-gates.yaml")
    text = open(os.path.join(ROOT, "examples/churn-sklearn/ml-gates.yaml")).read()
    with open(config, "w") as f:
        f.write(text.replace("../churn/data/", os.path.join(ROOT, "examples/churn/data") + "/"))

    import mlflow.onnx
    import mlflow.pyfunc
    import mlflow.sklearn
    import onnx
    test = pd.read_parquet(os.path.join(ROOT, "examples/churn/data/test.parquet"))
    onnx_dir = os.path.join(work, "mlflow-onnx")
    mlflow.onnx.save_model(onnx.load(model), onnx_dir)
    try:
        mlflow.pyfunc.load_model(onnx_dir).predict(test[FEATURES].head(2))
        print("mlflow's onnx flavor answers this graph")
    except Exception as e:  # noqa: BLE001 - the point is to show what it says
        print(f"mlflow's onnx flavor cannot answer this graph: {type(e).__name__}: {str(e).splitlines()[0]}")

    # The same pipeline as examples/churn-sklearn/train.py, as MLflow users save it.
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    train = pd.read_parquet(os.path.join(ROOT, "examples/churn/data/train.parquet"))
    numeric = ["age", "monthly_spend", "tenure_months"]
    for frame in (train, test):
        frame[numeric] = frame[numeric].astype("float64")
    pipe = Pipeline([
        ("prepare", ColumnTransformer([
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ])),
        ("classify", LogisticRegression(max_iter=500)),
    ]).fit(train[FEATURES], train["churn"])
    mlflow_dir = os.path.join(work, "mlflow-sklearn")
    mlflow.sklearn.save_model(pipe, mlflow_dir, input_example=test[FEATURES].head(2),
                              serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)

    requests = os.path.join(work, "requests.jsonl")
    with open(requests, "w") as f:
        for row in test[FEATURES].itertuples(index=False):
            values = [None if pd.isna(v) else (float(v) if not isinstance(v, str) else v) for v in row]
            f.write(json.dumps({"dataframe_split": {"columns": FEATURES, "data": [values]}}) + "\n")

    servers = {
        "ml-gates serve (ONNX)": lambda port: [BIN, "serve", "--model", model, "--config", config,
                                               "--listen", f"127.0.0.1:{port}"],
        "mlflow models serve (sklearn flavor, 2 workers)": lambda port: [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", mlflow_dir, "--env-manager", "local",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
    }
    results = measure(servers, rates, seconds, requests, check=True)

    print(f"{len(open(requests).readlines())} recorded requests of 1 row; {seconds} s per rate; 2 cores shared with the load generator\n")
    print("| server | rate asked | answered/s | errors | p50 ms | p90 ms | p99 ms | max ms | peak MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (startup, idle, rows) in results.items():
        for rps, o, rss, peak in rows:
            l = o["latency_ms"] or {}
            print(f"| {name} | {rps} | {o['achieved_rps']} | {o['error_rate'] * 100:.1f} % | {l.get('p50')} | {l.get('p90')} | {l.get('p99')} | {l.get('max')} | {peak:.0f} |")
    print()
    for name, (startup, idle, rows) in results.items():
        kept = [rps for rps, o, _, _ in rows if o["error_rate"] < 0.01]
        print(f"{name}: ready in {startup:.2f} s, {idle:.0f} MiB idle; highest rate with under 1 % errors: {max(kept) if kept else 'none'}/s")


if __name__ == "__main__":
    main()
