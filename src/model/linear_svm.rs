//! Linear support vector machines by dual coordinate descent, as liblinear fits them
//! (Hsieh et al., 2008, for classification; Ho & Lin, 2012, for regression).
//!
//! linfa-svm solves the kernelised problem with SMO and keeps a dense kernel matrix, which needs
//! n² numbers: at 100k rows that is 80 GB, and the process is killed. For a linear kernel the dual
//! can be solved one coordinate at a time while keeping only w = Σ αᵢyᵢxᵢ, in memory and time
//! linear in the rows. The bias is a constant feature of value 1 (penalised, as liblinear's `-B 1`).

use crate::stats::SplitMix64;
use ndarray::{Array2, ArrayView1, Axis};

/// Settings of the solver.
pub struct Solver {
    /// Inverse penalty strength.
    pub c: f64,
    /// Stop when the projected gradient's spread falls under this.
    pub tolerance: f64,
    /// At most this many passes over the rows.
    pub max_passes: usize,
    /// Order of the coordinates in each pass.
    pub seed: u64,
    /// The classifier's loss: squared hinge (scikit-learn's `LinearSVC` default) or hinge.
    pub squared_hinge: bool,
}

fn dot_with_bias(w: &[f64], row: ArrayView1<f64>) -> f64 {
    row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + w[w.len() - 1]
}

fn add_scaled(w: &mut [f64], row: ArrayView1<f64>, scale: f64) {
    let n = w.len() - 1;
    for (wj, xj) in w[..n].iter_mut().zip(row.iter()) {
        *wj += scale * xj;
    }
    w[n] += scale;
}

/// Shuffle the first `len` entries of `index` (Fisher-Yates), leaving the shrunk ones in place.
fn shuffle_prefix(index: &mut [usize], len: usize, rng: &mut SplitMix64) {
    for i in (1..len).rev() {
        index.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
}

/// Up to this many features the squared-hinge SVM is solved in the primal by Newton's method.
const PRIMAL_MAX_FEATURES: usize = 64;

/// The squared-hinge SVM in the primal, as scikit-learn's `LinearSVC` solves it when rows
/// outnumber features: minimise f(w̃) = ½‖w̃‖² + C Σ max(0, 1 − yᵢ w̃·x̃ᵢ)² over w̃ = (w, b),
/// x̃ = (x, 1), by Newton's method with the generalised Hessian I + 2C Σ_{margin<1} x̃x̃ᵀ and a
/// backtracking line search. f is piecewise quadratic, so once the set of rows inside the margin
/// stops changing a full step lands on the optimum.
fn primal_squared_hinge(x: &Array2<f64>, y: &[f64], c: f64, max_steps: usize) -> Vec<f64> {
    let d = x.ncols();
    let m = d + 1;
    let mut w = vec![0.0; m];
    let objective = |w: &[f64]| -> f64 {
        let mut loss = 0.0;
        for (i, row) in x.rows().into_iter().enumerate() {
            let slack = 1.0 - y[i] * dot_with_bias(w, row);
            if slack > 0.0 {
                loss += slack * slack;
            }
        }
        0.5 * w.iter().map(|v| v * v).sum::<f64>() + c * loss
    };
    let mut value = objective(&w);
    let mut first: Option<f64> = None;
    let mut features = vec![0.0; m];
    for _ in 0..max_steps.max(1) {
        let mut gradient = w.clone();
        let mut hessian = vec![0.0; m * m];
        for j in 0..m {
            hessian[j * m + j] = 1.0;
        }
        for (i, row) in x.rows().into_iter().enumerate() {
            let margin = y[i] * dot_with_bias(&w, row);
            if margin >= 1.0 {
                continue;
            }
            for j in 0..d {
                features[j] = row[j];
            }
            features[d] = 1.0;
            let scale = 2.0 * c * (margin - 1.0) * y[i];
            for j in 0..m {
                gradient[j] += scale * features[j];
                let v = 2.0 * c * features[j];
                for (l, h) in hessian[j * m..j * m + j + 1].iter_mut().enumerate() {
                    *h += v * features[l];
                }
            }
        }
        let size = gradient.iter().fold(0.0f64, |a, g| a.max(g.abs()));
        let first = *first.get_or_insert(size);
        if size <= 1e-10 * first.max(1e-300) {
            break;
        }
        if !matches!(
            super::estimator::newton_step(&mut w, &mut value, &gradient, &mut hessian, objective),
            super::estimator::NewtonStep::Moved
        ) {
            break;
        }
    }
    w
}

/// The linear SVM: minimise ½‖w‖² + C Σ max(0, 1 − yᵢ w·xᵢ), squared when
/// `solver.squared_hinge` (then the dual has a diagonal 1/(2C) and no upper bound). Returns (w, b).
///
/// With liblinear's shrinking (Hsieh et al., 2008, section 3.2): a coordinate at a bound whose
/// gradient points out of the box by more than last pass's extreme projected gradients is set
/// aside; when the rest has converged, every coordinate is checked again before stopping.
pub fn fit_classifier(x: &Array2<f64>, positive: &[bool], solver: &Solver) -> (Vec<f64>, f64) {
    if solver.squared_hinge && x.ncols() <= PRIMAL_MAX_FEATURES {
        let y: Vec<f64> = positive.iter().map(|p| if *p { 1.0 } else { -1.0 }).collect();
        let mut w = primal_squared_hinge(x, &y, solver.c, solver.max_passes);
        let b = w.pop().unwrap_or(0.0);
        return (w, b);
    }
    dual_only(x, positive, solver)
}

/// The dual coordinate descent with shrinking, for either loss.
fn dual_only(x: &Array2<f64>, positive: &[bool], solver: &Solver) -> (Vec<f64>, f64) {
    let (n, d) = x.dim();
    let mut w = vec![0.0; d + 1];
    let mut alpha = vec![0.0; n];
    let (diagonal, upper) = if solver.squared_hinge { (0.5 / solver.c, f64::INFINITY) } else { (0.0, solver.c) };
    let q: Vec<f64> = x.axis_iter(Axis(0)).map(|r| r.dot(&r) + 1.0 + diagonal).collect();
    let y: Vec<f64> = positive.iter().map(|p| if *p { 1.0 } else { -1.0 }).collect();
    let mut rng = SplitMix64(solver.seed);
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let (mut pg_max_old, mut pg_min_old) = (f64::INFINITY, f64::NEG_INFINITY);
    for _ in 0..solver.max_passes {
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        shuffle_prefix(&mut index, active, &mut rng);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let row = x.row(i);
            let g = y[i] * dot_with_bias(&w, row) - 1.0 + diagonal * alpha[i];
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g < 0.0 {
                    pg = g;
                }
            } else if alpha[i] == upper {
                if g < pg_min_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g > 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / q[i]).clamp(0.0, upper);
                add_scaled(&mut w, row, (alpha[i] - old) * y[i]);
            }
            s += 1;
        }
        if pg_max - pg_min <= solver.tolerance {
            if active == n {
                break;
            }
            // Converged on the active set: check every coordinate once more.
            active = n;
            pg_max_old = f64::INFINITY;
            pg_min_old = f64::NEG_INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        pg_min_old = if pg_min >= 0.0 { f64::NEG_INFINITY } else { pg_min };
    }
    let b = w.pop().unwrap_or(0.0);
    (w, b)
}

