//! The candidate against the current production model (the champion), on the same evaluation rows.
//!
//! The point comparison follows MLflow's `MetricThreshold`: with `greater_is_better`, the
//! candidate's value must be ≥ `threshold`, ≥ champion + `min_absolute_change` and
//! ≥ champion × (1 + `min_relative_change`) (mirrored when lower is better). MLflow stops there, so
//! a gain of 0.002 accuracy on 300 rows "improves" on the champion. A noise test adds what it lacks:
//! - `bootstrap`: resample the evaluation rows with replacement (the same rows for both models),
//!   recompute the metric for each, and take the percentile interval of the gain;
//! - `mcnemar` (accuracy): McNemar's exact test on the rows exactly one model gets right.
//!
//! When a change is demanded (`min_absolute_change` or `min_relative_change`), the gain must also be
//! significant: the interval lies above 0 (bootstrap) or the candidate wins more disagreements with
//! p < 1 − confidence (McNemar). When no change is demanded, the candidate must not be
//! significantly worse: a regression within noise passes, a real one fails.

use crate::config::raw::{ChampionConfig, NoiseTest};
use crate::measure::score::{self, Truth};
use crate::model::Predictions;
use crate::stats::SplitMix64;
use schemars::JsonSchema;
use serde::Serialize;

/// The outcome of the noise test.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Noise {
    /// `bootstrap` or `mcnemar`.
    pub method: &'static str,
    pub confidence: f64,
    /// Bootstrap: the interval of the gain (candidate − champion, positive is better).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain_low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain_high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resamples: Option<u32>,
    /// McNemar: rows only the candidate gets right, rows only the champion gets right, p-value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_only_right: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion_only_right: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The candidate is significantly better.
    pub significantly_better: bool,
    /// The candidate is significantly worse.
    pub significantly_worse: bool,
}

/// The comparison, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Comparison {
    /// Where the champion came from (its artifact path).
    pub source: String,
    pub metric: String,
    pub greater_is_better: bool,
    pub candidate: f64,
    pub champion: f64,
    /// candidate − champion, in the metric's units (positive is better when greater is better).
    pub delta: f64,
    /// Every metric of the task, for both models: `{name: [candidate, champion]}`.
    pub metrics: indexmap::IndexMap<String, [f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<Noise>,
    /// Why the comparison failed, one reason per unmet condition (empty when it passed).
    pub unmet: Vec<String>,
}

