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
    // The command is read in its `::` form first, but `##[` inside it is made inert too.
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A").replace("##[", "##\u{200B}[")
}

/// Escape a command's property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A zero-width space: invisible in the log, and not whitespace to the runner (.NET's
/// `TrimStart` keeps it), so a line that holds it before `::` or inside `##[` is no command.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// Text for the log that the runner reads as text, never as workflow commands, on stdout and
/// stderr alike. The runner (actions/runner `ActionCommand.cs`) reads a command from a line that
/// starts with `::` after leading whitespace (`TryParseV2`) or that holds `##[` anywhere
/// (`TryParse`, the legacy form), and splits lines at `\n` and at `\r`. So every line of `text`
/// that would start with `::` gets a zero-width space first, and every `##[` one inside.
/// (`::stop-commands::` would do it too, but its pause is one state for both streams, which the
/// runner reads concurrently: a pause on one would swallow our own annotations on the other.)
pub fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line_start = true;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if line_start {
            let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() && c != '\n' && c != '\r');
            out.push_str(&rest[..rest.len() - trimmed.len()]);
            rest = trimmed;
            line_start = false;
            if rest.starts_with("::") {
                out.push(ZERO_WIDTH_SPACE);
            }
            continue;
        }
        if rest.starts_with("##[") {
            out.push_str("##");
            out.push(ZERO_WIDTH_SPACE);
            rest = &rest[2..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
        line_start = c == '\n' || c == '\r';
    }
    out
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

    /// A model of the runner's parsing (actions/runner `ActionCommandManager.TryProcessCommand`
    /// with `ActionCommand.TryParseV2` and `TryParse`): whether a line would be read as a command.
    fn runner_reads_a_command(line: &str) -> bool {
        // .NET's TrimStart removes Unicode white space, which the zero-width space is not.
        let v2 = line.trim_start();
        let v2 = v2.starts_with("::") && v2[2..].contains("::");
        let legacy = line.find("##[").is_some_and(|i| line[i..].contains(']'));
        v2 || legacy
    }

    #[test]
    fn inert_text_is_never_a_command_on_either_form() {
        let hostile = [
            "::error::forged",
            "   ::set-output name=approved::true",
            "value ##[set-output name=approved]true",
            "##[error]at the start",
            "a\n::warning::second line\r::notice::after a carriage return",
            "\t::add-mask::x ##[group]y ##[endgroup]",
        ];
        for text in hostile {
            let safe = inert(text);
            for line in safe.split(['\n', '\r']) {
                assert!(!runner_reads_a_command(line), "{line:?} from {text:?}");
            }
            // Nothing but zero-width spaces was added.
            assert_eq!(safe.replace(ZERO_WIDTH_SPACE, ""), text);
        }
        // The model itself finds the commands the raw text holds.
        assert!(hostile.iter().all(|t| t.split(['\n', '\r']).any(runner_reads_a_command)));
        assert_eq!(inert("plain: text :: here"), "plain: text :: here");
        // Inside our own commands too.
        assert_eq!(escape_data("a ##[error]b"), "a ##\u{200B}[error]b");
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
