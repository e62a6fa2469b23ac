"""Benchmark: a Great Expectations-style suite of 30 expectations on the same parquet file, run by
Great Expectations itself (pandas backend), by pandera (polars backend) and by `ml-gates validate`.

Usage (from the repository root, after `cargo build --release`):
    python3 bench/gx_bench.py [ROWS]                  # default 10000000
    GX_PYTHON=/path/to/venv/bin/python python3 bench/gx_bench.py
GX_PYTHON is a Python with `great-expectations`, `pandera[polars]`, polars and pyarrow (PyPI);
the data comes from bench/validate_bench.py's generator (seeded; 1% missing ages, 0.3% rows
copied over others, so customer_id repeats). Each tool runs once in its own process on a warm
page cache; wall time includes reading the file; peak RSS is the child's. The script checks that
the three tools pass and fail the same expectations before it prints a figure.
"""
import json
import os
import pathlib
import platform
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from validate_bench import BINARY, DATA, generate, run  # noqa: E402

# The suite: (name, kind, arguments). Names are shared by the three tools' results.
SUITE = [
    ("row_count", "rows", {"min": 500}),
    *[(f"type_{c}", "type", {"column": c, "type": t}) for c, t in [
        ("customer_id", "str"), ("age", "int"), ("monthly_spend", "float"), ("tenure_months", "int"),
        ("plan", "str"), ("gender", "str"), ("churn", "int")]],
    *[(f"not_null_{c}", "not_null", {"column": c}) for c in
      ["customer_id", "monthly_spend", "tenure_months", "plan", "gender", "churn"]],
    ("range_age", "between", {"column": "age", "min": 18, "max": 100}),
    ("range_monthly_spend", "between", {"column": "monthly_spend", "min": 0, "max": 10000}),
    ("range_tenure_months", "between", {"column": "tenure_months", "min": 0, "max": 120}),
    ("set_plan", "in_set", {"column": "plan", "values": ["basic", "pro", "enterprise"]}),
    ("set_gender", "in_set", {"column": "gender", "values": ["F", "M"]}),
    ("set_churn", "in_set", {"column": "churn", "values": [0, 1]}),
    ("regex_customer_id", "regex", {"column": "customer_id", "regex": "^C[0-9]+$"}),
    ("length_customer_id", "length", {"column": "customer_id", "min": 2, "max": 9}),
    ("unique_customer_id", "unique", {"column": "customer_id"}),
    ("mean_monthly_spend", "mean", {"column": "monthly_spend", "min": 200, "max": 280}),
    ("stdev_monthly_spend", "stdev", {"column": "monthly_spend", "min": 140, "max": 200}),
    ("median_age", "median", {"column": "age", "min": 40, "max": 48}),
    ("max_age", "max", {"column": "age", "min": 90, "max": 100}),
    ("min_monthly_spend", "min", {"column": "monthly_spend", "min": 0, "max": 1}),
    ("distinct_plan", "distinct_count", {"column": "plan", "min": 3, "max": 3}),
    ("pair_age_tenure", "pair_ge", {"a": "age", "b": "churn"}),
]
assert len(SUITE) == 30, len(SUITE)

# The suite as Great Expectations expectations, validated on `batch`; `type_of(column, type)` names
# a column type as the engine does. Each GX script defines both first.
GX_SUITE = r'''
made = []
for name, kind, a in suite:
    c = a.get("column")
    e = {
        "rows": lambda: gxe.ExpectTableRowCountToBeBetween(min_value=a["min"]),
        "type": lambda: gxe.ExpectColumnValuesToBeOfType(column=c, type_=type_of(c, a["type"])),
        "not_null": lambda: gxe.ExpectColumnValuesToNotBeNull(column=c),
        "between": lambda: gxe.ExpectColumnValuesToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "in_set": lambda: gxe.ExpectColumnValuesToBeInSet(column=c, value_set=a["values"]),
        "regex": lambda: gxe.ExpectColumnValuesToMatchRegex(column=c, regex=a["regex"]),
        "length": lambda: gxe.ExpectColumnValueLengthsToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "unique": lambda: gxe.ExpectColumnValuesToBeUnique(column=c),
        "mean": lambda: gxe.ExpectColumnMeanToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "stdev": lambda: gxe.ExpectColumnStdevToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "median": lambda: gxe.ExpectColumnMedianToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "max": lambda: gxe.ExpectColumnMaxToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "min": lambda: gxe.ExpectColumnMinToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "distinct_count": lambda: gxe.ExpectColumnUniqueValueCountToBeBetween(column=c, min_value=a["min"], max_value=a["max"]),
        "pair_ge": lambda: gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=a["a"], column_B=a["b"], or_equal=True,
                                                                     ignore_row_if="either_value_is_missing"),
    }[kind]()
    e.meta = {"name": name}
    made.append((name, e))
suite_obj = context.suites.add(gx.ExpectationSuite(name="bench", expectations=[e for _, e in made]))
result = batch.validate(suite_obj)
errors = [r.exception_info for r in result.results if r.exception_info.get("raised_exception")]
if errors:
    raise SystemExit(f"GX raised: {errors[0]}")
# Results come back in their own order: each is matched to its expectation by its meta.
outcome = {r.expectation_config.meta["name"]: bool(r.success) for r in result.results}
print(json.dumps(outcome))
'''

