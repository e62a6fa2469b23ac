//! Rules between keys that a schema cannot express: bounds in order, one role per column,
//! options that fit the task and the data given. Every broken rule is collected.

use super::raw::{DatasetRole, DriftMethod, RawConfig, Task};
use super::Source;
use crate::core::format_number;
use crate::error::Problem;

/// The problems of `raw`, section by section, in the order the sections' rules run.
pub fn check(raw: &RawConfig, source: &Source) -> Vec<Problem> {
    let mut r = Rules { source, problems: Vec::new() };
    names(raw, &mut r);
    registry(raw, &mut r);
    staging(raw, &mut r);
    r.problems.extend(super::deploy::check(raw, source));
    data(raw, &mut r);
    train(raw, &mut r);
    if let Some(evaluate) = &raw.evaluate {
        self::evaluate(raw, evaluate, &mut r);
    }
    if let Some(validate) = &raw.validate {
        self::validate(raw, validate, &mut r);
    }
    r.problems
}

/// Every broken rule so far, and where the file sets each key.
struct Rules<'a> {
    source: &'a Source,
    problems: Vec<Problem>,
}

impl Rules<'_> {
    fn problem(&mut self, path: &str, message: String) {
        self.problems.push(self.source.problem(path, message, None));
    }

    fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    fn bounds_in_order(&mut self, key: &str, bounds: &super::raw::Bounds) {
        if let (Some(min), Some(max)) = (bounds.min, bounds.max) {
            if min > max {
                self.problem(
                    key,
                    format!("{key}: min ({}) is greater than max ({})", format_number(min), format_number(max)),
                );
            }
        }
    }
}

/// The name and the aliases.
fn names(raw: &RawConfig, r: &mut Rules) {
    // The name and aliases become folder names, MLflow names and aliases.
    if let Err(e) = crate::core::names::check_name(&raw.name) {
        r.problem("name", e.to_string());
    }
    let aliases = [
        ("registry.alias_on_pass", raw.registry.as_ref().and_then(|r| r.alias_on_pass.as_deref())),
        (
            "evaluate.champion.alias",
            raw.evaluate.as_ref().and_then(|e| e.champion.as_ref()).and_then(|c| c.alias.as_deref()),
        ),
    ];
    for (key, alias) in aliases {
        if let Some(Err(e)) = alias.map(crate::core::names::check_alias) {
            r.problem(key, e.to_string());
        }
    }
    if let (Some(pass), Some(champion)) = (aliases[0].1, aliases[1].1.or(Some("champion"))) {
        if pass == champion {
            r.problem(
                "registry.alias_on_pass",
                format!("registry.alias_on_pass is '{pass}', the champion's alias: a passing candidate would become the champion without a promotion"),
            );
        }
    }
}

/// `registry:`: one backend, and an OCI repository the registry can name.
fn registry(raw: &RawConfig, r: &mut Rules) {
    let Some(registry) = &raw.registry else { return };
    if registry.mlflow.is_some() && registry.oci.is_some() {
        r.problem("registry.oci", "registry.mlflow and registry.oci are both set: choose one backend".to_string());
    }
    if let Some(oci) = &registry.oci {
        if let Err(e) = crate::core::names::oci_repository(&oci.repository) {
            r.problem("registry.oci.repository", e);
        }
    }
}

/// `staging:`: durations.
fn staging(raw: &RawConfig, r: &mut Rules) {
    if let Some(load) = raw.staging.as_ref().and_then(|s| s.load_test.as_ref()) {
        for (key, text) in
            [("staging.load_test.duration", Some(&load.duration)), ("staging.load_test.timeout", load.timeout.as_ref())]
        {
            match text.map(|t| t.parsed.clone()) {
                Some(Err(e)) => r.problem(key, e),
                Some(Ok(d)) if d.is_zero() => r.problem(key, format!("{key} must be more than 0")),
                _ => {}
            }
        }
    }
}

