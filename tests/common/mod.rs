//! What GitHub's runner reads back from an action, as its source reads it: the outputs file, the
//! workflow commands on a log stream, and who owns what the action wrote. Shared by the tests of
//! the binary as the action (tests/action.rs) and of the image (tests/image.rs).
#![allow(dead_code)]

pub mod servers;
pub mod workspace;

use std::path::{Path, PathBuf};

/// The outputs file parsed: `name<<DELIM\nvalue\nDELIM`, the form ml-gates writes (a random
/// `ghadelimiter_` delimiter, as actions/toolkit's `prepareKeyValueMessage` makes), or `name=value`
/// (actions/runner `FileCommandManager`'s other form, which ml-gates never writes).
pub fn outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(head) = lines.next() {
        let (name, delimiter) = head.split_once("<<").expect("heredoc form");
        assert!(delimiter.starts_with("ghadelimiter_") && delimiter.len() == 45, "{delimiter}");
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        out.push((name.to_string(), value.join("\n")));
    }
    out
}

/// The last value of output `name`, as the runner keeps it (a later write wins).
pub fn output(text: &str, name: &str) -> Option<String> {
    outputs(text).into_iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// A model of the runner's parsing of a log line (actions/runner `ActionCommand.TryParseV2` and
/// `TryParse`): `::` at the start after whitespace and a second `::`, or `##[` anywhere with a `]`
/// after it. The runner splits lines at `\n` and `\r`, on stdout and stderr alike.
pub fn commands_in(stream: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stream)
        .split(['\n', '\r'])
        .filter(|line| {
            let v2 = line.trim_start();
            let v2 = v2.starts_with("::") && v2[2..].contains("::");
            let legacy = line.find("##[").is_some_and(|i| line[i..].contains(']'));
            v2 || legacy
        })
        .map(str::to_string)
        .collect()
}

/// Whether a command line is one ml-gates itself writes, with nobody's text turned into a command.
pub fn ours(line: &str) -> bool {
    ["::error ", "::warning ", "::notice ", "::group::", "::endgroup::", "::add-mask::"]
        .iter()
        .any(|p| line.starts_with(p))
        && !line.contains("##[")
}

/// The command lines on a stream that are not ml-gates' own.
pub fn foreign_commands(stream: &[u8]) -> Vec<String> {
    commands_in(stream).into_iter().filter(|l| !ours(l)).collect()
}

/// Every file under `root` (and `root` itself) that is not owned by `uid`.
pub fn not_owned_by(root: &Path, uid: u32) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut wrong = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(p) = pending.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.uid() != uid {
            wrong.push(p.clone());
        }
        if meta.is_dir() {
            pending.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
    wrong
}

/// `chown -R uid:uid path` (the tests run as root, as a container action does).
pub fn chown(path: &Path, uid: u32) {
    let status = std::process::Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(path).status().unwrap();
    assert!(status.success(), "chown needs root, as the action's container has");
}

/// The bundled example's config with latency bounds a test can hold on a busy machine: tests
/// check what the stages do, BENCHMARKS.md measures how fast (a p99 of 50 ms failed a debug build
/// with every core busy).
pub fn relaxed_latency(config: &str) -> String {
    let relaxed = config
        .replace("latency: {p99_ms: 50}", "latency: {p99_ms: 5000}")
        .replace("p99_ms: 50, max_error_rate", "p99_ms: 5000, max_error_rate")
        .replace("latency_p99_ms: {max: 100}", "latency_p99_ms: {max: 5000}");
    assert_eq!(relaxed.matches("5000").count(), 3, "the example's latency bounds moved: {config}");
    relaxed
}

/// `ml-gates action` as the runner runs it for `event` (its payload, its ref), in `workspace`,
/// with nothing of this process's environment but PATH, plus `extra` (inputs as `INPUT_*`,
/// credentials): its output and the outputs file it wrote.
pub fn action(
    workspace: &Path,
    event: &str,
    payload: &str,
    git_ref: &str,
    extra: &[(&str, &str)],
) -> (std::process::Output, String) {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("event.json"), payload).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .arg("action")
        .arg("--now=2026-11-27T00:00:00Z")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", temp.path().join("event.json"))
        .env("GITHUB_REPOSITORY", "octo/churn")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_SHA", "0123456789abcdef")
        .env("GITHUB_REF", git_ref)
        .env("GITHUB_WORKSPACE", workspace)
        .env("GITHUB_OUTPUT", temp.path().join("output"))
        .env("GITHUB_STEP_SUMMARY", temp.path().join("summary.md"))
        .env("INPUT_COMMENT", "false")
        .env("DOCKER_CONFIG", temp.path().join("no-docker-config"))
        .envs(extra.iter().copied())
        .current_dir(workspace)
        .output()
        .unwrap();
    let outputs = std::fs::read_to_string(temp.path().join("output")).unwrap_or_default();
    (out, outputs)
}

/// The training set in `data` with its labels flipped (a broken pipeline's), written beside it as
/// flipped.parquet: a model trained on it is mostly wrong, a weak champion for A/B tests.
pub fn flip_training_labels(data: &Path) -> PathBuf {
    use polars::prelude::{ChunkApply, Column, IntoSeries, ParquetReader, ParquetWriter, SerReader};
    let mut train = ParquetReader::new(std::fs::File::open(data.join("train.parquet")).unwrap()).finish().unwrap();
    let flipped = train
        .column("churn")
        .unwrap()
        .as_materialized_series()
        .i64()
        .unwrap()
        .apply(|v| v.map(|v| 1 - v))
        .into_series();
    train.with_column(Column::from(flipped)).unwrap();
    let path = data.join("flipped.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut train).unwrap();
    path
}
