//! A check run on the pull request's head commit, with the report as its summary and the failing
//! checks as annotations on ml-gates.yaml (GitHub takes at most 50 annotations per request: the
//! first 50 go with the creation, the rest in updates of 50).

use super::comment::Client;
use crate::report::{Report, Verdict};
use serde_json::{json, Value};

/// GitHub's limit on annotations per request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub's limit on a check run's summary.
pub const MAX_SUMMARY: usize = 65_535;

/// The check run's annotations: one per check that did not pass, at its config line (line 1 when
/// the check has none, as GitHub requires a line).
pub fn annotations(report: &Report, config_file: &str) -> Vec<Value> {
    super::writeback::annotations(report, config_file)
        .into_iter()
        .map(|a| {
            let line = a.line.unwrap_or(1);
            json!({
                "path": config_file,
                "start_line": line,
                "end_line": line,
                "annotation_level": match a.level {
                    super::commands::Level::Error => "failure",
                    super::commands::Level::Warning => "warning",
                    super::commands::Level::Notice => "notice",
                },
                "title": a.title,
                "message": a.message,
            })
        })
        .collect()
}

/// Create the completed check run `ml-gates` on `head_sha`; returns its id and how many requests it took.
pub async fn publish(
    client: &Client,
    head_sha: &str,
    report: &Report,
    config_file: &str,
    summary_markdown: &str,
) -> Result<(u64, usize), String> {
    let conclusion = match report.verdict {
        Verdict::Pass => "success",
        Verdict::Warn => "neutral",
        Verdict::Fail => "failure",
    };
    let summary: String = summary_markdown.chars().take(MAX_SUMMARY).collect();
    let title = format!(
        "{}: {} passed, {} failed, {} warnings, {} errors",
        report.verdict.as_str(),
        report.summary.pass,
        report.summary.fail,
        report.summary.warn,
        report.summary.error
    );
    let all = annotations(report, config_file);
    let mut batches = all.chunks(ANNOTATIONS_PER_REQUEST);
    let first = batches.next().unwrap_or(&[]);
    let base = client.repo_path();
    let create = json!({
        "name": "ml-gates",
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": conclusion,
        "output": {"title": title, "summary": summary, "annotations": first},
    });
    let (status, body) = client.request("POST", &format!("{base}/check-runs"), Some(&create)).await?;
    if status != 201 {
        return Err(format!("creating the check run: HTTP {status}: {}", body.chars().take(200).collect::<String>()));
    }
    let id = serde_json::from_str::<Value>(&body).ok().and_then(|v| v.get("id").and_then(Value::as_u64)).unwrap_or(0);
    let mut requests = 1;
    for batch in batches {
        let update = json!({"output": {"title": title, "summary": summary, "annotations": batch}});
        let (status, body) = client.request("PATCH", &format!("{base}/check-runs/{id}"), Some(&update)).await?;
        requests += 1;
        if status != 200 {
            return Err(format!(
                "adding annotations to the check run: HTTP {status}: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
    }
    Ok((id, requests))
}
