//! `ml-gates init`: write a first ml-gates.yaml from the data.

use super::parse_now;
use anyhow::Context;
use chrono::{DateTime, Utc};
use ml_gates::error::{InputError, Problem};
use ml_gates::validate::suggest::{suggest, InitOptions};
use std::path::{Component, Path, PathBuf};

#[derive(clap::Args)]
pub struct InitArgs {
    /// The training data (parquet, CSV or NDJSON; a glob reads every match).
    #[arg(long, value_name = "FILE")]
    pub data: String,
    /// The column to predict. Default: a column named target, label, y or class.
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// The evaluation data, checked like the training data and for rows leaking between them.
    #[arg(long, value_name = "FILE")]
    pub test: Option<String>,
    /// Where to write the config. Its paths are written relative to its folder.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    pub output: PathBuf,
    /// The model's name (`name:`). Default: the output folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Measure the data's age as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
}

fn refuse(message: String) -> anyhow::Error {
    InputError::one(Problem { file: "ml-gates init".into(), position: None, message, suggestion: None }).into()
}

/// `path` (relative to the working folder, or absolute) as seen from folder `from`.
fn relative_to(from: &Path, path: &str) -> String {
    let target = Path::new(path);
    if target.is_absolute() {
        return path.to_string();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let absolute = |p: &Path| -> Vec<String> {
        let mut parts: Vec<String> = Vec::new();
        for c in cwd.join(p).components() {
            match c {
                Component::ParentDir => {
                    parts.pop();
                }
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                _ => {}
            }
        }
        parts
    };
    let (base, full) = (absolute(from), absolute(target));
    let common = base.iter().zip(&full).take_while(|(a, b)| a == b).count();
    let mut out: Vec<String> = std::iter::repeat_n("..".to_string(), base.len() - common).collect();
    out.extend(full[common..].iter().cloned());
    out.join("/")
}

/// A name for the model from the output folder, kept to letters, digits, `.`, `_` and `-`.
fn default_name(output: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let folder = cwd.join(output).parent().map(Path::to_path_buf).unwrap_or(cwd);
    let raw = folder.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
    let name = name.trim_start_matches('.').to_string();
    if name.is_empty() {
        "model".into()
    } else {
        name
    }
}

pub fn init(args: InitArgs) -> anyhow::Result<u8> {
    if args.output.exists() && !args.force {
        return Err(refuse(format!(
            "{} exists: pass --force to replace it, or --output another file",
            args.output.display()
        )));
    }
    let folder = args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = args.name.clone().unwrap_or_else(|| default_name(&args.output));
    if let Err(message) = ml_gates::core::names::check_name(&name) {
        return Err(refuse(format!("--name: {message}")));
    }
    let options = InitOptions {
        data_in_config: relative_to(folder, &args.data),
        data: args.data.clone(),
        test: args.test.as_ref().map(|t| (t.clone(), relative_to(folder, t))),
        target: args.target.clone(),
        name,
        base_dir: PathBuf::from("."),
        now: args.now.unwrap_or_else(Utc::now),
    };
    let text = suggest(&options)?;
    // Written whole or not at all: a temporary file beside it, then renamed over it.
    let temporary = folder.join(format!(".{}.tmp", args.output.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::write(&temporary, &text).with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "wrote {} from {}: check it with `ml-gates validate --config {}`",
        args.output.display(),
        args.data,
        args.output.display()
    );
    Ok(0)
}
