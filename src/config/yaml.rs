//! A YAML document as a tree that remembers where every key and value came from.
//!
//! serde_yaml reports the position of the first error only; this tree lets the config loader
//! report every problem with its line and column, and map each key path to its line.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl From<Marker> for Pos {
    fn from(m: Marker) -> Self {
        // yaml-rust2 markers carry 1-based lines and 0-based columns.
        Pos { line: m.line(), col: m.col() + 1 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    /// A scalar and whether it was written plain (unquoted), which decides its type.
    Scalar {
        text: String,
        plain: bool,
    },
    /// An alias (`*name`); not supported in ml-gates.yaml.
    Alias,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

/// The type a scalar resolves to under YAML 1.2's core schema (what serde_yaml uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

impl ScalarType {
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Null => "null",
            ScalarType::Bool => "a boolean",
            ScalarType::Int => "an integer",
            ScalarType::Float => "a number",
            ScalarType::Str => "a string",
        }
    }
}

pub fn scalar_type(text: &str, plain: bool) -> ScalarType {
    if !plain {
        return ScalarType::Str;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarType::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return ScalarType::Bool,
        ".inf" | "-.inf" | "+.inf" | ".Inf" | ".INF" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN" => {
            return ScalarType::Float
        }
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return ScalarType::Int;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return ScalarType::Int;
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return ScalarType::Int;
        }
    }
    if is_float(digits) {
        return ScalarType::Float;
    }
    ScalarType::Str
}

fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = match exponent {
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
        }
        None => true,
    };
    mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some())
}

impl Node {
    /// A short description of what this node is, for error messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Map(_) => "a mapping".into(),
            Kind::Seq(items) => format!("a list of {}", items.len()),
            Kind::Scalar { text, plain } => {
                let t = scalar_type(text, *plain);
                match t {
                    ScalarType::Null => "nothing (null)".into(),
                    ScalarType::Str => format!("the string '{text}'"),
                    _ => format!("{} ({text})", t.name()),
                }
            }
            Kind::Alias => "an alias".into(),
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// A key that appears twice in one mapping.
#[derive(Debug, Clone)]
pub struct DuplicateKey {
    pub key: String,
    pub pos: Pos,
    pub first: Pos,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    duplicates: Vec<DuplicateKey>,
}

enum Frame {
    /// `seen`: each key's first position, so a repeated key is found in constant time.
    Map {
        pos: Pos,
        entries: Vec<Entry>,
        pending_key: Option<(String, Pos)>,
        seen: std::collections::HashMap<String, Pos>,
    },
    Seq {
        pos: Pos,
        items: Vec<Node>,
    },
}

impl Builder {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, pending_key, seen, .. }) => match pending_key.take() {
                None => {
                    // A key. Complex (non-scalar) keys are kept as their text form.
                    let key = match &node.kind {
                        Kind::Scalar { text, .. } => text.clone(),
                        _ => node.describe(),
                    };
                    match seen.get(&key) {
                        Some(first) => {
                            self.duplicates.push(DuplicateKey { key: key.clone(), pos: node.pos, first: *first })
                        }
                        None => {
                            seen.insert(key.clone(), node.pos);
                        }
                    }
                    *pending_key = Some((key, node.pos));
                }
                Some((key, key_pos)) => entries.push(Entry { key, key_pos, value: node }),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from(mark);
        match ev {
            Event::Scalar(text, style, _, _) => {
                let plain = matches!(style, TScalarStyle::Plain);
                self.push_node(Node { kind: Kind::Scalar { text, plain }, pos });
            }
            Event::Alias(_) => self.push_node(Node { kind: Kind::Alias, pos }),
            Event::SequenceStart(..) => self.stack.push(Frame::Seq { pos, items: Vec::new() }),
            Event::MappingStart(..) => {
                self.stack.push(Frame::Map { pos, entries: Vec::new(), pending_key: None, seen: Default::default() })
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq { pos, items }) => Node { kind: Kind::Seq(items), pos },
                    Some(Frame::Map { pos, entries, .. }) => Node { kind: Kind::Map(entries), pos },
                    None => return,
                };
                self.push_node(node);
            }
            _ => {}
        }
    }
}

/// Parse the first document of `text`. An empty document is an empty mapping.
pub fn parse(text: &str) -> Result<(Node, Vec<DuplicateKey>), SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|e| SyntaxError { pos: Pos::from(*e.marker()), message: e.info().to_string() })?;
    let root = builder.root.unwrap_or(Node { kind: Kind::Map(Vec::new()), pos: Pos { line: 1, col: 1 } });
    Ok((root, builder.duplicates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_lines() {
        let (root, dups) = parse("a: 1\nb:\n  c: [1, 2]\n  d: x\n").unwrap();
        assert!(dups.is_empty());
        let Kind::Map(entries) = root.kind else { panic!() };
        assert_eq!(entries[1].key, "b");
        assert_eq!(entries[1].key_pos, Pos { line: 2, col: 1 });
        let Kind::Map(inner) = &entries[1].value.kind else { panic!() };
        assert_eq!(inner[1].key_pos, Pos { line: 4, col: 3 });
    }

    #[test]
    fn duplicate_keys_are_found() {
        let (_, dups) = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].pos.line, 2);
        assert_eq!(dups[0].first.line, 1);
    }

    #[test]
    fn scalars_resolve_like_yaml_1_2() {
        assert_eq!(scalar_type("42", true), ScalarType::Int);
        assert_eq!(scalar_type("-3.5", true), ScalarType::Float);
        assert_eq!(scalar_type("1e3", true), ScalarType::Float);
        assert_eq!(scalar_type("42", false), ScalarType::Str);
        assert_eq!(scalar_type("yes", true), ScalarType::Str);
        assert_eq!(scalar_type("~", true), ScalarType::Null);
        assert_eq!(scalar_type("60s", true), ScalarType::Str);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1);
    }
}
