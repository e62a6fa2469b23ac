//! The rule language of `validate.rules[].rule` and of every check's `where:`: a restricted
//! boolean expression over a row's columns, as a person writes it in a Great Expectations
//! `row_condition` or a Deequ `where`.
//!
//! ```text
//! age >= 18 and country = 'DE'
//! total = price * quantity or is_null(discount)
//! not (status in ('closed', 'void')) and length(trim(email)) > 3
//! ```
//!
//! This module parses (text → [`Node`] with character offsets, every error at its offset); the
//! data layer types the tree against a dataset's columns and compiles it to a polars expression.
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (`=` `==` `!=` `<>` `<` `<=` `>`
//! `>=`, `in (…)`, `not in (…)`, `is null`, `is not null`), `+ -`, `* / %`, unary `-`.

use std::fmt;

/// A parsed expression node and where it starts in the text (0-based, in characters).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A column, written bare (`age`) or in backquotes (`` `unit price` ``).
    Column(String),
    Number(f64),
    Text(String),
    Bool(bool),
    Null,
    Neg(Box<Node>),
    Not(Box<Node>),
    Binary(Op, Box<Node>, Box<Node>),
    /// `x in (a, b)`; `true` when negated (`not in`).
    In(Box<Node>, Vec<Node>, bool),
    /// `x is null`; `true` when negated (`is not null`).
    IsNull(Box<Node>, bool),
    Call(Func, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Or => "or",
            Op::And => "and",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Rem => "%",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

/// The functions a rule can call: name, arguments (`x` a value, `'…'` a text literal), result.
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("is_null(x)", "true where x is missing"),
    ("is_not_null(x)", "true where x is present"),
    ("length(text)", "the number of characters"),
    ("lower(text)", "the text in lower case"),
    ("upper(text)", "the text in upper case"),
    ("trim(text)", "the text without leading and trailing whitespace"),
    ("starts_with(text, 'prefix')", "true where the text starts with the prefix"),
    ("ends_with(text, 'suffix')", "true where the text ends with the suffix"),
    ("contains(text, 'part')", "true where the text contains the part (literally)"),
    ("matches(text, 'regex')", "true where the text contains a match of the regex (Rust regex syntax)"),
    ("abs(number)", "the absolute value"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    IsNull,
    IsNotNull,
    Length,
    Lower,
    Upper,
    Trim,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    Abs,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "is_null" => Func::IsNull,
            "is_not_null" => Func::IsNotNull,
            "length" => Func::Length,
            "lower" => Func::Lower,
            "upper" => Func::Upper,
            "trim" => Func::Trim,
            "starts_with" => Func::StartsWith,
            "ends_with" => Func::EndsWith,
            "contains" => Func::Contains,
            "matches" => Func::Matches,
            "abs" => Func::Abs,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::IsNull => "is_null",
            Func::IsNotNull => "is_not_null",
            Func::Length => "length",
            Func::Lower => "lower",
            Func::Upper => "upper",
            Func::Trim => "trim",
            Func::StartsWith => "starts_with",
            Func::EndsWith => "ends_with",
            Func::Contains => "contains",
            Func::Matches => "matches",
            Func::Abs => "abs",
        }
    }

    /// Whether the second argument must be a text literal (a prefix, a part, a regex).
    pub fn takes_literal(self) -> bool {
        matches!(self, Func::StartsWith | Func::EndsWith | Func::Contains | Func::Matches)
    }
}

/// What is wrong with an expression, and where (0-based character offset in its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

fn error<T>(at: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError { at, message: message.into() })
}

/// The longest expression accepted, and the deepest nesting: a rule is a line, not a program.
const MAX_CHARS: usize = 4096;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Quoted(String),
    Number(f64),
    Text(String),
    Sym(&'static str),
    End,
}

