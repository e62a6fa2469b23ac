"""Benchmark: drift pushed down to Spark (`data.engine: {spark: …}`) against the same drift check
run on this machine by polars, on the same two parquet files; time, and what crosses the wire
between ml-gates and the server. Both runs must report the same checks and values (to 1e-9).

Usage (from the repository root, after `cargo build --release`):
    SPARK_HOME=/path/to/pyspark python3 bench/spark_drift_bench.py [ROWS]
SPARK_HOME is pyspark's folder (bench/spark_bench.py starts the server from it: local[2], 2 GiB of
driver memory, on loopback). The training data is bench/validate_bench.py's seeded generator with
ROWS rows, the reference the same generator with ROWS / 2 rows (another seed: the same
distributions, other values). Columns: `age` (83 values), `monthly_spend` (about 120,000 distinct
values in both at 10M rows: its KS statistic and Wasserstein distance are computed over every
distinct value), `tenure_months` (121 values), `churn` (2 values: the count tests), `plan`
and `gender` (categorical). Each run once after a warm-up run of its own.
"""
import json
import os
import pathlib
import platform
import signal
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from spark_bench import start_server  # noqa: E402
from storage_bench import Relay  # noqa: E402
from validate_bench import BINARY, DATA, generate, run  # noqa: E402

COLUMNS = ["age", "monthly_spend", "tenure_months", "churn", "plan", "gender"]


def config(train, reference, engine):
    return "\n".join([
        "version: 1", "name: bench", "data:", f"  train: {train}", "  target: churn",
        "  task: classification", engine,
        "validate:", f"  drift: {{reference: {reference}, columns: [{', '.join(COLUMNS)}]}}", ""])


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def checks(out):
    return [c for c in json.loads(out)["checks"] if c["id"].endswith("drift")]


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    home = os.environ["SPARK_HOME"]
    DATA.mkdir(parents=True, exist_ok=True)
    train, reference = DATA / f"churn_{rows}_dup.parquet", DATA / f"churn_{rows // 2}_dup.parquet"
    generate(rows, train)
    generate(rows // 2, reference)
    with tempfile.TemporaryDirectory() as tmp:
        server, port = start_server(home, tmp)
        try:
            relay = Relay(port)
            url = f"sc://127.0.0.1:{relay.port}"
            results = {}
            for name, engine in [("local", "  # on this machine"), ("spark", f"  engine: {{spark: '{url}'}}")]:
                path = pathlib.Path(tmp) / f"{name}.yaml"
                path.write_text(config(train.resolve(), reference.resolve(), engine))
                cmd = [str(BINARY), "validate", "--config", str(path), "--format", "json"]
                run(cmd)  # warm-up
                before = relay.received
                wall, rss, out = run(cmd)
                results[name] = (wall, rss, relay.received - before, checks(out))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    local, spark = results["local"][3], results["spark"][3]
    if len(local) != len(COLUMNS) + 1 or not same(local, spark):
        print(json.dumps(local, indent=1), json.dumps(spark, indent=1), file=sys.stderr)
        raise SystemExit("the two runs disagree: no figure")
    methods = ", ".join(f"{c['column']} {c['details']['method']} {c['status']}" for c in local if c.get("column"))
    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}; Apache Spark (Spark Connect, local[2]); "
          f"{rows:,} training rows against {rows // 2:,} reference rows; the same {len(local)} checks and values "
          f"in both ({methods})\n")
    print("| run | wall | from the server |")
    print("|---|---:|---:|")
    lw, _, _, _ = results["local"]
    sw, _, sb, _ = results["spark"]
    print(f"| ml-gates, polars on this machine | {lw:.2f} s | - |")
    print(f"| ml-gates, `data.engine: spark` | {sw:.2f} s | {sb / 1024:,.1f} KiB |")


if __name__ == "__main__":
    main()
