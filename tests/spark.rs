//! The Spark Connect client against two servers, one list of cases: Sail (a Spark Connect server
//! in Rust) and Apache Spark's own. SQL in, the answer read back as Arrow IPC by polars, equal to
//! polars' own figures on the same file; the engine's own message when a query is refused; a
//! server that is not there said so.

mod common;

use common::servers::{SailServer, SparkServer};
use ml_gates::data::spark::Spark;
use polars::prelude::*;

const TRAIN: &str = "examples/churn/data/train.parquet";

fn absolute(path: &str) -> String {
    std::path::absolute(path).unwrap().display().to_string()
}

/// Every case on both servers (each started once: Apache Spark's takes about 15 s).
#[test]
fn spark_connect_conformance() {
    let sail = SailServer::start();
    let apache = SparkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (file, frame) = rule_data(dir.path());
    let rules = rules();
    let gate = gate_data(dir.path());
    for url in [&sail.url, &apache.url] {
        the_gate_on_spark_answers_as_on_polars(url, dir.path(), &gate);
        aggregates_from_spark_equal_polars(url);
        refused_queries_carry_the_engine_message(url);
        rules_answer_as_on_polars(url, &file, &frame, &rules);
    }
    freshness_from_the_files_times(&apache.url, &sail.url, dir.path(), &gate);
    for url in [&sail.url, &apache.url] {
        too_many_values_for_drift(url, dir.path());
    }
}

/// Drift whose statistics need the count of more distinct values than Spark brings back (one bin
/// per value: 10 reference values, 100,001 current ones): that column's check is in `error`,
/// saying what to set, never a pass; with `bins` it is computed, as on this machine.
fn too_many_values_for_drift(url: &str, dir: &std::path::Path) {
    let n = 100_001;
    let write = |name: &str, v: Vec<f64>| {
        let y: Vec<i64> = (0..v.len() as i64).map(|i| i % 2).collect();
        let mut frame = df!("v" => v, "y" => y).unwrap();
        ParquetWriter::new(std::fs::File::create(dir.join(name)).unwrap()).finish(&mut frame).unwrap();
    };
    write("many.parquet", (0..n).map(|i| i as f64 * 0.5).collect());
    write("few.parquet", (0..n).map(|i| (i % 10) as f64).collect());
    let of = |engine: &str, bins: &str| {
        format!("version: 1\nname: t\ndata:\n  train: many.parquet\n  target: y\n  task: classification\n{engine}validate:\n  drift: {{reference: few.parquet, columns: [v]{bins}}}\n")
    };
    let run = |text: &str| {
        let config = ml_gates::config::parse(text, "t.yaml", dir.to_path_buf()).unwrap();
        let inputs = ml_gates::data::open_gate_inputs(&config).unwrap();
        let checks = ml_gates::validate::run(&config, &inputs, chrono::Utc::now()).unwrap();
        checks.into_iter().find(|c| c.id == "feature-drift").unwrap()
    };
    let engine = format!("  engine: {{spark: '{url}'}}\n");
    let refused = run(&of(&engine, ""));
    assert_eq!(refused.status.as_str(), "error", "{refused:?}");
    assert!(
        refused.message.contains("100001 distinct values") && refused.message.contains("validate.drift.bins"),
        "{refused:?}"
    );
    assert_eq!(run(&of("", "")).status.as_str(), "fail");
    let (local, spark) = (run(&of("", ", bins: 10")), run(&of(&engine, ", bins: 10")));
    assert_eq!((local.status, &local.message), (spark.status, &spark.message), "{local:?}\n{spark:?}");
    // A reference without a finite value in the column: not compared, on both.
    let mut empty = df!("v" => [None::<f64>, Some(f64::NAN), None], "y" => [0i64, 1, 0]).unwrap();
    ParquetWriter::new(std::fs::File::create(dir.join("few.parquet")).unwrap()).finish(&mut empty).unwrap();
    let (local, spark) = (run(&of("", "")), run(&of(&engine, "")));
    assert_eq!(local.status.as_str(), "skip", "{local:?}");
    assert_eq!((local.status, &local.message), (spark.status, &spark.message), "{local:?}\n{spark:?}");
}

