//! ml-gates.yaml: loading, checking and the validated config the stages trust.
//!
//! Layers, as in cargo-deny and ruff: the YAML text becomes a position-keeping tree (`yaml`),
//! the tree is checked against the JSON Schema of the raw types (`shape`, every problem at once),
//! serde builds the raw types (`raw`), and `semantic` checks what a schema cannot say (min ≤ max,
//! one column per role, options that fit the task). Only then do stages see a [`Config`].

pub mod deploy;
pub mod expr;
pub mod raw;
mod semantic;
pub mod shape;
pub mod storage;
pub mod yaml;

use crate::error::{InputError, Problem};
use raw::RawConfig;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
pub use yaml::Pos;

/// Where the config came from, and the line of every key in it.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as the user gave it, for messages.
    pub display: String,
    /// The folder paths in the config are relative to.
    pub base_dir: PathBuf,
    /// Each key path (`validate.rows.min`, `validate.target.range[1]`) mapped to its position.
    pub positions: BTreeMap<String, Pos>,
    /// Where each text value starts, and whether it was written plain (unquoted), so a problem
    /// inside a value (a rule's fault at its character) is reported at its own column.
    pub texts: BTreeMap<String, (Pos, bool)>,
}

impl Source {
    /// Position of `path`, or of its nearest ancestor that is in the file.
    pub fn pos(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// Line of `path` (or its nearest ancestor).
    pub fn line(&self, path: &str) -> Option<usize> {
        self.pos(path).map(|p| p.line)
    }

    /// A problem located at `path` in the config file.
    pub fn problem(&self, path: &str, message: impl Into<String>, suggestion: Option<String>) -> Problem {
        Problem {
            file: self.display.clone(),
            position: self.pos(path).map(|p| (p.line, p.col)),
            message: message.into(),
            suggestion,
        }
    }

    /// A problem inside the text value at `path`, `offset` characters into it: at that column
    /// when the value is on one line (plain or quoted), else where the value starts.
    pub fn problem_in_text(&self, path: &str, offset: usize, message: impl Into<String>) -> Problem {
        let mut problem = self.problem(path, message, None);
        if let Some((pos, plain)) = self.texts.get(path) {
            let col = pos.col + offset + usize::from(!plain);
            problem.position = Some((pos.line, col));
        }
        problem
    }

    /// Resolve a path written in the config against the config's folder.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() || self.base_dir == Path::new(".") {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// A config every stage can trust: its shape and its cross-key rules have been checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub raw: RawConfig,
    pub source: Source,
}

/// The JSON Schema of ml-gates.yaml, generated from the raw config types.
pub fn json_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = schemars::schema_for!(RawConfig);
        serde_json::to_value(schema).expect("a generated schema serializes")
    })
}

/// Load and check the config at `path`. Every problem found is returned at once.
pub fn load(path: &Path) -> Result<Config, InputError> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        InputError::one(Problem {
            file: display.clone(),
            position: None,
            message: match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "config file not found (pass --config FILE, or run where ml-gates.yaml is)".to_string()
                }
                _ => format!("cannot read the config file: {e}"),
            },
            suggestion: None,
        })
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        // Where the first byte that is not UTF-8 is, as a line and a column.
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let col = String::from_utf8_lossy(&valid[valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)..])
            .chars()
            .count()
            + 1;
        InputError::one(Problem {
            file: display.clone(),
            position: Some((line, col)),
            message: "the config file is not UTF-8 text: save it as UTF-8".to_string(),
            suggestion: None,
        })
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base_dir = if base_dir.as_os_str().is_empty() { PathBuf::from(".") } else { base_dir };
    // Editors on Windows may start the file with a byte-order mark; it is not part of the YAML.
    parse(text.strip_prefix('\u{feff}').unwrap_or(&text), &display, base_dir)
}

