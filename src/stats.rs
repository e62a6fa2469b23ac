//! Statistics behind the drift checks, written to match the reference implementations users
//! compare against (NumPy's histogram, Evidently's binning, SciPy's tests). Each function's test
//! checks it against values recorded from SciPy by `fixtures/stats/record.py`.

/// Equal-width bin edges over `[min, max]`, as `numpy.histogram_bin_edges(values, bins)`.
pub fn bin_edges(min: f64, max: f64, bins: usize) -> Vec<f64> {
    let (first, last) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| first + i as f64 * step).collect();
    edges[bins] = last;
    edges
}

/// Counts of `values` per bin, as `numpy.histogram(values, edges)`: bins are half-open except the
/// last, which includes its right edge; values outside the edges are not counted.
pub fn histogram(values: &[f64], edges: &[f64]) -> Vec<u64> {
    histogram_counted(values.iter().map(|&x| (x, 1)), edges)
}

/// [`histogram`] of values each given with how often it occurs.
pub fn histogram_counted(values: impl IntoIterator<Item = (f64, u64)>, edges: &[f64]) -> Vec<u64> {
    let bins = edges.len() - 1;
    let mut counts = vec![0u64; bins];
    let (first, last) = (edges[0], edges[bins]);
    let norm = bins as f64 / (last - first);
    for (x, n) in values {
        if !(x >= first && x <= last) {
            continue;
        }
        // NumPy computes the index arithmetically, then corrects it against the edges.
        let mut i = ((x - first) * norm) as usize;
        if i >= bins {
            i = bins - 1;
        }
        if x < edges[i] {
            i -= 1;
        } else if i + 1 < bins && x >= edges[i + 1] {
            i += 1;
        }
        counts[i] += n;
    }
    counts
}

/// Evidently's bins for a numeric column with more than 20 distinct reference values: NumPy's
/// `histogram_bin_edges(both samples, bins="sturges")`, equal-width bins whose count is
/// `ceil(range / (range / (log2(n) + 1)))` for `n` values in both samples.
pub fn sturges_edges(min: f64, max: f64, n: usize) -> Vec<f64> {
    let range = max - min;
    let width = range / ((n as f64).log2() + 1.0);
    let bins = if width > 0.0 { (range / width).ceil() as usize } else { 1 };
    bin_edges(min, max, bins.max(1))
}

/// Shares of `counts` in `total` with Evidently's filling of empty bins (`get_binned_data`,
/// `feel_zeroes`): an empty bin becomes the smallest non-empty share divided by a million when that
/// share is at most 0.0001, else 0.0001.
pub fn shares_filled(counts: &[u64], total: u64) -> Vec<f64> {
    let mut out: Vec<f64> = counts.iter().map(|&c| c as f64 / total as f64).collect();
    let smallest = out.iter().copied().filter(|&s| s != 0.0).fold(f64::INFINITY, f64::min);
    let fill = if smallest <= 0.0001 { smallest / 1e6 } else { 0.0001 };
    for s in out.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
    out
}

/// Shares of `counts` in `total`, empty ones left at 0.
pub fn shares_plain(counts: &[u64], total: u64) -> Vec<f64> {
    counts.iter().map(|&c| c as f64 / total as f64).collect()
}

/// Kullback-Leibler divergence with natural logarithms, as `scipy.stats.entropy(p, q)`: both
/// normalised to sum to 1; infinite when `q` is 0 where `p` is not.
pub fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    let sp: f64 = p.iter().sum();
    let sq: f64 = q.iter().sum();
    let mut total = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        if a > 0.0 {
            total += if b > 0.0 { a * (a / b).ln() } else { f64::INFINITY };
        }
    }
    total
}

/// The two-sided p-value of the two-sample Kolmogorov-Smirnov statistic `d` as SciPy's
/// `ks_2samp` (method `auto`) gives it: exact for samples of at most 10,000 values (Hodges'
/// lattice-path counts, the "inside method" with Viehmann's recursion for 1 − p), else the
/// asymptotic Kolmogorov distribution. (SciPy's asymptotic branch uses `kstwo.sf(d, round(en))`;
/// ml-gates uses `kstwobign.sf(d·√en)`, which differs from it by well under a percent there.)
pub fn ks_p_value(n1: usize, n2: usize, d: f64) -> f64 {
    if n1.max(n2) <= 10_000 {
        if let Some(p) = ks_exact(n1 as u64, n2 as u64, d) {
            return p;
        }
    }
    let en = (n1 * n2) as f64 / (n1 + n2) as f64;
    kolmogorov_sf(d * en.sqrt())
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// SciPy's `_attempt_exact_2kssamp` for the two-sided alternative; `None` when the computation
/// leaves [0, 1].
fn ks_exact(n1: u64, n2: u64, d: f64) -> Option<f64> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    if h == 0 {
        return Some(1.0);
    }
    let p = if n1 == n2 { outside_square(n1, h) } else { outer_inside(n1, n2, g, h) };
    (0.0..=1.0).contains(&p).then_some(p)
}

