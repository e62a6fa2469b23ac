//! Outcomes that arrive later. Every answer carries an id (`x-ml-gates-request-id`); the server
//! keeps the answers of its most recent requests, and `POST /feedback` reports a request's true
//! outcome when the application knows it: each row is scored as the A/B test scores replayed
//! labels (1 for the right class, 0 otherwise; minus the absolute error of a value) and counted
//! for the version that answered. The counts (n, sum, sum of squares per version) are exported
//! for Prometheus, where the `ab` strategy's sequential test reads them across a fleet.

use crate::model::Predictions;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The response header that names an answer.
pub const ID_HEADER: &str = "x-ml-gates-request-id";

/// Answers of more rows than this get an id but are not kept: feedback is for single predictions
/// and small batches.
const MAX_ROWS: usize = 1000;

/// What an answered request predicted.
#[derive(Debug)]
enum Answered {
    Classes(Vec<String>),
    Values(Vec<f64>),
}

/// Count, sum and sum of squares of the scored outcomes of one version.
pub type Tally = (u64, f64, f64);

/// The kept answers by the counter their id ends with, oldest first in `order`.
#[derive(Default)]
struct Pending {
    order: VecDeque<u64>,
    answers: HashMap<u64, (u64, Answered)>,
}

/// The answers awaiting feedback and the outcomes reported so far.
pub struct Feedback {
    capacity: usize,
    prefix: String,
    next: AtomicU64,
    pending: Mutex<Pending>,
    outcomes: Mutex<BTreeMap<u64, Tally>>,
}

/// What a `POST /feedback` did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Reported {
    /// Rows scored.
    pub rows: u64,
    /// Ids this server does not know (never answered here, already reported, or forgotten).
    pub unknown: Vec<String>,
}

impl Feedback {
    /// Keep the answers of the last `capacity` requests (0: ids only, nothing kept).
    pub fn new(capacity: usize) -> Self {
        Feedback {
            capacity,
            // Ids are unique across replicas: a random prefix per process, then a counter.
            prefix: crate::core::digest::random_hex()[..12].to_string(),
            next: AtomicU64::new(0),
            pending: Mutex::new(Pending::default()),
            outcomes: Mutex::new(BTreeMap::new()),
        }
    }

    /// Remember what `version` answered; returns the answer's id.
    pub fn remember(&self, version: u64, predictions: &Predictions) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n:012x}", self.prefix);
        if self.capacity == 0 {
            return id;
        }
        let answered = match predictions {
            Predictions::Classes { labels, .. } if labels.len() <= MAX_ROWS => Answered::Classes(labels.clone()),
            Predictions::Values(v) if v.len() <= MAX_ROWS => Answered::Values(v.clone()),
            _ => return id,
        };
        let mut pending = self.pending.lock().expect("feedback lock");
        while pending.order.len() >= self.capacity {
            if let Some(old) = pending.order.pop_front() {
                pending.answers.remove(&old);
            }
        }
        pending.order.push_back(n);
        pending.answers.insert(n, (version, answered));
        id
    }

    /// The counter an id of this server ends with.
    fn counter(&self, id: &str) -> Option<u64> {
        let hex = id.strip_prefix(self.prefix.as_str()).filter(|h| h.len() == 12)?;
        u64::from_str_radix(hex, 16).ok()
    }

    /// Score the outcomes of a `POST /feedback` body: `{"id", "outcome"}` (one row),
    /// `{"id", "outcomes": [...]}` (a row each, `null` for a row not known yet), or a list of
    /// either. An id is reported once.
    pub fn report(&self, body: &Value) -> Result<Reported, String> {
        let items: Vec<&Value> = match body {
            Value::Array(items) => items.iter().collect(),
            Value::Object(_) => vec![body],
            _ => return Err("feedback is an object {\"id\", \"outcome\"} or a list of them".into()),
        };
        let mut parsed = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = if items.len() > 1 { format!("item {i}: ") } else { String::new() };
            let id = item["id"].as_str().ok_or_else(|| format!("{at}\"id\" (a string) is missing"))?;
            let outcomes: Vec<&Value> = match (item.get("outcome"), item.get("outcomes")) {
                (Some(o), None) => vec![o],
                (None, Some(Value::Array(list))) => list.iter().collect(),
                (None, Some(_)) => return Err(format!("{at}\"outcomes\" is a list, a value per row")),
                _ => return Err(format!("{at}give \"outcome\" (one row) or \"outcomes\" (a list, a row each)")),
            };
            parsed.push((id.to_string(), outcomes));
        }
        let mut reported = Reported::default();
        let mut scored: Vec<(u64, f64)> = Vec::new();
        {
            let mut pending = self.pending.lock().expect("feedback lock");
            // Everything is checked before anything is taken: a refused report consumes no answer.
            let mut taken = Vec::new();
            for (id, outcomes) in &parsed {
                let Some(n) = self.counter(id).filter(|n| pending.answers.contains_key(n)) else {
                    reported.unknown.push(id.clone());
                    continue;
                };
                let (version, answered) = &pending.answers[&n];
                let rows = match answered {
                    Answered::Classes(l) => l.len(),
                    Answered::Values(v) => v.len(),
                };
                if outcomes.len() != rows {
                    return Err(format!("'{id}' answered {rows} rows; {} outcomes were given", outcomes.len()));
                }
                for (row, outcome) in outcomes.iter().enumerate() {
                    if outcome.is_null() {
                        continue;
                    }
                    let x = match answered {
                        Answered::Classes(labels) => f64::from(u8::from(class_text(outcome) == labels[row])),
                        Answered::Values(values) => match outcome.as_f64() {
                            Some(v) if v.is_finite() => -(values[row] - v).abs(),
                            _ => {
                                return Err(format!(
                                    "'{id}': an outcome of a regression is a finite number, not {outcome}"
                                ))
                            }
                        },
                    };
                    scored.push((*version, x));
                }
                taken.push(n);
            }
            for n in taken {
                pending.answers.remove(&n);
            }
        }
        let mut tallies = self.outcomes.lock().expect("feedback lock");
        for (version, x) in scored {
            let t = tallies.entry(version).or_default();
            t.0 += 1;
            t.1 += x;
            t.2 += x * x;
            reported.rows += 1;
        }
        Ok(reported)
    }

    /// The outcomes so far, by version.
    pub fn tallies(&self) -> BTreeMap<u64, Tally> {
        self.outcomes.lock().expect("feedback lock").clone()
    }

    /// The Prometheus text of the outcomes.
    pub fn render(&self, model: &str) -> String {
        let model = super::metrics::escape_label(model);
        let tallies = self.tallies();
        let mut out = String::new();
        for (name, help, pick) in [
            ("ml_gates_outcomes_total", "Rows whose true outcome was reported through /feedback.", 0),
            (
                "ml_gates_outcome_sum",
                "Sum of the scored outcomes (1 for a right class, 0 otherwise; minus the absolute error of a value).",
                1,
            ),
            ("ml_gates_outcome_squares_sum", "Sum of the squares of the scored outcomes.", 2),
        ] {
            let kind = if pick == 0 { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (version, (n, sum, squares)) in &tallies {
                let value = [*n as f64, *sum, *squares][pick];
                let _ = writeln!(out, "{name}{{model=\"{model}\",version=\"{version}\"}} {value}");
            }
        }
        out
    }
}

