//! The GitHub Action's runtime contract, end to end: the binary runs with the environment and files
//! GitHub's runner gives a container action (workspace, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, an event
//! payload, INPUT_* variables, all in temporary folders), and the tests read what it wrote.

mod common;

use common::{chown, commands_in, foreign_commands, not_owned_by, outputs, relaxed_latency};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Runner {
    workspace: tempfile::TempDir,
    temp: tempfile::TempDir,
}

impl Runner {
    /// A workspace holding a copy of the churn example.
    fn with_example() -> Self {
        let runner = Runner { workspace: tempfile::tempdir().unwrap(), temp: tempfile::tempdir().unwrap() };
        let data = runner.workspace.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        for f in ["train.parquet", "test.parquet", "reference.parquet"] {
            std::fs::copy(Path::new("examples/churn/data").join(f), data.join(f)).unwrap();
        }
        std::fs::create_dir_all(runner.workspace.path().join("models")).unwrap();
        std::fs::copy("examples/churn/models/champion.model", runner.workspace.path().join("models/champion.model"))
            .unwrap();
        let config = relaxed_latency(&std::fs::read_to_string("examples/churn/ml-gates.yaml").unwrap());
        std::fs::write(runner.workspace.path().join("ml-gates.yaml"), config).unwrap();
        runner
    }

