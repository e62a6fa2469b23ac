//! The registry's commands: `register`, `models list|show`, `promote` and `rollback`.

use super::{print_json, ListFormat};
use clap::Subcommand;
use ml_gates::app;
use ml_gates::config;
use ml_gates::error::InputError;
use ml_gates::registry::Registry;
use ml_gates::report::text;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct RegistryArgs {
    /// The config file: its `name` and `registry:` section say which registry and which model.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    pub config: PathBuf,
    /// Text for people, or JSON for scripts.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(clap::Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The model file. Default: .ml-gates/<name>.model beside the config file (what `ml-gates
    /// train` wrote), or train.model_file of an external trainer.
    #[arg(short, long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// A JSON report (`ml-gates evaluate --format json`) whose verdict and metrics the version
    /// records. Without it the version is `not_evaluated` and no alias moves.
    #[arg(short, long, value_name = "FILE", conflicts_with = "record")]
    pub report: Option<PathBuf>,
    /// Register with the record of a version from another registry (`ml-gates models show N
    /// --format json`): its lineage, params, metrics and verdict are kept, to move between backends.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Every version, oldest first, with its verdict, headline metrics and aliases.
    List(RegistryArgs),
    /// One version: lineage, params, metrics, artifact, aliases.
    Show(ShowArgs),
    /// Copy every version, alias move and the routing table into the registry another config
    /// names (folder, OCI or MLflow), keeping numbers, lineage and history. Run it again to bring
    /// over what is new: nothing is copied twice.
    Copy(CopyArgs),
}

#[derive(clap::Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The config whose registry receives the copy (its `name` and `registry:` section).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The version number, or an alias such as `champion`.
    pub version: String,
}

#[derive(clap::Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The version number, or an alias such as `challenger`.
    pub version: String,
    /// The alias to move.
    #[arg(long, default_value = "champion")]
    pub alias: String,
    /// Why, recorded in the alias history.
    #[arg(long, default_value = "promoted by hand")]
    pub reason: String,
    /// Promote a version whose gates failed.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The alias to move back.
    #[arg(long, default_value = "champion")]
    pub alias: String,
    /// Why, recorded in the alias history.
    #[arg(long, default_value = "rolled back by hand")]
    pub reason: String,
}

/// The registry of a config, and the config.
pub fn registry_of(args: &RegistryArgs) -> anyhow::Result<(config::Config, Box<dyn Registry>)> {
    let config = config::load(&args.config)?;
    let registry = app::open_registry(&config, &super::env)?;
    Ok((config, registry))
}

/// A version by number or by alias.
pub fn find_version(registry: &dyn Registry, name: &str, given: &str) -> anyhow::Result<ml_gates::registry::Version> {
    use ml_gates::registry::RegistryError;
    if let Ok(n) = given.parse::<u64>() {
        return Ok(registry.version(n)?);
    }
    match ml_gates::registry::resolve(registry, given)? {
        Some(v) => Ok(v),
        None => {
            let aliases = registry.aliases()?;
            let known: Vec<&str> = aliases.keys().map(String::as_str).collect();
            let hint = ml_gates::error::did_you_mean(given, known.iter().copied())
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            Err(RegistryError::Input(format!(
                "'{given}' is neither a version number nor an alias of {name} (aliases: {}){hint}",
                if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
            ))
            .into())
        }
    }
}