/// Compare `candidate` and `champion` predictions on the same rows.
pub fn compare(
    cfg: &ChampionConfig,
    source: &str,
    truth: &Truth,
    candidate: (&[String], &Predictions),
    champion: (&[String], &Predictions),
    seed: u64,
) -> Comparison {
    let metric = cfg.metric.as_str();
    let greater = cfg.greater_is_better.unwrap_or_else(|| crate::measure::greater_is_better(metric));
    let (cand_all, _) = score::score(candidate.0, truth, candidate.1, &|_| true);
    let (champ_all, _) = score::score(champion.0, truth, champion.1, &|_| true);
    let metrics = cand_all
        .iter()
        .filter_map(|(name, c)| champ_all.get(name).map(|h| (name.clone(), [*c, *h])))
        .collect::<indexmap::IndexMap<_, _>>();
    let cand = cand_all.get(metric).copied().unwrap_or(f64::NAN);
    let champ = champ_all.get(metric).copied().unwrap_or(f64::NAN);
    // Oriented so that a positive gain is an improvement.
    let sign = if greater { 1.0 } else { -1.0 };
    let mut unmet = Vec::new();
    let fmt = crate::core::format_number;
    if let Some(t) = cfg.threshold {
        if sign * (cand - t) < 0.0 {
            unmet.push(format!(
                "{metric} {} is {} the threshold {}",
                fmt(cand),
                if greater { "below" } else { "above" },
                fmt(t)
            ));
        }
    }
    if let Some(a) = cfg.min_absolute_change {
        let needed = champ + sign * a;
        if sign * (cand - needed) < 0.0 {
            unmet.push(format!("{metric} {} does not beat the champion's {} by {}", fmt(cand), fmt(champ), fmt(a)));
        }
    }
    if let Some(r) = cfg.min_relative_change {
        let needed = champ * (1.0 + sign * r);
        if sign * (cand - needed) < 0.0 {
            unmet.push(format!(
                "{metric} {} does not beat the champion's {} by {}% ({} needed)",
                fmt(cand),
                fmt(champ),
                fmt(r * 100.0),
                fmt(needed)
            ));
        }
    }
    let confidence = cfg.confidence.unwrap_or(0.95);
    let noise = match cfg.noise.unwrap_or(NoiseTest::Bootstrap) {
        NoiseTest::None => None,
        NoiseTest::Mcnemar => Some(mcnemar(truth, candidate.1, champion.1, confidence)),
        NoiseTest::Bootstrap => {
            Some(bootstrap(metric, sign, truth, candidate, champion, cfg.resamples.unwrap_or(1000), confidence, seed))
        }
    };
    let demands_change = cfg.min_absolute_change.is_some() || cfg.min_relative_change.is_some();
    match &noise {
        Some(n) if demands_change && !n.significantly_better => {
            unmet.push(format!("the gain of {} is within noise ({})", fmt(sign * (cand - champ)), describe(n)))
        }
        Some(n) if !demands_change && n.significantly_worse => {
            unmet.push(format!("{metric} is significantly worse than the champion's ({})", describe(n)))
        }
        None if !demands_change && cfg.threshold.is_none() && sign * (cand - champ) < 0.0 => {
            unmet.push(format!("{metric} {} is worse than the champion's {}", fmt(cand), fmt(champ)))
        }
        _ => {}
    }
    if !cand.is_finite() || !champ.is_finite() {
        unmet.push(format!("{metric} cannot be computed for both models on this evaluation set"));
    }
    Comparison {
        source: source.to_string(),
        metric: metric.to_string(),
        greater_is_better: greater,
        candidate: cand,
        champion: champ,
        delta: cand - champ,
        metrics,
        noise,
        unmet,
    }
}

/// The noise test's result in words.
pub fn describe(n: &Noise) -> String {
    let fmt = crate::core::format_number;
    match (n.gain_low, n.gain_high, n.p_value) {
        (Some(low), Some(high), _) => {
            format!("{}% bootstrap interval of the gain [{}, {}]", fmt(n.confidence * 100.0), fmt(low), fmt(high))
        }
        (_, _, Some(p)) => format!(
            "McNemar: candidate alone right on {}, champion alone on {}, p = {}",
            n.candidate_only_right.unwrap_or(0),
            n.champion_only_right.unwrap_or(0),
            fmt(p)
        ),
        _ => String::new(),
    }
}

/// Percentile bootstrap of the oriented gain, pairing the two models on the same resampled rows.
#[allow(clippy::too_many_arguments)]
fn bootstrap(
    metric: &str,
    sign: f64,
    truth: &Truth,
    candidate: (&[String], &Predictions),
    champion: (&[String], &Predictions),
    resamples: u32,
    confidence: f64,
    seed: u64,
) -> Noise {
    let n = truth.len();
    let mut rng = SplitMix64(seed ^ 0x626f_6f74);
    let only = |name: &str| name == metric;
    let mut gains: Vec<f64> = Vec::with_capacity(resamples as usize);
    let mut rows = vec![0usize; n];
    for _ in 0..resamples {
        for r in rows.iter_mut() {
            *r = (rng.next_u64() % n.max(1) as u64) as usize;
        }
        let (t, c) = score::resample(truth, candidate.1, &rows);
        let (_, h) = score::resample(truth, champion.1, &rows);
        let cv = score::score(candidate.0, &t, &c, &only).0.get(metric).copied();
        let hv = score::score(champion.0, &t, &h, &only).0.get(metric).copied();
        if let (Some(cv), Some(hv)) = (cv, hv) {
            if cv.is_finite() && hv.is_finite() {
                gains.push(sign * (cv - hv));
            }
        }
    }
    gains.sort_by(f64::total_cmp);
    let alpha = 1.0 - confidence;
    let low = percentile(&gains, alpha / 2.0);
    let high = percentile(&gains, 1.0 - alpha / 2.0);
    Noise {
        method: "bootstrap",
        confidence,
        gain_low: Some(low),
        gain_high: Some(high),
        resamples: Some(resamples),
        candidate_only_right: None,
        champion_only_right: None,
        p_value: None,
        significantly_better: low > 0.0,
        significantly_worse: high < 0.0,
    }
}