    fn file(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    fn run(&self, event: &str, payload: &str, inputs: &[(&str, &str)]) -> Output {
        self.run_with(event, payload, inputs, &[])
    }

    fn run_with(&self, event: &str, payload: &str, inputs: &[(&str, &str)], extra: &[(&str, &str)]) -> Output {
        std::fs::write(self.file("event.json"), payload).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ml-gates"));
        cmd.arg("action")
            .arg("--now=2026-11-27T00:00:00Z")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", self.file("event.json"))
            .env("GITHUB_REPOSITORY", "octo/churn")
            .env("GITHUB_SHA", "0123456789abcdef")
            .env("GITHUB_REF", "refs/pull/7/merge")
            .env("GITHUB_WORKSPACE", self.workspace.path())
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary.md"))
            .env("INPUT_COMMENT", "false")
            .current_dir(self.workspace.path());
        for (k, v) in inputs {
            cmd.env(format!("INPUT_{}", k.to_ascii_uppercase()), v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }
}

/// A full pull_request payload, valid against GitHub's webhook schema (scripts/event-fixtures.cjs).
const PULL_REQUEST: &str = include_str!("../fixtures/events/pull_request.json");

#[test]
fn a_pull_request_runs_the_gates_and_writes_back() {
    let runner = Runner::with_example();
    let out = runner.run("pull_request", PULL_REQUEST, &[("token", "ghs_s3cr3t-token"), ("config", "ml-gates.yaml")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The token is masked before anything else, and never printed otherwise.
    assert_eq!(stdout.lines().next(), Some("::add-mask::ghs_s3cr3t-token"));
    assert_eq!(stdout.matches("ghs_s3cr3t-token").count() + stderr.matches("ghs_s3cr3t-token").count(), 1);
    assert!(stdout.contains("event pull_request: validate, train, evaluate (a pull request: the default;"));
    assert!(stdout.contains("::group::ml-gates: validate") && stdout.contains("::group::ml-gates: train and evaluate"));
    assert_eq!(stdout.matches("::group::").count(), stdout.matches("::endgroup::").count());
    // The freshness check warns (the example's data is 2.25 days old on 2026-11-27, limit 7): no.
    let outputs = outputs(&runner.read("output"));
    let get = |k: &str| outputs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("verdict"), Some("pass"));
    assert_eq!(get("report"), Some(".ml-gates/report.json"));
    assert_eq!(get("plan"), Some("validate,train,evaluate"));
    assert_eq!(get("accuracy"), Some("0.78"));
    assert_eq!(get("model_version"), Some(""), "no registry stage on a pull request");
    assert_eq!(get("run_id").map(str::len), Some(32));
    assert!(
        !runner.workspace.path().join(".ml-gates/registry/churn/versions").exists(),
        "a pull request wrote to the registry"
    );
    let summary = runner.read("summary.md");
    assert!(summary.starts_with("## ml-gates · churn · ✅ pass"), "{summary}");
    assert!(summary.contains("Event **pull\\_request**"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runner.workspace.path().join(".ml-gates/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["plan"]["stages"], serde_json::json!(["validate", "train", "evaluate"]));
    assert_eq!(report["stages"], serde_json::json!(["validate", "evaluate"]));
}

#[test]
fn failing_checks_are_annotated_on_their_line_with_hostile_text_escaped() {
    let runner = Runner::with_example();
    // A column name and a value that try to forge workflow commands and Markdown.
    let csv = "id,\"x::y,line=1\",plan,churn\nA,5,\"basic\n::error::forged\",0\nB,0.5,<img src=x onerror=alert(1)>,1\nC,0.2,pro,0\nD,0.3,pro,1\n";
    std::fs::write(runner.workspace.path().join("hostile.csv"), csv).unwrap();
    std::fs::write(
        runner.workspace.path().join("ml-gates.yaml"),
        "version: 1\nname: hostile\ndata:\n  train: hostile.csv\n  target: churn\n  task: classification\n  id: id\nvalidate:\n  ranges: {\"x::y,line=1\": [0, 1]}\n  categories: {plan: [basic, pro]}\n",
    )
    .unwrap();
    let push = include_str!("../fixtures/events/push.json").replace("refs/heads/main", "refs/heads/feature");
    let out = runner.run("push", &push, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(annotations.len(), 2, "{stdout}");
    assert!(
        annotations[0]
            .starts_with("::error file=ml-gates.yaml,line=9,title=ml-gates value-range (train.x%3A%3Ay%2Cline=1)::"),
        "{}",
        annotations[0]
    );
    assert!(
        annotations[1].starts_with("::error file=ml-gates.yaml,line=10,title=ml-gates allowed-values (train.plan)::"),
        "{}",
        annotations[1]
    );
    assert!(annotations[1].contains("%0A::error::forged"), "the newline in the value is escaped: {}", annotations[1]);
    // No line of output starts a command the data wrote.
    assert!(!stdout.lines().any(|l| l.starts_with("::error::forged")));
    let summary = runner.read("summary.md");
    assert!(!summary.contains("<img"), "HTML in data reaches the summary escaped");
    assert!(summary.contains("&lt;img"));
}

#[test]
fn a_broken_config_is_annotated_and_exits_2() {
    let runner = Runner::with_example();
    let mut text = std::fs::read_to_string(runner.workspace.path().join("ml-gates.yaml")).unwrap();
    text = text.replace("rows: {min: 250}", "rows: {minimum: 250}");
    std::fs::write(runner.workspace.path().join("ml-gates.yaml"), text).unwrap();
    let out = runner.run("pull_request", PULL_REQUEST, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.lines().any(|l| l
            == "::error file=ml-gates.yaml,line=15,title=ml-gates%3A unusable input::unknown key 'minimum' in 'validate.rows', did you mean 'min'?"),
        "{stdout}"
    );
    // Reported where users look, like a failed gate: the verdict output and the summary.
    assert_eq!(outputs(&runner.read("output")), vec![("verdict".to_string(), "error".to_string())]);
    let summary = runner.read("summary.md");
    assert!(summary.starts_with("## 🛑 ml-gates: unusable input"), "{summary}");
    assert!(
        summary.contains("- `ml-gates.yaml:15` unknown key 'minimum' in 'validate.rows', did you mean 'min'?"),
        "{summary}"
    );
}

#[test]
fn inputs_are_checked() {
    let runner = Runner::with_example();
    for (inputs, message) in [
        (vec![("fail-on", "sometimes")], "input 'fail-on' must be error or warn, found 'sometimes'"),
        (vec![("skip-training", "yes")], "input 'skip-training' must be true or false, found 'yes'"),
        (vec![("stages", "validate,trian")], "did you mean 'train'"),
    ] {
        let _ = std::fs::remove_file(runner.file("output"));
        let out = runner.run("pull_request", PULL_REQUEST, &inputs);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(message), "{}", String::from_utf8_lossy(&out.stderr));
        // Annotated (on no line: it is an input of the step), in the summary, and the verdict set.
        let stdout = String::from_utf8_lossy(&out.stdout);
        let annotation =
            stdout.lines().find(|l| l.starts_with("::error title=ml-gates%3A unusable input::action inputs: "));
        assert!(annotation.is_some_and(|a| a.contains(message)), "{stdout}");
        assert!(runner.read("summary.md").replace('\\', "").contains(message), "{}", runner.read("summary.md"));
        assert_eq!(outputs(&runner.read("output")), vec![("verdict".to_string(), "error".to_string())]);
    }
}

/// Text chosen by others (data values, a column name, the event's fields, the workspace path,
/// input values) reaches neither stream as a workflow command: only ml-gates' own commands do.
#[test]
fn no_text_chosen_by_others_becomes_a_workflow_command_on_either_stream() {
    let runner = Runner::with_example();
    let forged = "##[set-output name=approved]true";
    let csv = format!(
        "id,\"{forged}\",plan,churn\nA,5,\"x {forged}\",0\nB,0.5,\"::warning::v\",1\nC,0.2,pro,0\nD,0.3,pro,1\n"
    );
    std::fs::write(runner.workspace.path().join("hostile.csv"), csv).unwrap();
    std::fs::write(
        runner.workspace.path().join("ml-gates.yaml"),
        format!("version: 1\nname: hostile\ndata:\n  train: hostile.csv\n  target: churn\n  task: classification\n  id: id\nvalidate:\n  ranges: {{\"{forged}\": [0, 1]}}\n  categories: {{plan: [basic, pro]}}\n"),
    )
    .unwrap();
    // A repository_dispatch event whose type is a command, in the plan line.
    let dispatch = format!(r#"{{"action": "{forged} ::error::x", "client_payload": {{}}}}"#);
    let out = runner.run("repository_dispatch", &dispatch, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    for stream in [&out.stdout, &out.stderr] {
        let found = foreign_commands(stream);
        assert!(found.is_empty(), "{found:?}");
    }
    // Our own annotations still work, with the hostile text escaped inside them.
    assert!(commands_in(&out.stdout).iter().any(|l| l.starts_with("::error file=ml-gates.yaml,line=9")));

    // An input value with a newline and a command, echoed in the error; the workspace path in
    // the messages on standard error.
    let out = runner.run("pull_request", PULL_REQUEST, &[("fail-on", "x\n::error::forged ##[error]y")]);
    assert_eq!(out.status.code(), Some(2));
    for stream in [&out.stdout, &out.stderr] {
        let found = foreign_commands(stream);
        assert!(found.is_empty(), "{found:?}");
    }
}

#[test]
fn a_push_to_main_registers_the_version_with_its_lineage() {
    let runner = Runner::with_example();
    let push = include_str!("../fixtures/events/push.json");
    for expected in [1, 2] {
        let out = runner.run_with("push", push, &[], &[("GITHUB_REF", "refs/heads/main")]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("::group::ml-gates: register"), "{stdout}");
        let outputs = outputs(&runner.read("output"));
        let get = |k: &str| outputs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("model_version"), Some(expected.to_string()));
        assert_eq!(get("rollout").as_deref(), Some("completed"));
        let run_id = get("run_id").unwrap();
        let version: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                runner.workspace.path().join(format!(".ml-gates/registry/churn/versions/{expected}/version.json")),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(version["run_id"], run_id.as_str());
        assert_eq!(version["git_sha"], "0123456789abcdef");
        assert_eq!(version["git_ref"], "refs/heads/main");
        assert_eq!(version["event"], "push");
        assert_eq!(version["verdict"], "pass");
    }
    // The job summary carries the lineage and the history of both versions, staging and the
    // rollouts: the first run's switch, then the canary of version 2 over version 1.
    let summary = runner.read("summary.md");
    assert!(summary.contains("### staging · version 2 served on loopback"), "{summary}");
    assert!(summary.contains("### deploy · canary · ✅ completed"), "{summary}");
    assert!(summary.contains("Stable version 1, candidate version 2"), "{summary}");
    assert!(summary.contains("### registry · .ml\\-gates/registry"), "{summary}");
    assert!(summary.contains("| 2 (this run) |"), "{summary}");
    assert!(summary.contains("title \"accuracy by version\""), "{summary}");
}

#[test]
fn skip_training_on_a_manual_run_plans_staging_and_deploy() {
    let runner = Runner::with_example();
    let out = runner.run("workflow_dispatch", include_str!("../fixtures/events/workflow_dispatch.json"), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("event workflow_dispatch: staging, deploy"), "{stdout}");
    let outputs = outputs(&runner.read("output"));
    assert!(outputs.contains(&("plan".to_string(), "staging,deploy".to_string())));
    // Nothing registered yet: nothing to stage or roll out.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runner.workspace.path().join(".ml-gates/report.json")).unwrap())
            .unwrap();
    let messages: Vec<&str> =
        report["checks"].as_array().unwrap().iter().map(|c| c["message"].as_str().unwrap()).collect();
    assert!(
        messages.contains(&"no candidate model in this run and no 'challenger' alias: nothing to stage"),
        "{messages:?}"
    );

    // Registered by hand as the challenger: staged from the registry and rolled out.
    let register = Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(["register", "--model", "models/champion.model"])
        .current_dir(runner.workspace.path())
        .output()
        .unwrap();
    assert!(register.status.success());
    let promote = Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(["promote", "1", "--alias", "challenger"])
        .current_dir(runner.workspace.path())
        .output()
        .unwrap();
    assert!(promote.status.success());
    let out = runner.run("workflow_dispatch", include_str!("../fixtures/events/workflow_dispatch.json"), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("::group::ml-gates: staging") && stdout.contains("::group::ml-gates: deploy"), "{stdout}");
    let summary = runner.read("summary.md");
    assert!(summary.contains("### staging · version 1 served on loopback"), "{summary}");
    assert!(summary.contains("Stable none (first deployment), candidate version 1"), "{summary}");
}

/// On a pull request the report goes to GitHub's REST API as the sticky comment (a fake server
/// here, reached through GITHUB_API_URL as on GitHub Enterprise Server); a failing API only warns.
#[tokio::test(flavor = "multi_thread")]
async fn the_report_is_posted_as_the_sticky_comment() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/churn/issues/7/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/churn/issues/7/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 42})))
        .expect(1)
        .mount(&server)
        .await;
    let runner = Runner::with_example();
    let uri = server.uri();
    let out = tokio::task::spawn_blocking(move || {
        let out = runner.run_with(
            "pull_request",
            PULL_REQUEST,
            &[("comment", "true"), ("token", "ghs_token")],
            &[("GITHUB_API_URL", &uri)],
        );
        (out, runner)
    })
    .await
    .unwrap()
    .0;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("created the report comment 42 on #7"), "{stdout}");
    let posted = server.received_requests().await.unwrap();
    let post = posted.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    let text = body["body"].as_str().unwrap();
    assert!(text.starts_with("<!-- ml-gates sticky report: ml_gates.yaml -->\n## ml-gates · churn"), "{text}");
    assert_eq!(post.headers.get("authorization").unwrap().to_str().unwrap(), "Bearer ghs_token");
}

#[test]
fn a_failing_api_only_warns() {
    let runner = Runner::with_example();
    // Nothing listens on this port: the comment fails after its retries, the gates still pass.
    let out = runner.run_with(
        "pull_request",
        PULL_REQUEST,
        &[("comment", "true"), ("token", "ghs_token")],
        &[("GITHUB_API_URL", "http://127.0.0.1:9")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("::warning title=ml-gates PR comment::the PR comment failed")),
        "{stdout}"
    );
}

/// Every output the action writes is declared in action.yml with a description: the fixed ones
/// and one per metric of the catalogue; and a run writes no other.
#[test]
fn every_output_written_is_declared() {
    let action: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string("action.yml").unwrap()).unwrap();
    let declared: std::collections::BTreeMap<String, String> = action["outputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v["description"].as_str().unwrap_or("").to_string()))
        .collect();
    let fixed = ["verdict", "report", "plan", "model_version", "run_id", "rollout"];
    for name in fixed.iter().copied().chain(ml_gates::measure::CATALOGUE.iter().map(|m| m.name)) {
        assert!(
            declared.get(name).is_some_and(|d| !d.is_empty()),
            "output '{name}' is not declared with a description"
        );
    }
    let runner = Runner::with_example();
    let out = runner.run("pull_request", PULL_REQUEST, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = outputs(&runner.read("output"));
    assert!(written.len() > 10, "{written:?}");
    for (name, _) in written {
        assert!(declared.contains_key(&name), "output '{name}' is written but not declared in action.yml");
    }
}

/// A container action runs as root, but the workspace belongs to the runner's user (uid 1001 on
/// GitHub-hosted runners): every file ml-gates writes there ends owned like the workspace, on a
/// passing run and on one that stops with exit 2 after it had written files. (The test runs as
/// root, as the action does; chown fails otherwise.)
#[test]
fn every_file_written_is_owned_like_the_workspace_on_every_path() {
    let chown = |path: &Path| chown(path, 1001);
    let runner = Runner::with_example();
    chown(runner.workspace.path());
    let out = runner.run("pull_request", PULL_REQUEST, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(runner.workspace.path().join(".ml-gates/report.json").is_file());
    assert_eq!(not_owned_by(runner.workspace.path(), 1001), Vec::<PathBuf>::new());

    // An external trainer whose predictions do not fit: exit 2 after ml-gates wrote its inputs.
    let runner = Runner::with_example();
    std::fs::write(
        runner.workspace.path().join("ml-gates.yaml"),
        "version: 1\nname: churn\ndata:\n  train: data/train.parquet\n  test: data/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\ntrain:\n  command: printf \"prediction\\n1\\n\" > \"$ML_GATES_PREDICTIONS\"\n",
    )
    .unwrap();
    chown(runner.workspace.path());
    let out = runner.run("pull_request", PULL_REQUEST, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let inputs = runner.workspace.path().join(".ml-gates/churn-external/inputs");
    assert!(std::fs::read_dir(&inputs).unwrap().count() > 0, "the trainer's inputs were written");
    assert_eq!(not_owned_by(runner.workspace.path(), 1001), Vec::<PathBuf>::new());
}
