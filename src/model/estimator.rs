//! The estimators: fitted by linfa, then stored as plain numbers (coefficients, tree nodes) that
//! ml-gates owns. Predictions come from these numbers, so a model reloaded from its artifact
//! predicts bit-identically, whatever linfa's internal serialization does between versions.

use linfa::prelude::*;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Built-in models, as named in `train.model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Logistic regression (linfa-logistic): binary, or multinomial for more than two classes.
    LogisticRegression,
    /// CART decision tree (ml-gates' own, deterministic: see `model::cart`).
    DecisionTree,
    /// Random forest of CART trees on seeded bootstrap samples and feature subsets.
    RandomForest,
    /// Ordinary least squares (linfa-linear).
    LinearRegression,
    /// L2-penalised linear regression (solved exactly from the normal equations).
    Ridge,
    /// L1-penalised linear regression (coordinate descent on the Gram matrix).
    Lasso,
    /// L1 and L2-penalised linear regression (coordinate descent on the Gram matrix).
    ElasticNet,
    /// Gaussian naive Bayes (linfa-bayes).
    GaussianNb,
    /// Linear support vector classifier (dual coordinate descent, as liblinear), one against the
    /// rest for 3+ classes, with Platt-scaled probabilities.
    LinearSvm,
    /// Linear epsilon-support vector regression (dual coordinate descent, as liblinear).
    Svr,
}

impl ModelKind {
    /// Every built-in model.
    pub const ALL: [ModelKind; 10] = [
        ModelKind::LogisticRegression,
        ModelKind::DecisionTree,
        ModelKind::RandomForest,
        ModelKind::LinearRegression,
        ModelKind::Ridge,
        ModelKind::Lasso,
        ModelKind::ElasticNet,
        ModelKind::GaussianNb,
        ModelKind::LinearSvm,
        ModelKind::Svr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression => "logistic_regression",
            ModelKind::DecisionTree => "decision_tree",
            ModelKind::RandomForest => "random_forest",
            ModelKind::LinearRegression => "linear_regression",
            ModelKind::Ridge => "ridge",
            ModelKind::Lasso => "lasso",
            ModelKind::ElasticNet => "elastic_net",
            ModelKind::GaussianNb => "gaussian_nb",
            ModelKind::LinearSvm => "linear_svm",
            ModelKind::Svr => "svr",
        }
    }

    pub fn is_classifier(self) -> bool {
        matches!(
            self,
            ModelKind::LogisticRegression
                | ModelKind::DecisionTree
                | ModelKind::RandomForest
                | ModelKind::GaussianNb
                | ModelKind::LinearSvm
        )
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
                default: "0",
                help: "minimum decrease of the weighted impurity (a share of all rows) of a split",
            },
            Param {
                name: "split_quality",
                ty: Choice(&["gini", "entropy"]),
                default: "gini",
                help: "impurity measure",
            },
        ];
        const SVM_TOLERANCE: [Param; 2] = [
            Param {
                name: "tolerance",
                ty: Float { min: 0.0, max: f64::INFINITY },
                default: "0.1",
                help: "stopping tolerance of the dual coordinate descent (liblinear's default)",
            },
            Param { name: "max_passes", ty: Int { min: 1 }, default: "1000", help: "passes over the rows at most" },
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
            ModelKind::GaussianNb => &[Param {
                name: "var_smoothing",
                ty: Float { min: 0.0, max: f64::INFINITY },
                default: "0.000000001",
                help: "share of the largest feature variance added to every variance",
            }],
            ModelKind::LinearSvm => &[
                Param {
                    name: "c",
                    ty: Float { min: 0.0, max: f64::INFINITY },
                    default: "1",
                    help: "inverse penalty strength",
                },
                Param {
                    name: "loss",
                    ty: Choice(&["squared_hinge", "hinge"]),
                    default: "squared_hinge",
                    help: "the loss: squared hinge (scikit-learn's LinearSVC default) or hinge",
                },
                SVM_TOLERANCE[0],
                SVM_TOLERANCE[1],
            ],
            ModelKind::Svr => &[
                Param {
                    name: "c",
                    ty: Float { min: 0.0, max: f64::INFINITY },
                    default: "1",
                    help: "inverse penalty strength",
                },
                Param {
                    name: "epsilon",
                    ty: Float { min: 0.0, max: f64::INFINITY },
                    default: "0.1",
                    help: "half-width of the tube in which errors cost nothing",
                },
                SVM_TOLERANCE[0],
                SVM_TOLERANCE[1],
            ],
            // Ridge is solved exactly (normal equations): no iterations, no tolerance.
            ModelKind::Ridge => &[PENALISED[0], PENALISED[1]],
            ModelKind::Lasso => &PENALISED,
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

/// Checked hyperparameters with typed getters; a parameter not given takes its default from the
/// model's one table (`ModelKind::params`).
pub struct Params<'a> {
    values: &'a indexmap::IndexMap<String, Value>,
    specs: &'static [Param],
}

impl<'a> Params<'a> {
    /// The parameters `values` of a `kind` model; what they leave out takes the table's default.
    pub fn new(kind: ModelKind, values: &'a indexmap::IndexMap<String, Value>) -> Self {
        Params { values, specs: kind.params() }
    }

    /// The table's default of `name`, as text. Reading a parameter the model does not declare is a
    /// bug, caught by the tests that fit every model.
    fn default(&self, name: &str) -> &'static str {
        match self.specs.iter().find(|p| p.name == name) {
            Some(p) => p.default,
            None => panic!("'{name}' is not a parameter of this model"),
        }
    }
    fn f64(&self, name: &str) -> f64 {
        let default = || self.default(name).parse().expect("a numeric default");
        self.values.get(name).and_then(Value::as_f64).unwrap_or_else(default)
    }
    fn u64(&self, name: &str) -> u64 {
        let default = || self.default(name).parse().expect("an integer default");
        self.values.get(name).and_then(Value::as_u64).unwrap_or_else(default)
    }
    /// An optional integer: its table default is `unlimited`.
    fn usize_opt(&self, name: &str) -> Option<usize> {
        let default = || self.default(name).parse().ok();
        self.values.get(name).and_then(Value::as_u64).map(|v| v as usize).or_else(default)
    }
    fn bool(&self, name: &str) -> bool {
        let default = || self.default(name).parse().expect("a boolean default");
        self.values.get(name).and_then(Value::as_bool).unwrap_or_else(default)
    }
    fn str(&self, name: &str) -> String {
        self.values.get(name).and_then(Value::as_str).unwrap_or_else(|| self.default(name)).to_string()
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
    /// Per class: prior, feature means and (smoothed) variances; P(class | x) ∝ prior · Π N(xⱼ; μ, σ²).
    GaussianNb {
        priors: Vec<f64>,
        means: Vec<Vec<f64>>,
        variances: Vec<Vec<f64>>,
    },
    /// One separating hyperplane per scored class (class 1 alone for two classes): f(x) = x·w + b,
    /// and Platt's sigmoid P = 1 / (1 + exp(A·f + B)) fitted on the training rows.
    LinearSvm {
        weights: Vec<Vec<f64>>,
        biases: Vec<f64>,
        platt: Vec<(f64, f64)>,
        n_classes: usize,
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

/// Logistic regression: our Newton solvers up to NEWTON_MAX_FEATURES weights, linfa's beyond.
fn fit_logistic(params: &Params<'_>, x: &Array2<f64>, y: &[usize], n_classes: usize) -> Result<Estimator, String> {
    let targets = Array1::from(y.to_vec());
    let dataset = Dataset::new(x.clone(), targets);
    if n_classes == 2 && x.ncols() <= NEWTON_MAX_FEATURES {
        let (intercept, coefficients) = logistic_newton(
            x,
            y,
            params.f64("alpha"),
            params.bool("fit_intercept"),
            params.u64("max_iterations"),
            params.f64("gradient_tolerance"),
        )?;
        Ok(Estimator::BinaryLogistic { intercept, coefficients })
    } else if n_classes == 2 {
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
    } else if x.ncols() * n_classes <= NEWTON_MAX_FEATURES {
        let (intercepts, coefficients) = multinomial_newton(
            x,
            y,
            n_classes,
            params.f64("alpha"),
            params.bool("fit_intercept"),
            params.u64("max_iterations"),
            params.f64("gradient_tolerance"),
        )?;
        Ok(Estimator::MultinomialLogistic { intercepts, coefficients })
    } else {
        let model = logistic_params!(linfa_logistic::MultiLogisticRegression::default(), params)
            .fit(&dataset)
            .map_err(|e| format!("logistic regression did not fit: {e}"))?;
        let mut intercepts = vec![0.0; n_classes];
        let mut coefficients = vec![vec![0.0; x.ncols()]; n_classes];
        for (j, class) in model.classes().iter().enumerate() {
            intercepts[*class] = model.intercept()[j];
            coefficients[*class] = model.params().column(j).to_vec();
        }
        Ok(Estimator::MultinomialLogistic { intercepts, coefficients })
    }
}

/// Gaussian naive Bayes by linfa, its fitted statistics copied into ml-gates' own types.
fn fit_gaussian_nb(params: &Params<'_>, x: &Array2<f64>, y: &[usize], n_classes: usize) -> Result<Estimator, String> {
    let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
    let model = linfa_bayes::GaussianNb::params()
        .var_smoothing(params.f64("var_smoothing"))
        .fit(&dataset)
        .map_err(|e| format!("gaussian naive Bayes did not fit: {e}"))?;
    // linfa keeps the fitted statistics private but serializes them: read them from there.
    let value = serde_json::to_value(&model).map_err(|e| e.to_string())?;
    let mut priors = vec![0.0; n_classes];
    let mut means = vec![vec![0.0; x.ncols()]; n_classes];
    let mut variances = vec![vec![1.0; x.ncols()]; n_classes];
    let numbers = |v: &Value| -> Vec<f64> {
        v["data"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
    };
    for (class, info) in value["class_info"].as_object().into_iter().flatten() {
        let k: usize = class.parse().map_err(|_| format!("unexpected class key {class}"))?;
        priors[k] = info["prior"].as_f64().unwrap_or(0.0);
        means[k] = numbers(&info["theta"]);
        variances[k] = numbers(&info["sigma"]);
    }
    Ok(Estimator::GaussianNb { priors, means, variances })
}

impl Tree {
    /// Whether every node refers to features below `width`, children inside the tree, and leaves
    /// with `n_classes` shares (0: a regression tree, not checked).
    fn fits(&self, width: usize, n_classes: usize) -> Result<(), String> {
        for (i, node) in self.nodes.iter().enumerate() {
            match node {
                Node::Split { feature, threshold, left, right } => {
                    if *feature >= width
                        || *left >= self.nodes.len()
                        || *right >= self.nodes.len()
                        || !threshold.is_finite()
                    {
                        return Err(format!(
                            "tree node {i} splits on feature {feature} of {width}, or points outside the tree"
                        ));
                    }
                }
                Node::Leaf { class, probabilities } => {
                    if n_classes > 0 && (*class >= n_classes || probabilities.len() != n_classes) {
                        return Err(format!(
                            "tree leaf {i} has {} class shares for {n_classes} classes",
                            probabilities.len()
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Estimator {
    /// Whether the fitted parts agree with `width` pipeline outputs and `n_classes` classes (0 for
    /// a regression) and hold only finite numbers: a model file that contradicts itself is refused
    /// when it is loaded, not discovered as a wrong prediction.
    pub fn check_shape(&self, width: usize, n_classes: usize) -> Result<(), String> {
        let finite = |xs: &[f64], what: &str| {
            if xs.iter().all(|x| x.is_finite()) {
                Ok(())
            } else {
                Err(format!("{what} holds a non-finite number"))
            }
        };
        let vector = |v: &[f64], what: &str| {
            if v.len() == width {
                finite(v, what)
            } else {
                Err(format!("{} {what} for {width} features", v.len()))
            }
        };
        let per_class = |rows: &[Vec<f64>], n: usize, what: &str| -> Result<(), String> {
            if rows.len() != n {
                return Err(format!("{} rows of {what} for {n} classes", rows.len()));
            }
            rows.iter().try_for_each(|r| vector(r, what))
        };
        match self {
            Estimator::BinaryLogistic { intercept, coefficients } => {
                finite(&[*intercept], "the intercept")?;
                vector(coefficients, "coefficients")
            }
            Estimator::Linear { intercept, coefficients } => {
                finite(&[*intercept], "the intercept")?;
                vector(coefficients, "coefficients")
            }
            Estimator::MultinomialLogistic { intercepts, coefficients } => {
                if intercepts.len() != n_classes {
                    return Err(format!("{} intercepts for {n_classes} classes", intercepts.len()));
                }
                finite(intercepts, "the intercepts")?;
                per_class(coefficients, n_classes, "coefficients")
            }
            Estimator::GaussianNb { priors, means, variances } => {
                if priors.len() != n_classes {
                    return Err(format!("{} priors for {n_classes} classes", priors.len()));
                }
                finite(priors, "the priors")?;
                per_class(means, n_classes, "means")?;
                per_class(variances, n_classes, "variances")
            }
            Estimator::LinearSvm { weights, biases, platt, n_classes: n } => {
                let scored = if *n == 2 { 1 } else { *n };
                if *n != n_classes || biases.len() != scored || platt.len() != scored {
                    return Err(format!("{} hyperplanes for {n_classes} classes", biases.len()));
                }
                finite(biases, "the biases")?;
                per_class(weights, scored, "weights")
            }
            Estimator::DecisionTree { tree, n_classes: n } => {
                if *n != n_classes {
                    return Err(format!("a tree of {n} classes for {n_classes} classes"));
                }
                tree.fits(width, n_classes)
            }
            Estimator::RandomForest { trees, features, n_classes: n } => {
                if *n != n_classes || features.len() != trees.len() {
                    return Err(format!(
                        "{} trees, {} feature lists, {n} classes for {n_classes}",
                        trees.len(),
                        features.len()
                    ));
                }
                for (tree, seen) in trees.iter().zip(features) {
                    if let Some(f) = seen.iter().find(|f| **f >= width) {
                        return Err(format!("a tree sees feature {f} of {width}"));
                    }
                    tree.fits(width, n_classes)?;
                }
                Ok(())
            }
        }
    }

    /// Fit `kind` on `x` with checked `params`; `seed` makes randomised models reproducible.
    pub fn fit(
        kind: ModelKind,
        params: &Params<'_>,
        x: &Array2<f64>,
        target: &Target<'_>,
        seed: u64,
    ) -> Result<Estimator, String> {
        match (kind, target) {
            (ModelKind::LogisticRegression, Target::Classes { y, n_classes }) => fit_logistic(params, x, y, *n_classes),
            (ModelKind::DecisionTree, Target::Classes { y, n_classes }) => {
                let features: Vec<usize> = (0..x.ncols()).collect();
                let tree =
                    super::cart::fit_tree(x, y, *n_classes, super::cart::rows_of(x), &features, &tree_limits(params));
                Ok(Estimator::DecisionTree { tree, n_classes: *n_classes })
            }
            (ModelKind::RandomForest, Target::Classes { y, n_classes }) => {
                let (trees, features) = super::cart::fit_forest(
                    x,
                    y,
                    *n_classes,
                    &super::cart::Forest {
                        n_trees: params.u64("n_trees") as usize,
                        bootstrap_proportion: params.f64("bootstrap_proportion"),
                        feature_proportion: params.f64("feature_proportion"),
                    },
                    &tree_limits(params),
                    seed,
                );
                Ok(Estimator::RandomForest { trees, features, n_classes: *n_classes })
            }
            (ModelKind::LinearRegression, Target::Values(y)) => {
                let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
                let model = linfa_linear::LinearRegression::new()
                    .with_intercept(params.bool("fit_intercept"))
                    .fit(&dataset)
                    .map_err(|e| format!("linear regression did not fit: {e}"))?;
                Ok(Estimator::Linear { intercept: model.intercept(), coefficients: model.params().to_vec() })
            }
            (ModelKind::Ridge, Target::Values(y)) => {
                let (intercept, coefficients) = ridge(x, y, params.f64("alpha"), params.bool("fit_intercept"))?;
                Ok(Estimator::Linear { intercept, coefficients })
            }
            (ModelKind::Lasso | ModelKind::ElasticNet, Target::Values(y)) => {
                let l1_ratio = match kind {
                    ModelKind::Lasso => 1.0,
                    _ => params.f64("l1_ratio"),
                };
                let (intercept, coefficients) = elastic_net(
                    x,
                    y,
                    params.f64("alpha"),
                    l1_ratio,
                    params.bool("fit_intercept"),
                    params.u64("max_iterations"),
                    params.f64("tolerance"),
                );
                Ok(Estimator::Linear { intercept, coefficients })
            }
            (ModelKind::GaussianNb, Target::Classes { y, n_classes }) => fit_gaussian_nb(params, x, y, *n_classes),
            (ModelKind::LinearSvm, Target::Classes { y, n_classes }) => {
                let solver = svm_solver(params, seed, params.str("loss") == "squared_hinge");
                // Two classes: one hyperplane for class 1; more: one per class against the rest.
                let scored: Vec<usize> = if *n_classes == 2 { vec![1] } else { (0..*n_classes).collect() };
                let (mut weights, mut biases, mut platt) = (Vec::new(), Vec::new(), Vec::new());
                for class in scored {
                    let labels: Vec<bool> = y.iter().map(|k| *k == class).collect();
                    let (w, b) = super::linear_svm::fit_classifier(x, &labels, &solver);
                    let decisions: Vec<f64> = x.axis_iter(Axis(0)).map(|row| dot(row, &w) + b).collect();
                    platt.push(platt_scaling(&decisions, &labels));
                    weights.push(w);
                    biases.push(b);
                }
                Ok(Estimator::LinearSvm { weights, biases, platt, n_classes: *n_classes })
            }
            (ModelKind::Svr, Target::Values(y)) => {
                let (coefficients, intercept) =
                    super::linear_svm::fit_regressor(x, y, params.f64("epsilon"), &svm_solver(params, seed, false));
                Ok(Estimator::Linear { intercept, coefficients })
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
            Estimator::GaussianNb { priors, means, variances } => {
                let k = priors.len();
                let mut probabilities = Array2::zeros((n, k));
                for (i, row) in x.axis_iter(Axis(0)).enumerate() {
                    let joint: Vec<f64> = (0..k)
                        .map(|c| {
                            let mut l = priors[c].ln();
                            for ((v, m), s) in row.iter().zip(&means[c]).zip(&variances[c]) {
                                l -= 0.5 * ((2.0 * std::f64::consts::PI * s).ln() + (v - m).powi(2) / s);
                            }
                            l
                        })
                        .collect();
                    let max = joint.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = joint.iter().map(|l| (l - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for c in 0..k {
                        probabilities[[i, c]] = e[c] / sum;
                    }
                }
                classes_of(probabilities)
            }
            Estimator::LinearSvm { weights, biases, platt, n_classes } => {
                let mut probabilities = Array2::zeros((n, *n_classes));
                for (i, row) in x.axis_iter(Axis(0)).enumerate() {
                    let p: Vec<f64> = weights
                        .iter()
                        .zip(biases)
                        .zip(platt)
                        .map(|((w, b), (a, c))| 1.0 / (1.0 + (a * (dot(row, w) + b) + c).exp()))
                        .collect();
                    if *n_classes == 2 {
                        probabilities[[i, 0]] = 1.0 - p[0];
                        probabilities[[i, 1]] = p[0];
                    } else {
                        let sum: f64 = p.iter().sum::<f64>().max(f64::MIN_POSITIVE);
                        for c in 0..*n_classes {
                            probabilities[[i, c]] = p[c] / sum;
                        }
                    }
                }
                classes_of(probabilities)
            }
        }
    }
}

/// The linear SVM solver's settings from `train.params`.
fn svm_solver(params: &Params<'_>, seed: u64, squared_hinge: bool) -> super::linear_svm::Solver {
    super::linear_svm::Solver {
        c: params.f64("c"),
        tolerance: params.f64("tolerance"),
        max_passes: params.u64("max_passes") as usize,
        seed,
        squared_hinge,
    }
}

/// Platt's sigmoid P(y=1 | f) = 1 / (1 + exp(A·f + B)) fitted to decision values by Newton's
/// method with backtracking, on Platt's smoothed targets (Lin, Lin & Weng, 2007).
pub fn platt_scaling(decisions: &[f64], labels: &[bool]) -> (f64, f64) {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let (hi, lo) = ((positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0));
    let t: Vec<f64> = labels.iter().map(|l| if *l { hi } else { lo }).collect();
    let (mut a, mut b) = (0.0, ((negatives + 1.0) / (positives + 1.0)).ln());
    let objective = |a: f64, b: f64| -> f64 {
        decisions
            .iter()
            .zip(&t)
            .map(|(f, t)| {
                let z = f * a + b;
                if z >= 0.0 {
                    t * z + (1.0 + (-z).exp()).ln()
                } else {
                    (t - 1.0) * z + (1.0 + z.exp()).ln()
                }
            })
            .sum()
    };
    let mut value = objective(a, b);
    for _ in 0..100 {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (1e-12, 1e-12, 0.0, 0.0, 0.0);
        for (f, t) in decisions.iter().zip(&t) {
            let z = f * a + b;
            let (p, q) = if z >= 0.0 {
                let e = (-z).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = z.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += f * f * d2;
            h22 += d2;
            h21 += f * d2;
            let d1 = t - p;
            g1 += f * d1;
            g2 += d1;
        }
        if g1.abs() < 1e-5 && g2.abs() < 1e-5 {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let (da, db) = (-(h22 * g1 - h21 * g2) / det, -(-h21 * g1 + h11 * g2) / det);
        let gd = g1 * da + g2 * db;
        let mut step = 1.0;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let nv = objective(na, nb);
            if nv < value + 1e-4 * step * gd {
                (a, b, value) = (na, nb, nv);
                break;
            }
            step /= 2.0;
        }
        if step < 1e-10 {
            break;
        }
    }
    (a, b)
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
            .alpha($params.f64("alpha"))
            .with_intercept($params.bool("fit_intercept"))
            .max_iterations($params.u64("max_iterations"))
            .gradient_tolerance($params.f64("gradient_tolerance"))
    };
}
use logistic_params;

fn tree_limits(params: &Params<'_>) -> super::cart::Limits {
    super::cart::Limits {
        max_depth: params.usize_opt("max_depth"),
        min_weight_split: params.f64("min_weight_split"),
        min_weight_leaf: params.f64("min_weight_leaf"),
        min_impurity_decrease: params.f64("min_impurity_decrease"),
        entropy: params.str("split_quality") == "entropy",
    }
}

/// Up to this many weights (features, or features × classes for 3+ classes) a logistic regression
/// is fitted by Newton's method (the Hessian costs rows × weights² per step); beyond, by linfa's
/// L-BFGS.
const NEWTON_MAX_FEATURES: usize = 64;

/// What one damped Newton step did.
pub(crate) enum NewtonStep {
    /// Moved to a point with a lower objective.
    Moved,
    /// At the optimum: the decrease Newton predicts is below rounding, or no step lowers it.
    Converged,
    /// The Hessian is not positive definite.
    Singular,
}

/// One damped Newton step on `theta`: mirror the Hessian's lower triangle (row-major, m×m), solve
/// H·s = g by Cholesky, and halve the step from the full one until Armijo's condition holds.
pub(crate) fn newton_step(
    theta: &mut Vec<f64>,
    value: &mut f64,
    gradient: &[f64],
    hessian: &mut [f64],
    objective: impl Fn(&[f64]) -> f64,
) -> NewtonStep {
    let m = theta.len();
    for a in 0..m {
        for b in 0..a {
            hessian[b * m + a] = hessian[a * m + b];
        }
    }
    let Some(step) = cholesky_solve(hessian, gradient, m) else { return NewtonStep::Singular };
    let slope: f64 = -gradient.iter().zip(&step).map(|(g, s)| g * s).sum::<f64>();
    if -slope <= 1e-12 * value.abs().max(1.0) {
        return NewtonStep::Converged;
    }
    let mut t = 1.0;
    for _ in 0..40 {
        let candidate: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
        let v = objective(&candidate);
        if v <= *value + 1e-4 * t * slope {
            if candidate == *theta {
                return NewtonStep::Converged;
            }
            *theta = candidate;
            *value = v;
            return NewtonStep::Moved;
        }
        t *= 0.5;
    }
    NewtonStep::Converged
}

/// Binary logistic regression by Newton's method with a backtracking line search, minimising
/// scikit-learn's objective `Σ log(1 + exp(−s·z)) + α/2·‖w‖²` (s = ±1, z = x·w + b, the intercept
/// unpenalised). Stops when the largest gradient component is at most `tolerance`, or when a step
/// no longer changes anything; a few steps where L-BFGS takes dozens of passes over the data.
fn logistic_newton(
    x: &Array2<f64>,
    y: &[usize],
    alpha: f64,
    fit_intercept: bool,
    max_iterations: u64,
    tolerance: f64,
) -> Result<(f64, Vec<f64>), String> {
    let (n, p) = x.dim();
    let q = p + fit_intercept as usize;
    let mut theta = vec![0.0; q];
    // The objective at `t`, in a numerically stable form.
    let objective = |t: &[f64]| -> f64 {
        let mut loss = 0.0;
        for (i, row) in x.rows().into_iter().enumerate() {
            let mut z = if fit_intercept { t[p] } else { 0.0 };
            for j in 0..p {
                z += row[j] * t[j];
            }
            let m = if y[i] == 1 { -z } else { z };
            loss += if m > 0.0 { m + (-m).exp().ln_1p() } else { m.exp().ln_1p() };
        }
        loss + 0.5 * alpha * t[..p].iter().map(|w| w * w).sum::<f64>()
    };
    let mut value = objective(&theta);
    let mut features = vec![0.0; q];
    for _ in 0..max_iterations.max(1) {
        // Gradient and Hessian (lower triangle) in one pass.
        let mut gradient = vec![0.0; q];
        let mut hessian = vec![0.0; q * q];
        for (i, row) in x.rows().into_iter().enumerate() {
            for j in 0..p {
                features[j] = row[j];
            }
            if fit_intercept {
                features[p] = 1.0;
            }
            let z: f64 = features.iter().zip(&theta).map(|(a, b)| a * b).sum();
            let prob = 1.0 / (1.0 + (-z).exp());
            let residual = prob - (y[i] == 1) as u8 as f64;
            let weight = prob * (1.0 - prob);
            for j in 0..q {
                let v = features[j];
                gradient[j] += residual * v;
                let wv = weight * v;
                for (k, h) in hessian[j * q..j * q + j + 1].iter_mut().enumerate() {
                    *h += wv * features[k];
                }
            }
        }
        for j in 0..p {
            gradient[j] += alpha * theta[j];
            hessian[j * q + j] += alpha;
        }
        if gradient.iter().all(|g| g.abs() <= tolerance) {
            break;
        }
        if fit_intercept {
            // Keeps the intercept's pivot positive when every probability saturates.
            hessian[p * q + p] += 1e-12 * n as f64;
        }
        match newton_step(&mut theta, &mut value, &gradient, &mut hessian, objective) {
            NewtonStep::Moved => {}
            NewtonStep::Converged => break,
            NewtonStep::Singular => {
                return Err("logistic regression: the Hessian is singular (alpha 0 with collinear features?)".into())
            }
        }
    }
    let intercept = if fit_intercept { theta[p] } else { 0.0 };
    theta.truncate(p);
    Ok((intercept, theta))
}

/// Multinomial logistic regression by Newton's method, minimising scikit-learn's objective
/// `Σ −log softmax(zᵢ)[yᵢ] + α/2·Σₖ‖wₖ‖²` (zᵢₖ = x·wₖ + bₖ, intercepts unpenalised). The
/// intercepts are free up to a common constant; a vanishing ridge on them picks the solution whose
/// intercepts sum to 0, as scikit-learn's L-BFGS (started at 0) does.
fn multinomial_newton(
    x: &Array2<f64>,
    y: &[usize],
    k: usize,
    alpha: f64,
    fit_intercept: bool,
    max_iterations: u64,
    tolerance: f64,
) -> Result<(Vec<f64>, Vec<Vec<f64>>), String> {
    let (n, p) = x.dim();
    let q = p + fit_intercept as usize;
    let m = k * q;
    let mut theta = vec![0.0; m];
    let logits = |t: &[f64], row: ndarray::ArrayView1<f64>, z: &mut [f64]| {
        for (c, zc) in z.iter_mut().enumerate() {
            let block = &t[c * q..c * q + q];
            let mut v = if fit_intercept { block[p] } else { 0.0 };
            for j in 0..p {
                v += row[j] * block[j];
            }
            *zc = v;
        }
    };
    let penalty =
        |t: &[f64]| -> f64 { (0..k).map(|c| t[c * q..c * q + p].iter().map(|w| w * w).sum::<f64>()).sum::<f64>() };
    let objective = |t: &[f64]| -> f64 {
        let mut z = vec![0.0; k];
        let mut loss = 0.0;
        for (i, row) in x.rows().into_iter().enumerate() {
            logits(t, row, &mut z);
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
            loss += max + sum.ln() - z[y[i]];
        }
        loss + 0.5 * alpha * penalty(t)
    };
    let mut value = objective(&theta);
    let (mut z, mut prob, mut features) = (vec![0.0; k], vec![0.0; k], vec![0.0; q]);
    for _ in 0..max_iterations.max(1) {
        let mut gradient = vec![0.0; m];
        let mut hessian = vec![0.0; m * m];
        for (i, row) in x.rows().into_iter().enumerate() {
            for j in 0..p {
                features[j] = row[j];
            }
            if fit_intercept {
                features[p] = 1.0;
            }
            logits(&theta, row, &mut z);
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
            for c in 0..k {
                prob[c] = (z[c] - max).exp() / sum;
            }
            for c in 0..k {
                let residual = prob[c] - (y[i] == c) as u8 as f64;
                for j in 0..q {
                    gradient[c * q + j] += residual * features[j];
                }
                // Lower triangle: block (c, d) for d ≤ c, weight p_c(δ_cd − p_d).
                for d in 0..=c {
                    let weight = prob[c] * (if c == d { 1.0 } else { 0.0 } - prob[d]);
                    if weight == 0.0 {
                        continue;
                    }
                    for j in 0..q {
                        let wv = weight * features[j];
                        let r = (c * q + j) * m + d * q;
                        let last = if c == d { j + 1 } else { q };
                        for (l, h) in hessian[r..r + last].iter_mut().enumerate() {
                            *h += wv * features[l];
                        }
                    }
                }
            }
        }
        for c in 0..k {
            for j in 0..p {
                gradient[c * q + j] += alpha * theta[c * q + j];
                hessian[(c * q + j) * m + c * q + j] += alpha;
            }
        }
        if gradient.iter().all(|g| g.abs() <= tolerance) {
            break;
        }
        if fit_intercept {
            for c in 0..k {
                hessian[(c * q + p) * m + c * q + p] += 1e-9 * n as f64;
            }
        }
        match newton_step(&mut theta, &mut value, &gradient, &mut hessian, objective) {
            NewtonStep::Moved => {}
            NewtonStep::Converged => break,
            NewtonStep::Singular => {
                return Err("logistic regression: the Hessian is singular (alpha 0 with collinear features?)".into())
            }
        }
    }
    let intercepts = (0..k).map(|c| if fit_intercept { theta[c * q + p] } else { 0.0 }).collect();
    let coefficients = (0..k).map(|c| theta[c * q..c * q + p].to_vec()).collect();
    Ok((intercepts, coefficients))
}

/// The elastic net (and the lasso, `l1_ratio` 1) by cyclic coordinate descent on the Gram
/// matrix, minimising scikit-learn's `1/(2n)·‖y − Xw − b‖² + α·ρ·‖w‖₁ + α(1−ρ)/2·‖w‖²`. One pass
/// over the rows builds XᵀX/n and Xᵀy/n of the centred data; each sweep then costs features², not
/// rows × features, so sweeps are nearly free. Stops when a sweep's largest coefficient change is
/// at most `tolerance` × the largest coefficient (scikit-learn's first test), or after
/// `max_iterations` sweeps.
fn elastic_net(
    x: &Array2<f64>,
    y: &[f64],
    alpha: f64,
    l1_ratio: f64,
    fit_intercept: bool,
    max_iterations: u64,
    tolerance: f64,
) -> (f64, Vec<f64>) {
    let (n, p) = x.dim();
    let (gram, xty, x_mean, y_mean) = gram_of(x, y, fit_intercept);
    let (l1, l2) = (alpha * l1_ratio, alpha * (1.0 - l1_ratio));
    let mut w = vec![0.0; p];
    // q = Gram·w, kept up to date so one coordinate costs `p`.
    let mut q = vec![0.0; p];
    for _ in 0..max_iterations.max(1) {
        let (mut max_change, mut max_w) = (0.0f64, 0.0f64);
        for j in 0..p {
            let diagonal = gram[j * p + j];
            if diagonal == 0.0 || n == 0 {
                continue;
            }
            let rho = xty[j] - q[j] + diagonal * w[j];
            let shrunk = rho.signum() * (rho.abs() - l1).max(0.0);
            let new = shrunk / (diagonal + l2);
            let change = new - w[j];
            if change != 0.0 {
                for k in 0..p {
                    q[k] += gram[k * p + j] * change;
                }
                w[j] = new;
            }
            max_change = max_change.max(change.abs());
            max_w = max_w.max(new.abs());
        }
        if max_w == 0.0 || max_change <= tolerance * max_w {
            break;
        }
    }
    let intercept = if fit_intercept { y_mean - x_mean.iter().zip(&w).map(|(m, w)| m * w).sum::<f64>() } else { 0.0 };
    (intercept, w)
}

/// XᵀX/n (full, row-major) and Xᵀy/n of the data centred when `fit_intercept`, with the means.
fn gram_of(x: &Array2<f64>, y: &[f64], fit_intercept: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>, f64) {
    let (n, p) = x.dim();
    let (x_mean, y_mean) = if fit_intercept && n > 0 {
        ((0..p).map(|j| x.column(j).sum() / n as f64).collect(), y.iter().sum::<f64>() / n as f64)
    } else {
        (vec![0.0; p], 0.0)
    };
    let mut gram = vec![0.0; p * p];
    let mut xty = vec![0.0; p];
    let mut row = vec![0.0; p];
    for (i, r) in x.rows().into_iter().enumerate() {
        for j in 0..p {
            row[j] = r[j] - x_mean[j];
        }
        let yi = y[i] - y_mean;
        for j in 0..p {
            let v = row[j];
            xty[j] += v * yi;
            for (k, g) in gram[j * p..j * p + j + 1].iter_mut().enumerate() {
                *g += v * row[k];
            }
        }
    }
    let scale = 1.0 / (n.max(1) as f64);
    for j in 0..p {
        for k in 0..=j {
            let v = gram[j * p + k] * scale;
            gram[j * p + k] = v;
            gram[k * p + j] = v;
        }
        xty[j] *= scale;
    }
    (gram, xty, x_mean, y_mean)
}

/// Ridge regression with the elastic net's scaling, minimising
/// `1/(2n)·‖y − Xw − b‖² + α/2·‖w‖²` exactly: the intercept is the mean once the columns are
/// centred, and `(XcᵀXc/n + αI)·w = Xcᵀyc/n` is solved by Cholesky. The coordinate descent it
/// replaces converged slowly without an L1 part (50-100x scikit-learn's time).
fn ridge(x: &Array2<f64>, y: &[f64], alpha: f64, fit_intercept: bool) -> Result<(f64, Vec<f64>), String> {
    let (n, p) = (x.nrows(), x.ncols());
    if n == 0 {
        return Err("ridge has no rows to fit".into());
    }
    let (mut gram, xty, x_mean, y_mean) = gram_of(x, y, fit_intercept);
    for j in 0..p {
        gram[j * p + j] += alpha;
    }
    let w = cholesky_solve(&mut gram, &xty, p).ok_or_else(|| {
        "ridge: the penalised normal equations are singular (alpha 0 with constant or collinear features?)".to_string()
    })?;
    let intercept = if fit_intercept { y_mean - x_mean.iter().zip(&w).map(|(m, w)| m * w).sum::<f64>() } else { 0.0 };
    Ok((intercept, w))
}

/// Solve `a·x = b` for a symmetric positive definite `a` (row-major, p×p, overwritten by its
/// Cholesky factor). None when `a` is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], p: usize) -> Option<Vec<f64>> {
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= a[j * p + k] * a[j * p + k];
        }
        if d <= 1e-300 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= a[i * p + k] * a[j * p + k];
            }
            a[i * p + j] = s / d;
        }
    }
    // L·z = b, then Lᵀ·x = z.
    let mut z = b.to_vec();
    for i in 0..p {
        for k in 0..i {
            z[i] -= a[i * p + k] * z[k];
        }
        z[i] /= a[i * p + i];
    }
    for i in (0..p).rev() {
        for k in i + 1..p {
            z[i] -= a[k * p + i] * z[k];
        }
        z[i] /= a[i * p + i];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(kind: ModelKind, x: &Array2<f64>, target: &Target<'_>) -> Estimator {
        Estimator::fit(kind, &Params::new(kind, &Default::default()), x, target, 1).unwrap()
    }

    fn probabilities(output: Output) -> Array2<f64> {
        match output {
            Output::Classes { probabilities, .. } => probabilities,
            Output::Values(_) => panic!("a classifier"),
        }
    }

    /// GaussianNB's predict_proba from scikit-learn 1.9.1 on the same rows.
    #[test]
    fn gaussian_nb_matches_scikit_learn() {
        let x = ndarray::arr2(&[
            [1.0, 2.0],
            [1.5, 1.8],
            [5.0, 8.0],
            [8.0, 8.0],
            [1.0, 0.6],
            [9.0, 11.0],
            [8.0, 2.0],
            [10.0, 2.0],
            [9.0, 3.0],
        ]);
        let y = [0, 0, 1, 1, 0, 1, 2, 2, 2];
        let model = fit(ModelKind::GaussianNb, &x, &Target::Classes { y: &y, n_classes: 3 });
        let p = probabilities(model.predict(&ndarray::arr2(&[[2.0, 2.0], [8.5, 9.0], [9.0, 1.0], [5.0, 5.0]])));
        let expected = [
            [0.999998413624456, 1.5863755199522389e-06, 2.4278131954153026e-14],
            [7.583547018852063e-242, 1.0, 2.4376205157780757e-43],
            [1.571111739155399e-238, 6.083285313659384e-07, 0.9999993916714687],
            [6.8502858592732334e-62, 0.9999999993950706, 6.049287600625774e-10],
        ];
        for (row, want) in p.axis_iter(Axis(0)).zip(expected) {
            for (got, want) in row.iter().zip(want) {
                assert!((got - want).abs() <= 1e-9 * (1.0 + want.abs()), "{got} vs scikit-learn {want}");
            }
        }
    }

    #[test]
    fn linear_svm_separates_and_calibrates() {
        let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * (7 + j * 6)) % 23) as f64 / 23.0);
        let y: Vec<usize> = x.axis_iter(Axis(0)).map(|r| usize::from(r[0] + r[1] > 1.0)).collect();
        let model = fit(ModelKind::LinearSvm, &x, &Target::Classes { y: &y, n_classes: 2 });
        let Output::Classes { classes, probabilities } = model.predict(&x) else { panic!("classes") };
        let right = classes.iter().zip(&y).filter(|(a, b)| a == b).count();
        assert!(right >= 190, "{right} of 200 right");
        for row in probabilities.axis_iter(Axis(0)) {
            assert!((row.sum() - 1.0).abs() < 1e-12 && row.iter().all(|p| (0.0..=1.0).contains(p)));
        }
        // Three classes: one against the rest.
        let y3: Vec<usize> = x
            .axis_iter(Axis(0))
            .map(|r| {
                if r[0] < 0.33 {
                    0
                } else if r[0] < 0.66 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let model = fit(ModelKind::LinearSvm, &x, &Target::Classes { y: &y3, n_classes: 3 });
        let Output::Classes { classes, .. } = model.predict(&x) else { panic!("classes") };
        assert!(classes.iter().zip(&y3).filter(|(a, b)| a == b).count() >= 170);
    }

    #[test]
    fn platt_scaling_orders_probabilities_with_the_decision() {
        let decisions: Vec<f64> = (0..100).map(|i| i as f64 / 10.0 - 5.0).collect();
        let labels: Vec<bool> = (0..100).map(|i| i > 50 || i % 10 == 0).collect();
        let (a, b) = platt_scaling(&decisions, &labels);
        assert!(a < 0.0, "a positive decision means a likely positive: A = {a}");
        let p = |f: f64| 1.0 / (1.0 + (a * f + b).exp());
        assert!(p(4.0) > 0.9 && p(-4.0) < 0.2);
    }

    /// Every default of every model's table reads as its type: the table is the one place a
    /// default is written.
    #[test]
    fn every_default_reads_as_its_type() {
        for kind in ModelKind::ALL {
            for p in kind.params() {
                let ok = match p.ty {
                    ParamType::Int { .. } => p.default.parse::<u64>().is_ok() || p.default == "unlimited",
                    ParamType::Float { min, max } => p.default.parse::<f64>().is_ok_and(|x| x >= min && x <= max),
                    ParamType::Bool => p.default.parse::<bool>().is_ok(),
                    ParamType::Choice(choices) => choices.contains(&p.default),
                };
                assert!(ok, "{}: default '{}' of {} is not a {:?}", kind.as_str(), p.default, p.name, p.ty);
            }
        }
    }

    #[test]
    fn svr_fits_a_line() {
        let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64 / 10.0);
        let y: Vec<f64> = x.column(0).iter().map(|v| 3.0 * v + 2.0).collect();
        let model = Estimator::fit(
            ModelKind::Svr,
            &Params::new(ModelKind::Svr, &indexmap::IndexMap::from([("c".to_string(), serde_json::json!(100.0))])),
            &x,
            &Target::Values(&y),
            1,
        )
        .unwrap();
        let Output::Values(p) = model.predict(&x) else { panic!("values") };
        let worst = p.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 0.2, "largest error {worst}");
    }

    /// Ridge solved exactly gives scikit-learn's answer (values recorded from scikit-learn 1.9.1:
    /// `ElasticNet(alpha=0.5, l1_ratio=0.0, tol=1e-12).fit(X, y)`, equal to `Ridge(alpha=0.5·n)`);
    /// linfa-elasticnet's coordinate descent, used before, stopped short of it
    /// ([2.592, -2.183, 0.090]). Its gradient is zero.
    #[test]
    fn ridge_is_the_exact_minimiser() {
        let n = 400;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (j + 3) * 7919) % 1000) as f64 / 100.0 + j as f64);
        let y: Vec<f64> = (0..n)
            .map(|i| 3.0 * x[[i, 0]] - 2.0 * x[[i, 1]] + 0.5 * x[[i, 2]] + 10.0 + ((i * 31) % 7) as f64)
            .collect();
        let (b, w) = ridge(&x, &y, 0.5, true).unwrap();
        let sklearn = [2.82759135, -1.86707061, 0.47345714];
        for (a, c) in w.iter().zip(sklearn) {
            assert!((a - c).abs() < 1e-7, "{w:?} vs {sklearn:?}");
        }
        assert!((b - 13.244367139881158).abs() < 1e-7, "{b}");
        // Zero gradient: (1/n)·Xᵀ(Xw + b − y) + αw = 0.
        for j in 0..3 {
            let g: f64 = (0..n).map(|i| x[[i, j]] * (x.row(i).dot(&Array1::from(w.clone())) + b - y[i])).sum::<f64>()
                / n as f64
                + 0.5 * w[j];
            assert!(g.abs() < 1e-8, "gradient {g}");
        }
        // alpha 0 with a constant column has no unique answer: an error, not garbage.
        let constant = Array2::from_shape_fn((10, 2), |(i, j)| if j == 0 { 1.0 } else { i as f64 });
        assert!(ridge(&constant, &[1.0; 10], 0.0, true).is_err());
    }

    /// Binary logistic regression by Newton's method gives scikit-learn's answer (recorded from
    /// scikit-learn 1.9.1: `LogisticRegression(C=1.0, tol=1e-12).fit(X, y)`, with and without the
    /// intercept).
    #[test]
    fn binary_logistic_is_scikit_learns() {
        let n = 300;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (j + 3) * 7919) % 1000) as f64 / 100.0 - 5.0 + j as f64);
        let y: Vec<usize> = (0..n)
            .map(|i| {
                let s = 0.8 * x[[i, 0]] - 0.5 * x[[i, 1]] + 0.3 * x[[i, 2]] + ((i * 37) % 11) as f64 / 5.0 - 1.0;
                (s > 0.0) as usize
            })
            .collect();
        let (b, w) = logistic_newton(&x, &y, 1.0, true, 100, 1e-10).unwrap();
        for (a, c) in w.iter().zip([1.82221633, -1.25131562, 0.66472803]) {
            assert!((a - c).abs() < 1e-6, "{w:?}");
        }
        assert!((b - 0.08243058122101639).abs() < 1e-6, "{b}");
        let (b, w) = logistic_newton(&x, &y, 1.0, false, 100, 1e-10).unwrap();
        assert_eq!(b, 0.0);
        for (a, c) in w.iter().zip([1.81643671, -1.24276018, 0.67319269]) {
            assert!((a - c).abs() < 1e-6, "{w:?}");
        }
    }

    /// Three classes by Newton's method: scikit-learn's coefficients and intercepts (recorded from
    /// scikit-learn 1.9.1, `LogisticRegression(C=1.0, tol=1e-12).fit(X, y)`).
    #[test]
    fn multinomial_logistic_is_scikit_learns() {
        let n = 300;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (j + 3) * 7919) % 1000) as f64 / 100.0 - 5.0 + j as f64);
        let y: Vec<usize> = (0..n)
            .map(|i| {
                let s = 0.8 * x[[i, 0]] - 0.5 * x[[i, 1]] + 0.3 * x[[i, 2]] + ((i * 37) % 11) as f64 / 5.0 - 1.0;
                if s < -1.0 {
                    0
                } else if s < 2.0 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let (b, w) = multinomial_newton(&x, &y, 3, 1.0, true, 100, 1e-10).unwrap();
        let sklearn_w = [
            [-2.1823543983, 1.2367736215, -0.7290213135],
            [0.2517048485, -0.0832860499, 0.061774783],
            [1.9306495498, -1.1534875715, 0.6672465305],
        ];
        let sklearn_b = [-0.5013798563, 2.3100893386, -1.8087094823];
        for c in 0..3 {
            for j in 0..3 {
                assert!((w[c][j] - sklearn_w[c][j]).abs() < 1e-6, "{w:?}");
            }
            assert!((b[c] - sklearn_b[c]).abs() < 1e-6, "{b:?}");
        }
    }

    /// Lasso and elastic net give scikit-learn's coefficients (recorded from scikit-learn 1.9.1:
    /// `Lasso(alpha=0.5, tol=1e-12)`, `ElasticNet(alpha=0.5, l1_ratio=0.3, tol=1e-12)`, and the
    /// lasso without intercept), the lasso setting one coefficient exactly to 0.
    #[test]
    fn lasso_and_elastic_net_are_scikit_learns() {
        let n = 400;
        let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * (j + 3) * 7919) % 1000) as f64 / 100.0 + j as f64);
        let y: Vec<f64> = (0..n)
            .map(|i| 3.0 * x[[i, 0]] - 2.0 * x[[i, 1]] + 0.5 * x[[i, 2]] + 10.0 + ((i * 31) % 7) as f64)
            .collect();
        let cases: [(f64, bool, [f64; 4], f64); 3] = [
            (1.0, true, [2.946231880999, -1.928688569708, 0.434349298466, 0.0], 13.292987318170153),
            (0.3, true, [2.842269047283, -1.889480576749, 0.462316091646, 0.040911224876], 13.057172964128908),
            (1.0, false, [3.044051801114, -1.471138717458, 1.078492357173, 0.595930432496], 0.0),
        ];
        for (l1_ratio, intercept, sklearn_w, sklearn_b) in cases {
            let (b, w) = elastic_net(&x, &y, 0.5, l1_ratio, intercept, 100_000, 1e-12);
            for (a, c) in w.iter().zip(sklearn_w) {
                assert!((a - c).abs() < 1e-7, "{l1_ratio} {intercept}: {w:?}");
            }
            assert!((b - sklearn_b).abs() < 1e-6, "{b}");
        }
        let (_, w) = elastic_net(&x, &y, 0.5, 1.0, true, 100_000, 1e-12);
        assert_eq!(w[3], 0.0);
    }
}
