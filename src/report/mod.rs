//! The Report: every check that every stage ran, with its verdict. Renderers live in submodules.
//!
//! The JSON form of [`Report`] is a public, versioned contract (see docs/report.md): add fields,
//! never rename or remove them without bumping [`FORMAT_VERSION`].

pub mod markdown;
pub mod text;

use schemars::JsonSchema;
use serde::Serialize;

/// Version of the JSON report format. Bumped on any change that is not a pure addition.
pub const FORMAT_VERSION: u32 = 1;

/// The pipeline stage a check belongs to. Later stages join as they are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Validate,
    Train,
    Evaluate,
    Register,
    Staging,
    Deploy,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Validate => "validate",
            Stage::Train => "train",
            Stage::Evaluate => "evaluate",
            Stage::Register => "register",
            Stage::Staging => "staging",
            Stage::Deploy => "deploy",
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The observed value is within the threshold.
    Pass,
    /// The observed value is outside the threshold and the check's severity is `warn`.
    Warn,
    /// The observed value is outside the threshold and the check's severity is `error`: blocks.
    Fail,
    /// The check could not be measured (for example a column it needs is absent); blocks like
    /// `fail` when its severity is `error`.
    Error,
    /// The check did not apply (for example no data for it); never blocks.
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }
}

/// What a violated check does: `error` blocks the pipeline, `warn` only reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// A violation blocks: the verdict is `fail` and the exit code 1.
    #[default]
    Error,
    /// A violation is reported as a warning and does not block.
    Warn,
}

/// The overall outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// No blocking check failed, but some reported warnings.
    Warn,
    /// At least one blocking check failed or could not be measured.
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// The bounds a measured value was held to. Every field is optional; a renderer shows the ones set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Threshold {
    /// The value must be at least this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The value must be at most this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The value must be one of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// Unit of `min` and `max` (and of the check's `value`): `percent`, `rows`, `days`, or a statistic's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The bounds themselves are excluded: the value must be strictly above `min` / below `max`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exclusive: bool,
}

impl Threshold {
    pub fn min(min: f64) -> Self {
        Self { min: Some(min), ..Self::default() }
    }
    pub fn max(max: f64) -> Self {
        Self { max: Some(max), ..Self::default() }
    }
    pub fn between(min: Option<f64>, max: Option<f64>) -> Self {
        Self { min, max, ..Self::default() }
    }
    pub fn allowed(values: Vec<String>) -> Self {
        Self { allowed: Some(values), ..Self::default() }
    }
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_string());
        self
    }
    pub fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }
    pub fn exclusive_if(mut self, exclusive: bool) -> Self {
        self.exclusive = exclusive;
        self
    }
}

/// One check: what was measured, against what, and how it came out.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Check {
    /// Stable kebab-case identifier of the kind of check (see docs/checks.md). Ids are API.
    pub id: &'static str,
    pub stage: Stage,
    /// Which dataset the check looked at: `train`, `test`, or `reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The column the check is about, for per-column checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub status: Status,
    pub severity: Severity,
    /// The observed value (a number for measured checks, a string or list otherwise).
    pub value: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
    /// One sentence a person can read.
    pub message: String,
    /// Line of ml-gates.yaml that set this check's threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_line: Option<usize>,
    /// Check-specific detail, such as offending examples or every drift statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl Check {
    /// A check whose status follows from whether its condition held and from its severity.
    pub fn judged(id: &'static str, stage: Stage, ok: bool, severity: Severity) -> Self {
        let status = match (ok, severity) {
            (true, _) => Status::Pass,
            (false, Severity::Error) => Status::Fail,
            (false, Severity::Warn) => Status::Warn,
        };
        Self {
            id,
            stage,
            dataset: None,
            column: None,
            status,
            severity,
            value: serde_json::Value::Null,
            threshold: None,
            message: String::new(),
            config_line: None,
            details: None,
        }
    }

    /// A check that could not be measured.
    pub fn unmeasured(id: &'static str, stage: Stage, severity: Severity) -> Self {
        let mut check = Self::judged(id, stage, false, severity);
        check.status = match severity {
            Severity::Error => Status::Error,
            Severity::Warn => Status::Warn,
        };
        check
    }

    pub fn dataset(mut self, dataset: &str) -> Self {
        self.dataset = Some(dataset.to_string());
        self
    }
    pub fn column(mut self, column: &str) -> Self {
        self.column = Some(column.to_string());
        self
    }
    /// The observed value. Whole numbers are stored as JSON integers (counts read as counts).
    pub fn value(mut self, value: impl Into<serde_json::Value>) -> Self {
        self.value = integral(value.into());
        self
    }
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.threshold = Some(threshold);
        self
    }
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    pub fn line(mut self, line: Option<usize>) -> Self {
        self.config_line = line;
        self
    }
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Mark the check as not applicable.
    pub fn skipped(mut self) -> Self {
        self.status = Status::Skip;
        self
    }

    /// Whether this check stops the pipeline.
    pub fn blocks(&self) -> bool {
        matches!(self.status, Status::Fail | Status::Error)
    }
}

