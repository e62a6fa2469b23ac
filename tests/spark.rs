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
    for url in [&sail.url, &apache.url] {
        aggregates_from_spark_equal_polars(url);
        refused_queries_carry_the_engine_message(url);
    }
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
