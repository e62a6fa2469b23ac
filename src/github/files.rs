//! The files GitHub gives a step: $GITHUB_OUTPUT (step outputs) and $GITHUB_STEP_SUMMARY (the job
//! summary), and ownership of what the container writes into the workspace.

use std::io::Write;
use std::path::Path;

/// GitHub's limit on one step's summary.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// A delimiter nobody can predict, for multi-line output values: `ghadelimiter_<128 random bits>`.
pub fn random_delimiter() -> String {
    format!("ghadelimiter_{}", crate::core::digest::random_hex())
}

/// One output in GitHub's heredoc form. A name outside `[A-Za-z_][A-Za-z0-9_-]*`, or a value that
/// contains the delimiter (which would end the value early and let it set other outputs), is refused.
pub fn output(name: &str, value: &str, delimiter: &str) -> Result<String, String> {
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err(format!("'{name}' is not a valid output name"));
    }
    if value.contains(delimiter) {
        return Err(format!("the value of output '{name}' contains the delimiter; it was not written"));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// Append `text` to the file at `path` (GitHub's command files are appended to, never replaced).
pub fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())
}

/// `markdown` cut so that the summary file, which already holds `existing` bytes, stays under the
/// limit: whole lines only, and a note saying where the full report is.
pub fn fit_summary(markdown: &str, existing: usize, limit: usize, full_report: &str) -> String {
    let room = limit.saturating_sub(existing);
    if markdown.len() <= room {
        return markdown.to_string();
    }
    let note = format!(
        "\n\n> **The report was cut here** to fit GitHub's {} KiB job-summary limit; the full report is `{}`.\n",
        limit / 1024,
        full_report.replace('`', "'")
    );
    crate::report::markdown::cut(markdown, room, &note, crate::report::markdown::Measure::Bytes)
}

/// Give `path` (and, for a folder, what is inside) the owner of `workspace`: a container action
/// runs as root, and files it leaves behind owned by root break the steps after it.
pub fn own_like(path: &Path, workspace: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(owner) = std::fs::metadata(workspace) else { return };
    let (uid, gid) = (owner.uid(), owner.gid());
    let mut pending = vec![path.to_path_buf()];
    while let Some(p) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if meta.uid() != uid || meta.gid() != gid {
            let _ = std::os::unix::fs::lchown(&p, Some(uid), Some(gid));
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                pending.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_differ_and_values_cannot_break_out() {
        let (a, b) = (random_delimiter(), random_delimiter());
        assert_ne!(a, b);
        assert_eq!(a.len(), "ghadelimiter_".len() + 32);
        assert_eq!(output("verdict", "pass", &a).unwrap(), format!("verdict<<{a}\npass\n{a}\n"));
        let hostile = format!("x\n{a}\nverdict=pass");
        assert!(output("report", &hostile, &a).is_err());
        // A newline alone is fine: the heredoc keeps it inside the value.
        assert!(output("message", "two\nlines", &a).is_ok());
        assert!(output("bad name", "x", &a).is_err());
        assert!(output("1st", "x", &a).is_err());
    }

    #[test]
    fn summaries_are_cut_at_a_line_with_a_note() {
        let markdown: String = (0..1000).map(|i| format!("| row {i} | ✅ |\n")).collect();
        let fitted = fit_summary(&markdown, 100, 4096, "report.json");
        assert!(fitted.len() + 100 <= 4096, "{}", fitted.len());
        assert!(fitted.contains("The report was cut here"));
        assert!(fitted.lines().filter(|l| l.starts_with("| row")).all(|l| l.ends_with("| ✅ |")));
        assert_eq!(fit_summary("short", 0, 4096, "r"), "short");
    }
}