/// `data:`: the split, one role per column, features that play no other role.
/// `data.storage_options`: keys some provider knows; secrets only by environment variable.
fn storage_options(data: &crate::config::raw::DataConfig, r: &mut Rules) {
    use crate::config::raw::StorageValue;
    use crate::config::storage::{is_known_key, is_secret, suggest_key};
    for (key, source) in [("data.train", Some(&data.train)), ("data.test", data.test.as_ref())] {
        let path = source.map(|s| s.path()).unwrap_or_default();
        let scheme = path.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        if (scheme == "http" || scheme == "https") && path.contains(['*', '?', '[']) {
            r.problem(
                key,
                format!(
                    "{key}: a web server cannot list its files, so '{}' cannot be a glob; name each file",
                    crate::config::storage::shown(path)
                ),
            );
        }
    }
    for (key, value) in data.storage_options.iter().flatten() {
        let path = format!("data.storage_options.{key}");
        if !is_known_key(key) {
            let message =
                format!("{path}: no object store knows the option '{key}' (docs/config.md lists the common ones)");
            r.push(r.source.problem(&path, message, suggest_key(key)));
        } else if is_secret(key) && !matches!(value, StorageValue::Env(_)) {
            r.problem(
                &path,
                format!("{path} is a secret: give the environment variable that holds it ({{env: NAME}}), never the value in the file"),
            );
        }
    }
}

/// Every data source the config names, with its key.
fn sources(raw: &RawConfig) -> Vec<(String, &crate::config::raw::DataSource)> {
    let mut out = vec![("data.train".to_string(), &raw.data.train)];
    out.extend(raw.data.test.iter().map(|t| ("data.test".to_string(), t)));
    if let Some(v) = &raw.validate {
        out.extend(v.drift.iter().map(|d| ("validate.drift.reference".to_string(), &d.reference)));
        for (c, r) in v.references.iter().flatten() {
            out.push((format!("validate.references.{c}.file"), &r.file));
        }
    }
    out
}

/// `data.engine` and tables: a connection string without a token in the file, tables only with a
/// Spark engine, and on Spark only the checks the gate computes there.
fn engine(raw: &RawConfig, r: &mut Rules) {
    use crate::config::raw::SparkRemote;
    let spark = raw.data.engine.as_ref().map(|e| &e.spark);
    if let Some(SparkRemote::Url(url)) = spark {
        if !url.starts_with("sc://") {
            r.problem(
                "data.engine.spark",
                format!(
                    "data.engine.spark: '{}' is not a Spark Connect connection string (sc://host:port)",
                    crate::config::storage::shown(url)
                ),
            );
        } else if url.to_ascii_lowercase().contains(";token=") {
            r.problem(
                "data.engine.spark",
                "data.engine.spark carries a token, a secret: give the environment variable that holds the connection string ({env: SPARK_REMOTE}), never the token in the file".into(),
            );
        }
    }
    for (key, source) in sources(raw) {
        let Some(table) = source.table() else { continue };
        if spark.is_none() {
            r.problem(
                &format!("{key}.table"),
                format!("{key} is a table, which a Spark cluster reads: set data.engine ({{spark: sc://host:15002}}), or give a path"),
            );
        } else if !crate::config::storage::is_table_name(table) {
            r.problem(
                &format!("{key}.table"),
                format!("{key}.table: '{table}' is not a table name (parts of letters, digits and underscores, separated by dots)"),
            );
        }
    }
    if spark.is_some() {
        for (key, column) in file_ordered(raw) {
            r.problem(
                &key,
                format!("validate.monotonic.{column} reads the rows in file order, which data on Spark does not have: set data.timestamp and order by it (order_by: timestamp), or run it in a job with the local engine"),
            );
        }
    }
}

/// The monotonic checks that read the rows in file order (their key and column): on Spark the
/// rows have an order only by `data.timestamp` (a table has no file order).
fn file_ordered(raw: &RawConfig) -> Vec<(String, String)> {
    use crate::config::raw::RowOrder;
    let Some(v) = &raw.validate else { return Vec::new() };
    let mut out = Vec::new();
    for (c, m) in v.monotonic.iter().flatten() {
        match (m.order_by, &raw.data.timestamp) {
            (Some(RowOrder::File), _) => out.push((format!("validate.monotonic.{c}.order_by"), c.clone())),
            (None, None) => out.push((format!("validate.monotonic.{c}"), c.clone())),
            _ => {}
        }
    }
    out
}