/// Freshness without `data.timestamp`: Apache Spark reports the files' modification times
/// (`_metadata`), the same as this machine reads; Sail 0.7 does not, and the check is in `error`
/// with the engine's words, never a pass.
fn freshness_from_the_files_times(apache: &str, sail: &str, dir: &std::path::Path, file: &std::path::Path) {
    let now = chrono::Utc::now();
    let of = |engine: &str| {
        format!("version: 1\nname: t\ndata:\n  train: {}\n  target: y\n  task: classification\n{engine}validate:\n  freshness: {{max_age_days: 1}}\n", file.display())
    };
    let run = |text: &str| {
        let config = ml_gates::config::parse(text, "t.yaml", dir.to_path_buf()).unwrap();
        let inputs = ml_gates::data::open_gate_inputs(&config).unwrap();
        let checks = ml_gates::validate::run(&config, &inputs, now).unwrap();
        checks.into_iter().find(|c| c.id == "freshness").unwrap()
    };
    let local = run(&of("  # the same lines\n"));
    let spark = run(&of(&format!("  engine: {{spark: '{apache}'}}\n")));
    assert_eq!(local.status.as_str(), "pass", "{local:?}");
    let (a, b) = (local.value.as_f64().unwrap(), spark.value.as_f64().unwrap());
    // Spark reports the time to the millisecond: the same age to a millisecond's share of a day.
    assert!((a - b).abs() < 2e-8, "{a} {b}: {spark:?}");
    assert_eq!((local.status, &local.message, local.config_line), (spark.status, &spark.message, spark.config_line));
    let sail = run(&of(&format!("  engine: {{spark: '{sail}'}}\n")));
    assert_eq!(sail.status.as_str(), "error", "{sail:?}");
    assert!(
        sail.message.starts_with("no newest file modification time from Spark: ") && sail.message.contains("_metadata"),
        "{sail:?}"
    );
}

fn aggregates_from_spark_equal_polars(url: &str) {
    let spark = Spark::connect(url).unwrap();
    let query = format!(
        "SELECT count(*) AS n, count(age) AS ages, avg(age) AS mean, stddev_samp(monthly_spend) AS sd, \
         min(tenure_months) AS lo, max(tenure_months) AS hi FROM parquet.`{}`",
        absolute(TRAIN)
    );
    let answer = spark.sql(&query).unwrap();
    let local = LazyFrame::scan_parquet(PlRefPath::new(TRAIN), Default::default())
        .unwrap()
        .select([
            len().alias("n"),
            col("age").count().alias("ages"),
            col("age").mean().alias("mean"),
            col("monthly_spend").std(1).alias("sd"),
            col("tenure_months").min().alias("lo"),
            col("tenure_months").max().alias("hi"),
        ])
        .collect()
        .unwrap();
    let number = |frame: &DataFrame, name: &str| -> f64 {
        frame.column(name).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0).unwrap()
    };
    assert_eq!(answer.height(), 1);
    for name in ["n", "ages", "lo", "hi"] {
        assert_eq!(number(&answer, name), number(&local, name), "{url} {name}");
    }
    for name in ["mean", "sd"] {
        let (a, b) = (number(&answer, name), number(&local, name));
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{url} {name}: spark {a}, polars {b}");
    }
    // Many rows back: a GROUP BY, in several batches or one.
    let groups = spark
        .sql(&format!("SELECT customer_id, count(*) AS c FROM parquet.`{}` GROUP BY customer_id", absolute(TRAIN)))
        .unwrap();
    assert_eq!(groups.height(), 1000);
}

fn refused_queries_carry_the_engine_message(url: &str) {
    let spark = Spark::connect(url).unwrap();
    let no_column = spark.sql(&format!("SELECT nope FROM parquet.`{}`", absolute(TRAIN))).unwrap_err();
    assert!(no_column.contains("nope"), "{no_column}");
    assert!(no_column.starts_with(url), "{no_column}");
    let no_table = spark.sql("SELECT count(*) FROM lake.churn.missing_table").unwrap_err();
    assert!(no_table.to_lowercase().contains("missing_table"), "{no_table}");
}

