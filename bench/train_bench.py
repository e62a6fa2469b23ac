"""Benchmark: ml-gates' built-in models against scikit-learn's equivalents, same data, same machine.

Usage (from the repository root, after `cargo build --release`):
    python3 bench/train_bench.py [ROWS ...]            # default: 100000 1000000
    python3 bench/train_bench.py --models ridge,svr 100000
Needs numpy, pandas, pyarrow and scikit-learn. Data is generated into bench/data/ (not committed):
a churn classification (age, monthly_spend, tenure_months, plan; 80% train, 20% test) and a
house-price regression of the same size.

For each model, once:
- fit: ml-gates `train` as a whole process (reading the parquet, fitting the feature pipeline and the
  model, writing the artifact); scikit-learn timed in-process from `read_parquet` to the end of
  `fit` (the same work minus interpreter start-up and imports, which favours scikit-learn);
- test metrics: accuracy and ROC AUC, or MAE and R², on the same test rows;
- single-row prediction p99 over 1000 rows after 100 warm-up rows: ml-gates' latency gate (the
  pipeline and the model, in process) against scikit-learn's `Pipeline.predict` on a one-row
  DataFrame.
A run that takes longer than --timeout seconds (default 600) is stopped and reported as such.
Prints a Markdown table for BENCHMARKS.md.
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
BINARY = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "ml-gates"

# name: (task, ml-gates params, scikit-learn estimator expression)
MODELS = {
    "logistic_regression": ("classification", {}, "LogisticRegression()"),
    "decision_tree": ("classification", {"max_depth": 10}, "DecisionTreeClassifier(max_depth=10)"),
    "random_forest": ("classification", {"n_trees": 20, "max_depth": 10},
                      "RandomForestClassifier(n_estimators=20, max_depth=10, random_state=42)"),
    "gaussian_nb": ("classification", {}, "GaussianNB()"),
    "linear_svm": ("classification", {}, "LinearSVC()"),
    "linear_regression": ("regression", {}, "LinearRegression()"),
    "ridge": ("regression", {"alpha": 1.0}, "ElasticNet(alpha=1.0, l1_ratio=0.0)"),
    "lasso": ("regression", {"alpha": 1.0}, "Lasso(alpha=1.0)"),
    "elastic_net": ("regression", {"alpha": 1.0, "l1_ratio": 0.5}, "ElasticNet(alpha=1.0, l1_ratio=0.5)"),
    "svr": ("regression", {}, "LinearSVR(epsilon=0.1, C=1.0)"),
}

SKLEARN = r'''
import json, sys, time, warnings
import numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.linear_model import LogisticRegression, LinearRegression, Lasso, ElasticNet
from sklearn.tree import DecisionTreeClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC, LinearSVR
from sklearn import metrics
warnings.simplefilter("ignore")
train_path, test_path, target, task, estimator = sys.argv[1:6]
start = time.perf_counter()
train = pd.read_parquet(train_path)
features = [c for c in train.columns if c != target]
numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c])]
text = [c for c in features if c not in numeric]
model = Pipeline([
    ("prepare", ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("text", OneHotEncoder(handle_unknown="ignore"), text),
    ])),
    ("model", eval(estimator)),
])
model.fit(train[features], train[target])
fit_seconds = time.perf_counter() - start
test = pd.read_parquet(test_path)
x, y = test[features], test[target]
out = {"fit_seconds": fit_seconds}
if task == "classification":
    out["accuracy"] = metrics.accuracy_score(y, model.predict(x))
    score = model.decision_function(x) if not hasattr(model, "predict_proba") else model.predict_proba(x)[:, 1]
    out["roc_auc"] = metrics.roc_auc_score(y, score)
else:
    p = model.predict(x)
    out["mae"], out["r2"] = metrics.mean_absolute_error(y, p), metrics.r2_score(y, p)
for i in range(100):
    model.predict(x.iloc[[i]])
times = []
for i in range(1000):
    row = x.iloc[[i % len(x)]]
    t = time.perf_counter()
    model.predict(row)
    times.append(time.perf_counter() - t)
out["p99_ms"] = float(np.percentile(times, 99) * 1000)
print(json.dumps(out))
'''


def generate(rows, folder):
    """A churn classification and a house-price regression with real signal, 80/20 split."""
    if (folder / "churn_test.parquet").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(rows + 1)
    n = rows
    age = np.clip(rng.normal(44, 14, n).round(), 18, 100)
    spend = np.clip(rng.gamma(2.0, 120.0, n), 0, 10000).round(2)
    tenure = rng.integers(0, 121, n).astype(float)
    plan = rng.choice(["basic", "pro", "enterprise"], n, p=[0.55, 0.3, 0.15])
    logit = -1.2 + 0.004 * (spend - 240) - 0.03 * (tenure - 60) - 0.9 * (plan == "enterprise") + 0.01 * (age - 44)
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    churn_frame = pd.DataFrame({"age": age, "monthly_spend": spend, "tenure_months": tenure, "plan": plan, "churn": churn})
    sqft = np.clip(rng.normal(1900, 550, n), 500, 6000).round()
    bedrooms = np.clip((sqft / 600 + rng.normal(0, 0.8, n)).round(), 1, 8)
    house_age = rng.integers(0, 100, n).astype(float)
    hood = rng.choice(["riverside", "old_town", "hillcrest", "airport"], n, p=[0.3, 0.25, 0.25, 0.2])
    premium = pd.Series(hood).map({"riverside": 60000, "old_town": 35000, "hillcrest": 85000, "airport": -20000}).to_numpy()
    price = (40000 + 140 * sqft + 9000 * bedrooms - 600 * house_age + premium + rng.normal(0, 15000, n)).round(-2)
    house_frame = pd.DataFrame({"sqft": sqft, "bedrooms": bedrooms, "age_years": house_age, "neighborhood": hood, "price": price})
    cut = int(n * 0.8)
    for name, frame in [("churn", churn_frame), ("houses", house_frame)]:
        frame.iloc[:cut].to_parquet(folder / f"{name}_train.parquet", index=False)
        frame.iloc[cut:].to_parquet(folder / f"{name}_test.parquet", index=False)


def run(cmd, timeout):
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, proc.stdout


def bench_ml_gates(name, task, params, folder, timeout):
    prefix = "churn" if task == "classification" else "houses"
    target = "churn" if task == "classification" else "price"
    metrics = "{accuracy: {min: 0}, roc_auc: {min: 0}}" if task == "classification" else "{mae: {min: 0}, r2: {max: 1}}"
    config = folder / f"ml-gates-{name}.yaml"
    config.write_text(
        f"version: 1\nname: {name}\ndata:\n  train: {prefix}_train.parquet\n  test: {prefix}_test.parquet\n"
        f"  target: {target}\n  task: {task}\ntrain:\n  model: {name}\n  params: {json.dumps(params)}\n"
        f"evaluate:\n  metrics: {metrics}\n  latency: {{p99_ms: 1000, rows: 1000, warmup: 100}}\n"
    )
    model = folder / f"{name}.model"
    fit, _ = run([str(BINARY), "train", "--config", str(config), "--model", str(model)], timeout)
    if fit is None:
        return {"fit_seconds": None}
    _, out = run([str(BINARY), "evaluate", "--config", str(config), "--model", str(model), "--format", "json"], timeout)
    report = json.loads(out)
    latency = next(c for c in report["checks"] if c["id"] == "latency-p99")
    return {"fit_seconds": fit, **report["metrics"], "p99_ms": latency["details"]["p99_ms"]}


def bench_sklearn(name, task, estimator, folder, timeout):
    prefix = "churn" if task == "classification" else "houses"
    target = "churn" if task == "classification" else "price"
    _, out = run([sys.executable, "-c", SKLEARN, str(folder / f"{prefix}_train.parquet"),
                  str(folder / f"{prefix}_test.parquet"), target, task, estimator], timeout)
    return json.loads(out) if out else {"fit_seconds": None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} not found: run `cargo build --release` first (or set CARGO_TARGET_DIR)")
    import sklearn

    fmt = lambda v, unit="": "—" if v is None else (f"{v:.3g}{unit}" if unit else f"{v:.4f}")
    lines = []
    for rows in args.rows:
        folder = DATA / f"train_{rows}"
        generate(rows, folder)
        for name in args.models.split(","):
            task, params, estimator = MODELS[name]
            ours = bench_ml_gates(name, task, params, folder, args.timeout)
            theirs = bench_sklearn(name, task, estimator, folder, args.timeout)
            a, b = ("accuracy", "roc_auc") if task == "classification" else ("mae", "r2")
            speed = (f"{theirs['fit_seconds'] / ours['fit_seconds']:.2f}x"
                     if ours["fit_seconds"] and theirs["fit_seconds"] else "—")
            line = (f"| {rows:,} | `{name}` | `{estimator}` | {fmt(ours['fit_seconds'], ' s')} | {fmt(theirs['fit_seconds'], ' s')} | {speed} "
                    f"| {a} {fmt(ours.get(a))} / {fmt(theirs.get(a))} | {b} {fmt(ours.get(b))} / {fmt(theirs.get(b))} "
                    f"| {fmt(ours.get('p99_ms'), ' ms')} | {fmt(theirs.get('p99_ms'), ' ms')} |")
            print(line, file=sys.stderr)
            lines.append(line)
    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
          f"scikit-learn {sklearn.__version__}, pandas {pd.__version__}; timeout {args.timeout:.0f} s per run\n")
    print("| rows | ml-gates model | scikit-learn | ml-gates fit | scikit-learn fit | fit ratio (sklearn/ml-gates) "
          "| test metric (ml-gates / sklearn) | test metric (ml-gates / sklearn) | ml-gates p99 1 row | scikit-learn p99 1 row |")
    print("|---:|---|---|---:|---:|---:|---|---|---:|---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