/// The share of lattice paths that leave the band |x − y| < h, for two samples of `n` (Horner form).
fn outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut p1 = 1.0;
        for j in 0..h as u64 {
            let j = j as f64;
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// The share of lattice paths from (0, 0) to (m, n) that do not stay strictly inside
/// |x/m − y/n| < h / lcm(m, n), one sliding column at a time (SciPy's
/// `_compute_outer_prob_inside_method`).
fn outer_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (m, n, h) = (m as i64, n as i64, h as i64);
    let ceil_div = |a: i64, b: i64| (a as f64 / b as f64).ceil() as i64;
    let floor_div = |a: i64, b: i64| (a as f64 / b as f64).floor() as i64;
    let (mut minj, mut maxj) = (0i64, ceil_div(h, mg).min(n + 1));
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for x in a.iter_mut().take(maxj as usize).skip(minj as usize) {
        *x = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            val = (a[(jj + minj - lastminj) as usize] * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(a.len());
            for x in &mut a[start..end] {
                *x = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// The first Wasserstein distance between two sorted samples, as
/// `scipy.stats.wasserstein_distance(u, v)`: the integral of |F_u − F_v| over the merged values.
pub fn wasserstein(u: &[f64], v: &[f64]) -> f64 {
    if u.is_empty() || v.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<f64> = u.iter().chain(v).copied().collect();
    all.sort_by(f64::total_cmp);
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut iu, mut iv) = (0usize, 0usize);
    let mut total = 0.0;
    for w in all.windows(2) {
        // CDFs at w[0]: the share of each sample at most w[0] (searchsorted, side right).
        while iu < u.len() && u[iu] <= w[0] {
            iu += 1;
        }
        while iv < v.len() && v[iv] <= w[0] {
            iv += 1;
        }
        total += (iu as f64 / nu - iv as f64 / nv).abs() * (w[1] - w[0]);
    }
    total
}

/// The population standard deviation (NumPy's `np.std`, ddof 0).
pub fn std_population(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// Evidently's Z-test of two proportions (`z_stattest`): the share of values other than the first
/// category in each sample, pooled; its two-sided p-value `2 · (1 − Φ(|z|))`. `other` counts
/// the values that are not the first category (in sorted order) of either sample.
pub fn z_proportions((n_ref, other_ref): (u64, u64), (n_cur, other_cur): (u64, u64)) -> f64 {
    let (n1, n2) = (n_ref as f64, n_cur as f64);
    let (p1, p2) = (other_ref as f64 / n1, other_cur as f64 / n2);
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if !z.is_finite() {
        return f64::NAN;
    }
    // 2 · (1 − Φ(|z|)) = erfc(|z| / √2) = Q(1/2, z² / 2).
    if z == 0.0 {
        1.0
    } else {
        gamma_q(0.5, z * z / 2.0)
    }
}

/// Population Stability Index: Σ (ref − cur) · ln(ref / cur).
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    reference.iter().zip(current).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

/// Jensen-Shannon distance with natural logarithms, as `scipy.spatial.distance.jensenshannon(p, q)`:
/// both vectors are normalised to sum to 1 first.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let sp: f64 = p.iter().sum();
    let sq: f64 = q.iter().sum();
    let mut divergence = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        if a > 0.0 {
            divergence += a * (a / m).ln();
        }
        if b > 0.0 {
            divergence += b * (b / m).ln();
        }
    }
    (divergence / 2.0).max(0.0).sqrt()
}

/// Two-sample Kolmogorov-Smirnov statistic of two sorted samples and its asymptotic two-sided
/// p-value, `scipy.stats.kstwobign.sf(D * sqrt(n·m / (n + m)))`.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < n && j < m {
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let en = (n as f64 * m as f64) / (n as f64 + m as f64);
    (d, kolmogorov_sf(d * en.sqrt()))
}

/// Survival function of the Kolmogorov distribution: Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}.
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 1.18 {
        // For small λ the alternating series converges slowly; use the theta-function form of
        // the CDF instead: P(λ) = √(2π)/λ Σ_{k≥1} e^{−(2k−1)²π²/(8λ²)}.
        let w = std::f64::consts::PI * std::f64::consts::PI / (8.0 * lambda * lambda);
        let mut cdf = 0.0;
        for k in 1..=20 {
            let j = (2 * k - 1) as f64;
            cdf += (-j * j * w).exp();
        }
        cdf *= (2.0 * std::f64::consts::PI).sqrt() / lambda;
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if (k as i64) % 2 == 1 { term } else { -term };
        if term < 1e-18 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Pearson's chi-square test of observed against expected counts, as
/// `scipy.stats.chisquare(f_obs, f_exp)`: the statistic and its p-value with k − 1 degrees of freedom.
pub fn chi_square(observed: &[f64], expected: &[f64]) -> (f64, f64) {
    let mut stat = 0.0;
    for (&o, &e) in observed.iter().zip(expected) {
        if e == 0.0 {
            if o != 0.0 {
                stat = f64::INFINITY;
            }
            continue;
        }
        stat += (o - e) * (o - e) / e;
    }
    let dof = observed.len().saturating_sub(1) as f64;
    if dof == 0.0 {
        return (stat, f64::NAN);
    }
    (stat, chi2_sf(stat, dof))
}

/// Survival function of the chi-square distribution with `k` degrees of freedom.
pub fn chi2_sf(x: f64, k: f64) -> f64 {
    if x.is_infinite() {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(k / 2.0, x / 2.0)
}

/// The regularized upper incomplete gamma function Q(a, x).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x < a + 1.0 {
        1.0 - gamma_p_series(a, x)
    } else {
        gamma_q_continued_fraction(a, x)
    }
}

fn gamma_p_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut sum = 1.0 / a;
    let mut del = sum;
    for _ in 0..10_000 {
        ap += 1.0;
        del *= x / ap;
        sum += del;
        if del.abs() < sum.abs() * 1e-16 {
            break;
        }
    }
    sum * (-x + a * x.ln() - ln_gamma(a)).exp()
}

