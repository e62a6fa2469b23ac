//! Behavioural tests in the manner of CheckList (Ribeiro et al., 2020): change one feature of the
//! evaluation rows, predict again, and compare.
//!
//! The score of a row is the probability of one class (a classifier) or the predicted value (a
//! regressor). An invariance test sets, adds to or shuffles a feature that must not matter and
//! bounds how many predicted classes change and how far any score moves. A directional test adds
//! to a feature and requires the score to move the stated way on a share of the rows.

use crate::config::raw::{BehaviorConfig, Direction, DirectionalTest, InvarianceTest};
use crate::model::Predictions;
use crate::stats::SplitMix64;
use polars::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

/// How many failing rows a test shows.
const EXAMPLES: usize = 5;

/// A row whose prediction broke the expectation.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Example {
    /// Position of the row in the evaluation set (0-based).
    pub row: usize,
    /// The row's id (`data.id`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The feature's value before and after the change, as text.
    pub before: Option<String>,
    pub after: Option<String>,
    /// The score before and after.
    pub score_before: f64,
    pub score_after: f64,
    /// Classification: the predicted class before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_after: Option<String>,
}

/// The outcome of one behavioural test.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Outcome {
    /// `invariance` or `directional`.
    pub kind: &'static str,
    pub name: String,
    pub feature: String,
    /// Whether the feature is an input of the model at all (a feature it never reads cannot matter).
    pub model_input: bool,
    pub rows: usize,
    /// Invariance, classification: percent of rows whose predicted class changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_percent: Option<f64>,
    /// Invariance: the largest absolute change of a score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_change: Option<f64>,
    /// Directional: percent of rows whose score moved the expected way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_percent: Option<f64>,
    /// Rows that broke the expectation, worst first (at most 5).
    pub examples: Vec<Example>,
}

/// What a behavioural test needs besides its own config.
pub struct Setup<'a> {
    pub model: &'a dyn super::Predictor,
    /// The model's classes (classification).
    pub classes: &'a [String],
    /// The model's input columns (a feature it never reads cannot matter).
    pub inputs: &'a [crate::model::InputColumn],
    pub test: &'a DataFrame,
    pub before: &'a Predictions,
    /// Index of the scored class in the model's classes (classification).
    pub class: usize,
    pub id: Option<&'a str>,
    pub seed: u64,
}

/// The score of every row: the class probability or the predicted value.
/// A classifier that gives no probabilities scores 1 for the class and 0 otherwise.
pub fn scores(predictions: &Predictions, class: usize, classes: &[String]) -> Vec<f64> {
    match predictions {
        Predictions::Classes { labels, probabilities } if probabilities.is_empty() => {
            let name = classes.get(class).map(String::as_str).unwrap_or_default();
            labels.iter().map(|l| f64::from(u8::from(l == name))).collect()
        }
        Predictions::Classes { probabilities, .. } => probabilities.iter().map(|p| p[class]).collect(),
        Predictions::Values(v) => v.clone(),
    }
}

fn labels(predictions: &Predictions) -> Option<&[String]> {
    match predictions {
        Predictions::Classes { labels, .. } => Some(labels),
        Predictions::Values(_) => None,
    }
}

/// The first `rows` rows of the evaluation set, if `rows` is set.
pub fn head(test: &DataFrame, cfg: &BehaviorConfig) -> DataFrame {
    match cfg.rows {
        Some(n) => test.head(Some(n as usize)),
        None => test.clone(),
    }
}

fn text(frame: &DataFrame, column: &str) -> Vec<Option<String>> {
    crate::data::target_text(frame, column).unwrap_or_else(|_| vec![None; frame.height()])
}

