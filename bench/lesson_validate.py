"""The lesson's pandas data gate (section 3.1 of ci-cd-for-ml-lesson.md), verbatim but for the
report printing, which goes to stdout as in the lesson. Usage: python3 lesson_validate.py DATA CONFIG
"""
import json
import sys

import pandas as pd


def validate_training_data(data_path, config_path="configs/data_validation.json"):
    df = pd.read_parquet(data_path)

    with open(config_path) as f:
        config = json.load(f)

    results = []

    min_rows = config.get("min_rows", 1000)
    results.append({"check": "row_count", "passed": len(df) >= min_rows, "detail": f"{len(df)} rows (min: {min_rows})"})

    max_null_pct = config.get("max_null_percent", 5.0)
    null_pcts = (df.isnull().sum() / len(df) * 100).to_dict()
    high_null_cols = {k: v for k, v in null_pcts.items() if v > max_null_pct}
    results.append({"check": "missing_values", "passed": len(high_null_cols) == 0,
                    "detail": f"High null columns: {high_null_cols}" if high_null_cols else "OK"})

    expected_columns = set(config.get("required_columns", []))
    actual_columns = set(df.columns)
    missing = expected_columns - actual_columns
    results.append({"check": "schema", "passed": len(missing) == 0, "detail": f"Missing columns: {missing}" if missing else "OK"})

    target_col = config.get("target_column", "target")
    if target_col in df.columns:
        value_counts = df[target_col].value_counts(normalize=True)
        min_class_pct = config.get("min_class_percent", 1.0)
        rare_classes = value_counts[value_counts < min_class_pct / 100]
        results.append({"check": "target_distribution", "passed": len(rare_classes) == 0,
                        "detail": f"Rare classes (<{min_class_pct}%): {rare_classes.to_dict()}" if len(rare_classes) > 0 else "OK"})

    for feature, bounds in config.get("feature_ranges", {}).items():
        if feature in df.columns:
            out_of_range = ((df[feature] < bounds["min"]) | (df[feature] > bounds["max"])).sum()
            results.append({"check": f"range_{feature}", "passed": out_of_range == 0,
                            "detail": f"{out_of_range} values out of [{bounds['min']}, {bounds['max']}]"})

    dup_count = df.duplicated().sum()
    max_dup_pct = config.get("max_duplicate_percent", 1.0)
    dup_pct = dup_count / len(df) * 100
    results.append({"check": "duplicates", "passed": dup_pct <= max_dup_pct, "detail": f"{dup_count} duplicates ({dup_pct:.2f}%)"})

    all_passed = all(r["passed"] for r in results)
    print(f"\n{'='*60}")
    print(f"Data Validation Report: {'PASSED' if all_passed else 'FAILED'}")
    print(f"{'='*60}")
    for r in results:
        status = "PASS" if r["passed"] else "FAIL"
        print(f"  [{status}] {r['check']}: {r['detail']}")
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(validate_training_data(sys.argv[1], sys.argv[2]))
