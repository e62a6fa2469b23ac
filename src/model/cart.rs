//! CART classification trees and random forests, deterministic for a given seed.
//!
//! linfa-trees keeps class weights in a `HashMap`, so ties between equally good splits break
//! differently from one process to the next and a retrained model can differ. Here every choice is
//! ordered: the best split is the one with the largest impurity decrease, ties going to the lower
//! feature and then the lower threshold; thresholds are midpoints between consecutive distinct
//! values (as scikit-learn's); rows with `x < threshold` go left. A forest draws each tree's
//! bootstrap rows and feature subset from a seeded SplitMix64.

use super::estimator::{Node, Tree};
use crate::stats::SplitMix64;
use ndarray::{Array2, Axis};

/// Growth limits of a tree.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: Option<usize>,
    /// A node with fewer (weighted) rows is not split.
    pub min_weight_split: f64,
    /// Each side of a split keeps at least this many (weighted) rows.
    pub min_weight_leaf: f64,
    /// A split must decrease the weighted impurity, as a share of all rows, by at least this.
    pub min_impurity_decrease: f64,
    pub entropy: bool,
}

fn impurity(counts: &[f64], total: f64, entropy: bool) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    if entropy {
        -counts.iter().filter(|c| **c > 0.0).map(|c| (c / total) * (c / total).ln()).sum::<f64>()
    } else {
        1.0 - counts.iter().map(|c| (c / total).powi(2)).sum::<f64>()
    }
}

/// Fit a tree on `rows` of `x` (a row may repeat: bootstrap weights), on the columns `features`.
/// Node features are indices into `features`.
pub fn fit_tree(
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    rows: Vec<usize>,
    features: &[usize],
    limits: &Limits,
) -> Tree {
    let total = rows.len() as f64;
    let mut nodes = Vec::new();
    grow(x, y, n_classes, rows, features, limits, 0, total, &mut nodes);
    Tree { nodes }
}

#[allow(clippy::too_many_arguments)]
fn grow(
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    rows: Vec<usize>,
    features: &[usize],
    limits: &Limits,
    depth: usize,
    all_rows: f64,
    nodes: &mut Vec<Node>,
) -> usize {
    let mut counts = vec![0.0; n_classes];
    for &r in &rows {
        counts[y[r]] += 1.0;
    }
    let n = rows.len() as f64;
    let index = nodes.len();
    let probabilities: Vec<f64> = counts.iter().map(|c| if n > 0.0 { c / n } else { 0.0 }).collect();
    // The first of equal maxima, as numpy.argmax.
    let class = (0..n_classes).fold(0, |best, k| if counts[k] > counts[best] { k } else { best });
    nodes.push(Node::Leaf { class, probabilities });
    let parent = impurity(&counts, n, limits.entropy);
    if parent == 0.0 || n < limits.min_weight_split || limits.max_depth.is_some_and(|d| depth >= d) {
        return index;
    }
    // (decrease, feature position, threshold)
    let mut best: Option<(f64, usize, f64)> = None;
    let mut pairs: Vec<(f64, usize)> = Vec::with_capacity(rows.len());
    for (position, &column) in features.iter().enumerate() {
        pairs.clear();
        pairs.extend(rows.iter().map(|&r| (x[[r, column]], y[r])));
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut left = vec![0.0; n_classes];
        for i in 0..pairs.len() - 1 {
            left[pairs[i].1] += 1.0;
            if pairs[i].0 == pairs[i + 1].0 {
                continue;
            }
            let nl = (i + 1) as f64;
            let nr = n - nl;
            if nl < limits.min_weight_leaf || nr < limits.min_weight_leaf {
                continue;
            }
            let right: Vec<f64> = counts.iter().zip(&left).map(|(c, l)| c - l).collect();
            let children = (nl * impurity(&left, nl, limits.entropy) + nr * impurity(&right, nr, limits.entropy)) / n;
            let decrease = n / all_rows * (parent - children);
            let threshold = pairs[i].0 / 2.0 + pairs[i + 1].0 / 2.0;
            // Strictly better only: ties keep the earlier feature and the lower threshold.
            if best.is_none_or(|(d, _, _)| decrease > d + 1e-12) {
                best = Some((decrease, position, threshold));
            }
        }
    }
    let Some((decrease, position, threshold)) = best else { return index };
    if decrease < limits.min_impurity_decrease || decrease <= 0.0 {
        return index;
    }
    let column = features[position];
    let (left_rows, right_rows): (Vec<usize>, Vec<usize>) = rows.into_iter().partition(|&r| x[[r, column]] < threshold);
    let left = grow(x, y, n_classes, left_rows, features, limits, depth + 1, all_rows, nodes);
    let right = grow(x, y, n_classes, right_rows, features, limits, depth + 1, all_rows, nodes);
    nodes[index] = Node::Split { feature: position, threshold, left, right };
    index
}

