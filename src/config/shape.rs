//! Checks a YAML tree against the JSON Schema generated from the raw config types, collecting
//! every problem with its position: unknown keys (with a did-you-mean), missing keys, wrong types,
//! values outside their range, lists of the wrong length.
//!
//! The schema is the single source of truth for the file's shape: the same schema is what
//! `ml-gates schema` prints and what editors use to complete keys.

use super::yaml::{scalar_type, Kind, Node, Pos, ScalarType};
use crate::error::did_you_mean;
use serde_json::Value;

/// One problem with the shape of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub pos: Pos,
    pub path: String,
    pub message: String,
    pub suggestion: Option<String>,
}

pub struct Shape<'a> {
    root: &'a Value,
}

impl<'a> Shape<'a> {
    pub fn new(root: &'a Value) -> Self {
        Self { root }
    }

    /// Every problem of `node` against the root schema.
    pub fn check(&self, node: &Node) -> Vec<Issue> {
        let mut out = Vec::new();
        self.walk(self.root, node, "", &mut out);
        out.sort_by_key(|i| i.pos);
        out
    }

    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else { break };
            let Some(name) = reference.strip_prefix("#/$defs/") else { break };
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn walk(&self, schema: &'a Value, node: &Node, path: &str, out: &mut Vec<Issue>) {
        let schema = self.resolve(schema);
        let Value::Object(obj) = schema else {
            if schema == &Value::Bool(false) {
                out.push(issue(node.pos, path, format!("'{}' is not allowed here", leaf(path)), None));
            } else if let Some(pos) = first_alias(node) {
                // Anywhere inside a free-form value (train.params): an alias bomb would expand there.
                out.push(issue(pos, path, "YAML aliases (*name) are not supported in ml-gates.yaml".into(), None));
            } else if let Kind::Scalar { text, plain } = &node.kind {
                // Free-form values (train.params) are numbers too.
                if scalar_type(text, *plain) == ScalarType::Float && !is_finite(text) {
                    let message = format!("{} must be a finite number, found {text}", describe_path(path));
                    out.push(issue(node.pos, path, message, None));
                }
            }
            return;
        };
        if matches!(node.kind, Kind::Alias) {
            out.push(issue(node.pos, path, "YAML aliases (*name) are not supported in ml-gates.yaml".into(), None));
            return;
        }
        if let Some(Value::Array(branches)) = obj.get("anyOf").or_else(|| obj.get("oneOf")) {
            self.any_of(branches, node, path, out);
            return;
        }
        if let Some(allowed) = consts(schema) {
            self.one_of_values(&allowed, node, path, out);
            return;
        }
        let types = types_of(schema);
        if !types.is_empty() && !types.iter().any(|t| kind_matches(t, node)) {
            // A null where an optional value is allowed was handled by the type list above.
            out.push(issue(
                node.pos,
                path,
                format!("{} must be {}, found {}", describe_path(path), describe_types(&types), node.describe()),
                None,
            ));
            return;
        }
        match &node.kind {
            Kind::Map(entries) => {
                let properties = obj.get("properties").and_then(Value::as_object);
                let additional = obj.get("additionalProperties");
                for entry in entries {
                    let child = join(path, &entry.key);
                    if let Some(prop) = properties.and_then(|p| p.get(&entry.key)) {
                        self.walk(prop, &entry.value, &child, out);
                    } else {
                        match additional {
                            Some(Value::Bool(false)) => {
                                let names: Vec<&str> =
                                    properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                                let suggestion = did_you_mean(&entry.key, names.iter().copied());
                                let place = if path.is_empty() {
                                    "at the top level".to_string()
                                } else {
                                    format!("in '{path}'")
                                };
                                let mut message = format!("unknown key '{}' {place}", entry.key);
                                if suggestion.is_none() && !names.is_empty() {
                                    message.push_str(&format!(" (expected one of: {})", names.join(", ")));
                                }
                                out.push(issue(entry.key_pos, &child, message, suggestion));
                            }
                            Some(extra) => self.walk(extra, &entry.value, &child, out),
                            None => {}
                        }
                    }
                }
                if let Some(Value::Array(required)) = obj.get("required") {
                    for key in required.iter().filter_map(Value::as_str) {
                        if !entries.iter().any(|e| e.key == key) {
                            let place =
                                if path.is_empty() { "at the top level".to_string() } else { format!("in '{path}'") };
                            out.push(issue(node.pos, &join(path, key), format!("missing key '{key}' {place}"), None));
                        }
                    }
                }
            }
            Kind::Seq(items) => {
                let min = obj.get("minItems").and_then(Value::as_u64);
                let max = obj.get("maxItems").and_then(Value::as_u64);
                if min.is_some() && min == max && items.len() as u64 != min.unwrap_or(0) {
                    out.push(issue(
                        node.pos,
                        path,
                        format!(
                            "{} must be a list of exactly {} items, found {}",
                            describe_path(path),
                            min.unwrap_or(0),
                            items.len()
                        ),
                        None,
                    ));
                } else if let Some(min) = min.filter(|m| (items.len() as u64) < *m) {
                    out.push(issue(
                        node.pos,
                        path,
                        format!("{} needs at least {min} items, found {}", describe_path(path), items.len()),
                        None,
                    ));
                } else if let Some(max) = max.filter(|m| (items.len() as u64) > *m) {
                    out.push(issue(
                        node.pos,
                        path,
                        format!("{} takes at most {max} items, found {}", describe_path(path), items.len()),
                        None,
                    ));
                }
                let prefix = obj.get("prefixItems").and_then(Value::as_array);
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    if let Some(s) = prefix.and_then(|p| p.get(i)) {
                        self.walk(s, item, &child, out);
                    } else if let Some(s) = obj.get("items") {
                        self.walk(s, item, &child, out);
                    }
                }
            }
            Kind::Scalar { text, plain } => self.scalar(obj, schema, node, text, *plain, path, out),
            Kind::Alias => {}
        }
    }

    /// A scalar against its schema: finite numbers within their range, non-empty strings.
    #[allow(clippy::too_many_arguments)]
    fn scalar(
        &self,
        obj: &serde_json::Map<String, Value>,
        schema: &Value,
        node: &Node,
        text: &str,
        plain: bool,
        path: &str,
        out: &mut Vec<Issue>,
    ) {
        let ty = scalar_type(text, plain);
        // NaN and infinities are never a bound, a rate or a parameter ml-gates can use.
        let types = types_of(schema);
        if ty == ScalarType::Float && !is_finite(text) && (types.is_empty() || types.iter().any(|t| t == "number")) {
            out.push(issue(
                node.pos,
                path,
                format!("{} must be a finite number, found {text}", describe_path(path)),
                None,
            ));
            return;
        }
        if matches!(ty, ScalarType::Int | ScalarType::Float) {
            if let Ok(x) = text.parse::<f64>() {
                let min = obj.get("minimum").and_then(Value::as_f64);
                let max = obj.get("maximum").and_then(Value::as_f64);
                let out_of_range = min.is_some_and(|m| x < m) || max.is_some_and(|m| x > m);
                if out_of_range {
                    let bound = match (min, max) {
                        (Some(a), Some(b)) if a == b => format!("must be {}", num(a)),
                        (Some(a), Some(b)) => format!("must be between {} and {}", num(a), num(b)),
                        (Some(a), None) => format!("must be at least {}", num(a)),
                        (None, Some(b)) => format!("must be at most {}", num(b)),
                        (None, None) => unreachable!("out_of_range needs a bound"),
                    };
                    out.push(issue(node.pos, path, format!("{} {bound}, found {text}", describe_path(path)), None));
                }
            }
        }
        if ty == ScalarType::Str {
            if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
                if (text.chars().count() as u64) < min {
                    out.push(issue(node.pos, path, format!("{} must not be empty", describe_path(path)), None));
                }
            }
        }
    }

    fn any_of(&self, branches: &'a [Value], node: &Node, path: &str, out: &mut Vec<Issue>) {
        if let Some(allowed) = all_consts(branches, self) {
            self.one_of_values(&allowed, node, path, out);
            return;
        }
        // Report the errors of the branch the user most likely meant: one whose type matches and
        // that shares keys with the node, then one whose type matches, fewest problems first.
        let mut candidates: Vec<(u8, Vec<Issue>)> = Vec::new();
        for branch in branches {
            let branch = self.resolve(branch);
            let mut issues = Vec::new();
            self.walk(branch, node, path, &mut issues);
            if issues.is_empty() {
                return;
            }
            let level = self.plausibility(branch, node);
            if level > 0 {
                candidates.push((level, issues));
            }
        }
        let best_level = candidates.iter().map(|(l, _)| *l).max();
        let best = candidates
            .into_iter()
            .filter(|(l, _)| Some(*l) == best_level)
            .map(|(_, issues)| issues)
            .min_by_key(|issues| issues.len());
        match best {
            Some(best) => out.extend(best),
            None => {
                let expected: Vec<String> = branches
                    .iter()
                    .map(|b| describe_types(&types_of(self.resolve(b))))
                    .filter(|d| !d.is_empty())
                    .collect();
                out.push(issue(
                    node.pos,
                    path,
                    format!("{} must be {}, found {}", describe_path(path), expected.join(" or "), node.describe()),
                    None,
                ));
            }
        }
    }

    /// How likely `node` was meant to be of this branch's form: 0 the type differs, 1 the type
    /// matches, 2 the type matches and a mapping shares keys with the branch's properties.
    fn plausibility(&self, branch: &Value, node: &Node) -> u8 {
        let types = types_of(branch);
        if !types.is_empty() && !types.iter().any(|t| kind_matches(t, node)) {
            return 0;
        }
        if let Kind::Map(entries) = &node.kind {
            if let Some(props) = branch.get("properties").and_then(Value::as_object) {
                let fixed_shape = branch.get("additionalProperties") == Some(&Value::Bool(false));
                if fixed_shape && !entries.is_empty() && !entries.iter().any(|e| props.contains_key(&e.key)) {
                    return 1;
                }
            }
        }
        2
    }

    fn one_of_values(&self, allowed: &[String], node: &Node, path: &str, out: &mut Vec<Issue>) {
        let text = match &node.kind {
            Kind::Scalar { text, .. } => text.clone(),
            _ => {
                out.push(issue(
                    node.pos,
                    path,
                    format!("{} must be one of {}, found {}", describe_path(path), allowed.join(", "), node.describe()),
                    None,
                ));
                return;
            }
        };
        if !allowed.contains(&text) {
            let suggestion = did_you_mean(&text, allowed.iter().map(String::as_str));
            let mut message = format!("unknown value '{text}' for {}", describe_path(path));
            if suggestion.is_none() {
                message.push_str(&format!(" (expected one of: {})", allowed.join(", ")));
            }
            out.push(issue(node.pos, path, message, suggestion));
        }
    }
}