#[test]
fn a_missing_server_is_said_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("sc://127.0.0.1:{port}/;token=never-shown-token");
    let error = match Spark::connect(&url) {
        Err(e) => e,
        Ok(spark) => spark.sql("SELECT 1").unwrap_err(),
    };
    assert!(error.contains(&format!("sc://127.0.0.1:{port}")), "{error}");
    assert!(!error.contains("never-shown-token"), "{error}");
    assert!(error.contains("nothing answers there"), "{error}");
}

/// The rule language on Spark answers as on polars, row by row: every operator and function by
/// hand, then rules edited at random from them (those the checker accepts), over data with
/// missing values, NaN, zeros, negative numbers, padded and non-ASCII text, dates and datetimes.
fn rules_answer_as_on_polars(url: &str, file: &std::path::Path, frame: &DataFrame, rules: &[String]) {
    use ml_gates::config::expr::parse;
    use ml_gates::data::expr::condition;
    use ml_gates::data::sql::sql_condition;
    let spark = Spark::connect(url).unwrap();
    let columns: Vec<(String, DataType)> = frame.schema().iter().map(|(n, d)| (n.to_string(), d.clone())).collect();
    let compiled: Vec<(String, Expr, String)> = rules
        .iter()
        .filter_map(|rule| {
            let node = parse(rule).ok()?;
            let polars = condition(&node, &columns).ok()?;
            Some((rule.clone(), polars, sql_condition(&node, &columns).unwrap()))
        })
        .collect();
    assert!(compiled.len() > 50, "{} rules typed", compiled.len());
    for chunk in compiled.chunks(40) {
        let local = frame
            .clone()
            .lazy()
            .select(chunk.iter().enumerate().map(|(i, (_, e, _))| e.clone().alias(format!("r{i}"))).collect::<Vec<_>>())
            .collect()
            .unwrap();
        let selected: Vec<String> = chunk.iter().enumerate().map(|(i, (_, _, s))| format!("{s} AS r{i}")).collect();
        let query = format!("SELECT {} FROM parquet.`{}` ORDER BY i", selected.join(", "), file.display());
        let remote = spark.sql(&query).unwrap_or_else(|e| {
            // Which rule: each alone.
            for (rule, _, sql) in chunk {
                let one = format!("SELECT {sql} AS r FROM parquet.`{}`", file.display());
                if let Err(e) = spark.sql(&one) {
                    panic!("{url}: the rule {rule:?} (SQL {sql}): {e}");
                }
            }
            panic!("{url}: {e}\n{query}")
        });
        for (i, (rule, _, sql)) in chunk.iter().enumerate() {
            let name = format!("r{i}");
            let get = |f: &DataFrame| -> Vec<Option<bool>> {
                f.column(&name).unwrap().as_materialized_series().bool().unwrap().iter().collect()
            };
            assert_eq!(get(&local), get(&remote), "{url}: the rule {rule:?} (SQL {sql})");
        }
    }
}

fn rule_data(dir: &std::path::Path) -> (std::path::PathBuf, DataFrame) {
    let mut frame = df!(
        "i" => [0i64, 1, 2, 3, 4, 5, 6, 7],
        "age" => [Some(17i64), None, Some(45), Some(0), Some(-3), Some(18), Some(90), Some(30)],
        "price" => [Some(2.0), Some(f64::NAN), Some(5.0), Some(0.0), None, Some(-1.5), Some(1e-9), Some(1e12)],
        "country" => [Some("DE"), Some("FR"), None, Some(" de\t"), Some("Ünïcode"), Some(""), Some("it's"), Some("a\\b")],
        "active" => [Some(true), Some(false), Some(true), None, Some(false), Some(true), Some(true), Some(false)],
    )
    .unwrap();
    let days = Series::new(
        "day".into(),
        [Some(19000i32), Some(19752), None, Some(0), Some(20000), Some(19753), Some(1), Some(19751)],
    )
    .cast(&DataType::Date)
    .unwrap();
    let at = Series::new(
        "at".into(),
        [
            Some(1_706_700_000_000_000i64),
            None,
            Some(0),
            Some(1_706_659_200_000_000),
            Some(1),
            Some(-5),
            Some(1_800_000_000_000_000),
            Some(2),
        ],
    )
    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
    .unwrap();
    frame.with_column(days.into_column()).unwrap();
    frame.with_column(at.into_column()).unwrap();
    let file = dir.join("rules.parquet");
    ParquetWriter::new(std::fs::File::create(&file).unwrap()).finish(&mut frame.clone()).unwrap();
    (file, frame)
}

