//! What a run writes back to GitHub, computed from the Report: annotations on the lines of
//! ml-gates.yaml that set the failing thresholds, and the step outputs.

use super::commands::{Annotation, Level};
use crate::report::{format_value, Report, Status};

/// One annotation per check that did not pass, on the line that set its threshold. `config_file`
/// is the config's path relative to the repository root (what GitHub needs to place it).
pub fn annotations(report: &Report, config_file: &str) -> Vec<Annotation> {
    report
        .checks
        .iter()
        .filter_map(|c| {
            let level = match c.status {
                Status::Fail | Status::Error => Level::Error,
                Status::Warn => Level::Warning,
                Status::Pass | Status::Skip => return None,
            };
            let subject =
                [c.dataset.as_deref(), c.column.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(".");
            let title = if subject.is_empty() {
                format!("ml-gates {}", c.id)
            } else {
                format!("ml-gates {} ({subject})", c.id)
            };
            Some(Annotation {
                level,
                file: Some(config_file.to_string()),
                line: c.config_line,
                title,
                message: format!("{} [value: {}]", c.message, format_value(c)),
            })
        })
        .collect()
}

/// The step outputs: the verdict, the report's path, the run's id, the registered version (empty
/// when the run registered none), and every metric the evaluation measured, by name.
pub fn outputs(report: &Report, report_path: &str) -> Vec<(String, String)> {
    let mut out = vec![
        ("verdict".to_string(), report.verdict.as_str().to_string()),
        ("report".to_string(), report_path.to_string()),
        ("model_version".to_string(), report.model_version.map(|v| v.to_string()).unwrap_or_default()),
        ("run_id".to_string(), report.run_id.clone().unwrap_or_default()),
        ("plan".to_string(), report.plan.as_ref().map(|p| p.joined(",")).unwrap_or_default()),
        (
            "rollout".to_string(),
            report
                .deploy
                .as_ref()
                .map(|d| {
                    serde_json::to_value(d.ending).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                })
                .unwrap_or_default(),
        ),
    ];
    // One per metric of the catalogue, each declared in action.yml (a test keeps them in step).
    for (name, value) in &report.metrics {
        if crate::measure::CATALOGUE.iter().any(|m| m.name == name) {
            out.push((name.clone(), crate::report::format_number(*value)));
        }
    }
    out
}