fn tokens(text: &str) -> Result<Vec<(Token, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_CHARS {
        return error(MAX_CHARS, format!("the expression is longer than {MAX_CHARS} characters"));
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Token::Ident(chars[start..i].iter().collect()), start));
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && matches!(chars[i], 'e' | 'E') {
                let mut j = i + 1;
                if j < chars.len() && matches!(chars[j], '+' | '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[start..i].iter().collect();
            match literal.parse::<f64>() {
                Ok(x) if x.is_finite() => out.push((Token::Number(x), start)),
                _ => return error(start, format!("'{literal}' is not a number")),
            }
            if i < chars.len() && (chars[i].is_ascii_alphabetic() || chars[i] == '_') {
                return error(i, format!("a number runs into a name at '{}'", chars[i]));
            }
        } else if c == '\'' || c == '"' || c == '`' {
            // A quote doubled inside is the quote itself, as SQL writes it.
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        let what = if c == '`' { "column name" } else { "text" };
                        return error(start, format!("this {what} is not closed: add {c} at its end"));
                    }
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        value.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            out.push((if c == '`' { Token::Quoted(value) } else { Token::Text(value) }, start));
        } else {
            let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let sym = ["==", "!=", "<>", "<=", ">="].into_iter().find(|s| *s == two);
            let sym = match sym {
                Some(s) => {
                    i += 2;
                    s
                }
                None => {
                    i += 1;
                    match c {
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        '+' => "+",
                        '-' => "-",
                        '*' => "*",
                        '/' => "/",
                        '%' => "%",
                        '(' => "(",
                        ')' => ")",
                        ',' => ",",
                        '&' | '|' | '!' => {
                            let word = match c {
                                '&' => "and",
                                '|' => "or",
                                _ => "not",
                            };
                            return error(start, format!("'{c}' is not an operator here: write '{word}'"));
                        }
                        other => return error(start, format!("unexpected character '{other}'")),
                    }
                }
            };
            out.push((Token::Sym(sym), start));
        }
    }
    out.push((Token::End, chars.len()));
    Ok(out)
}

