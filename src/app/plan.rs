//! Event → plan of stages: what a run does, decided from the triggering event, the config's
//! `stages:` mapping and the action's inputs, with the reason for each choice.

use crate::config::raw::{StageName, StagesConfig};
use crate::github::event::Event;
pub use crate::report::Plan;

use StageName::*;

const ALL: [StageName; 6] = [Validate, Train, Evaluate, Register, Staging, Deploy];
const GATE: [StageName; 3] = [Validate, Train, Evaluate];
const RETRAIN: [StageName; 4] = [Validate, Train, Evaluate, Register];

/// What the action's inputs ask of the plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `stages`: run exactly these.
    pub stages: Option<Vec<StageName>>,
    /// `skip-training`: no training; deploy the existing challenger.
    pub skip_training: bool,
    /// `force-retrain`: train even where the plan would not.
    pub force_retrain: bool,
    /// `rollback`: nothing trained or rolled out; the champion alias and the traffic go back to
    /// the version before.
    pub rollback: bool,
}

/// Parse a comma- or space-separated list of stage names (the `stages` input).
pub fn parse_stages(text: &str) -> Result<Vec<StageName>, String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            ALL.iter().copied().find(|st| st.as_str() == s).ok_or_else(|| {
                let names: Vec<&str> = ALL.iter().map(|s| s.as_str()).collect();
                let hint = crate::error::did_you_mean(s, names.iter().copied())
                    .map(|n| format!(", did you mean '{n}'?"))
                    .unwrap_or_default();
                format!("unknown stage '{s}' in the stages input (expected: {}){hint}", names.join(", "))
            })
        })
        .collect()
}