fn data(raw: &RawConfig, r: &mut Rules) {
    let data = &raw.data;
    if data.test.is_some() && data.split.is_some() {
        r.problem("data.split", "give either data.test or data.split, not both".into());
    }
    if let Some(split) = &data.split {
        if !(split.test_fraction > 0.0 && split.test_fraction < 1.0) {
            r.problem(
                "data.split.test_fraction",
                format!(
                    "data.split.test_fraction must be between 0 and 1 (exclusive), found {}",
                    format_number(split.test_fraction)
                ),
            );
        }
    }

    storage_options(data, r);
    engine(raw, r);

    // One role per column.
    let mut roles: Vec<(&str, &str)> = vec![("data.target", data.target.as_str())];
    if let Some(id) = &data.id {
        roles.push(("data.id", id));
    }
    if let Some(ts) = &data.timestamp {
        roles.push(("data.timestamp", ts));
    }
    for (i, s) in data.sensitive.iter().enumerate() {
        let _ = i;
        roles.push(("data.sensitive", s));
    }
    for (i, (role_b, col_b)) in roles.iter().enumerate() {
        if let Some((role_a, _)) = roles[..i].iter().find(|(_, col_a)| col_a == col_b) {
            let key = if *role_b == "data.sensitive" {
                let index = data.sensitive.iter().position(|s| s == col_b).unwrap_or(0);
                format!("data.sensitive[{index}]")
            } else {
                role_b.to_string()
            };
            let message = if role_a == role_b {
                format!("column '{col_b}' is listed twice in {role_b}")
            } else {
                format!("column '{col_b}' is both {role_a} and {role_b}")
            };
            r.problem(&key, message);
        }
    }
    if let Some(features) = &data.features {
        for (i, feature) in features.iter().enumerate() {
            if let Some((role, _)) = roles.iter().find(|(_, col)| col == feature) {
                r.problem(
                    &format!("data.features[{i}]"),
                    format!("column '{feature}' is {role} and cannot also be a feature"),
                );
            }
        }
    }
}

/// `train:`: a model or a command (not both), a model that fits the task, its parameters.
fn train(raw: &RawConfig, r: &mut Rules) {
    let data = &raw.data;
    if let Some(train) = &raw.train {
        match (&train.model, &train.command) {
            (Some(_), Some(_)) => r.problem("train.command", "give train.model or train.command, not both".into()),
            (None, None) if train.model_file.is_some() => prepared_model(train, r),
            (None, None) => r.problem(
                "train",
                "train needs a built-in model (train.model) or an external trainer (train.command)".into(),
            ),
            (None, Some(_)) => {
                if let Some(file) = train.model_file.as_deref().filter(|f| crate::config::storage::is_remote(f)) {
                    r.problem(
                        "train.model_file",
                        format!(
                            "train.model_file '{}' is a URI, but with train.command it names the file the command writes into $ML_GATES_OUTPUT",
                            crate::config::storage::shown(file)
                        ),
                    );
                }
                for key in ["params", "preprocess"] {
                    let set = if key == "params" { !train.params.is_empty() } else { train.preprocess.is_some() };
                    if set {
                        r.problem(
                            &format!("train.{key}"),
                            format!("train.{key} configures a built-in model; train.command trains its own"),
                        );
                    }
                }
            }
            (Some(_), None) => {
                for (key, set) in [
                    ("timeout_seconds", train.timeout_seconds.is_some()),
                    ("predictions", train.predictions.is_some()),
                    ("model_file", train.model_file.is_some()),
                    ("predict_command", train.predict_command.is_some()),
                ] {
                    if set {
                        r.problem(&format!("train.{key}"), format!("train.{key} belongs to train.command"));
                    }
                }
            }
        }
    }
    if let Some(model) = raw.train.as_ref().and_then(|t| t.model) {
        let train = raw.train.as_ref().expect("train is set");
        match (model.is_classifier(), data.task) {
            (true, Task::Regression) | (false, Task::Classification) => r.problem(
                "train.model",
                format!(
                    "{} does not fit data.task: {}",
                    model.as_str(),
                    if model.is_classifier() { "regression" } else { "classification" }
                ),
            ),
            _ => {}
        }
        let specs = model.params();
        for (name, value) in &train.params {
            let key = format!("train.params.{name}");
            match specs.iter().find(|p| p.name == name) {
                None => {
                    let names: Vec<&str> = specs.iter().map(|p| p.name).collect();
                    let suggestion = crate::error::did_you_mean(name, names.iter().copied());
                    let mut message = format!("unknown parameter '{name}' for {}", model.as_str());
                    if suggestion.is_none() {
                        message.push_str(&format!(" (expected one of: {})", names.join(", ")));
                    }
                    r.push(r.source.problem(&key, message, suggestion));
                }
                Some(spec) => {
                    if let Some(why) = spec.ty.check(value) {
                        r.push(r.source.problem(&key, format!("train.params.{name} {why}"), None));
                    }
                }
            }
        }
    }
}