/// The hand-written rules, then random edits of them.
fn rules() -> Vec<String> {
    let hand = [
        "age >= 18",
        "age > 17 and active",
        "not active or age is null",
        "price / age > 0.1",
        "price / 0 > 1",
        "age % 4 = 1",
        "price % 0 = 0",
        "-price < 1",
        "abs(age) = 3",
        "price = price",
        "price <> 2",
        "price > 1",
        "price < 1",
        "price is not null",
        "country = 'DE'",
        "country in ('DE', 'FR')",
        "country not in ('DE')",
        "age in (17, 45)",
        "active in (true)",
        "length(country) = 2",
        "length(trim(country)) = 2",
        "lower(country) = 'de'",
        "upper(country) = 'ÜNÏCODE'",
        "starts_with(country, 'D')",
        "ends_with(country, 's')",
        "contains(country, '\\')",
        "contains(country, '''')",
        "matches(country, '^[A-Z]{2}$')",
        "matches(country, '\\d')",
        "is_null(country) or country = ''",
        "is_not_null(age) and age * 2 - 1 > 30",
        "day < '2024-01-31'",
        "day >= '2024-01-30'",
        "day = '1970-01-01'",
        "at > '2024-01-31 00:00:00'",
        "at <= '1970-01-01T00:00:00.000001'",
        "active = false",
        "active != true",
        "country < 'E'",
        "price + age > 10 or country = 'FR'",
        "(age > 10) = active",
    ];
    let mut rules: Vec<String> = hand.iter().map(|s| s.to_string()).collect();
    let alphabet: Vec<char> = "()'.=<>!+-*/% andortisnul0123456789_".chars().collect();
    let mut state: u64 = 20261205;
    let mut next = move || {
        state = state.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    };
    for round in 0..600 {
        let mut rule: Vec<char> = hand[round % hand.len()].chars().collect();
        for _ in 0..1 + next() % 3 {
            let at = (next() % (rule.len() as u64 + 1)) as usize;
            match next() % 3 {
                0 => rule.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
                1 if at < rule.len() => {
                    rule.remove(at);
                }
                _ if at + 1 < rule.len() => rule.swap(at, at + 1),
                _ => {}
            }
        }
        rules.push(rule.into_iter().collect());
    }
    rules
}