/// Parse `text` into an expression tree.
pub fn parse(text: &str) -> Result<Node, ExprError> {
    let tokens = tokens(text)?;
    let mut p = Parser { tokens, i: 0, depth: 0 };
    if matches!(p.peek(), Token::End) {
        return error(0, "the expression is empty");
    }
    let node = p.or()?;
    match p.peek() {
        Token::End => Ok(node),
        Token::Sym(")") => error(p.at(), "this ')' closes nothing"),
        other => error(p.at(), format!("expected an operator or the end, found {}", describe(other))),
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(s) => format!("'{s}'"),
        Token::Quoted(s) => format!("`{s}`"),
        Token::Number(x) => format!("the number {x}"),
        Token::Text(s) => format!("the text '{s}'"),
        Token::Sym(s) => format!("'{s}'"),
        Token::End => "the end".into(),
    }
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.i].0
    }
    fn at(&self) -> usize {
        self.tokens[self.i].1
    }
    fn next(&mut self) -> (Token, usize) {
        let t = self.tokens[self.i].clone();
        if self.i + 1 < self.tokens.len() {
            self.i += 1;
        }
        t
    }
    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Token::Ident(s) if s.eq_ignore_ascii_case(word))
    }
    fn sym(&self, s: &str) -> bool {
        matches!(self.peek(), Token::Sym(x) if *x == s)
    }
    fn expect(&mut self, s: &str, what: &str) -> Result<(), ExprError> {
        if self.sym(s) {
            self.next();
            Ok(())
        } else {
            error(self.at(), format!("expected '{s}' {what}, found {}", describe(self.peek())))
        }
    }
    fn deeper(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return error(self.at(), format!("the expression nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            let (_, at) = self.next();
            let right = self.and()?;
            left = Node { kind: Kind::Binary(Op::Or, Box::new(left), Box::new(right)), at };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            let (_, at) = self.next();
            let right = self.not()?;
            left = Node { kind: Kind::Binary(Op::And, Box::new(left), Box::new(right)), at };
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Node, ExprError> {
        if self.keyword("not") {
            let (_, at) = self.next();
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Node { kind: Kind::Not(Box::new(inner)), at });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let left = self.sum()?;
        let at = self.at();
        let op = match self.peek() {
            Token::Sym("=") | Token::Sym("==") => Some(Op::Eq),
            Token::Sym("!=") | Token::Sym("<>") => Some(Op::Ne),
            Token::Sym("<") => Some(Op::Lt),
            Token::Sym("<=") => Some(Op::Le),
            Token::Sym(">") => Some(Op::Gt),
            Token::Sym(">=") => Some(Op::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.next();
            let right = self.sum()?;
            let node = Node { kind: Kind::Binary(op, Box::new(left), Box::new(right)), at };
            if matches!(self.peek(), Token::Sym("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=")) {
                return error(self.at(), "comparisons do not chain: write 'a < b and b < c'");
            }
            return Ok(node);
        }
        if self.keyword("is") {
            self.next();
            let negated = self.keyword("not");
            if negated {
                self.next();
            }
            if !self.keyword("null") {
                return error(self.at(), format!("expected 'null' after 'is', found {}", describe(self.peek())));
            }
            self.next();
            return Ok(Node { kind: Kind::IsNull(Box::new(left), negated), at });
        }
        let negated = self.keyword("not")
            && matches!(self.tokens.get(self.i + 1), Some((Token::Ident(s), _)) if s.eq_ignore_ascii_case("in"));
        if negated || self.keyword("in") {
            if negated {
                self.next();
            }
            self.next();
            self.expect("(", "to open the list after 'in'")?;
            let mut items = vec![self.literal()?];
            while self.sym(",") {
                self.next();
                items.push(self.literal()?);
            }
            self.expect(")", "to close the list after 'in'")?;
            return Ok(Node { kind: Kind::In(Box::new(left), items, negated), at });
        }
        Ok(left)
    }

    /// A literal of an `in (…)` list: a number (maybe negative), a text, true, false.
    fn literal(&mut self) -> Result<Node, ExprError> {
        let at = self.at();
        let negative = self.sym("-");
        if negative {
            self.next();
        }
        match self.next() {
            (Token::Number(x), _) => Ok(Node { kind: Kind::Number(if negative { -x } else { x }), at }),
            (Token::Text(s), _) if !negative => Ok(Node { kind: Kind::Text(s), at }),
            (Token::Ident(s), _) if !negative && (s == "true" || s == "false") => {
                Ok(Node { kind: Kind::Bool(s == "true"), at })
            }
            (other, at) => {
                error(at, format!("an 'in' list holds numbers, texts, true or false, found {}", describe(&other)))
            }
        }
    }

    fn sum(&mut self) -> Result<Node, ExprError> {
        let mut left = self.product()?;
        loop {
            let op = match self.peek() {
                Token::Sym("+") => Op::Add,
                Token::Sym("-") => Op::Sub,
                _ => return Ok(left),
            };
            let (_, at) = self.next();
            let right = self.product()?;
            left = Node { kind: Kind::Binary(op, Box::new(left), Box::new(right)), at };
        }
    }

    fn product(&mut self) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Sym("*") => Op::Mul,
                Token::Sym("/") => Op::Div,
                Token::Sym("%") => Op::Rem,
                _ => return Ok(left),
            };
            let (_, at) = self.next();
            let right = self.unary()?;
            left = Node { kind: Kind::Binary(op, Box::new(left), Box::new(right)), at };
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.sym("-") {
            let (_, at) = self.next();
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(match inner.kind {
                Kind::Number(x) => Node { kind: Kind::Number(-x), at },
                _ => Node { kind: Kind::Neg(Box::new(inner)), at },
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let (token, at) = self.next();
        let kind = match token {
            Token::Number(x) => Kind::Number(x),
            Token::Text(s) => Kind::Text(s),
            Token::Quoted(s) => Kind::Column(s),
            Token::Sym("(") => {
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(")", "to close the '(' opened before")?;
                return Ok(Node { kind: inner.kind, at });
            }
            Token::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                match lower.as_str() {
                    "true" | "false" => Kind::Bool(lower == "true"),
                    "null" => Kind::Null,
                    "and" | "or" | "not" | "in" | "is" => {
                        return error(at, format!("expected a value, found the keyword '{name}'"))
                    }
                    _ if self.sym("(") => return self.call(&name, at),
                    _ => Kind::Column(name),
                }
            }
            other => return error(at, format!("expected a value, found {}", describe(&other))),
        };
        Ok(Node { kind, at })
    }

    fn call(&mut self, name: &str, at: usize) -> Result<Node, ExprError> {
        let Some(func) = Func::from_name(name) else {
            let names = FUNCTIONS.iter().map(|(sig, _)| sig.split('(').next().unwrap_or(sig));
            let hint = match crate::error::did_you_mean(name, names.clone()) {
                Some(s) => format!("; did you mean '{s}'?"),
                None => format!(" (functions: {})", names.collect::<Vec<_>>().join(", ")),
            };
            return error(at, format!("unknown function '{name}'{hint}"));
        };
        self.next(); // (
        self.deeper()?;
        let mut args = Vec::new();
        if !self.sym(")") {
            args.push(self.or()?);
            while self.sym(",") {
                self.next();
                args.push(self.or()?);
            }
        }
        self.depth -= 1;
        self.expect(")", &format!("to close {name}("))?;
        let arity = if func.takes_literal() { 2 } else { 1 };
        if args.len() != arity {
            let signature = FUNCTIONS.iter().find(|(s, _)| s.starts_with(&format!("{name}("))).map(|(s, _)| *s);
            return error(
                at,
                format!("{name} takes {arity} argument(s), found {}: {}", args.len(), signature.unwrap_or(name)),
            );
        }
        if func.takes_literal() {
            let Kind::Text(literal) = &args[1].kind else {
                return error(args[1].at, format!("the second argument of {name} must be a text in quotes"));
            };
            if func == Func::Matches {
                if let Err(e) = regex::Regex::new(literal) {
                    return error(args[1].at, format!("not a valid regular expression (Rust regex syntax): {e}"));
                }
            }
        }
        Ok(Node { kind: Kind::Call(func, args), at })
    }
}

impl Node {
    /// The columns the expression reads, in order of first use.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |n| {
            if let Kind::Column(c) = &n.kind {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        });
        out
    }

    fn visit(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        match &self.kind {
            Kind::Neg(a) | Kind::Not(a) | Kind::IsNull(a, _) => a.visit(f),
            Kind::Binary(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Kind::In(a, items, _) => {
                a.visit(f);
                items.iter().for_each(|i| i.visit(f));
            }
            Kind::Call(_, args) => args.iter().for_each(|a| a.visit(f)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(n: &Node) -> String {
        match &n.kind {
            Kind::Column(c) => c.clone(),
            Kind::Number(x) => x.to_string(),
            Kind::Text(s) => format!("'{s}'"),
            Kind::Bool(b) => b.to_string(),
            Kind::Null => "null".into(),
            Kind::Neg(a) => format!("(-{})", show(a)),
            Kind::Not(a) => format!("(not {})", show(a)),
            Kind::Binary(op, a, b) => format!("({} {} {})", show(a), op.as_str(), show(b)),
            Kind::In(a, items, neg) => format!(
                "({} {}in [{}])",
                show(a),
                if *neg { "not " } else { "" },
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            Kind::IsNull(a, neg) => format!("({} is {}null)", show(a), if *neg { "not " } else { "" }),
            Kind::Call(f, args) => format!("{}({})", f.name(), args.iter().map(show).collect::<Vec<_>>().join(", ")),
        }
    }

    fn p(text: &str) -> String {
        show(&parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    fn err(text: &str) -> (usize, String) {
        let e = parse(text).expect_err(text);
        (e.at, e.message)
    }

    #[test]
    fn precedence_follows_sql() {
        assert_eq!(p("a or b and c"), "(a or (b and c))");
        assert_eq!(p("not a = 1 and b"), "((not (a = 1)) and b)");
        assert_eq!(p("a + b * c - d / e % f >= 2"), "(((a + (b * c)) - ((d / e) % f)) >= 2)");
        assert_eq!(p("(a or b) and c"), "((a or b) and c)");
        assert_eq!(p("-a * -3 < b"), "(((-a) * -3) < b)");
        assert_eq!(p("a - b - c = 0"), "(((a - b) - c) = 0)");
        assert_eq!(p("x = 1 or y <> 2 or z == 3 or w != 4"), "((((x = 1) or (y != 2)) or (z = 3)) or (w != 4))");
        assert_eq!(p("AGE >= 18 AND Country = 'DE'"), "((AGE >= 18) and (Country = 'DE'))");
    }

    #[test]
    fn literals_lists_nulls_and_functions() {
        assert_eq!(p("s in ('a', 'b''c')"), "(s in ['a', 'b'c'])");
        assert_eq!(p("n not in (1, -2.5, 3e2)"), "(n not in [1, -2.5, 300])");
        assert_eq!(p("x is null or y is not null"), "((x is null) or (y is not null))");
        assert_eq!(p("`unit price` * 2 > .5"), "((unit price * 2) > 0.5)");
        assert_eq!(
            p("starts_with(lower(trim(email)), 'a') and length(email) > 3"),
            "(starts_with(lower(trim(email)), 'a') and (length(email) > 3))"
        );
        assert_eq!(p("matches(code, '^[A-Z]{2}$')"), "matches(code, '^[A-Z]{2}$')");
        assert_eq!(p("flag = true and \"x\" != null"), "((flag = true) and ('x' != null))");
        assert_eq!(parse("a = 1 and b > a").map(|n| n.columns()), Ok(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn errors_point_at_their_character() {
        assert_eq!(err(""), (0, "the expression is empty".into()));
        assert_eq!(err("age >= "), (7, "expected a value, found the end".into()));
        assert_eq!(err("age >= 18 country"), (10, "expected an operator or the end, found 'country'".into()));
        assert_eq!(err("a = 'open"), (4, "this text is not closed: add ' at its end".into()));
        assert_eq!(err("a && b"), (2, "'&' is not an operator here: write 'and'".into()));
        assert_eq!(err("(a = 1"), (6, "expected ')' to close the '(' opened before, found the end".into()));
        assert_eq!(err("a = 1)"), (5, "this ')' closes nothing".into()));
        assert_eq!(err("1 < a < 3"), (6, "comparisons do not chain: write 'a < b and b < c'".into()));
        assert_eq!(err("lenght(a) > 1"), (0, "unknown function 'lenght'; did you mean 'length'?".into()));
        assert_eq!(err("a is 3"), (5, "expected 'null' after 'is', found the number 3".into()));
        assert_eq!(err("a in (b)"), (6, "an 'in' list holds numbers, texts, true or false, found 'b'".into()));
        assert_eq!(err("matches(a, '(')").0, 11);
        assert_eq!(err("contains(a, b)"), (12, "the second argument of contains must be a text in quotes".into()));
        assert_eq!(err("abs(a, b) > 1"), (0, "abs takes 1 argument(s), found 2: abs(number)".into()));
        assert_eq!(err("a = 1e"), (5, "a number runs into a name at 'e'".into()));
        assert_eq!(err("a = 1.2.3"), (4, "'1.2.3' is not a number".into()));
        assert_eq!(err("a ; b"), (2, "unexpected character ';'".into()));
        assert_eq!(err("ä = 1"), (0, "unexpected character 'ä'".into()));
        assert_eq!(err("é = 1 and `é` = 1").0, 0);
    }

    #[test]
    fn depth_and_length_are_bounded_without_overflowing_the_stack() {
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(err(&deep).1.contains("nests deeper"));
        let nots = format!("{}a", "not ".repeat(500));
        assert!(parse(&nots).is_err());
        let negs = format!("{}a > 1", "-".repeat(1_000));
        assert!(parse(&negs).is_err());
        let long = format!("a = {}", "1 + ".repeat(2_000));
        assert!(err(&long).1.contains("longer than"));
    }
}