/// `train.model_file` alone: a model made elsewhere (an earlier workflow step), an ONNX graph.
fn prepared_model(train: &super::raw::TrainConfig, r: &mut Rules) {
    let file = train.model_file.as_deref().unwrap_or_default();
    if !file.to_ascii_lowercase().ends_with(".onnx") {
        r.problem(
            "train.model_file",
            format!(
                "train.model_file '{file}' alone names a model made elsewhere, which ml-gates runs as ONNX (.onnx); \
                 for another format, give train.command with its predictions"
            ),
        );
    }
    for (key, set) in [("params", !train.params.is_empty()), ("preprocess", train.preprocess.is_some())] {
        if set {
            r.problem(
                &format!("train.{key}"),
                format!("train.{key} configures a built-in model; train.model_file is a model trained elsewhere"),
            );
        }
    }
    for (key, set) in [
        ("timeout_seconds", train.timeout_seconds.is_some()),
        ("predictions", train.predictions.is_some()),
        ("predict_command", train.predict_command.is_some()),
    ] {
        if set {
            r.problem(&format!("train.{key}"), format!("train.{key} belongs to train.command"));
        }
    }
}

/// `evaluate:`: metrics of the task, bounds in order, options that fit the task.
fn evaluate(raw: &RawConfig, evaluate: &super::raw::EvaluateConfig, r: &mut Rules) {
    let data = &raw.data;
    let valid = crate::measure::metric_names(data.task);
    for (name, bounds) in &evaluate.metrics {
        let key = format!("evaluate.metrics.{name}");
        if !valid.contains(&name.as_str()) {
            let suggestion = crate::error::did_you_mean(name, valid.iter().copied());
            let other = match data.task {
                Task::Classification => Task::Regression,
                Task::Regression => Task::Classification,
            };
            let message = if crate::measure::metric_names(other).contains(&name.as_str()) {
                format!("metric '{name}' is not valid for data.task: {}", task_name(data.task))
            } else {
                format!("unknown metric '{name}' (expected one of: {})", valid.join(", "))
            };
            r.push(r.source.problem(&key, message, suggestion));
        }
        r.bounds_in_order(&key, bounds);
    }
    if let Some(baseline) = &evaluate.baseline {
        use super::raw::{BaselineConfig, BaselineStrategy};
        let strategy = match baseline {
            BaselineConfig::Strategy(s) => *s,
            BaselineConfig::Full(f) => f.strategy,
        };
        let fits = match strategy {
            BaselineStrategy::Mean => data.task == Task::Regression,
            _ => data.task == Task::Classification,
        };
        if !fits {
            r.push(r.source.problem(
                "evaluate.baseline",
                format!("this baseline does not fit data.task: {}", task_name(data.task)),
                None,
            ));
        }
    }
    if let Some(behavior) = &evaluate.behavior {
        for (i, test) in behavior.invariance.iter().enumerate() {
            let key = format!("evaluate.behavior.invariance[{i}]");
            let changes = [test.set.is_some(), test.add.is_some(), test.shuffle == Some(true)];
            if changes.iter().filter(|c| **c).count() != 1 {
                r.problem(&key, format!("{key} needs exactly one change: set, add or shuffle: true"));
            }
            if test.max_changed_percent.is_none() && test.max_change.is_none() {
                r.problem(&key, format!("{key} needs max_changed_percent, max_change or both"));
            }
            if test.max_changed_percent.is_some() && data.task == Task::Regression {
                r.problem(
                    &format!("{key}.max_changed_percent"),
                    "max_changed_percent counts changed classes: use max_change for a regression".into(),
                );
            }
        }
    }
    if let Some(slices) = &evaluate.slices {
        for (column, metrics) in &slices.columns {
            for (name, bounds) in metrics {
                let key = format!("evaluate.slices.columns.{column}.{name}");
                if !valid.contains(&name.as_str()) {
                    r.push(r.source.problem(
                        &key,
                        format!("'{name}' is not a metric of data.task: {}", task_name(data.task)),
                        crate::error::did_you_mean(name, valid.iter().copied()),
                    ));
                }
                r.bounds_in_order(&key, bounds);
            }
        }
    }
    if let Some(champion) = &evaluate.champion {
        let name = champion.metric.as_str();
        if !valid.contains(&name) {
            r.push(r.source.problem(
                "evaluate.champion.metric",
                format!("evaluate.champion.metric '{name}' is not a metric of data.task: {}", task_name(data.task)),
                crate::error::did_you_mean(name, valid.iter().copied()),
            ));
        }
        if champion.noise == Some(super::raw::NoiseTest::Mcnemar) && name != "accuracy" {
            r.problem(
                "evaluate.champion.noise",
                format!("noise: mcnemar tests accuracy only; use bootstrap for {name}"),
            );
        }
    }
    if let Some(fairness) = &evaluate.fairness {
        if data.task != Task::Classification {
            r.problem(
                "evaluate.fairness",
                format!("fairness gates classifiers; data.task is {}", task_name(data.task)),
            );
        }
        if fairness.attribute.is_none() && data.sensitive.len() != 1 {
            r.problem(
                "evaluate.fairness",
                "evaluate.fairness needs an attribute (or exactly one column in data.sensitive)".into(),
            );
        }
        let configured = fairness.bounds();
        for (name, bounds) in configured {
            r.bounds_in_order(&format!("evaluate.fairness.{name}"), bounds);
        }
    }
}