GX_SCRIPT = r'''
import json, sys, time
import pandas as pd
import great_expectations as gx
import great_expectations.expectations as gxe
path, suite = sys.argv[1], json.loads(sys.argv[2])
df = pd.read_parquet(path)
context = gx.get_context(mode="ephemeral")
batch = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b").get_batch(
    batch_parameters={"dataframe": df})
types = {"str": "str", "int": "int64", "float": "float64"}
# pandas reads an integer column with missing values as float64.
type_of = lambda c, t: "float64" if c == "age" else types[t]
''' + GX_SUITE


PANDERA_SCRIPT = r'''
import json, sys
import polars as pl
import pandera.polars as pa
path, suite = sys.argv[1], json.loads(sys.argv[2])
df = pl.read_parquet(path)
types = {"str": pl.String, "int": pl.Int64, "float": pl.Float64}
outcome = {}
# One schema per expectation would re-read nothing but run 30 validations; one schema with every
# check, validated lazily (every failure collected), is how pandera is used: its failure cases name
# the check that failed.
columns, frame_checks = {}, []
def column(c):
    return columns.setdefault(c, {"dtype": None, "checks": [], "nullable": True, "unique": False})
for name, kind, a in suite:
    c = a.get("column")
    if kind == "type":
        column(c)["dtype"] = types[a["type"]]
    elif kind == "not_null":
        column(c)["nullable"] = False
    elif kind == "between":
        column(c)["checks"].append(pa.Check.in_range(a["min"], a["max"], name=name))
    elif kind == "in_set":
        column(c)["checks"].append(pa.Check.isin(a["values"], name=name))
    elif kind == "regex":
        column(c)["checks"].append(pa.Check.str_matches(a["regex"], name=name))
    elif kind == "length":
        column(c)["checks"].append(pa.Check.str_length(a["min"], a["max"], name=name))
    elif kind == "unique":
        column(c)["unique"] = True
    elif kind in ("mean", "stdev", "median", "max", "min", "distinct_count"):
        agg = {"mean": lambda x: x.mean(), "stdev": lambda x: x.std(), "median": lambda x: x.median(),
               "max": lambda x: x.max(), "min": lambda x: x.min(), "distinct_count": lambda x: x.drop_nulls().n_unique()}[kind]
        lo, hi = a["min"], a["max"]
        column(c)["checks"].append(pa.Check(lambda data, agg=agg, c=c, lo=lo, hi=hi:
            data.lazyframe.select(agg(pl.col(c)).is_between(lo, hi)), name=name))
    elif kind == "rows":
        frame_checks.append(pa.Check(lambda data, lo=a["min"]: data.lazyframe.select(pl.len() >= lo), name=name))
    elif kind == "pair_ge":
        frame_checks.append(pa.Check(lambda data, x=a["a"], y=a["b"]: data.lazyframe.select(
            (pl.col(x) >= pl.col(y)) | pl.col(x).is_null() | pl.col(y).is_null()), name=name))
schema = pa.DataFrameSchema(
    {c: pa.Column(v["dtype"], checks=v["checks"], nullable=v["nullable"], unique=v["unique"]) for c, v in columns.items()},
    checks=frame_checks)
failed = set()
try:
    schema.validate(df, lazy=True)
except pa.errors.SchemaErrors as e:
    cases = e.failure_cases
    for row in cases.select(["column", "check"]).unique().iter_rows():
        failed.add(tuple("" if v is None else str(v) for v in row))
for name, kind, a in suite:
    c = a.get("column") or ""
    label = {"type": "dtype", "not_null": "not_nullable", "unique": "field_uniqueness"}.get(kind, name)
    outcome[name] = not any(label in check and (kind not in ("type", "not_null", "unique") or col == c)
                            for col, check in failed)
print(json.dumps(outcome))
'''