/// Epsilon-insensitive SVR: minimise ½‖w‖² + C Σ max(0, |yᵢ − w·xᵢ| − ε). Returns (w, b).
///
/// liblinear's solver (Ho & Lin, 2012), with its shrinking and its stopping rule: the sum of the
/// projected-gradient violations over a pass falls to `tolerance` times that of the first pass.
pub fn fit_regressor(x: &Array2<f64>, y: &[f64], epsilon: f64, solver: &Solver) -> (Vec<f64>, f64) {
    let (n, d) = x.dim();
    let c = solver.c;
    let mut w = vec![0.0; d + 1];
    let mut beta = vec![0.0; n];
    let q: Vec<f64> = x.axis_iter(Axis(0)).map(|r| r.dot(&r) + 1.0).collect();
    let mut rng = SplitMix64(solver.seed);
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut g_max_old = f64::INFINITY;
    let mut first_norm: Option<f64> = None;
    for _ in 0..solver.max_passes {
        let (mut g_max, mut g_norm) = (0.0f64, 0.0f64);
        shuffle_prefix(&mut index, active, &mut rng);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let row = x.row(i);
            let g = dot_with_bias(&w, row) - y[i];
            let (gp, gn, h) = (g + epsilon, g - epsilon, q[i]);
            let mut shrink = false;
            let violation = if beta[i] == 0.0 {
                if gp < 0.0 {
                    -gp
                } else if gn > 0.0 {
                    gn
                } else {
                    shrink = gp > g_max_old && gn < -g_max_old;
                    0.0
                }
            } else if beta[i] >= c {
                if gp > 0.0 {
                    gp
                } else {
                    shrink = gp < -g_max_old;
                    0.0
                }
            } else if beta[i] <= -c {
                if gn < 0.0 {
                    -gn
                } else {
                    shrink = gn > g_max_old;
                    0.0
                }
            } else if beta[i] > 0.0 {
                gp.abs()
            } else {
                gn.abs()
            };
            if shrink {
                active -= 1;
                index.swap(s, active);
                continue;
            }
            g_max = g_max.max(violation);
            g_norm += violation;
            let step = if gp < h * beta[i] {
                -gp / h
            } else if gn > h * beta[i] {
                -gn / h
            } else {
                -beta[i]
            };
            if step.abs() >= 1e-12 {
                let old = beta[i];
                beta[i] = (old + step).clamp(-c, c);
                if beta[i] != old {
                    add_scaled(&mut w, row, beta[i] - old);
                }
            }
            s += 1;
        }
        let first = *first_norm.get_or_insert(g_norm);
        if g_norm <= solver.tolerance * first {
            if active == n {
                break;
            }
            active = n;
            g_max_old = f64::INFINITY;
            continue;
        }
        g_max_old = g_max;
    }
    let b = w.pop().unwrap_or(0.0);
    (w, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solver() -> Solver {
        Solver { c: 1.0, tolerance: 1e-3, max_passes: 1000, seed: 1, squared_hinge: false }
    }

    #[test]
    fn separable_classes_are_separated() {
        let x = Array2::from_shape_fn((400, 2), |(i, j)| ((i * (7 + j * 6)) % 23) as f64 / 23.0 * 4.0 - 2.0);
        let y: Vec<bool> = x.axis_iter(Axis(0)).map(|r| r[0] - 0.5 * r[1] > 0.3).collect();
        let (w, b) = fit_classifier(&x, &y, &Solver { c: 100.0, ..solver() });
        let right = x.axis_iter(Axis(0)).zip(&y).filter(|(r, y)| (r.dot(&ndarray::arr1(&w)) + b > 0.0) == **y).count();
        assert!(right >= 396, "{right} of 400");
        assert!(w[0] > 0.0 && w[1] < 0.0);
    }

    #[test]
    fn both_losses_separate_separable_classes() {
        let x = Array2::from_shape_fn((400, 2), |(i, j)| ((i * (7 + j * 6)) % 23) as f64 / 23.0 * 4.0 - 2.0);
        let y: Vec<bool> = x.axis_iter(Axis(0)).map(|r| r[0] - 0.5 * r[1] > 0.3).collect();
        for squared_hinge in [false, true] {
            let (w, b) = fit_classifier(&x, &y, &Solver { c: 100.0, squared_hinge, ..solver() });
            let right =
                x.axis_iter(Axis(0)).zip(&y).filter(|(r, y)| (r.dot(&ndarray::arr1(&w)) + b > 0.0) == **y).count();
            assert!(right >= 396, "{right} of 400 (squared {squared_hinge})");
        }
    }

    /// The primal Newton solution and the dual coordinate descent (run to a tight tolerance) reach
    /// the same squared-hinge optimum, on overlapping classes.
    #[test]
    fn primal_and_dual_agree_on_the_squared_hinge() {
        let x = Array2::from_shape_fn((500, 3), |(i, j)| ((i * (11 + j * 7)) % 37) as f64 / 37.0 * 4.0 - 2.0);
        let y: Vec<bool> = x
            .axis_iter(Axis(0))
            .enumerate()
            .map(|(i, r)| r[0] - 0.5 * r[1] + 0.3 * r[2] + ((i * 13) % 7) as f64 / 7.0 - 0.5 > 0.0)
            .collect();
        let labels: Vec<f64> = y.iter().map(|p| if *p { 1.0 } else { -1.0 }).collect();
        let primal = primal_squared_hinge(&x, &labels, 0.7, 100);
        // The dual path: the same problem with more features than the primal limit is not needed;
        // call the dual directly with a tight tolerance.
        let mut wide = solver();
        wide.c = 0.7;
        wide.squared_hinge = true;
        wide.tolerance = 1e-9;
        wide.max_passes = 100_000;
        let (w, b) = dual_only(&x, &y, &wide);
        for (a, c) in primal.iter().zip(w.iter().chain([b].iter())) {
            assert!((a - c).abs() < 1e-5, "{primal:?} vs {w:?} {b}");
        }
    }

    #[test]
    fn regression_recovers_a_line_within_epsilon() {
        let x = Array2::from_shape_fn((300, 2), |(i, j)| ((i * (5 + j * 8)) % 31) as f64 / 31.0);
        let y: Vec<f64> = x.axis_iter(Axis(0)).map(|r| 3.0 * r[0] - 2.0 * r[1] + 0.5).collect();
        let (w, b) = fit_regressor(&x, &y, 0.01, &Solver { c: 100.0, tolerance: 1e-6, ..solver() });
        assert!((w[0] - 3.0).abs() < 0.05 && (w[1] + 2.0).abs() < 0.05 && (b - 0.5).abs() < 0.05, "{w:?} {b}");
    }

    #[test]
    fn the_same_seed_gives_the_same_model() {
        let x = Array2::from_shape_fn((100, 3), |(i, j)| ((i * 13 + j * 7) % 17) as f64);
        let y: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        assert_eq!(fit_classifier(&x, &y, &solver()), fit_classifier(&x, &y, &solver()));
    }
}