/// `validate:`: checks that say something, options that fit the task and the data given.
fn validate(raw: &RawConfig, validate: &super::raw::ValidateConfig, r: &mut Rules) {
    let data = &raw.data;
    if let Some(datasets) = &validate.datasets {
        for (i, d) in datasets.iter().enumerate() {
            if *d == DatasetRole::Test && data.test.is_none() {
                r.problem(
                    &format!("validate.datasets[{i}]"),
                    "validate.datasets names test, but data.test is not set".into(),
                );
            }
        }
    }
    if let Some(rows) = &validate.rows {
        if let (Some(min), Some(max)) = (rows.min, rows.max) {
            if min > max {
                r.problem("validate.rows", format!("validate.rows: min ({min}) is greater than max ({max})"));
            }
        }
        if rows.min.is_none() && rows.max.is_none() {
            r.problem("validate.rows", "validate.rows needs min, max or both".into());
        }
    }
    if let Some(nulls) = &validate.nulls {
        if nulls.max_percent.is_none() && nulls.columns.is_empty() {
            r.problem("validate.nulls", "validate.nulls needs max_percent, columns or both".into());
        }
    }
    text_and_statistics(validate, r);
    sums_and_order(raw, validate, r);
    expressions(validate, r);
    if let Some(ranges) = &validate.ranges {
        for (column, range) in ranges {
            let key = format!("validate.ranges.{column}");
            match range.bounds() {
                (Some(min), Some(max)) if min > max => r.problem(
                    &key,
                    format!("{key}: min ({}) is greater than max ({})", format_number(min), format_number(max)),
                ),
                (None, None) => r.problem(&key, format!("{key} needs a min, a max or both")),
                _ => {}
            }
        }
    }
    if let Some(categories) = &validate.categories {
        for (column, allowed) in categories {
            if allowed.values().is_empty() {
                r.problem(
                    &format!("validate.categories.{column}"),
                    format!("validate.categories.{column} allows no value at all"),
                );
            }
        }
    }
    if let Some(target) = &validate.target {
        match data.task {
            Task::Regression => {
                if target.min_class_percent.is_some() {
                    r.problem(
                        "validate.target.min_class_percent",
                        "min_class_percent needs data.task: classification".into(),
                    );
                }
                if target.classes.is_some() {
                    r.problem("validate.target.classes", "classes needs data.task: classification".into());
                }
            }
            Task::Classification => {
                if target.range.is_some() {
                    r.problem("validate.target.range", "range needs data.task: regression".into());
                }
            }
        }
        if let Some([Some(min), Some(max)]) = target.range {
            if min > max {
                r.problem(
                    "validate.target.range",
                    format!(
                        "validate.target.range: min ({}) is greater than max ({})",
                        format_number(min),
                        format_number(max)
                    ),
                );
            }
        }
    }
    if let Some(leakage) = &validate.leakage {
        if leakage.by == Some(super::raw::LeakageKey::Id) && data.id.is_none() {
            r.problem("validate.leakage.by", "leakage by id needs data.id".into());
        }
    }
    if let Some(drift) = &validate.drift {
        let method = drift.method.unwrap_or(DriftMethod::Auto);
        let categorical = drift.categorical_method.unwrap_or(DriftMethod::Auto);
        for numeric_only in [DriftMethod::Ks, DriftMethod::Wasserstein] {
            if categorical == numeric_only {
                r.problem(
                    "validate.drift.categorical_method",
                    format!("{} works on numeric columns only: use it as method", numeric_only.as_str()),
                );
            }
        }
        for (key, m, t) in [
            ("validate.drift.threshold", method, drift.threshold),
            ("validate.drift.categorical_threshold", categorical, drift.categorical_threshold),
        ] {
            if let Some(t) = t {
                if (m.is_p_value() || m == DriftMethod::Auto) && t > 1.0 {
                    r.problem(
                        key,
                        format!(
                            "{key} is a p-value for {} and must be at most 1, found {}",
                            m.as_str(),
                            format_number(t)
                        ),
                    );
                }
            }
        }
    }
}