fn gamma_q_continued_fraction(a: f64, x: f64) -> f64 {
    // Modified Lentz's method.
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x + a * x.ln() - ln_gamma(a)).exp() * h
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9), accurate to about 1e-15.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Keys that occur more than once, each reported once, and how many keys share them.
///
/// One counting pass and one scatter partition the keys by their top 12 bits into 4096 buckets
/// small enough for the cache; the buckets are then sorted and scanned in parallel. On 10M hashes
/// this is several times faster than a full sort, which would also order the unrepeated keys.
pub fn repeated_keys(keys: &[u64]) -> (Vec<u64>, usize) {
    use rayon::prelude::*;
    const BITS: u32 = 12;
    let shift = 64 - BITS;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for k in keys {
        starts[(k >> shift) as usize + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut partitioned = vec![0u64; keys.len()];
    let mut next = starts.clone();
    for &k in keys {
        let b = (k >> shift) as usize;
        partitioned[next[b]] = k;
        next[b] += 1;
    }
    let mut buckets: Vec<&mut [u64]> = Vec::with_capacity(1 << BITS);
    let mut rest: &mut [u64] = &mut partitioned;
    for b in 0..(1 << BITS) {
        let (bucket, tail) = rest.split_at_mut(starts[b + 1] - starts[b]);
        buckets.push(bucket);
        rest = tail;
    }
    let found: Vec<(Vec<u64>, usize)> = buckets
        .into_par_iter()
        .with_min_len(64)
        .map(|bucket| {
            bucket.sort_unstable();
            let mut repeated = Vec::new();
            let mut sharing = 0;
            for run in bucket.chunk_by(|a, b| a == b) {
                if run.len() > 1 {
                    repeated.push(run[0]);
                    sharing += run.len();
                }
            }
            (repeated, sharing)
        })
        .collect();
    let sharing = found.iter().map(|(_, n)| n).sum();
    (found.into_iter().flat_map(|(r, _)| r).collect(), sharing)
}

/// SplitMix64: a small, fast, seedable generator; the same seed gives the same stream everywhere.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    /// Shares of `counts` in `total` with empty bins at 0.0001, the rule of the Evidently
    /// version `fixtures/stats/record.py` follows (the gate uses [`shares_filled`], Evidently 0.7's).
    fn shares(counts: &[u64], total: u64) -> Vec<f64> {
        counts.iter().map(|&c| c as f64 / total as f64).map(|s| if s == 0.0 { 0.0001 } else { s }).collect()
    }

    use super::*;
    use serde_json::Value;

    #[test]
    fn repeated_keys_finds_every_repeat_once() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut keys: Vec<u64> = (0..200_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .collect();
        // Repeats at both ends of the key space and inside one bucket.
        keys.extend([keys[5], keys[5], keys[7], 0, 0, u64::MAX, u64::MAX, u64::MAX]);
        let mut expected: std::collections::BTreeMap<u64, usize> = Default::default();
        for k in &keys {
            *expected.entry(*k).or_default() += 1;
        }
        expected.retain(|_, n| *n > 1);
        let (mut repeated, sharing) = repeated_keys(&keys);
        repeated.sort_unstable();
        assert_eq!(repeated, expected.keys().copied().collect::<Vec<_>>());
        assert_eq!(sharing, expected.values().sum::<usize>());
        assert_eq!(repeated_keys(&[]), (vec![], 0));
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    fn vec_of(v: &Value) -> Vec<f64> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    }

    /// Every case in fixtures/stats/scipy_values.json, recorded from NumPy and SciPy.
    #[test]
    fn matches_values_recorded_from_scipy() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/stats/scipy_values.json"))
            .expect("fixtures/stats/scipy_values.json (made by fixtures/stats/record.py)");
        let cases: Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for case in cases["numeric"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let mut reference = vec_of(&case["reference"]);
            let mut current = vec_of(&case["current"]);
            let bins = case["bins"].as_u64().unwrap() as usize;
            let min = reference.iter().chain(&current).copied().fold(f64::INFINITY, f64::min);
            let max = reference.iter().chain(&current).copied().fold(f64::NEG_INFINITY, f64::max);
            let edges = bin_edges(min, max, bins);
            let ref_counts = histogram(&reference, &edges);
            let cur_counts = histogram(&current, &edges);
            let expected_ref: Vec<u64> =
                case["reference_counts"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            let expected_cur: Vec<u64> =
                case["current_counts"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            assert_eq!(ref_counts, expected_ref, "{name}: reference histogram");
            assert_eq!(cur_counts, expected_cur, "{name}: current histogram");
            let r = shares(&ref_counts, reference.len() as u64);
            let c = shares(&cur_counts, current.len() as u64);
            let p = psi(&r, &c);
            assert!(close(p, case["psi"].as_f64().unwrap(), 1e-9), "{name}: psi {p} vs {}", case["psi"]);
            let js = jensen_shannon(&r, &c);
            assert!(
                close(js, case["jensen_shannon"].as_f64().unwrap(), 1e-9),
                "{name}: js {js} vs {}",
                case["jensen_shannon"]
            );
            reference.sort_by(f64::total_cmp);
            current.sort_by(f64::total_cmp);
            let (d, pv) = ks_2samp(&current, &reference);
            assert!(
                close(d, case["ks_statistic"].as_f64().unwrap(), 1e-12),
                "{name}: ks D {d} vs {}",
                case["ks_statistic"]
            );
            assert!(
                close(pv, case["ks_p_value"].as_f64().unwrap(), 1e-9),
                "{name}: ks p {pv} vs {}",
                case["ks_p_value"]
            );
            checked += 1;
        }
        for case in cases["categorical"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let observed = vec_of(&case["observed"]);
            let expected = vec_of(&case["expected"]);
            let (stat, p) = chi_square(&observed, &expected);
            let number = |v: &Value| v.as_f64().unwrap_or_else(|| v.as_str().unwrap().parse().unwrap());
            let (expected_stat, expected_p) = (number(&case["chi2_statistic"]), number(&case["chi2_p_value"]));
            assert!(stat == expected_stat || close(stat, expected_stat, 1e-9), "{name}: chi2 {stat}");
            assert!(close(p, expected_p, 1e-9), "{name}: chi2 p {p} vs {expected_p}");
            let r = vec_of(&case["reference_shares"]);
            let c = vec_of(&case["current_shares"]);
            assert!(close(psi(&r, &c), case["psi"].as_f64().unwrap(), 1e-9), "{name}: psi");
            assert!(close(jensen_shannon(&r, &c), case["jensen_shannon"].as_f64().unwrap(), 1e-9), "{name}: js");
            checked += 1;
        }
        for case in cases["kolmogorov_sf"].as_array().unwrap() {
            let x = case[0].as_f64().unwrap();
            let expected = case[1].as_f64().unwrap();
            let got = kolmogorov_sf(x);
            assert!((got - expected).abs() < 1e-12, "kolmogorov_sf({x}) = {got}, scipy {expected}");
        }
        for case in cases["chi2_sf"].as_array().unwrap() {
            let (x, k, expected) = (case[0].as_f64().unwrap(), case[1].as_f64().unwrap(), case[2].as_f64().unwrap());
            let got = chi2_sf(x, k);
            assert!(
                close(got, expected, 1e-9) || (got - expected).abs() < 1e-15,
                "chi2_sf({x}, {k}) = {got}, scipy {expected}"
            );
        }
        assert!(checked >= 6);
    }

    #[test]
    fn identical_samples_do_not_drift() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let (d, p) = ks_2samp(&a, &a);
        assert_eq!(d, 0.0);
        assert_eq!(p, 1.0);
        let s = shares(&[10, 20, 70], 100);
        assert_eq!(psi(&s, &s), 0.0);
        assert_eq!(jensen_shannon(&s, &s), 0.0);
    }
}