/// Check config `text`; `display` names the file in messages and `base_dir` anchors its paths.
pub fn parse(text: &str, display: &str, base_dir: PathBuf) -> Result<Config, InputError> {
    let at = |pos: Pos, message: String, suggestion: Option<String>| Problem {
        file: display.to_string(),
        position: Some((pos.line, pos.col)),
        message,
        suggestion,
    };
    let (tree, duplicates) =
        yaml::parse(text).map_err(|e| InputError::one(at(e.pos, format!("invalid YAML: {}", e.message), None)))?;
    let mut problems: Vec<Problem> = duplicates
        .iter()
        .map(|d| at(d.pos, format!("duplicate key '{}' (first set on line {})", d.key, d.first.line), None))
        .collect();
    let issues = shape::Shape::new(json_schema()).check(&tree);
    let (mut positions, mut texts) = (BTreeMap::new(), BTreeMap::new());
    collect_positions(&tree, "", &mut positions, &mut texts);
    // A value that is not plain starts at its quote, or at a block indicator (`|`, `>`) whose
    // text is on the next lines: only the quoted ones keep their columns.
    let lines: Vec<&str> = text.lines().collect();
    texts.retain(|_, (pos, plain)| {
        *plain
            || lines
                .get(pos.line.wrapping_sub(1))
                .and_then(|l| l.chars().nth(pos.col - 1))
                .is_some_and(|c| c == '\'' || c == '"')
    });
    let source = Source { display: display.to_string(), base_dir, positions, texts };
    if !problems.is_empty() || !issues.is_empty() {
        // Report the rules between keys too, checked on the file without the parts at fault, so
        // one run shows every problem; a rule that involves a part at fault stays silent.
        let pruned: Vec<String> = issues.iter().map(|i| i.path.clone()).collect();
        problems.extend(issues.into_iter().map(|i| at(i.pos, i.message, i.suggestion)));
        if let Some(raw) = without(&tree, &pruned) {
            let near_fault = |p: &Problem| {
                pruned.iter().any(|path| {
                    ancestors(path)
                        .any(|a| source.positions.get(a).is_some_and(|pos| p.position == Some((pos.line, pos.col))))
                })
            };
            let seen: Vec<Option<(usize, usize)>> = problems.iter().map(|p| p.position).collect();
            problems.extend(
                semantic::check(&raw, &source).into_iter().filter(|p| !seen.contains(&p.position) && !near_fault(p)),
            );
        }
        problems.sort_by_key(|p| p.position);
        return Err(InputError { problems });
    }
    let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| {
        let position = e.location().map(|l| (l.line(), l.column()));
        InputError::one(Problem { file: display.to_string(), position, message: e.to_string(), suggestion: None })
    })?;
    let problems = semantic::check(&raw, &source);
    if !problems.is_empty() {
        return Err(InputError { problems });
    }
    Ok(Config { raw, source })
}

/// `path` and each of its ancestors (`a.b[0].c`, `a.b[0]`, `a.b`, `a`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| p.rfind(['.', '[']).map(|i| &p[..i])).filter(|p| !p.is_empty())
}

/// The config without the parts at `faults`, if what remains still deserializes. A part whose
/// removal leaves its parent incomplete takes the parent with it, up to a whole section.
fn without(tree: &yaml::Node, faults: &[String]) -> Option<RawConfig> {
    let mut cut: Vec<String> = faults.to_vec();
    for _ in 0..8 {
        // A set: a file with a hundred thousand faults is cut in one pass, not in their square.
        let set: HashSet<&str> = cut.iter().map(String::as_str).collect();
        let value = to_json(tree, "", &set);
        if let Ok(raw) = serde_json::from_value::<RawConfig>(value) {
            return Some(raw);
        }
        // Cut one level higher, but never a top-level key (`version`, `data`…) the rest needs.
        let next: Vec<String> = cut
            .iter()
            .map(|p| match p.rfind(['.', '[']) {
                Some(i) if p[..i].contains('.') || p[..i].contains('[') => p[..i].to_string(),
                Some(i) if !matches!(&p[..i], "version" | "name" | "data") => p[..i].to_string(),
                _ => p.clone(),
            })
            .collect();
        if next == cut {
            return None;
        }
        cut = next;
    }
    None
}