/// The `q` quantile of sorted values, interpolating linearly (NumPy's default).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (i, frac) = (position.floor() as usize, position.fract());
    let next = sorted[(i + 1).min(sorted.len() - 1)];
    sorted[i] + (next - sorted[i]) * frac
}

/// McNemar's exact test on the rows exactly one of the models classifies correctly.
fn mcnemar(truth: &Truth, candidate: &Predictions, champion: &Predictions, confidence: f64) -> Noise {
    let (mut b, mut c) = (0u64, 0u64);
    if let (Truth::Labels(t), Predictions::Classes { labels: x, .. }, Predictions::Classes { labels: y, .. }) =
        (truth, candidate, champion)
    {
        for ((t, x), y) in t.iter().zip(x).zip(y) {
            match (x == t, y == t) {
                (true, false) => b += 1,
                (false, true) => c += 1,
                _ => {}
            }
        }
    }
    let p = mcnemar_exact_p(b, c);
    let alpha = 1.0 - confidence;
    Noise {
        method: "mcnemar",
        confidence,
        gain_low: None,
        gain_high: None,
        resamples: None,
        candidate_only_right: Some(b),
        champion_only_right: Some(c),
        p_value: Some(p),
        significantly_better: b > c && p < alpha,
        significantly_worse: c > b && p < alpha,
    }
}