/// A reported class as the answers write labels: a string as it is, an integral number without
/// a fraction, anything else as JSON.
fn class_text(outcome: &Value) -> String {
    match outcome {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classes(labels: &[&str]) -> Predictions {
        Predictions::Classes { labels: labels.iter().map(|s| s.to_string()).collect(), probabilities: Vec::new() }
    }

    #[test]
    fn outcomes_are_scored_for_the_version_that_answered_once() {
        let f = Feedback::new(10);
        let a = f.remember(1, &classes(&["1"]));
        let b = f.remember(2, &classes(&["0", "1"]));
        let c = f.remember(2, &Predictions::Values(vec![3.0]));
        assert_ne!(a, b);
        assert_eq!(f.report(&json!({"id": a, "outcome": 1})).unwrap().rows, 1);
        let r = f
            .report(&json!([{"id": b, "outcomes": [1, null]}, {"id": c, "outcome": 5.5}, {"id": "nope", "outcome": 1}]))
            .unwrap();
        assert_eq!((r.rows, r.unknown), (2, vec!["nope".to_string()]));
        assert_eq!(f.tallies(), BTreeMap::from([(1, (1, 1.0, 1.0)), (2, (2, -2.5, 6.25))]));
        // Reported once.
        assert_eq!(f.report(&json!({"id": a, "outcome": 1})).unwrap().unknown, vec![a.clone()]);
        let text = f.render("churn");
        assert!(text.contains("ml_gates_outcomes_total{model=\"churn\",version=\"2\"} 2"), "{text}");
        assert!(text.contains("ml_gates_outcome_sum{model=\"churn\",version=\"2\"} -2.5"), "{text}");
    }

    #[test]
    fn bad_reports_are_refused_and_lose_nothing() {
        let f = Feedback::new(10);
        let b = f.remember(2, &classes(&["0", "1"]));
        assert!(f.report(&json!({"id": b, "outcomes": [1]})).unwrap_err().contains("answered 2 rows; 1 outcomes"));
        assert!(f.report(&json!({"outcome": 1})).unwrap_err().contains("\"id\""));
        assert!(f.report(&json!("x")).is_err());
        // A batch refused for one item consumes none of the others.
        let a = f.remember(1, &classes(&["1"]));
        assert!(f.report(&json!([{"id": a, "outcome": 1}, {"id": b, "outcomes": [1]}])).is_err());
        assert_eq!(f.report(&json!({"id": a, "outcome": 1})).unwrap().rows, 1);
        assert_eq!(f.tallies(), BTreeMap::from([(1, (1, 1.0, 1.0))]));
        assert_eq!(f.report(&json!({"id": b, "outcomes": ["0", "0"]})).unwrap().rows, 2);
        assert_eq!(f.tallies(), BTreeMap::from([(1, (1, 1.0, 1.0)), (2, (2, 1.0, 1.0))]));
    }

    #[test]
    fn the_oldest_answers_are_forgotten_beyond_the_capacity() {
        let f = Feedback::new(2);
        let ids: Vec<String> = (0..3).map(|_| f.remember(1, &classes(&["1"]))).collect();
        assert_eq!(f.report(&json!({"id": ids[0], "outcome": 1})).unwrap().unknown, vec![ids[0].clone()]);
        assert_eq!(f.report(&json!({"id": ids[2], "outcome": 1})).unwrap().rows, 1);
        let none = Feedback::new(0);
        let id = none.remember(1, &classes(&["1"]));
        assert_eq!(none.report(&json!({"id": id, "outcome": 1})).unwrap().unknown.len(), 1);
    }
}
