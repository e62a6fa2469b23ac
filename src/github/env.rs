//! What GitHub's runner gives a container action: inputs as `INPUT_<NAME>` variables and the
//! `GITHUB_*` context. Read from a map, not from the process directly, so tests need no runner.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The environment, as a map (the process's, or a test's).
pub type Env = BTreeMap<String, String>;

/// The process's environment.
pub fn process_env() -> Env {
    std::env::vars().collect()
}

/// An action input. GitHub upper-cases the name, turns spaces into underscores and keeps hyphens:
/// `skip-training` arrives as `INPUT_SKIP-TRAINING`. Shells cannot export such names, so
/// `INPUT_SKIP_TRAINING` is read too. Surrounding whitespace is trimmed; empty means unset.
pub fn input(env: &Env, name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase().replace(' ', "_");
    [format!("INPUT_{upper}"), format!("INPUT_{}", upper.replace('-', "_"))]
        .iter()
        .find_map(|k| env.get(k))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A boolean input as GitHub's YAML 1.2 core schema spells it (`true`/`True`/`TRUE`, `false`/…).
pub fn boolean(env: &Env, name: &str, default: bool) -> Result<bool, String> {
    match input(env, name).as_deref() {
        None => Ok(default),
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        Some(other) => Err(format!("input '{name}' must be true or false, found '{other}'")),
    }
}

/// The run's context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    pub event_name: String,
    pub event_path: Option<PathBuf>,
    pub repository: String,
    /// REST API root: `https://api.github.com`, or a GitHub Enterprise Server's `https://host/api/v3`.
    pub api_url: String,
    pub sha: String,
    pub git_ref: String,
    pub workspace: PathBuf,
    pub output: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
}

impl Context {
    pub fn from_env(env: &Env) -> Self {
        let get = |k: &str| env.get(k).cloned().unwrap_or_default();
        let path = |k: &str| env.get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        Context {
            event_name: get("GITHUB_EVENT_NAME"),
            event_path: path("GITHUB_EVENT_PATH"),
            repository: get("GITHUB_REPOSITORY"),
            api_url: env
                .get("GITHUB_API_URL")
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| "https://api.github.com".into()),
            sha: get("GITHUB_SHA"),
            git_ref: get("GITHUB_REF"),
            workspace: path("GITHUB_WORKSPACE").unwrap_or_else(|| PathBuf::from(".")),
            output: path("GITHUB_OUTPUT"),
            step_summary: path("GITHUB_STEP_SUMMARY"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn inputs_keep_hyphens_and_accept_underscores() {
        let e = env(&[("INPUT_SKIP-TRAINING", " true "), ("INPUT_FAIL_ON", "warn"), ("INPUT_COMMENT", "")]);
        assert_eq!(input(&e, "skip-training").as_deref(), Some("true"));
        assert_eq!(input(&e, "fail-on").as_deref(), Some("warn"));
        assert_eq!(input(&e, "comment"), None, "empty means unset");
        assert_eq!(boolean(&e, "skip-training", false), Ok(true));
        assert_eq!(boolean(&e, "comment", true), Ok(true));
        assert!(boolean(&env(&[("INPUT_COMMENT", "yes")]), "comment", true).is_err());
    }

    #[test]
    fn enterprise_api_url_is_kept() {
        let c = Context::from_env(&env(&[("GITHUB_API_URL", "https://ghe.example.com/api/v3")]));
        assert_eq!(c.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(Context::from_env(&Env::new()).api_url, "https://api.github.com");
    }
}