/// Counts of checks by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub skip: usize,
}

/// Tool name and version that produced a report.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

/// Everything one run found.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Report {
    /// Version of this JSON format (see docs/report.md).
    pub format_version: u32,
    pub tool: Tool,
    /// The `name` of the model in ml-gates.yaml.
    pub name: String,
    /// Path of the config file, as given on the command line.
    pub config: String,
    /// The plan of a GitHub Actions run: the event, the stages planned and why (absent elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::pipeline::Plan>,
    /// The stages that ran, in order.
    pub stages: Vec<Stage>,
    /// This pipeline run's id (MLflow's run id when MLflow is the registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The registry version this run registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<u64>,
    pub verdict: Verdict,
    pub summary: Summary,
    /// Every metric the evaluation measured, by name (empty before evaluation).
    #[serde(skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub metrics: indexmap::IndexMap<String, f64>,
    /// The evaluation's tables: confusion matrix, fairness groups (absent before evaluation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<crate::evaluate::Detail>,
    /// The registry: the lineage, aliases, moves and the metric history of recent versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<crate::registry::stage::RegistryDetail>,
    /// The staging stage's smoke requests and load test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staging: Option<crate::staging::StagingDetail>,
    /// The deploy stage's rollout: phases, measurements, the ending, the promotion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<crate::deploy::DeployDetail>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(name: &str, config: &str) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            tool: Tool { name: "ml-gates", version: env!("CARGO_PKG_VERSION") },
            name: name.to_string(),
            config: config.to_string(),
            plan: None,
            stages: Vec::new(),
            run_id: None,
            model_version: None,
            verdict: Verdict::Pass,
            summary: Summary::default(),
            metrics: indexmap::IndexMap::new(),
            evaluation: None,
            registry: None,
            staging: None,
            deploy: None,
            checks: Vec::new(),
        }
    }

    /// Add the checks of one stage and recompute the verdict.
    pub fn add_stage(&mut self, stage: Stage, checks: Vec<Check>) {
        self.stages.push(stage);
        self.checks.extend(checks);
        self.recompute();
    }

    /// Add the evaluation stage: its checks, its metrics and its tables.
    pub fn add_evaluation(&mut self, evaluation: crate::evaluate::Evaluation) {
        self.metrics = evaluation.metrics;
        self.evaluation = Some(evaluation.detail);
        self.add_stage(Stage::Evaluate, evaluation.checks);
    }

    fn recompute(&mut self) {
        let mut summary = Summary::default();
        for check in &self.checks {
            match check.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Error => summary.error += 1,
                Status::Skip => summary.skip += 1,
            }
        }
        self.verdict = if summary.fail + summary.error > 0 {
            Verdict::Fail
        } else if summary.warn > 0 {
            Verdict::Warn
        } else {
            Verdict::Pass
        };
        self.summary = summary;
    }

    /// The process exit code for this report: 0 unless a blocking check failed.
    pub fn exit_code(&self) -> u8 {
        match self.verdict {
            Verdict::Fail => 1,
            Verdict::Pass | Verdict::Warn => 0,
        }
    }
}