/// Run an invariance test.
pub fn invariance(setup: &Setup<'_>, test: &InvarianceTest) -> PolarsResult<Outcome> {
    let frame = setup.test;
    let column = frame.column(&test.feature)?;
    let changed: Column = if let Some(value) = &test.set {
        let text = value.text();
        let filled = Series::new(column.name().clone(), vec![text.as_str(); frame.height()]);
        filled.cast(column.dtype())?.into()
    } else if let Some(add) = test.add {
        if !crate::data::is_numeric(column.dtype()) {
            polars_bail!(InvalidOperation: "add needs a numeric feature; '{}' is {}", test.feature, column.dtype());
        }
        (column.as_materialized_series().cast(&DataType::Float64)? + add).cast(column.dtype())?.into()
    } else {
        let mut order: Vec<IdxSize> = (0..frame.height() as IdxSize).collect();
        let mut rng = SplitMix64(setup.seed ^ 0x7368_7566);
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        column.take(&IdxCa::from_vec("order".into(), order))?
    };
    let mut perturbed = frame.clone();
    perturbed.with_column(changed)?;
    let after = setup.model.predict_frame(&perturbed).map_err(|e| polars_err!(ComputeError: "{e}"))?;
    let (s0, s1) = (scores(setup.before, setup.class, setup.classes), scores(&after, setup.class, setup.classes));
    let deltas: Vec<f64> = s0.iter().zip(&s1).map(|(a, b)| (b - a).abs()).collect();
    let class_changed: Vec<bool> = match (labels(setup.before), labels(&after)) {
        (Some(a), Some(b)) => a.iter().zip(b).map(|(x, y)| x != y).collect(),
        _ => vec![false; deltas.len()],
    };
    let n = deltas.len();
    let changed_percent =
        labels(setup.before).map(|_| 100.0 * class_changed.iter().filter(|c| **c).count() as f64 / n.max(1) as f64);
    let max_change = deltas.iter().copied().fold(0.0, f64::max);
    // Worst rows: changed class first, then by the size of the change.
    let mut order: Vec<usize> = (0..n).filter(|&i| class_changed[i] || deltas[i] > 0.0).collect();
    order.sort_by(|&a, &b| class_changed[b].cmp(&class_changed[a]).then(deltas[b].total_cmp(&deltas[a])));
    let what = if let Some(v) = &test.set {
        format!("set {} to {}", test.feature, v.text())
    } else if let Some(a) = test.add {
        format!("add {} to {}", crate::core::format_number(a), test.feature)
    } else {
        format!("shuffle {}", test.feature)
    };
    Ok(Outcome {
        kind: "invariance",
        name: test.name.clone().unwrap_or(what),
        feature: test.feature.clone(),
        model_input: setup.inputs.iter().any(|c| c.name == test.feature),
        rows: n,
        changed_percent,
        max_change: Some(max_change),
        moved_percent: None,
        examples: examples(setup, &perturbed, &test.feature, &order, (&s0, &s1), &after),
    })
}

/// Run a directional test.
pub fn directional(setup: &Setup<'_>, test: &DirectionalTest) -> PolarsResult<Outcome> {
    let frame = setup.test;
    let column = frame.column(&test.feature)?;
    if !crate::data::is_numeric(column.dtype()) {
        polars_bail!(InvalidOperation: "a directional test adds to a numeric feature; '{}' is {}", test.feature, column.dtype());
    }
    // Added in floating point: adding 0.5 to an integer column must not round the change away.
    let changed = column.as_materialized_series().cast(&DataType::Float64)? + test.add;
    let mut perturbed = frame.clone();
    perturbed.with_column(Column::from(changed))?;
    let after = setup.model.predict_frame(&perturbed).map_err(|e| polars_err!(ComputeError: "{e}"))?;
    let (s0, s1) = (scores(setup.before, setup.class, setup.classes), scores(&after, setup.class, setup.classes));
    let allow_unchanged = test.allow_unchanged.unwrap_or(false);
    let moved: Vec<bool> = s0
        .iter()
        .zip(&s1)
        .map(|(a, b)| match test.expect {
            Direction::Increase => b > a || (allow_unchanged && b == a),
            Direction::Decrease => b < a || (allow_unchanged && b == a),
        })
        .collect();
    let n = moved.len();
    let moved_percent = 100.0 * moved.iter().filter(|m| **m).count() as f64 / n.max(1) as f64;
    // Worst rows: the largest move the wrong way.
    let wrong = |i: usize| match test.expect {
        Direction::Increase => s0[i] - s1[i],
        Direction::Decrease => s1[i] - s0[i],
    };
    let mut order: Vec<usize> = (0..n).filter(|&i| !moved[i]).collect();
    order.sort_by(|&a, &b| wrong(b).total_cmp(&wrong(a)));
    let way = if test.expect == Direction::Increase { "raises" } else { "lowers" };
    Ok(Outcome {
        kind: "directional",
        name: test.name.clone().unwrap_or_else(|| {
            format!("adding {} to {} {way} the score", crate::core::format_number(test.add), test.feature)
        }),
        feature: test.feature.clone(),
        model_input: setup.inputs.iter().any(|c| c.name == test.feature),
        rows: n,
        changed_percent: None,
        max_change: None,
        moved_percent: Some(moved_percent),
        examples: examples(setup, &perturbed, &test.feature, &order, (&s0, &s1), &after),
    })
}

fn examples(
    setup: &Setup<'_>,
    perturbed: &DataFrame,
    feature: &str,
    order: &[usize],
    (s0, s1): (&[f64], &[f64]),
    after: &Predictions,
) -> Vec<Example> {
    let before_values = text(setup.test, feature);
    let after_values = text(perturbed, feature);
    let ids = setup.id.map(|id| text(setup.test, id));
    order
        .iter()
        .take(EXAMPLES)
        .map(|&i| Example {
            row: i,
            id: ids.as_ref().and_then(|v| v[i].clone()),
            before: before_values[i].clone(),
            after: after_values[i].clone(),
            score_before: s0[i],
            score_after: s1[i],
            class_before: labels(setup.before).map(|l| l[i].clone()),
            class_after: labels(after).map(|l| l[i].clone()),
        })
        .collect()
}
