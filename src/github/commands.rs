//! Workflow commands: what a step writes to standard output to make GitHub annotate a line, group
//! log lines or mask a secret. Every value from data, config or events is escaped: `%`, CR and LF
//! in messages; also `:` and `,` in properties, so a column named `a,line=1::x` cannot forge one.

/// The levels of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// Escape a command's message.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a command's property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One annotation, pointing at `file:line` when known.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub level: Level,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub title: String,
    pub message: String,
}

impl Annotation {
    /// The workflow command, one line.
    pub fn command(&self) -> String {
        let mut properties = Vec::new();
        if let Some(file) = &self.file {
            properties.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            properties.push(format!("line={line}"));
        }
        properties.push(format!("title={}", escape_property(&self.title)));
        format!("::{} {}::{}", self.level.as_str(), properties.join(","), escape_data(&self.message))
    }
}

/// GitHub shows at most 10 annotations of each level per step: keep the first 10 of each, and say
/// how many were left out.
pub fn capped(annotations: &[Annotation], per_level: usize) -> (Vec<&Annotation>, usize) {
    let mut kept = Vec::new();
    let mut dropped = 0;
    for level in [Level::Error, Level::Warning, Level::Notice] {
        let of_level: Vec<&Annotation> = annotations.iter().filter(|a| a.level == level).collect();
        dropped += of_level.len().saturating_sub(per_level);
        kept.extend(of_level.into_iter().take(per_level));
    }
    (kept, dropped)
}

pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

pub fn end_group() -> &'static str {
    "::endgroup::"
}

/// Ask the runner to mask a secret in all later log lines. Empty values are not masked (that would
/// mask nothing useful and GitHub rejects them).
pub fn add_mask(secret: &str) -> Option<String> {
    (!secret.trim().is_empty()).then(|| format!("::add-mask::{}", escape_data(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_properties_are_escaped() {
        let a = Annotation {
            level: Level::Error,
            file: Some("dir,x/ml-gates.yaml".into()),
            line: Some(12),
            title: "value-range: age::1,2".into(),
            message: "100% bad\nsecond line\r::warning::forged".into(),
        };
        assert_eq!(
            a.command(),
            "::error file=dir%2Cx/ml-gates.yaml,line=12,title=value-range%3A age%3A%3A1%2C2::100%25 bad%0Asecond line%0D::warning::forged"
        );
        // The message stays on one line, so `::warning::` inside it starts no command.
        assert_eq!(a.command().lines().count(), 1);
    }

    #[test]
    fn at_most_ten_per_level() {
        let make = |level| Annotation { level, file: None, line: None, title: "t".into(), message: "m".into() };
        let many: Vec<Annotation> =
            (0..15).map(|_| make(Level::Error)).chain((0..3).map(|_| make(Level::Warning))).collect();
        let (kept, dropped) = capped(&many, 10);
        assert_eq!((kept.len(), dropped), (13, 5));
    }

    #[test]
    fn masks_only_real_values() {
        assert_eq!(add_mask("s3cr%t"), Some("::add-mask::s3cr%25t".into()));
        assert_eq!(add_mask("  "), None);
    }
}