/// A float that holds a whole number, as a JSON integer.
pub fn integral(value: serde_json::Value) -> serde_json::Value {
    match value.as_f64() {
        Some(x) if value.is_f64() && x.fract() == 0.0 && x.abs() < 9.0e15 => serde_json::Value::from(x as i64),
        _ => value,
    }
}

/// A number as people read it: integers without a fraction, others with up to 4 significant decimals.
pub fn format_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let magnitude = x.abs();
    let decimals = if magnitude >= 100.0 {
        2
    } else if magnitude >= 1.0 {
        3
    } else if magnitude >= 0.001 {
        4
    } else {
        return format!("{x:.3e}");
    };
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A check's value as people read it, with its unit.
pub fn format_value(check: &Check) -> String {
    let unit = check.threshold.as_ref().and_then(|t| t.unit.as_deref());
    match &check.value {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::Number(n) => {
            let number = format_number(n.as_f64().unwrap_or(f64::NAN));
            with_unit(number, unit)
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn with_unit(number: String, unit: Option<&str>) -> String {
    match unit {
        Some("percent") => format!("{number}%"),
        Some("days") => format!("{number} d"),
        Some(suffix @ ("ms" | "MB")) => format!("{number} {suffix}"),
        Some("rows") | None => number,
        Some(other) => format!("{other} {number}"),
    }
}

/// A threshold as people read it: `≥ 500`, `≤ 3%`, `18 … 100`, `one of a, b`.
pub fn format_threshold(threshold: &Threshold) -> String {
    let unit = threshold.unit.as_deref();
    let bare = |x: f64| with_unit(format_number(x), unit.filter(|u| matches!(*u, "percent" | "days" | "ms" | "MB")));
    if let Some(allowed) = &threshold.allowed {
        return match allowed.as_slice() {
            [one] => one.clone(),
            many => format!("one of {}", many.join(", ")),
        };
    }
    let (ge, le) = if threshold.exclusive { (">", "<") } else { ("≥", "≤") };
    let text = match (threshold.min, threshold.max) {
        (Some(min), Some(max)) => format!("{} … {}", bare(min), bare(max)),
        (Some(min), None) => format!("{ge} {}", bare(min)),
        (None, Some(max)) => format!("{le} {}", bare(max)),
        (None, None) => String::new(),
    };
    match unit {
        Some(u) if !matches!(u, "percent" | "days" | "rows" | "ms" | "MB") && !text.is_empty() => format!("{u} {text}"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_number(500.0), "500");
        assert_eq!(format_number(1.23456), "1.235");
        assert_eq!(format_number(0.05), "0.05");
        assert_eq!(format_number(123.456), "123.46");
        assert_eq!(format_number(0.00001234), "1.234e-5");
    }

    #[test]
    fn verdict_follows_blocking_checks() {
        let mut report = Report::new("m", "ml-gates.yaml");
        report.add_stage(Stage::Validate, vec![Check::judged("row-count", Stage::Validate, true, Severity::Error)]);
        assert_eq!(report.verdict, Verdict::Pass);
        report.add_stage(Stage::Train, vec![Check::judged("x", Stage::Train, false, Severity::Warn)]);
        assert_eq!(report.verdict, Verdict::Warn);
        assert_eq!(report.exit_code(), 0);
        report.add_stage(Stage::Evaluate, vec![Check::unmeasured("y", Stage::Evaluate, Severity::Error)]);
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(report.exit_code(), 1);
        assert_eq!(report.summary, Summary { pass: 1, warn: 1, fail: 0, error: 1, skip: 0 });
    }

    #[test]
    fn thresholds_read_naturally() {
        assert_eq!(format_threshold(&Threshold::min(500.0).unit("rows")), "≥ 500");
        assert_eq!(format_threshold(&Threshold::max(3.0).unit("percent")), "≤ 3%");
        assert_eq!(format_threshold(&Threshold::between(Some(18.0), Some(100.0))), "18 … 100");
        assert_eq!(format_threshold(&Threshold::max(0.2).unit("psi")), "psi ≤ 0.2");
    }
}
