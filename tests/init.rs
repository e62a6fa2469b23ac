//! `ml-gates init`: the config it writes from the examples' data and from a wide table passes
//! `ml-gates validate` on that data and fails on data with a fault injected; it never replaces a
//! file without `--force`. The file written for the churn example is a snapshot.

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NOW: &str = "--now=2026-11-27T00:00:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ml_gates(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ml-gates")).current_dir(dir).args(args).output().expect("run ml-gates")
}

fn shown(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Copy `file` into `dir` (parquet, CSV) and return its new name.
fn copy(file: &Path, dir: &Path) -> String {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::copy(file, dir.join(&name)).unwrap();
    name
}

fn init_then_validate(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["init", NOW];
    all.extend_from_slice(args);
    let out = ml_gates(dir, &all);
    assert_eq!(out.status.code(), Some(0), "init: {}", shown(&out));
    let validated = ml_gates(dir, &["validate", NOW]);
    assert_eq!(validated.status.code(), Some(0), "the written config fails on its own data:\n{}", shown(&validated));
    std::fs::read_to_string(dir.join("ml-gates.yaml")).unwrap()
}

fn write_parquet(df: &mut DataFrame, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    ParquetWriter::new(file).finish(df).unwrap();
}

fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap();
    ParquetReader::new(file).finish().unwrap()
}

#[test]
fn churn_config_passes_its_data_and_fails_a_fault() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("shop");
    std::fs::create_dir(&d).unwrap();
    let train = copy(&repo().join("examples/churn/data/train.parquet"), &d);
    std::fs::create_dir(d.join("eval")).unwrap();
    std::fs::copy(repo().join("examples/churn/data/test.parquet"), d.join("eval/test.parquet")).unwrap();
    let text = init_then_validate(&d, &["--data", &train, "--target", "churn", "--test", "eval/test.parquet"]);
    insta::assert_snapshot!("init_churn", text);

    // A fault: ages beyond the written range, and a plan never seen.
    let mut df = read_parquet(&d.join(&train));
    let n = df.height();
    let ages: Vec<Option<i64>> = (0..n).map(|i| if i % 50 == 0 { Some(250) } else { Some(40) }).collect();
    df.with_column(Column::new("age".into(), ages)).unwrap();
    let plans: Vec<&str> = (0..n).map(|i| if i % 100 == 0 { "platinum" } else { "basic" }).collect();
    df.with_column(Column::new("plan".into(), plans)).unwrap();
    write_parquet(&mut df, &d.join(&train));
    let out = ml_gates(&d, &["validate", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = shown(&out);
    assert!(text.contains("FAIL value-range [train.age]"), "{text}");
    assert!(text.contains("FAIL allowed-values [train.plan]"), "{text}");
}

#[test]
fn house_prices_and_a_csv_pass_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let train = copy(&repo().join("examples/house-prices/data/train.parquet"), dir.path());
    let text = init_then_validate(dir.path(), &["--data", &train, "--target", "price"]);
    assert!(text.contains("task: regression"), "{text}");
    assert!(text.contains("target: {range: ["), "{text}");

    let csv = tempfile::tempdir().unwrap();
    let train = copy(&repo().join("examples/churn/data/train.csv"), csv.path());
    let text = init_then_validate(csv.path(), &["--data", &train, "--target", "churn"]);
    assert!(text.contains("task: classification"), "{text}");
}

/// 200 columns of every kind, nulls and NaN in some: the config passes, and a column removed
/// upstream fails its schema check.
#[test]
fn a_wide_table_passes_and_a_vanished_column_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 500usize;
    let mut columns: Vec<Column> = Vec::new();
    for c in 0..200usize {
        let name = format!("f{c:03}");
        let column = match c % 5 {
            0 => Series::new(name.into(), (0..rows).map(|i| (i * (c + 1) % 997) as i64).collect::<Vec<_>>()),
            1 => Series::new(
                name.into(),
                (0..rows)
                    .map(|i| if i % 37 == 0 { None } else { Some(i as f64 * 0.25 - c as f64) })
                    .collect::<Vec<_>>(),
            ),
            2 => Series::new(name.into(), (0..rows).map(|i| ["a", "b", "c", "d"][(i + c) % 4]).collect::<Vec<_>>()),
            3 => Series::new(
                name.into(),
                (0..rows).map(|i| if i % 61 == 0 { f64::NAN } else { (i % 13) as f64 / 3.0 }).collect::<Vec<_>>(),
            ),
            _ => Series::new(name.into(), (0..rows).map(|i| (i + c) % 2 == 0).collect::<Vec<_>>()),
        };
        columns.push(column.into());
    }
    columns.push(Series::new("label".into(), (0..rows).map(|i| ["yes", "no"][i % 3 % 2]).collect::<Vec<_>>()).into());
    let mut df = DataFrame::new(rows, columns).unwrap();
    write_parquet(&mut df, &dir.path().join("wide.parquet"));
    let text = init_then_validate(dir.path(), &["--data", "wide.parquet"]);
    assert!(text.contains("target: label"), "the target is found by its name: {text}");
    assert!(text.contains("non_finite:"), "{text}");

    let mut narrower = df.drop("f100").unwrap();
    write_parquet(&mut narrower, &dir.path().join("wide.parquet"));
    let out = ml_gates(dir.path(), &["validate", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(shown(&out).contains("FAIL schema-column [train.f100]"), "{}", shown(&out));
}

#[test]
fn an_existing_file_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let train = copy(&repo().join("examples/churn/data/train.parquet"), dir.path());
    std::fs::write(dir.path().join("ml-gates.yaml"), "mine\n").unwrap();
    let out = ml_gates(dir.path(), &["init", "--data", &train, "--target", "churn"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(shown(&out).contains("ml-gates.yaml exists: pass --force to replace it"), "{}", shown(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join("ml-gates.yaml")).unwrap(), "mine\n");
    let out = ml_gates(dir.path(), &["init", "--data", &train, "--target", "churnn", "--output", "other.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(shown(&out).contains("--target: column 'churnn' is not in"), "{}", shown(&out));
    assert!(!dir.path().join("other.yaml").exists(), "nothing written on bad input");
    let out = ml_gates(dir.path(), &["init", "--force", "--data", &train, "--target", "churn"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(std::fs::read_to_string(dir.path().join("ml-gates.yaml")).unwrap().starts_with("# yaml-language-server"));
}