/// The tree as JSON, without the nodes at `cut` paths.
fn to_json(node: &yaml::Node, path: &str, cut: &HashSet<&str>) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        yaml::Kind::Map(entries) => Value::Object(
            entries
                .iter()
                .filter_map(|e| {
                    let child = if path.is_empty() { e.key.clone() } else { format!("{path}.{}", e.key) };
                    (!cut.contains(child.as_str())).then(|| (e.key.clone(), to_json(&e.value, &child, cut)))
                })
                .collect(),
        ),
        yaml::Kind::Seq(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let child = format!("{path}[{i}]");
                    (!cut.contains(child.as_str())).then(|| to_json(item, &child, cut))
                })
                .collect(),
        ),
        yaml::Kind::Scalar { text, plain } => match yaml::scalar_type(text, *plain) {
            yaml::ScalarType::Null => Value::Null,
            yaml::ScalarType::Bool => Value::Bool(text.eq_ignore_ascii_case("true")),
            yaml::ScalarType::Int => {
                text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(text.clone()))
            }
            yaml::ScalarType::Float => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            _ => Value::String(text.clone()),
        },
        yaml::Kind::Alias => Value::Null,
    }
}

fn collect_positions(
    node: &yaml::Node,
    path: &str,
    out: &mut BTreeMap<String, Pos>,
    texts: &mut BTreeMap<String, (Pos, bool)>,
) {
    match &node.kind {
        yaml::Kind::Map(entries) => {
            for entry in entries {
                let child = if path.is_empty() { entry.key.clone() } else { format!("{path}.{}", entry.key) };
                out.insert(child.clone(), entry.key_pos);
                collect_positions(&entry.value, &child, out, texts);
            }
        }
        yaml::Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let child = format!("{path}[{i}]");
                out.insert(child.clone(), item.pos);
                collect_positions(item, &child, out, texts);
            }
        }
        // Only one-line values: a block scalar's characters are on other lines.
        yaml::Kind::Scalar { text, plain }
            if !text.contains('\n') && yaml::scalar_type(text, *plain) == yaml::ScalarType::Str =>
        {
            texts.insert(path.to_string(), (node.pos, *plain));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(text, "ml-gates.yaml", PathBuf::from(".")) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    const BASE: &str =
        "version: 1\nname: churn\ndata:\n  train: train.parquet\n  target: churn\n  task: classification\n";

    /// The design brief's illustrative file uses the keys users rely on: it must load as it is.
    #[test]
    fn the_design_briefs_example_loads() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/config/design-illustrative.yaml"))
                .unwrap();
        assert_eq!(errors(&text), Vec::<String>::new());
    }

    #[test]
    fn a_minimal_config_loads() {
        assert_eq!(errors(BASE), Vec::<String>::new());
    }

    #[test]
    fn unknown_keys_point_at_their_line_with_a_suggestion() {
        let text = format!("{BASE}validate:\n  target: {{min_clas_percent: 5}}\n  nulls: {{max_percent: 3}}\n  duplicate: {{max_percent: 1}}\n");
        assert_eq!(
            errors(&text),
            vec![
                "ml-gates.yaml:8:12: unknown key 'min_clas_percent' in 'validate.target', did you mean 'min_class_percent'?",
                "ml-gates.yaml:10:3: unknown key 'duplicate' in 'validate', did you mean 'duplicates'?",
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "version: 2\nname: churn\ndata:\n  train: t.parquet\n  target: churn\n  task: clasification\nvalidate:\n  nulls: {max_percent: -3}\n  ranges: {age: [18, 100, 5]}\nunknown_section: {}\n";
        assert_eq!(
            errors(text),
            vec![
                "ml-gates.yaml:1:10: 'version' must be 1, found 2",
                "ml-gates.yaml:6:9: unknown value 'clasification' for 'data.task', did you mean 'classification'?",
                "ml-gates.yaml:8:24: 'validate.nulls.max_percent' must be between 0 and 100, found -3",
                "ml-gates.yaml:9:17: 'validate.ranges.age' must be a list of exactly 2 items, found 3",
                "ml-gates.yaml:10:1: unknown key 'unknown_section' at the top level (expected one of: version, name, data, validate, train, evaluate, registry, staging, deploy, report, stages)",
            ]
        );
    }

    #[test]
    fn semantic_problems_have_lines() {
        let text =
            format!("{BASE}  id: churn\nvalidate:\n  rows: {{min: 500, max: 10}}\n  ranges: {{age: [100, 18]}}\n");
        assert_eq!(
            errors(&text),
            vec![
                "ml-gates.yaml:7:3: column 'churn' is both data.target and data.id",
                "ml-gates.yaml:9:3: validate.rows: min (500) is greater than max (10)",
                "ml-gates.yaml:10:12: validate.ranges.age: min (100) is greater than max (18)",
            ]
        );
    }

    #[test]
    fn shape_and_rule_problems_are_reported_together() {
        let text = format!(
            "{BASE}  id: churn\nvalidate:\n  rows: {{min: 500, max: 10}}\n  nulls: {{max_percent: -3}}\n  ranges: {{age: [100, 18], spend: [0, x]}}\n"
        );
        assert_eq!(
            errors(&text),
            vec![
                "ml-gates.yaml:7:3: column 'churn' is both data.target and data.id",
                "ml-gates.yaml:9:3: validate.rows: min (500) is greater than max (10)",
                "ml-gates.yaml:10:24: 'validate.nulls.max_percent' must be between 0 and 100, found -3",
                "ml-gates.yaml:11:12: validate.ranges.age: min (100) is greater than max (18)",
                "ml-gates.yaml:11:39: 'validate.ranges.spend[1]' must be a number, found the string 'x'",
            ]
        );
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let text = format!("{BASE}validate:\n  rows: {{min: many}}\n  schema: {{age: integer}}\n");
        assert_eq!(
            errors(&text),
            vec![
                "ml-gates.yaml:8:15: 'validate.rows.min' must be an integer, found the string 'many'",
                "ml-gates.yaml:9:17: unknown value 'integer' for 'validate.schema.age', did you mean 'int'?",
            ]
        );
    }

    #[test]
    fn a_hundred_thousand_unknown_keys_are_each_reported_at_their_place() {
        // Once quadratic (31 s for a 9 MB file): the faults are cut from the tree through a set.
        let keys: String = (0..100_000).map(|i| format!("  unknown_{i:06}: {i}\n")).collect();
        let text = format!("{BASE}validate:\n  rows: {{min: 1}}\n{keys}");
        let problems = parse(&text, "c.yaml", PathBuf::from(".")).expect_err("unknown keys").problems;
        assert_eq!(problems.len(), 100_000);
        let base_lines = BASE.lines().count();
        assert_eq!(problems[0].position, Some((base_lines + 3, 3)));
        assert_eq!(problems[99_999].position, Some((base_lines + 100_002, 3)));
        assert!(problems[99_999].message.starts_with("unknown key 'unknown_099999' in 'validate'"));
    }

    #[test]
    fn rule_faults_are_reported_at_their_character_in_plain_and_quoted_values() {
        let text = format!(
            "{BASE}validate:\n  rules:\n    - rule: a >= 1 and\n    - rule: \"b = 'x\"\n    - rule: >-\n        c <> \n"
        );
        let problems = parse(&text, "c.yaml", PathBuf::from(".")).expect_err("bad rules").problems;
        let line = BASE.lines().count() + 3;
        let at: Vec<_> = problems.iter().map(|p| p.position).collect();
        // Past the end of the plain value; at the open quote inside the quoted one; a block
        // scalar's fault is reported where its value starts.
        assert_eq!(at[..2], [Some((line, 23)), Some((line + 1, 18))]);
        assert_eq!(at[2].map(|p| p.0), Some(line + 2));
    }

    #[test]
    fn key_positions_are_kept_for_annotations() {
        let config = parse(&format!("{BASE}validate:\n  rows:\n    min: 500\n"), "c.yaml", PathBuf::from(".")).unwrap();
        assert_eq!(config.source.line("validate.rows.min"), Some(9));
        assert_eq!(config.source.line("validate.rows.max"), Some(8));
        assert_eq!(config.source.line("data.target"), Some(5));
    }
}

/// A duration such as `90s`, `500ms`, `2m`, `1h` or `1m30s`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("'{text}' is not a duration such as 500ms, 30s, 2m, 1h or 1m30s");
    let text_trimmed = text.trim();
    if let Ok(seconds) = text_trimmed.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| std::time::Duration::from_secs_f64(seconds))
            .ok_or_else(bad);
    }
    let mut total = 0.0;
    let mut rest = text_trimmed;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5 minutes").unwrap_err().contains("not a duration"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
