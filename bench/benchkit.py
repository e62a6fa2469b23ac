"""What the registry benchmarks share: the binary under test, a free loopback port, and a workspace
with the churn example's data and a config whose `registry:` section is the benchmark's."""
import os
import pathlib
import shutil
import socket

ROOT = pathlib.Path(__file__).resolve().parent.parent


def binary():
    """ML_GATES_BIN, else the release build in CARGO_TARGET_DIR (or ./target)."""
    return pathlib.Path(
        os.environ.get("ML_GATES_BIN")
        or pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "ml-gates"
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """version: 1
name: churn
data:
  train: data/train.parquet
  test: data/test.parquet
  target: churn
  task: classification
  id: customer_id
  timestamp: event_time
train:
  model: logistic_regression
  params: {max_iterations: 200}
  preprocess: {scale: standard, impute: median, one_hot: [plan]}
evaluate:
  metrics: {accuracy: {min: 0.7}}
"""


def workspace(path, registry):
    """The churn example's data in `path`, and ml-gates.yaml with `registry` (one YAML line under
    `registry:`, such as `mlflow: {uri: ..., experiment: bench}`)."""
    path = pathlib.Path(path)
    (path / "data").mkdir(parents=True, exist_ok=True)
    for f in ["train.parquet", "test.parquet"]:
        shutil.copy(ROOT / "examples" / "churn" / "data" / f, path / "data" / f)
    (path / "ml-gates.yaml").write_text(CONFIG + "registry:\n  " + registry + "\n")
    return path