pub fn register(args: RegisterArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let inputs = ml_gates::data::open_inputs(&config)?;
    let external = config.raw.train.as_ref().filter(|t| t.command.is_some());
    let (artifact, model) = match (args.model, external) {
        (Some(path), Some(_)) => (path, "external".to_string()),
        (None, Some(t)) => match &t.model_file {
            Some(m) => (ml_gates::train::external::output_dir(&config).join(m), "external".to_string()),
            None => {
                return Err(InputError::one(config.source.problem(
                    "train.model_file",
                    "give --model, or train.model_file for the external trainer's model file",
                    None,
                ))
                .into())
            }
        },
        (given, None) => {
            let path = app::model_path(&config, given.as_deref());
            if path.is_file() && !ml_gates::model::artifact::starts_like_an_artifact(&path) {
                (path, "onnx".to_string())
            } else {
                let model =
                    ml_gates::model::artifact::load(&path).map_err(|e| InputError::file(&path, e.to_string()))?;
                (path, model.kind.as_str().to_string())
            }
        }
    };
    let binding = match model.as_str() {
        "onnx" => Some(app::onnx_binding(&config, &inputs, &artifact).map_err(super::lift)?),
        _ => None,
    };
    if !artifact.is_file() {
        return Err(InputError::file(&artifact, "no such model file: train first (ml-gates train)").into());
    }
    let (verdict, metrics, passed) = match &args.report {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| InputError::file(path, format!("cannot read the report: {e}")))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| InputError::file(path, format!("not a JSON report: {e}")))?;
            let verdict = value["verdict"].as_str().unwrap_or_default().to_string();
            if !["pass", "warn", "fail"].contains(&verdict.as_str()) || value["name"].as_str() != Some(&config.raw.name)
            {
                return Err(InputError::file(
                    path,
                    format!("not an ml-gates report of '{}' (need its name and a verdict)", config.raw.name),
                )
                .into());
            }
            let metrics: indexmap::IndexMap<String, f64> = value["metrics"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect();
            let passed = verdict != "fail";
            (verdict, metrics, passed)
        }
        None => ("not_evaluated".to_string(), Default::default(), false),
    };
    let run_id = ml_gates::registry::new_run_id();
    let record = match &args.record {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| InputError::file(path, format!("not JSON: {e}")))?;
            // `models show --format json` wraps the version; a bare version is fine too.
            let version = if value.get("version").is_some_and(|v| v.is_object()) { &value["version"] } else { &value };
            serde_json::from_value::<ml_gates::registry::Version>(version.clone())
                .map_err(|e| {
                    InputError::file(path, format!("not a version record (ml-gates models show N --format json): {e}"))
                })?
                .record
        }
        None => ml_gates::registry::NewVersion {
            lineage: app::lineage(&args.registry.config, &config, &inputs, &run_id, &super::env)
                .map_err(super::lift)?,
            model,
            params: app::train_params(&config),
            metrics,
            verdict,
            binding,
        },
    };
    let passed = passed || (args.record.is_some() && matches!(record.verdict.as_str(), "pass" | "warn"));
    let alias = ml_gates::registry::pass_alias(&config);
    let registered = ml_gates::register::register_version(registry.as_ref(), &alias, passed, record, Some(&artifact))?;
    if let Some(e) = registered.alias_error {
        return Err(anyhow::Error::new(e).context(format!(
            "registered {} version {}, which reads '{}'",
            registered.version.name, registered.version.version, registered.version.record.verdict
        )));
    }
    let (version, moved) = (registered.version, registered.moved);
    match args.registry.format {
        ListFormat::Json => print_json(&serde_json::json!({"version": version, "moved": moved})),
        ListFormat::Text => {
            say!(
                "registered {} version {} in {} (run_id {}, verdict {})",
                version.name,
                version.version,
                registry.describe(),
                version.record.lineage.run_id,
                version.record.verdict
            );
            if let Some(m) = moved {
                say!("{}", describe_move(&m));
            }
            Ok(0)
        }
    }
}

/// One alias move in a sentence.
pub fn describe_move(m: &ml_gates::registry::AliasMove) -> String {
    let from = m.from.map(|f| format!("version {f}")).unwrap_or_else(|| "nothing".into());
    format!("'{}': {from} → version {} ({})", m.alias, m.to, text::clean(&m.reason))
}

pub fn models_list(args: RegistryArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args)?;
    let versions = registry.versions()?;
    let aliases = registry.aliases()?;
    if let ListFormat::Json = args.format {
        return print_json(&serde_json::json!({
            "name": config.raw.name,
            "registry": registry.describe(),
            "aliases": aliases,
            "versions": versions,
        }));
    }
    if versions.is_empty() {
        say!("{} has no registered versions in {}", config.raw.name, registry.describe());
        return Ok(0);
    }
    say!("{} in {}", config.raw.name, registry.describe());
    // The headline metrics: those the config gates on, else the newest version's first; at most three.
    let gated: Vec<String> =
        config.raw.evaluate.as_ref().map(|e| e.metrics.keys().cloned().collect()).unwrap_or_default();
    let headline: Vec<String> = if gated.is_empty() {
        versions.last().map(|v| v.record.metrics.keys().take(3).cloned().collect()).unwrap_or_default()
    } else {
        gated.into_iter().take(3).collect()
    };
    let mut rows = vec![{
        let mut h = vec!["version".to_string(), "created".into(), "verdict".into(), "model".into(), "commit".into()];
        h.extend(headline.iter().cloned());
        h.push("aliases".into());
        h
    }];
    for v in &versions {
        let mut row = vec![
            v.version.to_string(),
            v.record.lineage.created_at.get(..16).unwrap_or(&v.record.lineage.created_at).replace('T', " "),
            v.record.verdict.clone(),
            v.record.model.clone(),
            v.record.lineage.git_sha.as_deref().map(|s| s.chars().take(7).collect()).unwrap_or_else(|| "-".into()),
        ];
        for m in &headline {
            row.push(
                v.record.metrics.get(m).map(|x| ml_gates::report::format_number(*x)).unwrap_or_else(|| "-".into()),
            );
        }
        let on: Vec<&str> = aliases.iter().filter(|(_, to)| **to == v.version).map(|(a, _)| a.as_str()).collect();
        row.push(if on.is_empty() { "-".into() } else { on.join(", ") });
        rows.push(row.into_iter().map(|c| text::clean(&c)).collect());
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        say!("  {}", line.join("  ").trim_end());
    }
    Ok(0)
}

