//! CLI cases as data: each `tests/cmd/<case>.toml` runs `ml-gates` in `<case>.in/` and compares
//! the exit code, stdout and stderr with `<case>.stdout` / `<case>.stderr`.
//! After an intended change in output, bless it with `TRYCMD=overwrite cargo test --test cli`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}

/// A text replaced in an example's config, and by what.
type Change = (&'static str, &'static str);

/// The CLI cases `example_run` and `house_prices_run` run the bundled examples' own configs,
/// changed only where a test must not time the machine (latency bounds of 5 s) and in their paths
/// (read from the case's folder).
#[test]
fn the_example_cases_are_the_bundled_examples() {
    let cases: [(&str, &str, &[Change]); 2] = [
        (
            "churn",
            "example_run",
            &[
                ("data/", "../../../examples/churn/data/"),
                ("models/champion.model", "../../../examples/churn/models/champion.model"),
                ("latency: {p99_ms: 50}", "latency: {p99_ms: 5000}"),
                ("p99_ms: 50, max_error_rate", "p99_ms: 5000, max_error_rate"),
                ("latency_p99_ms: {max: 100}", "latency_p99_ms: {max: 5000}"),
            ],
        ),
        (
            "house-prices",
            "house_prices_run",
            &[
                ("data/", "../../../examples/house-prices/data/"),
                ("models/production.model", "../../../examples/house-prices/models/production.model"),
                ("latency: {p99_ms: 80, rows: 500}", "latency: {p99_ms: 5000, rows: 500}"),
            ],
        ),
    ];
    for (example, case, changes) in cases {
        let mut expected = std::fs::read_to_string(format!("examples/{example}/ml-gates.yaml")).unwrap();
        for (from, to) in changes {
            assert!(expected.contains(from), "examples/{example}/ml-gates.yaml no longer has '{from}': update {case}");
            expected = expected.replace(from, to);
        }
        let text = std::fs::read_to_string(format!("tests/cmd/{case}.in/ml-gates.yaml")).unwrap();
        // After the two lines that say why.
        let body: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(
            body, expected,
            "tests/cmd/{case}.in/ml-gates.yaml differs from the example beyond its bounds and paths"
        );
    }
}
