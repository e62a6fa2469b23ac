//! The house is layered: a module of the library imports only from layers below its own (and
//! from inside its own folder). The layer table is ARCHITECTURE.md's own, read from the file, so
//! the document and the rule cannot drift apart. The checker is also run on a small fixture with
//! one inverted import, so it cannot pass by reading nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: each a list of top-level module names.
fn layer_table(architecture: &str) -> Vec<(String, Vec<String>)> {
    let section = architecture.split("\n## Layers").nth(1).expect("ARCHITECTURE.md has a '## Layers' section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut layers = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 2 || cells[0] == "layer" || cells[0].starts_with("---") {
            continue;
        }
        let modules: Vec<String> = cells[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|m| m.trim_end_matches('/').trim_end_matches(".rs").to_string())
            .collect();
        layers.push((cells[0].to_string(), modules));
    }
    layers
}

/// Every Rust file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src` (`src/serve/metrics.rs` → `[serve, metrics]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The top-level modules a file's code names: `crate::x`, `crate::{x, y::z}` and `super::`
/// chains that climb to the crate root. Comments are left out.
fn imports(code: &str, path: &[String]) -> BTreeSet<String> {
    let code: String = code
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in code.match_indices("crate::") {
        // `ml_gates::crate` is not a thing; `$crate::` in macros is not ours.
        if code[..i].ends_with('$') || code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Names at the group's first level.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            found.insert(ident(item.trim()));
        } else {
            found.insert(ident(rest));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("super::") {
            continue;
        }
        let mut rest = &code[i..];
        let mut climb = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            climb += 1;
            rest = r;
        }
        if climb >= path.len() {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

/// Every import that does not go strictly downwards, as `from → to` lines; and the table's
/// modules that do not exist or the library's that the table leaves out.
fn violations(root: &Path) -> Vec<String> {
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let table = layer_table(&architecture);
    assert!(table.len() >= 3, "the layer table has too few rows: {table:?}");
    let level: BTreeMap<String, (usize, String)> = table
        .iter()
        .enumerate()
        .flat_map(|(i, (name, modules))| modules.iter().map(move |m| (m.clone(), (i, name.clone()))))
        .collect();
    let src = root.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let mut problems = Vec::new();
    for m in &declared {
        if !level.contains_key(m) {
            problems.push(format!("module '{m}' of lib.rs is in no layer of ARCHITECTURE.md"));
        }
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut edges = 0;
    for file in files {
        let path = module_path(&src, &file);
        let Some(top) = path.first() else { continue };
        if matches!(top.as_str(), "lib" | "main" | "cli") {
            continue; // the crate root, and the binary: the top layer, which may use anything
        }
        let Some((from, from_name)) = level.get(top) else {
            problems.push(format!("{}: module '{top}' is in no layer", file.display()));
            continue;
        };
        let code = std::fs::read_to_string(&file).unwrap();
        for to in imports(&code, &path) {
            if to == *top || !declared.contains(&to) {
                continue;
            }
            edges += 1;
            match level.get(&to) {
                Some((at, to_name)) if at >= from => problems.push(format!(
                    "{}: {top} ({from_name}) imports {to} ({to_name}), which is not below it",
                    file.strip_prefix(root).unwrap().display()
                )),
                _ => {}
            }
        }
    }
    assert!(edges > 0, "no import found under {}: the checker read nothing", src.display());
    problems
}

#[test]
fn every_import_goes_down_a_layer() {
    let problems = violations(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(problems.is_empty(), "layer violations:\n{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_an_inverted_import() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/layers");
    assert_eq!(
        violations(&fixture),
        [
            "module 'stray' of lib.rs is in no layer of ARCHITECTURE.md",
            "src/low/deep.rs: low (bottom) imports middle (between), which is not below it",
            "src/low/mod.rs: low (bottom) imports high (top), which is not below it",
            "src/middle.rs: middle (between) imports middle2 (between), which is not below it",
        ]
    );
}

/// No function of the library or the binary is over 150 lines, but for the tables of data named
/// here: a function that long mixes several jobs.
#[test]
fn no_function_is_over_150_lines() {
    const TABLES: &[&str] = &["src/model/estimator.rs:params"];
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut long = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let signature = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn ", "async fn ", "pub async fn "]
                .iter()
                .find_map(|p| trimmed.strip_prefix(p));
            let Some(rest) = signature else { continue };
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let end = lines[i..].iter().position(|l| *l == format!("{indent}}}")).map_or(0, |n| n + 1);
            let place = format!("{}:{name}", file.display());
            if end > 150 && !TABLES.contains(&place.as_str()) {
                long.push(format!("{place} is {end} lines"));
            }
        }
    }
    assert!(long.is_empty(), "functions over 150 lines:\n{}", long.join("\n"));
}
