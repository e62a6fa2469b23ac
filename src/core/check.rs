//! A check and its vocabulary: the stage it belongs to, its status, severity and threshold, and a
//! run's verdict. Every stage builds these; the report composes them.

use super::format::integral;
use schemars::JsonSchema;
use serde::Serialize;

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
    /// The status of a measured check: pass, else fail or warn by its severity.
    pub fn judged(ok: bool, severity: Severity) -> Self {
        match (ok, severity) {
            (true, _) => Status::Pass,
            (false, Severity::Error) => Status::Fail,
            (false, Severity::Warn) => Status::Warn,
        }
    }

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
    /// A row-level check's tolerance: the share (0-1) of non-null values that must meet it
    /// (Great Expectations' `mostly`); the check's value is then the count that does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mostly: Option<f64>,
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
    /// The same, tolerating a share of failing values (`mostly`, when given).
    pub fn mostly(mut self, mostly: Option<f64>) -> Self {
        self.mostly = mostly;
        self
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
        let status = Status::judged(ok, severity);
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