def ml_gates_config(data):
    lines = ["version: 1", "name: bench", "data:", f"  train: {data}", "  target: churn", "  task: classification",
             "  id: customer_id", "validate:"]
    types = {a["column"]: a["type"] for _, k, a in SUITE if k == "type"}
    lines.append("  rows: {min: 500}")
    lines.append("  schema: {" + ", ".join(f"{c}: {t}" for c, t in types.items()) + "}")
    not_null = [a["column"] for _, k, a in SUITE if k == "not_null"]
    lines.append("  nulls: {columns: {" + ", ".join(f"{c}: 0" for c in not_null) + "}}")
    ranges = [a for _, k, a in SUITE if k == "between"]
    lines.append("  ranges: {" + ", ".join(f"{a['column']}: [{a['min']}, {a['max']}]" for a in ranges) + "}")
    sets = [a for _, k, a in SUITE if k == "in_set"]
    lines.append("  categories: {" + ", ".join(f"{a['column']}: {json.dumps(a['values'])}" for a in sets) + "}")
    regex = next(a for _, k, a in SUITE if k == "regex")
    lines.append(f"  patterns: {{{regex['column']}: {{match: '{regex['regex']}'}}}}")
    length = next(a for _, k, a in SUITE if k == "length")
    lines.append(f"  lengths: {{{length['column']}: [{length['min']}, {length['max']}]}}")
    lines.append("  unique: [customer_id]")
    stats = {}
    for _, k, a in SUITE:
        if k in ("mean", "stdev", "median", "max", "min", "distinct_count"):
            stats.setdefault(a["column"], []).append(f"{k}: [{a['min']}, {a['max']}]")
    lines.append("  statistics:")
    for c, entries in stats.items():
        lines.append(f"    {c}: {{{', '.join(entries)}}}")
    pair = next(a for _, k, a in SUITE if k == "pair_ge")
    lines.append(f"  pairs: [{{a: {pair['a']}, op: '>=', b: {pair['b']}}}]")
    return "\n".join(lines) + "\n"


def ml_gates_outcome(report):
    checks = report["checks"]
    def passed(pred):
        found = [c for c in checks if pred(c)]
        if not found:
            raise SystemExit("ml-gates reported no such check")
        return all(c["status"] == "pass" for c in found)
    out = {}
    for name, kind, a in SUITE:
        c = a.get("column")
        out[name] = passed({
            "rows": lambda x: x["id"] == "row-count",
            "type": lambda x: x["id"] == "schema-column" and x.get("column") == c,
            "not_null": lambda x: x["id"] == "null-percent" and x.get("column") == c,
            "between": lambda x: x["id"] == "value-range" and x.get("column") == c,
            "in_set": lambda x: x["id"] == "allowed-values" and x.get("column") == c,
            "regex": lambda x: x["id"] == "regex-match" and x.get("column") == c,
            "length": lambda x: x["id"] == "value-length" and x.get("column") == c,
            "unique": lambda x: x["id"] == "unique-values" and x.get("column") == c,
            "pair_ge": lambda x: x["id"] == "column-pair",
        }.get(kind, lambda x: x["id"] == "column-statistic" and x.get("column") == c
              and x["threshold"]["unit"] == kind))
    return out


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    python = os.environ.get("GX_PYTHON", sys.executable)
    DATA.mkdir(parents=True, exist_ok=True)
    data = DATA / f"churn_{rows}_dup.parquet"
    generate(rows, data)
    config = DATA / f"ml-gates-gx-{rows}.yaml"
    config.write_text(ml_gates_config(data.name))
    suite = json.dumps(SUITE)
    data.read_bytes()
    gates_wall, gates_rss, gates_out = run([str(BINARY), "validate", "--config", str(config), "--format", "json"])
    gates = ml_gates_outcome(json.loads(gates_out))
    pandera_wall, pandera_rss, pandera_out = run([python, "-c", PANDERA_SCRIPT, str(data), suite])
    gx_wall, gx_rss, gx_out = run([python, "-c", GX_SCRIPT, str(data), suite])
    pandera, gx = json.loads(pandera_out.strip().splitlines()[-1]), json.loads(gx_out.strip().splitlines()[-1])
    differ = [n for n, _, _ in SUITE if not (gates[n] == gx[n] == pandera[n])]
    for n in differ:
        print(f"differs: {n}: ml-gates {gates[n]}, GX {gx[n]}, pandera {pandera[n]}", file=sys.stderr)
    if differ:
        raise SystemExit("the tools disagree: no figure")
    failing = [n for n, _, _ in SUITE if not gates[n]]
    versions = subprocess.run([python, "-c", "import great_expectations, pandera, polars, pandas; print(great_expectations.__version__, pandera.__version__, polars.__version__, pandas.__version__)"],
                              capture_output=True, text=True).stdout.split()
    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}; Great Expectations {versions[0]} (pandas {versions[3]}), "
          f"pandera {versions[1]} (polars {versions[2]}); {rows:,} rows; 30 expectations, the same "
          f"{30 - len(failing)} pass and {len(failing)} fail in all three ({', '.join(failing)})\n")
    print("| tool | wall | peak RSS | ml-gates faster by | ml-gates memory ratio |")
    print("|---|---:|---:|---:|---:|")
    print(f"| Great Expectations (pandas) | {gx_wall:.2f} s | {gx_rss:,.0f} MiB | {gx_wall / gates_wall:.1f}x | {gx_rss / gates_rss:.1f}x |")
    print(f"| pandera (polars) | {pandera_wall:.2f} s | {pandera_rss:,.0f} MiB | {pandera_wall / gates_wall:.1f}x | {pandera_rss / gates_rss:.1f}x |")
    print(f"| ml-gates | {gates_wall:.2f} s | {gates_rss:,.0f} MiB | 1.0x | 1.0x |")


if __name__ == "__main__":
    main()