pub fn models_show(args: ShowArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let version = find_version(registry.as_ref(), &config.raw.name, &args.version)?;
    let aliases: Vec<String> =
        registry.aliases()?.into_iter().filter(|(_, to)| *to == version.version).map(|(a, _)| a).collect();
    let history: Vec<_> = registry
        .history()?
        .into_iter()
        .filter(|m| m.to == version.version || m.from == Some(version.version))
        .collect();
    if let ListFormat::Json = args.registry.format {
        return print_json(&serde_json::json!({"version": version, "aliases": aliases, "alias_history": history}));
    }
    let l = &version.record.lineage;
    let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![
        format!("{} version {} ({})", version.name, version.version, registry.describe()),
        format!("  verdict      {}", version.record.verdict),
        format!("  model        {}", version.record.model),
        format!("  aliases      {}", if aliases.is_empty() { "-".into() } else { aliases.join(", ") }),
        format!("  run_id       {}", l.run_id),
        format!("  created_at   {}", l.created_at),
        format!("  git sha      {}", or_dash(&l.git_sha)),
        format!("  git ref      {}", or_dash(&l.git_ref)),
        format!("  event        {}", or_dash(&l.event)),
        format!("  config       sha256 {}", l.config_hash),
        format!("  train data   sha256 {}", l.train_data),
        format!("  test data    sha256 {}", l.test_data),
    ];
    match &version.artifact {
        Some(a) => lines.push(format!("  artifact     {} ({} bytes, sha256 {})", a.file, a.bytes, a.sha256)),
        None => lines.push("  artifact     -".into()),
    }
    if !version.record.params.is_empty() {
        lines.push("  params".into());
        for (k, v) in &version.record.params {
            lines.push(format!("    {k} = {v}"));
        }
    }
    if !version.record.metrics.is_empty() {
        lines.push("  metrics".into());
        for (k, v) in &version.record.metrics {
            lines.push(format!("    {k} = {}", ml_gates::report::format_number(*v)));
        }
    }
    if !history.is_empty() {
        lines.push("  alias history".into());
        for m in &history {
            lines.push(format!("    {}  {}", m.at, describe_move(m)));
        }
    }
    for line in lines {
        say!("{}", text::clean(&line));
    }
    Ok(0)
}

pub fn models_copy(args: CopyArgs) -> anyhow::Result<u8> {
    let (config, from) = registry_of(&args.registry)?;
    let (_, to) = registry_of(&RegistryArgs { config: args.to.clone(), format: args.registry.format })?;
    if from.describe() == to.describe() {
        return Err(ml_gates::registry::RegistryError::Input(format!(
            "--to names the same registry ({}) as --config",
            from.describe()
        ))
        .into());
    }
    // Model files are downloaded beside the config, as the champion's are, and removed after.
    let scratch = config.source.resolve(".ml-gates/copy");
    let copied = ml_gates::registry::copy::copy(from.as_ref(), to.as_ref(), &scratch, &super::progress);
    let _ = std::fs::remove_dir_all(&scratch);
    let copied = copied?;
    if let ListFormat::Json = args.registry.format {
        return print_json(&serde_json::json!({"from": from.describe(), "to": to.describe(), "copied": copied}));
    }
    let versions = match copied.versions.as_slice() {
        [] => "no new version".to_string(),
        [one] => format!("version {one}"),
        [first, .., last] => format!("versions {first} to {last}"),
    };
    let routing = copied.routing.map(|g| format!(", routing generation {g}")).unwrap_or_default();
    say!(
        "{} → {}: {versions}, {} alias moves{routing} copied; {} versions and {} moves were already there{}",
        text::clean(&from.describe()),
        text::clean(&to.describe()),
        copied.moves,
        copied.versions_present,
        copied.moves_present,
        if copied.verdicts.is_empty() {
            String::new()
        } else {
            format!(" (verdicts brought up to date: {:?})", copied.verdicts)
        }
    );
    Ok(0)
}

pub fn promote(args: PromoteArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let version = find_version(registry.as_ref(), &config.raw.name, &args.version)?;
    if version.record.verdict == "fail" && !args.force {
        return Err(ml_gates::registry::RegistryError::Input(format!(
            "version {} failed its gates (verdict fail); pass --force to promote it anyway",
            version.version
        ))
        .into());
    }
    let moved =
        registry.move_alias(&args.alias, version.version, ml_gates::registry::MoveKind::Promote, &args.reason, None)?;
    match args.registry.format {
        ListFormat::Json => print_json(&moved),
        ListFormat::Text => {
            say!("{}", describe_move(&moved));
            Ok(0)
        }
    }
}

pub fn rollback(args: RollbackArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let moved = ml_gates::registry::roll_back_alias(registry.as_ref(), &args.alias, &args.reason, None)?;
    let target = moved.to;
    // Servers follow the champion through the routing table: a rollback of the champion sends
    // their traffic back too (a table swap, no redeploy).
    let champion = ml_gates::registry::champion_alias(&config);
    let routed = match registry.routing()? {
        Some(_) if args.alias == champion => {
            let mut table =
                ml_gates::routing::RoutingTable::single(target, &format!("rolled back by hand: {}", args.reason));
            table.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            Some(registry.set_routing(&table)?)
        }
        _ => None,
    };
    match args.registry.format {
        ListFormat::Json => print_json(&moved),
        ListFormat::Text => {
            say!("{}", describe_move(&moved));
            if let Some(t) = routed {
                say!("routing generation {}: {}", t.generation, t.summary());
            }
            Ok(0)
        }
    }
}