fn issue(pos: Pos, path: &str, message: String, suggestion: Option<String>) -> Issue {
    Issue { pos, path: path.to_string(), message, suggestion }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn leaf(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn describe_path(path: &str) -> String {
    if path.is_empty() {
        "the file".into()
    } else {
        format!("'{path}'")
    }
}

fn num(x: f64) -> String {
    crate::core::format_number(x)
}

/// The allowed values when the schema is an `enum` or a `const`.
fn consts(schema: &Value) -> Option<Vec<String>> {
    if let Some(Value::Array(values)) = schema.get("enum") {
        return Some(values.iter().map(value_text).collect());
    }
    schema.get("const").map(|v| vec![value_text(v)])
}

/// The allowed values when every branch of an anyOf/oneOf is a constant (documented enum variants).
fn all_consts(branches: &[Value], shape: &Shape<'_>) -> Option<Vec<String>> {
    let mut all = Vec::new();
    for branch in branches {
        all.extend(consts(shape.resolve(branch))?);
    }
    Some(all)
}

/// Whether a YAML float is finite: not `.nan` or `.inf`, nor too large for a double (`1e999`).
fn is_finite(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.ends_with(".inf") || lower == ".nan" {
        return false;
    }
    text.replace('_', "").parse::<f64>().map_or(true, f64::is_finite)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn types_of(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(String::from).collect(),
        _ => Vec::new(),
    }
}

fn kind_matches(ty: &str, node: &Node) -> bool {
    match (&node.kind, ty) {
        (Kind::Map(_), "object") | (Kind::Seq(_), "array") => true,
        (Kind::Scalar { text, plain }, _) => {
            let t = scalar_type(text, *plain);
            matches!(
                (t, ty),
                (ScalarType::Null, "null")
                    | (ScalarType::Bool, "boolean")
                    | (ScalarType::Int, "integer" | "number")
                    | (ScalarType::Float, "number")
                    | (ScalarType::Str, "string")
            )
        }
        _ => false,
    }
}

fn describe_types(types: &[String]) -> String {
    let names: Vec<&str> = types
        .iter()
        .filter(|t| *t != "null")
        .map(|t| match t.as_str() {
            "object" => "a mapping",
            "array" => "a list",
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            other => other,
        })
        .collect();
    names.join(" or ")
}

/// Where the first alias (`*name`) inside `node` is, if it holds one.
fn first_alias(node: &Node) -> Option<crate::config::yaml::Pos> {
    match &node.kind {
        Kind::Alias => Some(node.pos),
        Kind::Map(entries) => entries.iter().find_map(|e| first_alias(&e.value)),
        Kind::Seq(items) => items.iter().find_map(first_alias),
        Kind::Scalar { .. } => None,
    }
}