/// Plan the run of `event`.
pub fn plan(event: Option<&Event>, config: Option<&StagesConfig>, overrides: &Overrides) -> Plan {
    let config = config.cloned().unwrap_or_default();
    let event_name = event.map_or("local".to_string(), |e| e.name().to_string());
    let from = |configured: &Option<Vec<StageName>>, default: &[StageName], what: &str| -> (Vec<StageName>, String) {
        match configured {
            Some(stages) => (stages.clone(), format!("{what}: as set in stages.{event_name}")),
            None => (default.to_vec(), format!("{what}: the default")),
        }
    };
    let (mut stages, mut reason) = match event {
        None => (GATE.to_vec(), "a local run: the gates only".to_string()),
        Some(Event::PullRequest { .. }) => {
            let (s, r) = from(&config.pull_request, &GATE, "a pull request");
            // A pull request never writes to the registry nor deploys, whatever the config says.
            let kept: Vec<StageName> = s.into_iter().filter(|s| matches!(s, Validate | Train | Evaluate)).collect();
            (kept, format!("{r}; no registry writes and no deployment from a pull request"))
        }
        Some(Event::Push { default_branch: true, .. }) => from(&config.push, &ALL, "a push to the default branch"),
        Some(Event::Push { .. }) => (GATE.to_vec(), "a push to another branch: the gates only".into()),
        Some(Event::Schedule) => from(&config.schedule, &RETRAIN, "a scheduled run"),
        Some(Event::WorkflowDispatch { .. }) => from(&config.workflow_dispatch, &ALL, "a manual run"),
        Some(Event::RepositoryDispatch { event_type, .. }) => match config.repository_dispatch.get(event_type) {
            Some(s) => (s.clone(), format!("repository_dispatch '{event_type}': as set in stages.repository_dispatch")),
            None => {
                (RETRAIN.to_vec(), format!("repository_dispatch '{event_type}': the default, retrain and register"))
            }
        },
        Some(Event::Other(name)) => (GATE.to_vec(), format!("event '{name}': the gates only")),
    };
    let pull_request = matches!(event, Some(Event::PullRequest { .. }));
    if overrides.rollback && !pull_request {
        return Plan {
            event: event_name,
            stages: vec![Deploy],
            reason: "rollback: the champion alias and the traffic go back to the version before".into(),
            rollback: true,
        };
    }
    if let Some(forced) = &overrides.stages {
        stages = forced.clone();
        if pull_request {
            stages.retain(|s| matches!(s, Validate | Train | Evaluate));
        }
        reason = format!(
            "the stages input{}",
            if pull_request { " (registry and deploy left out on a pull request)" } else { "" }
        );
    }
    if overrides.skip_training {
        stages.retain(|s| !matches!(s, Validate | Train | Evaluate | Register));
        if stages.is_empty() && !pull_request {
            stages = vec![Staging, Deploy];
        }
        reason.push_str("; skip-training: the existing challenger goes on, nothing is trained");
    } else if overrides.force_retrain && !stages.contains(&Train) {
        stages.extend([Validate, Train, Evaluate]);
        reason.push_str("; force-retrain: trained anyway");
    }
    if overrides.rollback {
        reason.push_str("; rollback is ignored on a pull request");
    }
    stages.sort();
    stages.dedup();
    Plan { event: event_name, stages, reason, rollback: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(p: &Plan) -> Vec<&str> {
        p.stages.iter().map(|s| s.as_str()).collect()
    }

    #[test]
    fn defaults_per_event() {
        let none = Overrides::default();
        let pr = Event::PullRequest { number: 1, head_sha: "a".into() };
        assert_eq!(stages(&plan(Some(&pr), None, &none)), ["validate", "train", "evaluate"]);
        let main = Event::Push { git_ref: "refs/heads/main".into(), default_branch: true };
        assert_eq!(stages(&plan(Some(&main), None, &none)).len(), 6);
        let branch = Event::Push { git_ref: "refs/heads/x".into(), default_branch: false };
        assert_eq!(stages(&plan(Some(&branch), None, &none)), ["validate", "train", "evaluate"]);
        assert_eq!(stages(&plan(Some(&Event::Schedule), None, &none)), ["validate", "train", "evaluate", "register"]);
        assert_eq!(stages(&plan(None, None, &none)), ["validate", "train", "evaluate"]);
    }

    #[test]
    fn a_pull_request_never_registers_or_deploys() {
        let pr = Event::PullRequest { number: 1, head_sha: "a".into() };
        let config = StagesConfig { pull_request: Some(vec![Validate, Deploy]), ..Default::default() };
        assert_eq!(stages(&plan(Some(&pr), Some(&config), &Overrides::default())), ["validate"]);
        let forced = Overrides { stages: Some(vec![Register, Deploy, Evaluate]), ..Default::default() };
        assert_eq!(stages(&plan(Some(&pr), None, &forced)), ["evaluate"]);
    }

    #[test]
    fn inputs_and_dispatch_types_steer_the_plan() {
        let manual = Event::WorkflowDispatch { inputs: Default::default() };
        let skip = Overrides { skip_training: true, ..Default::default() };
        assert_eq!(stages(&plan(Some(&manual), None, &skip)), ["staging", "deploy"]);
        let alert =
            Event::RepositoryDispatch { event_type: "drift-alert".into(), client_payload: serde_json::Value::Null };
        let mut config = StagesConfig::default();
        config.repository_dispatch.insert("drift-alert".into(), vec![Validate, Train, Evaluate]);
        let p = plan(Some(&alert), Some(&config), &Overrides::default());
        assert_eq!(stages(&p), ["validate", "train", "evaluate"]);
        assert!(p.reason.contains("drift-alert"));
        let back = Overrides { rollback: true, skip_training: true, ..Default::default() };
        let p = plan(Some(&manual), None, &back);
        assert_eq!((stages(&p), p.rollback), (vec!["deploy"], true));
        let pr = Event::PullRequest { number: 1, head_sha: "a".into() };
        let p = plan(Some(&pr), None, &back);
        assert!(!p.rollback && !p.stages.contains(&Deploy), "{p:?}");
        let force = Overrides { force_retrain: true, ..Default::default() };
        let only_deploy = StagesConfig { workflow_dispatch: Some(vec![Deploy]), ..Default::default() };
        assert_eq!(
            stages(&plan(Some(&manual), Some(&only_deploy), &force)),
            ["validate", "train", "evaluate", "deploy"]
        );
        assert!(parse_stages("validate, trian").unwrap_err().contains("did you mean 'train'"));
    }
}