/// `validate.row_sums` and `validate.monotonic`: enough columns, an order that exists.
fn sums_and_order(raw: &RawConfig, validate: &super::raw::ValidateConfig, r: &mut Rules) {
    for (i, sum) in validate.row_sums.iter().enumerate() {
        if sum.columns.len() < 2 {
            let key = format!("validate.row_sums[{i}].columns");
            r.problem(&key, format!("{key} needs at least two columns to add"));
        }
    }
    for (column, m) in validate.monotonic.iter().flatten() {
        if m.order_by == Some(super::raw::RowOrder::Timestamp) && raw.data.timestamp.is_none() {
            let key = format!("validate.monotonic.{column}.order_by");
            r.problem(&key, format!("{key} is timestamp, but data.timestamp names no column"));
        }
    }
}

/// Every rule and `where:` parses; a fault is reported at its character.
fn expressions(validate: &super::raw::ValidateConfig, r: &mut Rules) {
    for (path, text) in validate.expressions() {
        if let Err(e) = super::expr::parse(text) {
            let problem = r.source.problem_in_text(&path, e.at, format!("{path}: {}", e.message));
            r.push(problem);
        }
    }
}

/// `validate.patterns`, `validate.statistics` and `validate.lengths`: patterns that compile,
/// bounds that can hold.
fn text_and_statistics(validate: &super::raw::ValidateConfig, r: &mut Rules) {
    for (column, p) in validate.patterns.iter().flatten() {
        let key = format!("validate.patterns.{column}");
        if p.matches.is_none() && p.not_match.is_none() {
            r.problem(&key, format!("{key} needs match, not_match or both"));
        }
        for (name, pattern) in [("match", &p.matches), ("not_match", &p.not_match)] {
            if let Some(Err(e)) = pattern.as_deref().map(regex::Regex::new) {
                // The regex crate's own message, which points at the fault in the pattern.
                r.problem(
                    &format!("{key}.{name}"),
                    format!("{key}.{name} is not a valid regular expression (Rust regex syntax):\n{e}"),
                );
            }
        }
    }
    for (column, s) in validate.statistics.iter().flatten() {
        let key = format!("validate.statistics.{column}");
        let pairs = [
            ("mean", s.mean),
            ("median", s.median),
            ("stdev", s.stdev),
            ("sum", s.sum),
            ("min", s.min),
            ("max", s.max),
            ("distinct_count", s.distinct_count),
            ("distinct_percent", s.distinct_percent),
        ];
        if pairs.iter().all(|(_, b)| b.is_none()) && s.quantiles.is_empty() {
            r.problem(&key, format!("{key} bounds no statistic (mean, median, stdev, sum, min, max, distinct_count, distinct_percent, quantiles)"));
        }
        let quantiles =
            s.quantiles.iter().enumerate().map(|(i, q)| (format!("quantiles[{i}].between"), Some(q.between)));
        for (name, bounds) in pairs.iter().map(|(n, b)| (n.to_string(), *b)).chain(quantiles) {
            match bounds {
                Some([None, None]) => {
                    r.problem(&format!("{key}.{name}"), format!("{key}.{name} needs a min, a max or both"))
                }
                Some([Some(a), Some(b)]) if a > b => {
                    r.problem(&format!("{key}.{name}"), format!("{key}.{name}: min ({a}) is greater than max ({b})"))
                }
                _ => {}
            }
        }
    }
    for (column, range) in validate.lengths.iter().flatten() {
        let key = format!("validate.lengths.{column}");
        match range.bounds() {
            (None, None) => r.problem(&key, format!("{key} needs min, max or both")),
            (Some(min), Some(max)) if min > max => {
                r.problem(&key, format!("{key}: min ({min}) is greater than max ({max})"))
            }
            (min, max) if min.into_iter().chain(max).any(|x| x < 0.0 || x.fract() != 0.0) => {
                r.problem(&key, format!("{key}: lengths are whole numbers of characters, 0 or more"))
            }
            _ => {}
        }
    }
}

fn task_name(task: Task) -> &'static str {
    match task {
        Task::Classification => "classification",
        Task::Regression => "regression",
    }
}