/// The size of a forest and of what each tree sees.
#[derive(Debug, Clone, Copy)]
pub struct Forest {
    pub n_trees: usize,
    /// Rows of each tree's bootstrap sample (with replacement), as a share of the rows.
    pub bootstrap_proportion: f64,
    /// Features each tree sees (without replacement), as a share of the features.
    pub feature_proportion: f64,
}

/// A forest whose bootstrap samples and feature subsets are drawn from `seed`.
pub fn fit_forest(
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    forest: &Forest,
    limits: &Limits,
    seed: u64,
) -> (Vec<Tree>, Vec<Vec<usize>>) {
    let Forest { n_trees, bootstrap_proportion, feature_proportion } = *forest;
    let (n, d) = x.dim();
    let sample = ((n as f64 * bootstrap_proportion).round() as usize).max(1);
    let k = ((d as f64 * feature_proportion).round() as usize).clamp(1, d.max(1));
    // Each tree draws exactly `sample + k` numbers from one SplitMix64 stream, whose state moves
    // by a constant per draw: tree t starts where the sequential loop would have left it, so
    // trees are fitted in parallel and the forest is the same, draw for draw.
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
    let per_tree = (sample + k) as u64;
    use rayon::prelude::*;
    let fitted: Vec<(Tree, Vec<usize>)> = (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = SplitMix64(seed.wrapping_add((t as u64).wrapping_mul(per_tree).wrapping_mul(GAMMA)));
            let rows: Vec<usize> = (0..sample).map(|_| (rng.next_u64() % n as u64) as usize).collect();
            let mut all: Vec<usize> = (0..d).collect();
            for i in 0..k {
                let j = i + (rng.next_u64() % (d - i) as u64) as usize;
                all.swap(i, j);
            }
            let mut features = all[..k].to_vec();
            features.sort_unstable();
            (fit_tree(x, y, n_classes, rows, &features, limits), features)
        })
        .collect();
    fitted.into_iter().unzip()
}

/// Every row of `x`, once.
pub fn rows_of(x: &Array2<f64>) -> Vec<usize> {
    (0..x.len_of(Axis(0))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_depth: None,
            min_weight_split: 2.0,
            min_weight_leaf: 1.0,
            min_impurity_decrease: 0.0,
            entropy: false,
        }
    }

    #[test]
    fn a_tree_learns_a_threshold_at_the_midpoint() {
        let x = ndarray::arr2(&[[1.0], [2.0], [3.0], [10.0], [11.0], [12.0]]);
        let y = [0, 0, 0, 1, 1, 1];
        let tree = fit_tree(&x, &y, 2, rows_of(&x), &[0], &limits());
        assert_eq!(tree.nodes[0], Node::Split { feature: 0, threshold: 6.5, left: 1, right: 2 });
    }

    #[test]
    fn ties_between_splits_go_to_the_first_feature() {
        // Both columns separate the classes equally well.
        let x = ndarray::arr2(&[[0.0, 5.0], [0.0, 5.0], [1.0, 9.0], [1.0, 9.0]]);
        let y = [0, 0, 1, 1];
        let tree = fit_tree(&x, &y, 2, rows_of(&x), &[0, 1], &limits());
        assert!(matches!(tree.nodes[0], Node::Split { feature: 0, .. }));
    }

    #[test]
    fn depth_and_leaf_limits_hold() {
        let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * (3 + j * 4)) % 37) as f64);
        let y: Vec<usize> = (0..200).map(|i| (i * 7 % 5 == 0) as usize).collect();
        let tree = fit_tree(&x, &y, 2, rows_of(&x), &[0, 1], &Limits { max_depth: Some(2), ..limits() });
        fn depth(t: &Tree, i: usize) -> usize {
            match &t.nodes[i] {
                Node::Leaf { .. } => 0,
                Node::Split { left, right, .. } => 1 + depth(t, *left).max(depth(t, *right)),
            }
        }
        assert!(depth(&tree, 0) <= 2);
    }

    const FOREST: Forest = Forest { n_trees: 5, bootstrap_proportion: 1.0, feature_proportion: 0.7 };

    #[test]
    fn a_forest_is_the_same_for_the_same_seed() {
        let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * (3 + j * 4)) % 41) as f64);
        let y: Vec<usize> = (0..300).map(|i| usize::from(x[[i, 0]] + x[[i, 2]] > 40.0)).collect();
        let a = fit_forest(&x, &y, 2, &FOREST, &limits(), 9);
        let b = fit_forest(&x, &y, 2, &FOREST, &limits(), 9);
        assert_eq!(a, b);
        let c = fit_forest(&x, &y, 2, &FOREST, &limits(), 10);
        assert_ne!(a, c);
    }
}