/// The data gate's checks, configured once, run by polars on the file and by Spark on the same
/// file: the same checks in the same order, with the same statuses and values (numbers to 1e-9),
/// details and messages; only the examples and failing rows may differ (a table has no row order:
/// on Spark they are the first by `data.id` and carry no row number).
fn the_gate_on_spark_answers_as_on_polars(url: &str, dir: &std::path::Path, file: &std::path::Path) {
    let validate = r#"validate:
  rows: {min: 5}
  schema: {id: str, x: float, w: float, n: int, t: str, y: int, day: date}
  nulls: {max_percent: 5}
  non_finite: {max_percent: 2, columns: {x: 5}}
  ranges:
    x: [0, 10]
    n: {min: 0, max: 50, where: "t = 'a'", mostly: 0.9}
  categories:
    t: [a, b, c]
    n: {values: [1, 2, 3], mostly: 0.1}
  patterns:
    t: {match: '^[ab]', not_match: 'z', where: "n > 3"}
  lengths:
    t: {min: 1, max: 2}
  statistics:
    x: {mean: [0, 5], stdev: [0, 3], sum: [0, 1000], min: [0, 1], max: [0, 10], distinct_count: [1, 1000]}
    w: {mean: [0, 5], median: [0, 5], stdev: [0, 3], sum: [0, 1000], quantiles: [{q: 0.25, between: [0, 5]}, {q: 0.9, between: [0, 5]}], where: "n > 5"}
    n: {distinct_percent: [0, 50], mean: [0, 100], where: "t in ('a', 'b')"}
    t: {distinct_count: [1, 3]}
  pairs:
    - {a: x, op: '<', b: n}
    - {a: x, op: '>=', b: n, nulls: fail, where: "day >= '2024-01-10'"}
  rules:
    - {rule: "x < 5 or t = 'b'"}
    - {rule: "length(t) = 1 and not matches(t, 'c')", mostly: 0.5, where: "y = 1"}
    - {rule: "n % 7 <> 3", name: sevens}
  row_sums:
    - {columns: [x, n], equals: 3, mostly: 0.01}
  target: {min_class_percent: 10, classes: [0, 1]}
  unique: {columns: [id, t, [t, n], [n, day]], mostly: 0.1, where: "y = 0 or n > 20"}
  duplicates: {max_percent: 1, columns: [t, y, day]}
  freshness: {max_age_days: 30}
  leakage: {max_overlap_percent: 10}
  references:
    t: {file: ref.parquet, column: k}
    n: {file: ref.parquet, column: m, mostly: 0.5, where: "y = 1"}
  slices: {by: [y], min_rows: 60}
  drift: {reference: gate_test.parquet, columns: [x, w, n, k, t, y, day]}
  monotonic:
    day: {}
    n: {mostly: 0.4}
    x: {direction: decreasing, strictly: true, where: "y = 1"}
"#;
    let yaml_of = |train: &str, engine: &str| {
        format!("version: 1\nname: t\ndata:\n  train: {train}\n  test: {}\n  target: y\n  task: classification\n  id: id\n  timestamp: day\n{engine}{validate}", file.with_file_name("gate_test.parquet").display())
    };
    let yaml = |engine: &str| yaml_of(&file.display().to_string(), engine);
    let now = chrono::DateTime::parse_from_rfc3339("2024-02-01T00:00:00Z").unwrap().to_utc();
    let run = |text: &str| {
        let config = ml_gates::config::parse(text, "t.yaml", dir.to_path_buf()).unwrap();
        let inputs = ml_gates::data::open_gate_inputs(&config).unwrap();
        assert_eq!(inputs.train.on_spark(), text.contains("engine"));
        ml_gates::validate::run(&config, &inputs, now).unwrap()
    };
    let local = run(&yaml("  # the same line numbers as the other\n"));
    let spark = run(&yaml(&format!("  engine: {{spark: '{url}'}}\n")));
    let comparable = |c: &ml_gates::core::Check| {
        let mut v = serde_json::to_value(c).unwrap();
        if let Some(d) = v.get_mut("details").and_then(|d| d.as_object_mut()) {
            d.remove("examples");
            d.remove("failing_rows");
        }
        let message = v["message"].as_str().unwrap().to_string();
        v["message"] = serde_json::json!(message.split(", e.g.").next().unwrap());
        v
    };
    assert_eq!(local.len(), spark.len(), "{url}");
    assert!(local.len() > 40, "{} checks", local.len());
    let statuses: std::collections::BTreeSet<&str> = local.iter().map(|c| c.status.as_str()).collect();
    assert!(statuses.contains("pass") && statuses.contains("fail"), "{statuses:?}");
    for (a, b) in local.iter().zip(&spark) {
        let (a, b) = (comparable(a), comparable(b));
        assert!(same(&a, &b), "{url}:\n  polars {a}\n  spark  {b}");
    }
    // A suite run by polars and by Spark on `train`: the same checks (Apache Spark infers a CSV
    // integer column as 32-bit, Sail and polars as 64-bit); polars' checks returned.
    let both = |train: &str, suite: &str, label: &str| {
        let of = |engine: &str| {
            format!("version: 1\nname: t\ndata:\n  train: {train}\n  target: y\n  task: classification\n  id: id\n{engine}{suite}")
        };
        let (local, spark) = (run(&of("  # the same lines\n")), run(&of(&format!("  engine: {{spark: '{url}'}}\n"))));
        let width = |c: &ml_gates::core::Check| {
            let mut v = comparable(c);
            if c.id == "schema-column" {
                v["value"] = serde_json::json!(c.value.as_str().map(|t| t.replace("i32", "i64")));
                v["message"] = serde_json::json!(c.message.replace("i32", "i64"));
            }
            v
        };
        assert_eq!(local.len(), spark.len(), "{url} {label}: {local:?}");
        for (a, b) in local.iter().zip(&spark) {
            assert!(same(&width(a), &width(b)), "{url} {label}:\n  polars {a:?}\n  spark  {b:?}");
        }
        local
    };
    let path = file.display().to_string();
    // Quantiles with every other interpolation: the value at the rounded position, as polars
    // (`k` repeats values; `n` holds nulls; `w` NaN-free, see gate_rows).
    for interpolation in ["nearest", "lower", "higher", "midpoint"] {
        let stats = format!(
            "validate:\n  statistics:\n    k: {{quantiles: [{{q: 0.3, between: [0, 1]}}, {{q: 0.75, between: [0, 9]}}, {{q: 0.5, between: [0, 9]}}], interpolation: {interpolation}}}\n    n: {{quantiles: [{{q: 0.1, between: [0, 9]}}, {{q: 0.95, between: [0, 99]}}], interpolation: {interpolation}, where: \"t = 'a'\"}}\n    w: {{quantiles: [{{q: 0.33, between: [0, 9]}}, {{q: 1, between: [0, 9]}}, {{q: 0, between: [0, 9]}}], interpolation: {interpolation}}}\n"
        );
        let local = both(&path, &stats, interpolation);
        assert_eq!(local.iter().filter(|c| c.message.contains("quantile")).count(), 8, "{local:?}");
    }
    // Drift's other binnings and tests: equal-width bins, the count tests over every value.
    for options in ["bins: 7, method: psi", "method: chi_square, categorical_method: z", "method: ks, bins: 2"] {
        let drift = format!("validate:\n  drift: {{reference: gate_test.parquet, columns: [x, k, t, y], {options}}}\n");
        let local = both(&path, &drift, options);
        assert_eq!(local.iter().filter(|c| c.id.ends_with("drift")).count(), 5, "{local:?}");
    }
    // A table (a global view: any session of the server sees it) answers as its file.
    let view = format!("CREATE OR REPLACE GLOBAL TEMPORARY VIEW gate AS SELECT * FROM parquet.`{}`", file.display());
    Spark::connect(url).unwrap().sql(&view).unwrap();
    let engine = format!("  engine: {{spark: '{url}'}}\n");
    let short =
        "validate:\n  rows: {min: 5}\n  nulls: {max_percent: 5}\n  statistics: {x: {mean: [0, 5]}}\n  unique: [t]\n";
    let of = |train: &str| {
        format!("version: 1\nname: t\ndata:\n  train: {train}\n  target: y\n  task: classification\n  id: id\n{engine}{short}")
    };
    let table = run(&of("{table: global_temp.gate}"));
    let path = run(&of(&file.display().to_string()));
    assert_eq!(table.len(), path.len());
    assert!(table.len() > 5);
    for (a, b) in table.iter().zip(&path) {
        assert!(same(&comparable(a), &comparable(b)), "{url}: table {a:?}\nfile {b:?}");
    }
    // CSV files (a glob over two, each with its header) read by Spark as by polars: the same
    // checks (Spark infers the types from every row, polars from the first rows: here the same).
    let frame = ParquetReader::new(std::fs::File::open(file).unwrap()).finish().unwrap().drop("x").unwrap();
    std::fs::create_dir_all(dir.join("csv")).unwrap();
    for (name, part) in [("part-0.csv", frame.slice(0, 120)), ("part-1.csv", frame.slice(120, 200))] {
        let mut part = part;
        CsvWriter::new(std::fs::File::create(dir.join("csv").join(name)).unwrap()).finish(&mut part).unwrap();
    }
    let csv = "validate:\n  rows: {min: 5}\n  nulls: {max_percent: 5}\n  schema: {id: str, n: int, w: float, day: date}\n  statistics: {w: {mean: [0, 5], stdev: [0, 3]}, n: {mean: [0, 9]}}\n  categories: {t: [a, b]}\n  unique: [id, t]\n  drift: {reference: csv/part-0.csv, columns: [w, n, t]}\n";
    let local_csv = both("csv/*.csv", csv, "CSV");
    assert!(local_csv.len() > 10 && local_csv.iter().any(|c| c.status.as_str() == "fail"), "{local_csv:?}");
    // The command line in the config's folder: a relative path made absolute for the server, the
    // connection string (with a token) from the environment and never shown; a path that is not
    // there is an input error.
    // (The short suite's unique key `t` repeats: the gate runs and fails, exit 1.)
    for (train, code) in [("gate.parquet", 1), ("nothing.parquet", 2)] {
        let config = format!(
            "version: 1\nname: t\ndata:\n  train: {train}\n  target: y\n  task: classification\n  engine: {{spark: {{env: SPARK_REMOTE}}}}\n{short}"
        );
        std::fs::write(dir.join("ml-gates.yaml"), config).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ml-gates"))
            .args(["validate", "--format", "json"])
            .current_dir(dir)
            .env("SPARK_REMOTE", format!("{url}/;token=never-shown-token"))
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{url} {train}: {stdout}{stderr}");
        assert!(!stdout.contains("never-shown") && !stderr.contains("never-shown"), "{stdout}{stderr}");
        if code == 2 {
            assert!(stderr.contains("ml-gates.yaml:4:3: cannot read train data 'nothing.parquet'"), "{stderr}");
        }
    }
    // The action masks the connection string and its token before anything is printed.
    let config = format!(
        "version: 1\nname: t\ndata:\n  train: gate.parquet\n  target: y\n  task: classification\n  engine: {{spark: {{env: LAKE_SPARK}}}}\nstages: {{pull_request: [validate]}}\n{short}"
    );
    std::fs::write(dir.join("ml-gates.yaml"), config).unwrap();
    let token = "action-token-never-printed";
    let remote = format!("{url}/;token={token}");
    let payload = std::fs::read_to_string("fixtures/events/pull_request.json").unwrap();
    let (out, outputs) = common::action(
        dir,
        "pull_request",
        &payload,
        "refs/pull/7/merge",
        &[("INPUT_CONFIG", "ml-gates.yaml"), ("LAKE_SPARK", remote.as_str())],
    );
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let masks: Vec<&str> = stdout.lines().take_while(|l| l.starts_with("::add-mask::")).collect();
    assert!(masks.contains(&format!("::add-mask::{token}").as_str()), "{stdout}");
    assert_eq!(stdout.matches(token).count() + stderr.matches(token).count(), 2, "{stdout}\n{stderr}");
    assert_eq!(common::output(&outputs, "verdict").as_deref(), Some("fail"), "{stdout}\n{stderr}\n{outputs}");
    // A table that is not there: an input error at data.train with the engine's own words.
    let text = yaml_of("{table: lake.churn.missing_table}", &engine);
    let config = ml_gates::config::parse(&text, "t.yaml", dir.to_path_buf()).unwrap();
    let error = ml_gates::data::open_gate_inputs(&config).err().unwrap().problems.remove(0);
    assert_eq!(error.position.map(|p| p.0), Some(4), "{error:?}");
    assert!(error.message.starts_with("cannot read train data table lake.churn.missing_table: "), "{error:?}");
    assert!(error.message.to_lowercase().contains("missing_table") && error.message.contains(url), "{error:?}");
    // Failing rows on Spark: by id, without a row number.
    let range = spark.iter().find(|c| c.id == "value-range" && c.status.as_str() == "fail").unwrap();
    let rows = range.details.as_ref().unwrap()["failing_rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r["row"].is_null() && r["id"].is_string()), "{range:?}");
    for id in ["unique-values", "duplicate-rows", "train-test-leakage", "referential-integrity"] {
        let check = spark.iter().find(|c| c.id == id && c.status.as_str() == "fail").unwrap();
        let rows = check.details.as_ref().unwrap()["failing_rows"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.iter().all(|r| r["id"].is_string()), "{check:?}");
    }
    let unique = spark.iter().find(|c| c.id == "unique-values" && c.column.as_deref() == Some("t")).unwrap();
    let local_unique = local.iter().find(|c| c.id == "unique-values" && c.column.as_deref() == Some("t")).unwrap();
    let examples = |c: &ml_gates::core::Check| c.details.as_ref().unwrap()["examples"].clone();
    assert_eq!(examples(unique), examples(local_unique), "{url}: the most repeated values, the same on both");
}

/// JSON values equal, numbers to 1e-9 (relative).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Object(x), Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

/// 200 rows for the gate: every check both passes and fails somewhere, with missing values, NaN,
/// infinities, repeated and padded text, dates.
fn gate_data(dir: &std::path::Path) -> std::path::PathBuf {
    let mut referenced = df!(
        "k" => [Some("a"), Some("b"), Some("c"), None, Some("a")],
        "m" => [Some(1.0), Some(2.5), None, Some(30.0), Some(-2.0)],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(dir.join("ref.parquet")).unwrap()).finish(&mut referenced).unwrap();
    gate_rows(dir, "gate_test.parquet", 150..250);
    gate_rows(dir, "gate.parquet", 0..200)
}

/// The gate's rows `range` (the same row number, the same values) in the parquet file `name`.
fn gate_rows(dir: &std::path::Path, name: &str, range: std::ops::Range<usize>) -> std::path::PathBuf {
    let n = range.end;
    let id: Vec<String> = (0..n).map(|i| format!("k{i:04}")).collect();
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| match i % 37 {
            0 => None,
            5 => Some(f64::NAN),
            11 if i > 100 => Some(f64::INFINITY),
            _ => Some(((i * 7919) % 113) as f64 / 10.0 - 0.5),
        })
        .collect();
    let nn: Vec<Option<i64>> =
        (0..n).map(|i| if i % 29 == 3 { None } else { Some(((i * 31) % 61) as i64 - 2) }).collect();
    let t: Vec<Option<&str>> = (0..n)
        .map(|i| match i % 11 {
            0 => None,
            1..=3 => Some("a"),
            4 | 5 => Some("b"),
            6 => Some("c"),
            7 => Some("zz"),
            8 => Some("bz"),
            _ => Some("a"),
        })
        .collect();
    let y: Vec<i64> = (0..n).map(|i| i64::from(i % 3 == 0)).collect();
    let day: Vec<i32> = (0..n).map(|i| 19723 + (i % 20) as i32).collect();
    // Without NaN: Sail 0.7 sorts NaN inconsistently inside `percentile` (Apache Spark orders it
    // last, as polars).
    let w: Vec<Option<f64>> =
        x.iter().enumerate().map(|(i, v)| v.filter(|v| v.is_finite()).or((i % 2 == 0).then_some(3.25))).collect();
    // 13 values: drift bins them one bin per value.
    let k: Vec<f64> = (0..n).map(|i| (i % 13) as f64 * 0.5).collect();
    let mut frame = df!("id" => id, "x" => x, "w" => w, "n" => nn, "k" => k, "t" => t, "y" => y).unwrap();
    let day = Series::new("day".into(), day).cast(&DataType::Date).unwrap();
    frame.with_column(day.into_column()).unwrap();
    let mut frame = frame.slice(range.start as i64, range.len());
    let file = dir.join(name);
    ParquetWriter::new(std::fs::File::create(&file).unwrap()).finish(&mut frame).unwrap();
    file
}
