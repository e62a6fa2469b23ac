//! The triggering event, from GITHUB_EVENT_NAME and the payload file at GITHUB_EVENT_PATH.

use serde_json::Value;
use std::collections::BTreeMap;

/// The parts of an event that decide what runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    PullRequest {
        number: u64,
        head_sha: String,
    },
    Push {
        git_ref: String,
        /// Whether the push is to the repository's default branch.
        default_branch: bool,
    },
    Schedule,
    /// Inputs of a manual run, as strings (GitHub sends booleans as "true"/"false").
    WorkflowDispatch {
        inputs: BTreeMap<String, String>,
    },
    RepositoryDispatch {
        event_type: String,
        client_payload: Value,
    },
    /// Any other event, by name; runs locally have none.
    Other(String),
}

impl Event {
    /// The event's name as GitHub spells it.
    pub fn name(&self) -> &str {
        match self {
            Event::PullRequest { .. } => "pull_request",
            Event::Push { .. } => "push",
            Event::Schedule => "schedule",
            Event::WorkflowDispatch { .. } => "workflow_dispatch",
            Event::RepositoryDispatch { .. } => "repository_dispatch",
            Event::Other(name) => name,
        }
    }
}

/// Parse the payload of event `name`. A payload that lacks what its event needs is an error.
pub fn parse(name: &str, payload: &Value) -> Result<Event, String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(match name {
        "pull_request" | "pull_request_target" => {
            let pr = payload.get("pull_request").ok_or("the pull_request event has no pull_request object")?;
            Event::PullRequest {
                number: payload
                    .get("number")
                    .or_else(|| pr.get("number"))
                    .and_then(Value::as_u64)
                    .ok_or("the pull_request event has no number")?,
                head_sha: pr.pointer("/head/sha").and_then(Value::as_str).unwrap_or_default().to_string(),
            }
        }
        "push" => {
            let git_ref = payload.get("ref").and_then(Value::as_str).unwrap_or_default().to_string();
            let default = payload.pointer("/repository/default_branch").and_then(Value::as_str).unwrap_or_default();
            Event::Push { default_branch: !default.is_empty() && git_ref == format!("refs/heads/{default}"), git_ref }
        }
        "schedule" => Event::Schedule,
        "workflow_dispatch" => Event::WorkflowDispatch {
            inputs: payload
                .get("inputs")
                .and_then(Value::as_object)
                .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default(),
        },
        "repository_dispatch" => Event::RepositoryDispatch {
            event_type: payload
                .get("action")
                .or_else(|| payload.get("event_type"))
                .and_then(Value::as_str)
                .ok_or("the repository_dispatch event has no event type (action)")?
                .to_string(),
            client_payload: payload.get("client_payload").cloned().unwrap_or(Value::Null),
        },
        other => Event::Other(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_read_from_their_payloads() {
        let pr = json!({"number": 7, "pull_request": {"number": 7, "head": {"sha": "abc"}}});
        assert_eq!(parse("pull_request", &pr).unwrap(), Event::PullRequest { number: 7, head_sha: "abc".into() });
        let push = json!({"ref": "refs/heads/main", "repository": {"default_branch": "main"}});
        assert_eq!(
            parse("push", &push).unwrap(),
            Event::Push { git_ref: "refs/heads/main".into(), default_branch: true }
        );
        let dispatch = json!({"inputs": {"skip-training": "true", "reason": "manual"}});
        let Event::WorkflowDispatch { inputs } = parse("workflow_dispatch", &dispatch).unwrap() else { panic!() };
        assert_eq!(inputs["skip-training"], "true");
        // GitHub's repository_dispatch webhook names the type `action`; the API call `event_type`.
        let alert = json!({"action": "drift-alert", "client_payload": {"feature": "age"}});
        let Event::RepositoryDispatch { event_type, client_payload } = parse("repository_dispatch", &alert).unwrap()
        else {
            panic!()
        };
        assert_eq!((event_type.as_str(), &client_payload["feature"]), ("drift-alert", &json!("age")));
        assert!(parse("pull_request", &json!({})).is_err());
    }

    /// The fixtures in fixtures/events are full webhook payloads, checked against GitHub's webhook
    /// schemas by scripts/event-fixtures.cjs (part of the test command): the parser reads them.
    #[test]
    fn schema_valid_payloads_parse() {
        let load = |name: &str| -> Value {
            let path = format!("{}/fixtures/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        assert_eq!(
            parse("pull_request", &load("pull_request")).unwrap(),
            Event::PullRequest { number: 7, head_sha: "0123456789abcdef0123456789abcdef01234567".into() }
        );
        assert_eq!(
            parse("push", &load("push")).unwrap(),
            Event::Push { git_ref: "refs/heads/main".into(), default_branch: true }
        );
        let Event::WorkflowDispatch { inputs } = parse("workflow_dispatch", &load("workflow_dispatch")).unwrap() else {
            panic!()
        };
        assert_eq!(inputs["skip-training"], "true");
        let Event::RepositoryDispatch { event_type, client_payload } =
            parse("repository_dispatch", &load("repository_dispatch")).unwrap()
        else {
            panic!()
        };
        assert_eq!((event_type.as_str(), client_payload["psi"].as_f64()), ("drift-alert", Some(0.31)));
    }
}
