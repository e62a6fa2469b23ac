"""Benchmark: `ml-gates validate` against the lesson's pandas data gate, same parquet, same checks.

Usage (from the repository root, after `cargo build --release`):
    python3 bench/validate_bench.py [ROWS ...]        # default: 1000000 10000000
Needs numpy, pandas and pyarrow. Data is generated into bench/data/ (not committed). Each tool runs
once per size on a warm page cache; wall time from perf_counter, peak RSS from the child's rusage.
Prints a Markdown table for BENCHMARKS.md.
"""
import json
import os
import pathlib
import platform
import subprocess
import re
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
# ML_GATES_BIN picks another build (BENCHMARKS.md "Building ml-gates" compares the profiles).
BINARY = pathlib.Path(
    os.environ.get("ML_GATES_BIN") or pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "ml-gates"
)

LESSON_CONFIG = {
    "min_rows": 500,
    "max_null_percent": 3,
    "required_columns": ["customer_id", "age", "monthly_spend", "tenure_months", "plan", "gender", "churn"],
    "target_column": "churn",
    "min_class_percent": 5,
    "feature_ranges": {"age": {"min": 18, "max": 100}, "monthly_spend": {"min": 0, "max": 10000}},
    "max_duplicate_percent": 1,
}

ML_GATES_CONFIG = """version: 1
name: bench
data:
  train: {data}
  target: churn
  task: classification
  id: customer_id
validate:
  rows: {{min: 500}}
  schema: {{customer_id: str, age: int, monthly_spend: float, tenure_months: int, plan: str, gender: str, churn: int}}
  nulls: {{max_percent: 3}}
  target: {{min_class_percent: 5}}
  ranges: {{age: [18, 100], monthly_spend: [0, 10000]}}
  duplicates: {{max_percent: 1}}
"""


def generate(rows, path):
    """Churn rows with 1% missing ages and about 0.3% of rows copied over others (exact duplicates),
    so the duplicate check has real work: its exact comparison of rows that share a hash runs."""
    if path.exists():
        return
    rng = np.random.default_rng(rows)
    chunk = 1_000_000
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        columns = {
            "customer_id": np.char.add("C", np.arange(start, start + n).astype("U10")),
            "age": np.clip(rng.normal(44, 14, n).round(), 18, 100).astype("int64"),
            "monthly_spend": np.clip(rng.gamma(2.0, 120.0, n), 0, 10000).round(2),
            "tenure_months": rng.integers(0, 121, n),
            "plan": rng.choice(["basic", "pro", "enterprise"], n, p=[0.55, 0.3, 0.15]),
            "gender": rng.choice(["F", "M"], n),
            "churn": (rng.random(n) < 0.28).astype("int64"),
        }
        age_mask = rng.random(n) < 0.01
        copies = n * 3 // 1000
        source, target = rng.integers(0, n, copies), rng.integers(0, n, copies)
        for values in list(columns.values()) + [age_mask]:
            values[target] = values[source]
        table = pa.table(
            {
                "customer_id": pa.array(columns["customer_id"], pa.string()),
                "age": pa.array(columns["age"], mask=age_mask),
                "monthly_spend": columns["monthly_spend"],
                "tenure_months": columns["tenure_months"],
                "plan": pa.array(columns["plan"], pa.string()),
                "gender": pa.array(columns["gender"], pa.string()),
                "churn": columns["churn"],
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def run(cmd):
    """Wall time, peak RSS (MiB) and stdout of one run of `cmd`."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode()
        out.seek(0)
        text = out.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({code}): {err}")
    return wall, usage.ru_maxrss / 1024, text  # KiB -> MiB


def same_answers(pandas_out, gates_json):
    """Both tools must find the same duplicates and the same out-of-range counts."""
    report = json.loads(gates_json)
    dup = next(c for c in report["checks"] if c["id"] == "duplicate-rows")["details"]["duplicate_count"]
    pandas_dup = int(re.search(r"duplicates: (\d+) duplicates", pandas_out).group(1))
    if dup != pandas_dup:
        raise SystemExit(f"duplicate rows differ: pandas {pandas_dup}, ml-gates {dup}")
    for check in report["checks"]:
        if check["id"] == "value-range":
            pandas_count = int(re.search(rf"range_{check['column']}: (\d+) values", pandas_out).group(1))
            if pandas_count != check["value"]:
                raise SystemExit(f"{check['column']} out of range: pandas {pandas_count}, ml-gates {check['value']}")
    return dup


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [1_000_000, 10_000_000]
    DATA.mkdir(parents=True, exist_ok=True)
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} not found: run `cargo build --release` first (or set CARGO_TARGET_DIR)")
    lesson_config = DATA / "lesson_config.json"
    lesson_config.write_text(json.dumps(LESSON_CONFIG))
    rows_out = []
    for rows in sizes:
        data = DATA / f"churn_{rows}_dup.parquet"
        generate(rows, data)
        config = DATA / f"ml-gates-{rows}.yaml"
        config.write_text(ML_GATES_CONFIG.format(data=data.name))
        data.read_bytes()  # warm the page cache for both tools
        pandas_wall, pandas_rss, pandas_out = run(
            [sys.executable, str(ROOT / "bench" / "lesson_validate.py"), str(data), str(lesson_config)])
        gates_wall, gates_rss, gates_out = run([str(BINARY), "validate", "--config", str(config), "--format", "json"])
        duplicates = same_answers(pandas_out, gates_out)
        rows_out.append((rows, pandas_wall, pandas_rss, gates_wall, gates_rss))
        print(f"{rows:>11,} rows ({int(duplicates):,} duplicated, same answers): pandas {pandas_wall:.2f} s {pandas_rss:.0f} MiB"
              f" | ml-gates {gates_wall:.2f} s {gates_rss:.0f} MiB", file=sys.stderr)

    import pandas

    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, pandas {pandas.__version__}, pyarrow {pa.__version__}\n")
    print("| rows | pandas (lesson) wall | pandas peak RSS | ml-gates wall | ml-gates peak RSS | speed-up | memory ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for rows, pw, pr, gw, gr in rows_out:
        print(f"| {rows:,} | {pw:.2f} s | {pr:,.0f} MiB | {gw:.2f} s | {gr:,.0f} MiB | {pw / gw:.1f}x | {pr / gr:.1f}x |")
    if len(rows_out) >= 2:
        (r0, pw0, pr0, gw0, gr0), (r1, pw1, pr1, gw1, gr1) = rows_out[0], rows_out[-1]
        print(f"\nGrowth from {r0:,} to {r1:,} rows ({r1 / r0:.0f}x the data): "
              f"pandas time {pw1 / pw0:.1f}x, memory {pr1 / pr0:.1f}x; ml-gates time {gw1 / gw0:.1f}x, memory {gr1 / gr0:.1f}x.")


if __name__ == "__main__":
    main()
