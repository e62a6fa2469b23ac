//! The estimators: fitted by linfa, then stored as plain numbers (coefficients, tree nodes) that
//! ml-gates owns. Predictions come from these numbers, so a model reloaded from its artifact
//! predicts bit-identically, whatever linfa's internal serialization does between versions.

use linfa::prelude::*;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Built-in models, as named in `train.model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Logistic regression (linfa-logistic): binary, or multinomial for more than two classes.
    LogisticRegression,
    /// CART decision tree (linfa-trees).
    DecisionTree,
    /// Random forest of CART trees on bootstrap samples (linfa-ensemble).
    RandomForest,
    /// Ordinary least squares (linfa-linear).
    LinearRegression,
    /// L2-penalised linear regression (linfa-elasticnet).
    Ridge,
    /// L1-penalised linear regression (linfa-elasticnet).
    Lasso,
    /// L1 and L2-penalised linear regression (linfa-elasticnet).
    ElasticNet,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression => "logistic_regression",
            ModelKind::DecisionTree => "decision_tree",
            ModelKind::RandomForest => "random_forest",
            ModelKind::LinearRegression => "linear_regression",
            ModelKind::Ridge => "ridge",
            ModelKind::Lasso => "lasso",
            ModelKind::ElasticNet => "elastic_net",
        }
    }

    pub fn is_classifier(self) -> bool {
        matches!(self, ModelKind::LogisticRegression | ModelKind::DecisionTree | ModelKind::RandomForest)
    }

    /// The hyperparameters `train.params` may set for this model.
    pub fn params(self) -> &'static [Param] {
        use ParamType::*;
        const INTERCEPT: Param =
            Param { name: "fit_intercept", ty: Bool, default: "true", help: "fit an intercept term" };
        const TREE: [Param; 5] = [
            Param { name: "max_depth", ty: Int { min: 1 }, default: "unlimited", help: "maximum depth of a tree" },
            Param {
                name: "min_weight_split",
                ty: Float { min: 0.0, max: f64::INFINITY },
                default: "2",
                help: "minimum rows to split a node",
            },
            Param {
                name: "min_weight_leaf",
                ty: Float { min: 0.0, max: f64::INFINITY },
                default: "1",
                help: "minimum rows in a leaf",
            },
            Param {
                name: "min_impurity_decrease",
                ty: Float { min: 0.0, max: f64::INFINITY },
                default: "0.00001",
                help: "minimum impurity decrease of a split",
            },
            Param {
                name: "split_quality",
                ty: Choice(&["gini", "entropy"]),
                default: "gini",
                help: "impurity measure",
            },
        ];
        const PENALISED: [Param; 4] = [
            Param { name: "alpha", ty: Float { min: 0.0, max: f64::INFINITY }, default: "1", help: "penalty strength" },
            INTERCEPT,
            Param {
                name: "max_iterations",
                ty: Int { min: 1 },
                default: "1000",
                help: "coordinate descent iterations",
            },
            Param {
                name: "tolerance",
                ty: Float { min: 0.0, max: f64::INFINITY },
                default: "0.0001",
                help: "convergence tolerance",
            },
        ];
        match self {
            ModelKind::LogisticRegression => &[
                Param {
                    name: "alpha",
                    ty: Float { min: 0.0, max: f64::INFINITY },
                    default: "1",
                    help: "L2 penalty strength",
                },
                INTERCEPT,
                Param { name: "max_iterations", ty: Int { min: 1 }, default: "100", help: "optimiser iterations" },
                Param {
                    name: "gradient_tolerance",
                    ty: Float { min: 0.0, max: f64::INFINITY },
                    default: "0.0001",
                    help: "convergence tolerance on the gradient",
                },
            ],
            ModelKind::DecisionTree => &TREE,
            ModelKind::RandomForest => &[
                Param { name: "n_trees", ty: Int { min: 1 }, default: "100", help: "number of trees" },
                Param {
                    name: "bootstrap_proportion",
                    ty: Float { min: 0.0, max: 1.0 },
                    default: "1",
                    help: "share of rows in each tree's bootstrap sample",
                },
                Param {
                    name: "feature_proportion",
                    ty: Float { min: 0.0, max: 1.0 },
                    default: "1",
                    help: "share of features each tree sees",
                },
                TREE[0],
                TREE[1],
                TREE[2],
                TREE[3],
                TREE[4],
            ],
            ModelKind::LinearRegression => &[INTERCEPT],
            ModelKind::Ridge | ModelKind::Lasso => &PENALISED,
            ModelKind::ElasticNet => &[
                PENALISED[0],
                Param {
                    name: "l1_ratio",
                    ty: Float { min: 0.0, max: 1.0 },
                    default: "0.5",
                    help: "share of the L1 penalty",
                },
                PENALISED[1],
                PENALISED[2],
                PENALISED[3],
            ],
        }
    }
}

/// A hyperparameter's name, type and default.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub ty: ParamType,
    pub default: &'static str,
    pub help: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub enum ParamType {
    Int { min: i64 },
    Float { min: f64, max: f64 },
    Bool,
    Choice(&'static [&'static str]),
}

impl ParamType {
    /// Why `value` does not fit this type, if it does not.
    pub fn check(&self, value: &Value) -> Option<String> {
        match self {
            ParamType::Int { min } => match value.as_i64() {
                Some(v) if v >= *min => None,
                Some(v) => Some(format!("must be at least {min}, found {v}")),
                None => Some(format!("must be an integer, found {value}")),
            },
            ParamType::Float { min, max } => match value.as_f64() {
                Some(v) if v >= *min && v <= *max => None,
                Some(v) if max.is_finite() => Some(format!("must be between {min} and {max}, found {v}")),
                Some(v) => Some(format!("must be at least {min}, found {v}")),
                None => Some(format!("must be a number, found {value}")),
            },
            ParamType::Bool => value.as_bool().is_none().then(|| format!("must be true or false, found {value}")),
            ParamType::Choice(choices) => match value.as_str() {
                Some(s) if choices.contains(&s) => None,
                _ => Some(format!("must be one of {}, found {value}", choices.join(", "))),
            },
        }
    }
}

/// Checked hyperparameters with typed getters.
pub struct Params<'a>(pub &'a indexmap::IndexMap<String, Value>);

impl Params<'_> {
    fn f64(&self, name: &str, default: f64) -> f64 {
        self.0.get(name).and_then(Value::as_f64).unwrap_or(default)
    }
    fn u64(&self, name: &str, default: u64) -> u64 {
        self.0.get(name).and_then(Value::as_u64).unwrap_or(default)
    }
    fn usize_opt(&self, name: &str) -> Option<usize> {
        self.0.get(name).and_then(Value::as_u64).map(|v| v as usize)
    }
    fn bool(&self, name: &str, default: bool) -> bool {
        self.0.get(name).and_then(Value::as_bool).unwrap_or(default)
    }
    fn str(&self, name: &str, default: &'static str) -> String {
        self.0.get(name).and_then(Value::as_str).unwrap_or(default).to_string()
    }
}

/// What a model learns from.
pub enum Target<'a> {
    /// Class indices into the model's sorted classes.
    Classes {
        y: &'a [usize],
        n_classes: usize,
    },
    Values(&'a [f64]),
}

/// A fitted tree as a flat list of nodes; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum Node {
    /// Rows with `x[feature] < threshold` go left.
    Split { feature: usize, threshold: f64, left: usize, right: usize },
    /// The predicted class and the class shares of the training rows that reach this leaf.
    Leaf { class: usize, probabilities: Vec<f64> },
}

impl Tree {
    fn from_linfa(root: &linfa_trees::TreeNode<f64, usize>) -> Tree {
        fn walk(node: &linfa_trees::TreeNode<f64, usize>, nodes: &mut Vec<Node>) -> usize {
            let index = nodes.len();
            if node.is_leaf() {
                nodes.push(Node::Leaf { class: node.prediction().unwrap_or(0), probabilities: Vec::new() });
                return index;
            }
            let (feature, threshold, _) = node.split();
            nodes.push(Node::Split { feature, threshold, left: 0, right: 0 });
            let children = node.children();
            let left = children[0].as_ref().map(|c| walk(c, nodes)).unwrap_or(index);
            let right = children[1].as_ref().map(|c| walk(c, nodes)).unwrap_or(index);
            nodes[index] = Node::Split { feature, threshold, left, right };
            index
        }
        let mut nodes = Vec::new();
        walk(root, &mut nodes);
        Tree { nodes }
    }

    fn leaf(&self, row: ndarray::ArrayView1<f64>, features: Option<&[usize]>) -> usize {
        let mut i = 0;
        loop {
            match &self.nodes[i] {
                Node::Leaf { .. } => return i,
                Node::Split { feature, threshold, left, right } => {
                    let column = features.map_or(*feature, |f| f[*feature]);
                    i = if row[column] < *threshold { *left } else { *right };
                }
            }
        }
    }

    /// Set every leaf's class shares from the training rows that reach it.
    fn fit_leaves(&mut self, x: &Array2<f64>, y: &[usize], n_classes: usize, features: Option<&[usize]>) {
        let mut counts = vec![vec![0.0; n_classes]; self.nodes.len()];
        for (row, &class) in x.axis_iter(Axis(0)).zip(y) {
            counts[self.leaf(row, features)][class] += 1.0;
        }
        for (node, count) in self.nodes.iter_mut().zip(counts) {
            if let Node::Leaf { class, probabilities } = node {
                let total: f64 = count.iter().sum();
                *probabilities = if total > 0.0 {
                    count.iter().map(|c| c / total).collect()
                } else {
                    (0..n_classes).map(|k| if k == *class { 1.0 } else { 0.0 }).collect()
                };
            }
        }
    }

    fn probabilities(&self, row: ndarray::ArrayView1<f64>, features: Option<&[usize]>) -> &[f64] {
        match &self.nodes[self.leaf(row, features)] {
            Node::Leaf { probabilities, .. } => probabilities,
            Node::Split { .. } => unreachable!("leaf() returns a leaf"),
        }
    }
}

/// A fitted estimator, as numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "estimator", rename_all = "snake_case")]
pub enum Estimator {
    /// P(class 1) = σ(x·w + b) for two classes.
    BinaryLogistic {
        intercept: f64,
        coefficients: Vec<f64>,
    },
    /// P(class k) = softmax(x·W + b)ₖ.
    MultinomialLogistic {
        intercepts: Vec<f64>,
        coefficients: Vec<Vec<f64>>,
    },
    DecisionTree {
        tree: Tree,
        n_classes: usize,
    },
    /// Class shares averaged over trees; each tree sees the features listed for it.
    RandomForest {
        trees: Vec<Tree>,
        features: Vec<Vec<usize>>,
        n_classes: usize,
    },
    /// y = x·w + b.
    Linear {
        intercept: f64,
        coefficients: Vec<f64>,
    },
}

/// What an estimator predicts for a matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Class index per row and the probability of every class.
    Classes {
        classes: Vec<usize>,
        probabilities: Array2<f64>,
    },
    Values(Vec<f64>),
}

fn argmax(row: ndarray::ArrayView1<f64>) -> usize {
    // The first of equal maxima wins, as numpy.argmax.
    let mut best = 0;
    for (k, p) in row.iter().enumerate() {
        if *p > row[best] {
            best = k;
        }
    }
    best
}

fn dot(row: ndarray::ArrayView1<f64>, w: &[f64]) -> f64 {
    row.iter().zip(w).map(|(a, b)| a * b).sum()
}

impl Estimator {
    /// Fit `kind` on `x` with checked `params`; `seed` makes randomised models reproducible.
    pub fn fit(
        kind: ModelKind,
        params: &Params<'_>,
        x: &Array2<f64>,
        target: &Target<'_>,
        seed: u64,
    ) -> Result<Estimator, String> {
        match (kind, target) {
            (ModelKind::LogisticRegression, Target::Classes { y, n_classes }) => {
                let targets = Array1::from(y.to_vec());
                let dataset = Dataset::new(x.clone(), targets);
                if *n_classes == 2 {
                    let model = logistic_params!(linfa_logistic::LogisticRegression::default(), params)
                        .fit(&dataset)
                        .map_err(|e| format!("logistic regression did not fit: {e}"))?;
                    // linfa's positive class may be either label: express P(class 1) either way.
                    let (intercept, coefficients) = if model.labels().pos.class == 1 {
                        (model.intercept(), model.params().to_vec())
                    } else {
                        (-model.intercept(), model.params().iter().map(|w| -w).collect())
                    };
                    Ok(Estimator::BinaryLogistic { intercept, coefficients })
                } else {
                    let model = logistic_params!(linfa_logistic::MultiLogisticRegression::default(), params)
                        .fit(&dataset)
                        .map_err(|e| format!("logistic regression did not fit: {e}"))?;
                    let mut intercepts = vec![0.0; *n_classes];
                    let mut coefficients = vec![vec![0.0; x.ncols()]; *n_classes];
                    for (j, class) in model.classes().iter().enumerate() {
                        intercepts[*class] = model.intercept()[j];
                        coefficients[*class] = model.params().column(j).to_vec();
                    }
                    Ok(Estimator::MultinomialLogistic { intercepts, coefficients })
                }
            }
            (ModelKind::DecisionTree, Target::Classes { y, n_classes }) => {
                let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
                let model = tree_params(params).fit(&dataset).map_err(|e| format!("decision tree did not fit: {e}"))?;
                let mut tree = Tree::from_linfa(model.root_node());
                tree.fit_leaves(x, y, *n_classes, None);
                Ok(Estimator::DecisionTree { tree, n_classes: *n_classes })
            }
            (ModelKind::RandomForest, Target::Classes { y, n_classes }) => {
                let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
                let rng = rand::rngs::StdRng::seed_from_u64(seed);
                let forest = linfa_ensemble::EnsembleLearnerParams::new_fixed_rng(tree_params(params), rng)
                    .ensemble_size(params.u64("n_trees", 100) as usize)
                    .bootstrap_proportion(params.f64("bootstrap_proportion", 1.0))
                    .feature_proportion(params.f64("feature_proportion", 1.0))
                    .fit(&dataset)
                    .map_err(|e| format!("random forest did not fit: {e}"))?;
                let mut trees = Vec::new();
                for (model, features) in forest.models.iter().zip(&forest.model_features) {
                    let mut tree = Tree::from_linfa(model.root_node());
                    tree.fit_leaves(x, y, *n_classes, Some(features));
                    trees.push(tree);
                }
                Ok(Estimator::RandomForest { trees, features: forest.model_features.clone(), n_classes: *n_classes })
            }
            (ModelKind::LinearRegression, Target::Values(y)) => {
                let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
                let model = linfa_linear::LinearRegression::new()
                    .with_intercept(params.bool("fit_intercept", true))
                    .fit(&dataset)
                    .map_err(|e| format!("linear regression did not fit: {e}"))?;
                Ok(Estimator::Linear { intercept: model.intercept(), coefficients: model.params().to_vec() })
            }
            (ModelKind::Ridge | ModelKind::Lasso | ModelKind::ElasticNet, Target::Values(y)) => {
                let l1_ratio = match kind {
                    ModelKind::Ridge => 0.0,
                    ModelKind::Lasso => 1.0,
                    _ => params.f64("l1_ratio", 0.5),
                };
                let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
                let model = linfa_elasticnet::ElasticNet::params()
                    .penalty(params.f64("alpha", 1.0))
                    .l1_ratio(l1_ratio)
                    .with_intercept(params.bool("fit_intercept", true))
                    .max_iterations(params.u64("max_iterations", 1000) as u32)
                    .tolerance(params.f64("tolerance", 1e-4))
                    .fit(&dataset)
                    .map_err(|e| format!("{} did not fit: {e}", kind.as_str()))?;
                Ok(Estimator::Linear { intercept: model.intercept(), coefficients: model.hyperplane().to_vec() })
            }
            (kind, _) => Err(format!("{} does not fit this task", kind.as_str())),
        }
    }

    /// Predict every row of `x`.
    pub fn predict(&self, x: &Array2<f64>) -> Output {
        let n = x.nrows();
        match self {
            Estimator::BinaryLogistic { intercept, coefficients } => {
                let mut probabilities = Array2::zeros((n, 2));
                for (i, row) in x.axis_iter(Axis(0)).enumerate() {
                    let p = 1.0 / (1.0 + (-(dot(row, coefficients) + intercept)).exp());
                    probabilities[[i, 0]] = 1.0 - p;
                    probabilities[[i, 1]] = p;
                }
                classes_of(probabilities)
            }
            Estimator::MultinomialLogistic { intercepts, coefficients } => {
                let k = intercepts.len();
                let mut probabilities = Array2::zeros((n, k));
                for (i, row) in x.axis_iter(Axis(0)).enumerate() {
                    let z: Vec<f64> = (0..k).map(|c| dot(row, &coefficients[c]) + intercepts[c]).collect();
                    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for c in 0..k {
                        probabilities[[i, c]] = e[c] / sum;
                    }
                }
                classes_of(probabilities)
            }
            Estimator::DecisionTree { tree, n_classes } => {
                let mut probabilities = Array2::zeros((n, *n_classes));
                for (i, row) in x.axis_iter(Axis(0)).enumerate() {
                    for (c, p) in tree.probabilities(row, None).iter().enumerate() {
                        probabilities[[i, c]] = *p;
                    }
                }
                classes_of(probabilities)
            }
            Estimator::RandomForest { trees, features, n_classes } => {
                let mut probabilities = Array2::zeros((n, *n_classes));
                for (i, row) in x.axis_iter(Axis(0)).enumerate() {
                    for (tree, f) in trees.iter().zip(features) {
                        for (c, p) in tree.probabilities(row, Some(f)).iter().enumerate() {
                            probabilities[[i, c]] += p / trees.len() as f64;
                        }
                    }
                }
                classes_of(probabilities)
            }
            Estimator::Linear { intercept, coefficients } => {
                Output::Values(x.axis_iter(Axis(0)).map(|row| dot(row, coefficients) + intercept).collect())
            }
        }
    }
}

fn classes_of(probabilities: Array2<f64>) -> Output {
    let classes = probabilities.axis_iter(Axis(0)).map(argmax).collect();
    Output::Classes { classes, probabilities }
}

/// The hyperparameters binary and multinomial logistic regression share. A macro, because
/// linfa-logistic does not export the generic builder type both share.
macro_rules! logistic_params {
    ($base:expr, $params:expr) => {
        $base
            .alpha($params.f64("alpha", 1.0))
            .with_intercept($params.bool("fit_intercept", true))
            .max_iterations($params.u64("max_iterations", 100))
            .gradient_tolerance($params.f64("gradient_tolerance", 1e-4))
    };
}
use logistic_params;

fn tree_params(params: &Params<'_>) -> linfa_trees::DecisionTreeParams<f64, usize> {
    let quality = match params.str("split_quality", "gini").as_str() {
        "entropy" => linfa_trees::SplitQuality::Entropy,
        _ => linfa_trees::SplitQuality::Gini,
    };
    linfa_trees::DecisionTree::params()
        .max_depth(params.usize_opt("max_depth"))
        .min_weight_split(params.f64("min_weight_split", 2.0) as f32)
        .min_weight_leaf(params.f64("min_weight_leaf", 1.0) as f32)
        .min_impurity_decrease(params.f64("min_impurity_decrease", 1e-5))
        .split_quality(quality)
}
