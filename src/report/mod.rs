//! The Report: every check that every stage ran, with its verdict. Renderers live in submodules.
//!
//! The JSON form of [`Report`] is a public, versioned contract (see docs/report.md): add fields,
//! never rename or remove them without bumping [`FORMAT_VERSION`].

pub mod markdown;
pub mod text;

use crate::config::raw::StageName;
pub use crate::core::check::{Check, Severity, Stage, Status, Threshold, Verdict};
pub use crate::core::format::{format_number, format_threshold, format_value, integral};
use schemars::JsonSchema;
use serde::Serialize;

/// Every check id of every stage, in the pipeline's order. Ids are API: users grep and waive
/// them; each is unique across stages and documented in docs/checks.md (tested).
pub const CHECKS: &[(Stage, &[(&str, &str)])] = &[
    (Stage::Validate, crate::validate::CHECKS),
    (Stage::Evaluate, crate::evaluate::CHECKS),
    (Stage::Register, crate::register::CHECKS),
    (Stage::Staging, crate::staging::CHECKS),
    (Stage::Deploy, crate::deploy::CHECKS),
];

/// Version of the JSON report format. Bumped on any change that is not a pure addition.
pub const FORMAT_VERSION: u32 = 1;

/// The stages a run will go through, and why.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Plan {
    /// The event that triggered the run (`local` outside GitHub Actions).
    pub event: String,
    #[schemars(with = "Vec<String>")]
    #[serde(serialize_with = "stage_names")]
    pub stages: Vec<StageName>,
    /// Why these stages, in one sentence.
    pub reason: String,
    /// A rollback asked for by hand: the deploy stage sends the champion alias and the traffic
    /// back to the version before, instead of rolling anything out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
}

impl Plan {
    pub fn includes(&self, stage: StageName) -> bool {
        self.stages.contains(&stage)
    }

    /// The stages' names, joined by `separator`.
    pub fn joined(&self, separator: &str) -> String {
        self.stages.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(separator)
    }
}

/// Stages by name, as `stages:` writes them.
fn stage_names<S: serde::Serializer>(stages: &[StageName], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(stages.iter().map(|s| s.as_str()))
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
    pub plan: Option<Plan>,
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
    pub registry: Option<crate::register::RegistryDetail>,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