/// Two-sided exact McNemar p-value: 2 · P(X ≤ min(b, c)) for X ~ Binomial(b + c, ½), at most 1
/// (as `statsmodels.stats.contingency_tables.mcnemar(exact=True)`).
pub fn mcnemar_exact_p(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // Sum the binomial probabilities in log space: n can be large.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let ln_choose = |i: u64| {
        crate::stats::ln_gamma(n as f64 + 1.0)
            - crate::stats::ln_gamma(i as f64 + 1.0)
            - crate::stats::ln_gamma((n - i) as f64 + 1.0)
    };
    let tail: f64 = (0..=k).map(|i| (ln_choose(i) + ln_half_n).exp()).sum();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::WhenMissing;

    fn labels(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn config(noise: NoiseTest) -> ChampionConfig {
        ChampionConfig {
            alias: None,
            model: Some("champion.model".into()),
            metric: "accuracy".into(),
            greater_is_better: None,
            threshold: None,
            min_absolute_change: None,
            min_relative_change: None,
            noise: Some(noise),
            confidence: None,
            resamples: Some(500),
            when_missing: Some(WhenMissing::Pass),
            severity: None,
        }
    }

    /// A classifier right on the rows where `right` is true.
    fn predictions(truth: &[String], right: impl Fn(usize) -> bool) -> Predictions {
        let labels: Vec<String> = truth
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if right(i) {
                    t.clone()
                } else if t == "1" {
                    "0".into()
                } else {
                    "1".into()
                }
            })
            .collect();
        let probabilities = labels.iter().map(|l| if l == "1" { vec![0.2, 0.8] } else { vec![0.8, 0.2] }).collect();
        Predictions::Classes { labels, probabilities }
    }

    #[test]
    fn mcnemar_p_values_match_the_binomial_tail() {
        // b=10, c=2: 2·(C(12,0)+C(12,1)+C(12,2))/2¹² = 2·79/4096.
        assert!((mcnemar_exact_p(10, 2) - 158.0 / 4096.0).abs() < 1e-12);
        assert_eq!(mcnemar_exact_p(5, 5), 1.0);
        assert_eq!(mcnemar_exact_p(0, 0), 1.0);
        // b=0, c=6: 2/64.
        assert!((mcnemar_exact_p(0, 6) - 2.0 / 64.0).abs() < 1e-12);
        // Large counts stay finite: b=600, c=500; scipy.stats.binomtest(500, 1100).pvalue.
        assert!((mcnemar_exact_p(600, 500) - 0.0028195449914364284).abs() < 1e-12);
    }

    #[test]
    fn a_gain_within_noise_is_not_an_improvement() {
        let truth: Vec<String> = (0..300).map(|i| if i % 3 == 0 { "1" } else { "0" }.to_string()).collect();
        let classes = labels(&["0", "1"]);
        let champion = predictions(&truth, |i| i % 5 != 0); // 80% right
        let candidate = predictions(&truth, |i| i % 5 != 0 || i == 5); // one more row right
        let mut cfg = config(NoiseTest::Bootstrap);
        cfg.min_absolute_change = Some(0.0);
        let t = Truth::Labels(truth.clone());
        let result = compare(&cfg, "c", &t, (&classes, &candidate), (&classes, &champion), 42);
        assert!(result.delta > 0.0, "the point estimate improves");
        assert!(!result.unmet.is_empty(), "but within noise: {result:?}");
        cfg.noise = Some(NoiseTest::None);
        let mlflow = compare(&cfg, "c", &t, (&classes, &candidate), (&classes, &champion), 42);
        assert!(mlflow.unmet.is_empty(), "MLflow's semantics alone accept it");
    }

    #[test]
    fn a_real_gain_passes_both_tests() {
        let truth: Vec<String> = (0..400).map(|i| if i % 2 == 0 { "1" } else { "0" }.to_string()).collect();
        let classes = labels(&["0", "1"]);
        let champion = predictions(&truth, |i| i % 4 != 0); // 75%
        let candidate = predictions(&truth, |i| i % 20 != 0); // 95%
        let t = Truth::Labels(truth.clone());
        for noise in [NoiseTest::Bootstrap, NoiseTest::Mcnemar] {
            let mut cfg = config(noise);
            cfg.min_absolute_change = Some(0.1);
            let r = compare(&cfg, "c", &t, (&classes, &candidate), (&classes, &champion), 42);
            assert!(r.unmet.is_empty(), "{noise:?}: {r:?}");
            assert!(r.noise.unwrap().significantly_better);
            cfg.min_absolute_change = Some(0.25);
            let r = compare(&cfg, "c", &t, (&classes, &candidate), (&classes, &champion), 42);
            assert_eq!(r.unmet.len(), 1, "a 0.2 gain does not meet 0.25: {r:?}");
        }
    }

    #[test]
    fn without_a_demanded_change_only_a_significant_regression_fails() {
        let truth: Vec<String> = (0..400).map(|i| if i % 2 == 0 { "1" } else { "0" }.to_string()).collect();
        let classes = labels(&["0", "1"]);
        let good = predictions(&truth, |i| i % 20 != 0);
        let slightly_worse = predictions(&truth, |i| i % 20 != 0 && i != 7);
        let much_worse = predictions(&truth, |i| i % 4 != 0);
        let t = Truth::Labels(truth.clone());
        let cfg = config(NoiseTest::Bootstrap);
        assert!(compare(&cfg, "c", &t, (&classes, &slightly_worse), (&classes, &good), 1).unmet.is_empty());
        assert!(!compare(&cfg, "c", &t, (&classes, &much_worse), (&classes, &good), 1).unmet.is_empty());
    }

    #[test]
    fn lower_is_better_metrics_are_mirrored() {
        let truth = Truth::Values((0..200).map(|i| i as f64).collect());
        let exact = Predictions::Values((0..200).map(|i| i as f64 + if i % 2 == 0 { 0.5 } else { -0.5 }).collect());
        let off = Predictions::Values((0..200).map(|i| i as f64 + if i % 2 == 0 { 5.0 } else { -5.0 }).collect());
        let mut cfg = config(NoiseTest::Bootstrap);
        cfg.metric = "mae".into();
        cfg.min_relative_change = Some(0.5);
        let r = compare(&cfg, "c", &truth, (&[], &exact), (&[], &off), 3);
        assert!(!r.greater_is_better);
        assert_eq!((r.candidate, r.champion), (0.5, 5.0));
        assert!(r.unmet.is_empty(), "{r:?}");
        let r = compare(&cfg, "c", &truth, (&[], &off), (&[], &exact), 3);
        assert_eq!(r.unmet.len(), 2, "no relative gain, and significantly worse is not a gain: {r:?}");
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 4.0);
        assert!((percentile(&v, 0.25) - 1.75).abs() < 1e-12);
    }
}
