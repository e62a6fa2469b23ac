//! Snapshots of everything people read: the Markdown report (job summary and PR comment to be),
//! the terminal table with and without colour, and the JSON Schema of ml-gates.yaml.
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always cargo test --test render`).

use chrono::{DateTime, Utc};
use ml_gates::report::{markdown, text, Report, Stage};
use std::path::Path;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z").unwrap().with_timezone(&Utc)
}

fn report(config: &str) -> Report {
    let config = ml_gates::config::load(Path::new(config)).expect("config loads");
    let inputs = ml_gates::data::open_inputs(&config).expect("data opens");
    let checks = ml_gates::validate::run(&config, &inputs, now()).expect("checks run");
    let mut report = Report::new(&config.raw.name, "ml-gates.yaml");
    report.add_stage(Stage::Validate, checks);
    report
}

#[test]
fn markdown_escapes_hostile_names_and_values() {
    // The config's name must be a registry name now; a report can still carry any name (a JSON
    // report from elsewhere), so the renderer escapes it.
    let mut report = report("tests/render/hostile/ml-gates.yaml");
    report.name = "churn <b>@octocat</b> | x".into();
    let rendered = markdown::render(&report);
    assert!(!rendered.contains("<img"), "raw HTML leaked into the Markdown");
    assert!(!rendered.contains("@octocat"), "a mention leaked into the Markdown");
    assert!(!rendered.contains("a|b"), "an unescaped pipe would split the table");
    insta::assert_snapshot!(rendered);
}

#[test]
fn markdown_report_with_failures_and_drift() {
    insta::assert_snapshot!(markdown::render(&report("tests/cmd/drift_detected.in/ml-gates.yaml")));
}

#[test]
fn markdown_report_all_passing() {
    insta::assert_snapshot!(markdown::render(&report("examples/churn/ml-gates.yaml")));
}

#[test]
fn terminal_table_plain_and_coloured() {
    let report = report("tests/cmd/range_violated.in/ml-gates.yaml");
    insta::assert_snapshot!("terminal_plain", text::render(&report, false));
    let coloured = text::render(&report, true);
    assert!(coloured.contains("\x1b[31;1mFAIL\x1b[0m"));
    insta::assert_snapshot!("terminal_coloured", coloured.replace('\x1b', "<ESC>"));
}

#[test]
fn json_schema_of_the_config_is_committed() {
    let generated = serde_json::to_string_pretty(ml_gates::config::json_schema()).unwrap() + "\n";
    let committed = std::fs::read_to_string("docs/ml-gates.schema.json").unwrap_or_default();
    assert!(
        generated == committed,
        "docs/ml-gates.schema.json is out of date: run `cargo run -- schema > docs/ml-gates.schema.json`"
    );
}

/// Every check id of every stage appears in docs/checks.md, once in the one list.
#[test]
fn every_check_id_is_documented() {
    let docs = std::fs::read_to_string("docs/checks.md").unwrap();
    let all = ml_gates::report::CHECKS.iter().flat_map(|(_, ids)| ids.iter());
    let mut seen = std::collections::BTreeSet::new();
    for (id, _) in all {
        assert!(seen.insert(*id), "{id} is listed twice");
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{id} is not kebab-case");
        assert!(docs.contains(&format!("`{id}`")), "{id} is missing from docs/checks.md");
    }
}

/// Every check id the library's code reports (outside its unit tests) is in the one list, under
/// the stage that reports it: a new check cannot ship unlisted and undocumented.
#[test]
fn every_reported_check_id_is_listed() {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let listed: std::collections::BTreeMap<&str, String> = ml_gates::report::CHECKS
        .iter()
        .flat_map(|(stage, ids)| ids.iter().map(move |(id, _)| (*id, format!("{stage:?}"))))
        .collect();
    let mut sources = Vec::new();
    files(std::path::Path::new("src"), &mut sources);
    let mut found = 0;
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for constructor in ["Check::judged(", "Check::unmeasured("] {
            for (i, _) in code.match_indices(constructor) {
                let args = code[i + constructor.len()..].trim_start();
                let Some(rest) = args.strip_prefix('"') else { continue };
                let id = &rest[..rest.find('"').unwrap()];
                let stage =
                    args.split("Stage::").nth(1).map(|s| s.split(|c: char| !c.is_alphanumeric()).next().unwrap());
                found += 1;
                assert_eq!(
                    listed.get(id).map(String::as_str),
                    stage,
                    "{}: check id '{id}' is not listed under its stage in report::CHECKS",
                    path.display()
                );
            }
        }
    }
    assert!(found > 30, "only {found} check ids found in src/: the scan read nothing");
}

/// Every key of ml-gates.yaml's schema appears in docs/config.md.
#[test]
fn every_config_key_is_documented() {
    fn keys(schema: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match schema {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                    out.extend(props.keys().cloned());
                }
                map.values().for_each(|v| keys(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let mut all = std::collections::BTreeSet::new();
    keys(ml_gates::config::json_schema(), &mut all);
    // Every identifier inside a `code span` of the reference counts as documented.
    let docs = std::fs::read_to_string("docs/config.md").unwrap();
    let documented: std::collections::BTreeSet<&str> = docs
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|span| span.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .collect();
    let missing: Vec<&String> = all.iter().filter(|k| !documented.contains(k.as_str())).collect();
    assert!(missing.is_empty(), "keys missing from docs/config.md: {missing:?}");
}

/// Train the model of `config` and evaluate it: the evaluation part of a report.
fn evaluation_report(config: &str) -> Report {
    let config = ml_gates::config::load(Path::new(config)).expect("config loads");
    let inputs = ml_gates::data::open_inputs(&config).expect("data opens");
    let trained = ml_gates::train::run(&config, config.raw.train.as_ref().unwrap(), &inputs).expect("trains");
    let evaluation = ml_gates::evaluate::run(
        &config,
        &ml_gates::evaluate::Candidate::built_in(&trained.model),
        &trained.train,
        &trained.test,
        None,
    )
    .expect("evaluates");
    let mut report = Report::new(&config.raw.name, "ml-gates.yaml");
    report.add_evaluation(evaluation);
    report
}

#[test]
fn markdown_evaluation_with_fairness_and_confusion_matrix() {
    insta::assert_snapshot!(markdown::render(&evaluation_report("tests/render/evaluate/ml-gates.yaml")));
}

/// The registry's section: lineage, aliases, the moves of this run, the metric history as a table
/// and charts; hostile lineage strings (a branch name is anyone's to choose) stay inert.
#[test]
fn markdown_registry_lineage_and_history() {
    use ml_gates::registry::{local::LocalRegistry, Lineage, MoveKind, NewVersion, Registry};
    let dir = tempfile::tempdir().unwrap();
    let registry = LocalRegistry::new(dir.path().to_path_buf(), "churn", ".ml-gates/registry").unwrap();
    let record = |i: u64, accuracy: f64, verdict: &str| NewVersion {
        lineage: Lineage {
            run_id: format!("{i:032x}"),
            created_at: format!("2026-11-2{i}T10:00:00.000Z"),
            git_sha: Some(format!("{i}abcdef0123456789")),
            git_ref: Some("refs/heads/<img src=x onerror=alert(1)>@octocat".into()),
            event: Some("push".into()),
            config_hash: "c".repeat(64),
            train_data: "a".repeat(64),
            test_data: "b".repeat(64),
        },
        model: "logistic_regression".into(),
        params: Default::default(),
        metrics: [("accuracy".to_string(), accuracy), ("roc_auc".to_string(), accuracy - 0.05)].into_iter().collect(),
        verdict: verdict.into(),
        binding: None,
    };
    for (i, accuracy, verdict) in [(1, 0.78, "pass"), (2, 0.74, "fail"), (3, 0.81, "pass")] {
        registry.register(&record(i, accuracy, verdict), None).unwrap();
    }
    registry.move_alias("champion", 1, MoveKind::Promote, "first release", None).unwrap();
    let moved = registry.move_alias("challenger", 3, MoveKind::Promote, "every blocking gate passed", None).unwrap();
    let lineage = registry.version(3).unwrap().record.lineage;
    let mut report = Report::new("churn", "ml-gates.yaml");
    report.registry =
        Some(ml_gates::register::detail(&registry, 10, Some(lineage), Some(3), Some(1), vec![moved]).unwrap());
    insta::assert_snapshot!(markdown::render(&report));
}

#[test]
fn markdown_staging_smoke_and_load_test() {
    use ml_gates::loadtest::{Latency, Outcome};
    use ml_gates::report::{Check, Severity, Stage, Threshold};
    use ml_gates::staging::{Smoke, StagingDetail};
    let mut report = Report::new("churn", "ml-gates.yaml");
    report.add_stage(
        Stage::Staging,
        vec![
            Check::judged("staging-smoke", Stage::Staging, false, Severity::Error)
                .value(1)
                .threshold(Threshold::max(0.0))
                .message("1 mismatched rows, 0 failed requests: row 3: served \"<b>yes</b>\", in process no")
                .line(Some(40)),
            Check::judged("staging-latency-p99", Stage::Staging, true, Severity::Error)
                .value(4.2)
                .threshold(Threshold::max(50.0).unit("ms"))
                .message("p99 4.2 ms at 200 requests per second (p50 1.1 ms, max 9.8 ms)")
                .line(Some(41)),
        ],
    );
    let latency = |scale: f64| Latency {
        p50: 1.1 * scale,
        p90: 2.5 * scale,
        p99: 4.2 * scale,
        p999: 8.0 * scale,
        max: 9.8 * scale,
        mean: 1.3 * scale,
    };
    report.staging = Some(StagingDetail {
        version: 3,
        smoke: Smoke {
            rows: 100,
            requests: 11,
            mismatched_rows: 1,
            failed_requests: 0,
            first_problem: Some("row 3: served \"<b>yes</b>\", in process no".into()),
        },
        load_test: Some(Outcome {
            target: "http://127.0.0.1:40000".into(),
            rps: 200.0,
            duration_seconds: 5.004,
            requests: 1000,
            ok: 1000,
            errors: 0,
            error_rate: 0.0,
            statuses: [("200".to_string(), 1000)].into_iter().collect(),
            achieved_rps: 199.8,
            latency_ms: Some(latency(1.0)),
            service_ms: Some(latency(0.9)),
            first_error: None,
        }),
        requests_from: Some("recorded|requests.jsonl".into()),
    });
    insta::assert_snapshot!(markdown::render(&report));
}

#[test]
fn markdown_deploy_canary_rolled_back() {
    use ml_gates::config::raw::{Strategy, TargetKind};
    use ml_gates::deploy::analysis::{Measurement, Phase};
    use ml_gates::deploy::{DeployDetail, Ending, PhaseRecord};
    let measurement = |metric: &str, phase: Phase, value: Option<f64>, max: f64, message: &str| Measurement {
        metric: metric.into(),
        phase,
        value,
        min: None,
        max: Some(max),
        message: message.into(),
    };
    let mut report = Report::new("churn", "ml-gates.yaml");
    report.deploy = Some(DeployDetail {
        strategy: Strategy::Canary,
        target: TargetKind::Builtin,
        stable: Some(3),
        candidate: 4,
        ending: Ending::RolledBack,
        reason: "step 2: 25 %: error_rate = 0.31 outside ≤ 0.01 (1 failed measurements, failure_limit 0)".into(),
        phases: vec![
            PhaseRecord {
                name: "step 1: 5 %".into(),
                weight: 5.0,
                routing: "v3 95 % · v4 5 %".into(),
                generation: Some(7),
                windows: 2,
                seconds: 120.4,
                candidate_requests: Some(212),
                stable_requests: Some(3988),
                measurements: vec![
                    measurement("error_rate", Phase::Successful, Some(0.0), 0.01, ""),
                    measurement("latency_p99_ms", Phase::Successful, Some(4.1), 50.0, ""),
                ],
                decision: "passed".into(),
            },
            PhaseRecord {
                name: "step 2: 25 %".into(),
                weight: 25.0,
                routing: "v3 75 % · v4 25 % · header 'x-arm' = '<b>' → v4".into(),
                generation: Some(8),
                windows: 1,
                seconds: 60.1,
                candidate_requests: Some(1490),
                stable_requests: Some(4521),
                measurements: vec![
                    measurement("error_rate", Phase::Failed, Some(0.31), 0.01, ""),
                    measurement("latency_p99_ms", Phase::Inconclusive, None, 50.0, "no requests"),
                ],
                decision: "error_rate = 0.31 outside ≤ 0.01 (1 failed measurements, failure_limit 0)".into(),
            },
        ],
        ab: None,
        promoted: None,
        server: Some("http://127.0.0.1:41234".into()),
        seconds: 181.2,
    });
    insta::assert_snapshot!(markdown::render(&report));
}
