//! The A/B test's sequential test: the mixture sequential probability ratio test (mSPRT) of
//! Johari, Pekelis and Walsh ("Always valid inference", 2017) for the difference of two means,
//! with a normal mixing distribution N(0, τ²) and the normal approximation of the difference.
//!
//! After any number of observations, H0 (no difference) is rejected when the mixture likelihood
//! ratio Λ reaches 1/α; the false positive rate stays at most α however often it is checked, so
//! the test may stop as soon as it is sure (after a minimum sample per arm).

use schemars::JsonSchema;
use serde::Serialize;

/// Observations of one arm: count, sum, sum of squares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, JsonSchema)]
pub struct Arm {
    pub n: u64,
    pub sum: f64,
    pub sum_squares: f64,
}

impl Arm {
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum / self.n as f64
        }
    }

    /// The sample variance (n − 1), floored so a perfect arm does not divide by zero.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.25;
        }
        let n = self.n as f64;
        ((self.sum_squares - self.sum * self.sum / n) / (n - 1.0)).max(1e-6)
    }
}

/// The test's state after the observations so far.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Test {
    /// The candidate's mean minus the stable version's.
    pub difference: f64,
    /// The mixture likelihood ratio Λ.
    pub likelihood_ratio: f64,
    /// 1/α: the ratio that decides.
    pub threshold: f64,
    /// Whether H0 is rejected (and both arms have the minimum sample).
    pub decided: bool,
}

/// The default τ of the mixing distribution: differences of a few percentage points.
pub const DEFAULT_EFFECT_SIZE: f64 = 0.05;

/// Λ for the difference of the two arms' means, with mixing distribution N(0, τ²).
pub fn test(stable: &Arm, candidate: &Arm, alpha: f64, min_samples: u64, tau: f64) -> Test {
    let difference = candidate.mean() - stable.mean();
    let threshold = 1.0 / alpha;
    if stable.n == 0 || candidate.n == 0 {
        return Test { difference, likelihood_ratio: 1.0, threshold, decided: false };
    }
    // The variance of the difference of the means.
    let sigma2 = stable.variance() / stable.n as f64 + candidate.variance() / candidate.n as f64;
    let tau2 = tau * tau;
    let log_ratio =
        0.5 * (sigma2 / (sigma2 + tau2)).ln() + difference * difference * tau2 / (2.0 * sigma2 * (sigma2 + tau2));
    let likelihood_ratio = log_ratio.exp();
    let decided = likelihood_ratio >= threshold && stable.n >= min_samples && candidate.n >= min_samples;
    Test { difference, likelihood_ratio, threshold, decided }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(n: u64, successes: u64) -> Arm {
        Arm { n, sum: successes as f64, sum_squares: successes as f64 }
    }

    #[test]
    fn a_clear_difference_decides_and_none_does_not() {
        let better = test(&arm(1000, 700), &arm(1000, 800), 0.05, 200, DEFAULT_EFFECT_SIZE);
        assert!(better.decided && better.difference > 0.09, "{better:?}");
        let same = test(&arm(1000, 700), &arm(1000, 702), 0.05, 200, DEFAULT_EFFECT_SIZE);
        assert!(!same.decided && same.likelihood_ratio < 1.0, "{same:?}");
        let early = test(&arm(100, 70), &arm(100, 95), 0.05, 200, DEFAULT_EFFECT_SIZE);
        assert!(!early.decided, "the minimum sample comes first");
    }

    /// Under H0 (both arms the same), peeking after every 50 observations for 5,000 observations
    /// still rejects in at most about α of the runs: the property that lets the test stop early.
    #[test]
    fn peeking_keeps_the_false_positive_rate() {
        let mut state: u64 = 42;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let runs = 200;
        let mut rejected = 0;
        for _ in 0..runs {
            let (mut a, mut b) = (Arm::default(), Arm::default());
            for i in 1..=5000 {
                for arm in [&mut a, &mut b] {
                    let x = if uniform() < 0.7 { 1.0 } else { 0.0 };
                    arm.n += 1;
                    arm.sum += x;
                    arm.sum_squares += x;
                }
                if i % 50 == 0 && test(&a, &b, 0.05, 100, DEFAULT_EFFECT_SIZE).decided {
                    rejected += 1;
                    break;
                }
            }
        }
        assert!((rejected as f64) / (runs as f64) <= 0.08, "{rejected} of {runs} runs rejected a true H0");
    }
}
