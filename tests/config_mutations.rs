//! A deterministic mutation test of the config reader: thousands of seeded mutations of the
//! example configs (lines deleted, duplicated and re-indented, scalars replaced by odd values,
//! random bytes inserted) never panic, and every problem they cause points inside the file.

use ml_gates::stats::SplitMix64;
use std::path::PathBuf;

const ODD_VALUES: &[&str] = &[
    ".nan",
    ".inf",
    "-.inf",
    "1e999",
    "-0",
    "0x1F",
    "~",
    "null",
    "''",
    "[]",
    "{}",
    "*a",
    "&a 1",
    "!!str 3",
    "\"\\u0000\"",
    "yes",
    "9999999999999999999999",
    "-1",
    "[1, [2, [3]]]",
    "{a: {b: {c: d}}}",
    "'",
    "\"",
    "\t",
    "#",
    "é",
    "🙂",
];

fn mutate(text: &str, rng: &mut SplitMix64) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let pick = |rng: &mut SplitMix64, n: usize| (rng.next_u64() % n.max(1) as u64) as usize;
    for _ in 0..1 + pick(rng, 3) {
        if lines.is_empty() {
            break;
        }
        let i = pick(rng, lines.len());
        match pick(rng, 6) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            2 => lines[i] = format!("{}{}", " ".repeat(pick(rng, 5)), lines[i].trim_start()),
            3 => {
                // A scalar replaced by an odd value.
                let odd = ODD_VALUES[pick(rng, ODD_VALUES.len())];
                lines[i] = match lines[i].split_once(": ") {
                    Some((key, _)) => format!("{key}: {odd}"),
                    None => format!("{}{odd}", lines[i]),
                };
            }
            4 => {
                let bytes: String = (0..1 + pick(rng, 8)).map(|_| char::from(pick(rng, 128) as u8)).collect();
                let at = lines[i]
                    .char_indices()
                    .nth(pick(rng, lines[i].chars().count() + 1))
                    .map_or(lines[i].len(), |(b, _)| b);
                lines[i].insert_str(at, &bytes);
            }
            _ => {
                let j = pick(rng, lines.len());
                lines.swap(i, j);
            }
        }
    }
    lines.join("\n")
}

#[test]
fn mutated_configs_never_panic_and_point_inside_the_file() {
    let mut examples: Vec<(PathBuf, String)> = ["churn", "churn-sklearn", "churn-predictions", "house-prices"]
        .into_iter()
        .map(|e| {
            let path = PathBuf::from("examples").join(e).join("ml-gates.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    // Rules and where: conditions in every place they are written.
    for case in ["rules_and_conditions", "sums_order_references"] {
        let path = PathBuf::from("tests/cmd").join(format!("{case}.in")).join("ml-gates.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        examples.push((path, text));
    }
    let mut rng = SplitMix64(20261201);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..3000 {
        let (path, original) = &examples[round % examples.len()];
        let text = mutate(original, &mut rng);
        let base = path.parent().unwrap().to_path_buf();
        let outcome = std::panic::catch_unwind(|| ml_gates::config::parse(&text, "ml-gates.yaml", base.clone()));
        let Ok(result) = outcome else { panic!("round {round}: the reader panicked on:\n{text}") };
        match result {
            Ok(_) => accepted += 1,
            Err(e) => {
                refused += 1;
                assert!(!e.problems.is_empty(), "round {round}: an error without a problem");
                let lines = text.lines().count().max(1) + 1;
                for p in &e.problems {
                    if let Some((line, col)) = p.position {
                        assert!(
                            line >= 1 && line <= lines && col >= 1,
                            "round {round}: {p:?} outside the file:\n{text}"
                        );
                    }
                    assert!(!p.message.is_empty(), "round {round}: an empty message");
                }
            }
        }
    }
    // The mutations are neither all harmless nor all fatal: the test reads both paths.
    assert!(accepted > 100 && refused > 1000, "accepted {accepted}, refused {refused}");
}

/// Rules edited at random (characters inserted, deleted and swapped from the language's own
/// alphabet) never panic the parser, the type checker or polars, and every error points inside
/// the rule.
#[test]
fn mutated_rules_never_panic_and_point_inside_the_rule() {
    use polars::prelude::*;
    let frame = df!(
        "age" => [Some(17i64), None, Some(45)],
        "country" => [Some("DE"), Some("FR"), None],
        "price" => [2.0, f64::NAN, 5.0],
        "active" => [true, false, true],
    )
    .unwrap();
    let columns: Vec<(String, DataType)> = frame.schema().iter().map(|(n, d)| (n.to_string(), d.clone())).collect();
    let seeds = [
        "age >= 18 and country = 'DE'",
        "price * 2 - abs(age) <> 3 or not active",
        "country in ('DE', 'FR') and length(trim(lower(country))) = 2",
        "is_null(age) or (age between 1) or starts_with(country, 'D')",
        "matches(country, '^[A-Z]{2}$') and -price < 0",
    ];
    let alphabet: Vec<char> = "()'`\",.=<>!+-*/% andortisnul0123456789eE_xyzäé🙂".chars().collect();
    let mut rng = SplitMix64(20261205);
    let (mut compiled, mut refused) = (0, 0);
    for round in 0..4000 {
        let mut rule: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..1 + rng.next_u64() % 4 {
            let at = (rng.next_u64() % (rule.len() as u64 + 1)) as usize;
            match rng.next_u64() % 3 {
                0 => rule.insert(at, alphabet[(rng.next_u64() % alphabet.len() as u64) as usize]),
                1 if at < rule.len() => {
                    rule.remove(at);
                }
                _ if at + 1 < rule.len() => rule.swap(at, at + 1),
                _ => {}
            }
        }
        let text: String = rule.iter().collect();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let node = ml_gates::config::expr::parse(&text)?;
            let e = ml_gates::data::expr::condition(&node, &columns)?;
            Ok::<_, ml_gates::config::expr::ExprError>(frame.clone().lazy().select([e.alias("r")]).collect())
        }));
        let Ok(result) = outcome else { panic!("round {round}: panicked on {text:?}") };
        match result {
            Ok(evaluated) => {
                evaluated.unwrap_or_else(|e| panic!("round {round}: {text:?} typed but polars refused it: {e}"));
                compiled += 1;
            }
            Err(e) => {
                refused += 1;
                assert!(e.at <= text.chars().count(), "round {round}: {e:?} outside {text:?}");
                assert!(!e.message.is_empty());
            }
        }
    }
    assert!(compiled > 200 && refused > 1000, "compiled {compiled}, refused {refused}");
}
