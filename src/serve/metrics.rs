//! What the server measures, per version and role: requests by status code, failures to answer,
//! predicted rows, latency (Prometheus buckets for scrapers, an HDR histogram for exact quantiles
//! of a window), and the shadow's comparisons. Rendered in Prometheus' text format.

use crate::routing::{Role, RoutingTable};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const BUCKETS: [f64; 18] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

fn histogram() -> Histogram<u64> {
    // Microseconds from 1 µs to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// One version in one role.
pub struct Series {
    /// Requests by HTTP status code.
    codes: Mutex<BTreeMap<u16, u64>>,
    requests: AtomicU64,
    /// Well-formed requests the version failed to answer (rows it cannot score, and 5xx).
    errors: AtomicU64,
    rows: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    latency: Mutex<Histogram<u64>>,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            codes: Mutex::new(BTreeMap::new()),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
            latency: Mutex::new(histogram()),
        }
    }
}

/// The shadow's comparisons with the answering version.
#[derive(Default)]
pub struct Shadow {
    requests: AtomicU64,
    errors: AtomicU64,
    compared_rows: AtomicU64,
    disagreeing_rows: AtomicU64,
}

/// Every series of one server.
pub struct Metrics {
    model: String,
    series: RwLock<BTreeMap<(u64, Role), Arc<Series>>>,
    shadow: RwLock<BTreeMap<u64, Arc<Shadow>>>,
}

/// A series at one moment; two of them give a window (see [`Snapshot::since`]).
#[derive(Debug, Clone)]
pub struct SeriesSnapshot {
    pub version: u64,
    pub role: Role,
    pub requests: u64,
    pub errors: u64,
    pub rows: u64,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShadowSnapshot {
    pub version: u64,
    pub requests: u64,
    pub errors: u64,
    pub compared_rows: u64,
    pub disagreeing_rows: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub series: Vec<SeriesSnapshot>,
    pub shadow: Vec<ShadowSnapshot>,
}

/// What one version did in a window, whatever its role.
#[derive(Debug, Clone)]
pub struct VersionWindow {
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

impl VersionWindow {
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }
    /// The latency quantile `q` (0-1) in milliseconds, None without requests.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(q) as f64 / 1000.0)
    }
}

impl Snapshot {
    /// The window from `earlier` to this snapshot.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let series = self
            .series
            .iter()
            .map(|s| match earlier.series.iter().find(|e| e.version == s.version && e.role == s.role) {
                Some(e) => {
                    let mut latency = s.latency.clone();
                    // Counts only grow, so the subtraction cannot fail.
                    let _ = latency.subtract(&e.latency);
                    SeriesSnapshot {
                        version: s.version,
                        role: s.role,
                        requests: s.requests - e.requests,
                        errors: s.errors - e.errors,
                        rows: s.rows - e.rows,
                        latency,
                    }
                }
                None => s.clone(),
            })
            .collect();
        let shadow = self
            .shadow
            .iter()
            .map(|s| match earlier.shadow.iter().find(|e| e.version == s.version) {
                Some(e) => ShadowSnapshot {
                    version: s.version,
                    requests: s.requests - e.requests,
                    errors: s.errors - e.errors,
                    compared_rows: s.compared_rows - e.compared_rows,
                    disagreeing_rows: s.disagreeing_rows - e.disagreeing_rows,
                },
                None => s.clone(),
            })
            .collect();
        Snapshot { series, shadow }
    }

    /// One version's answering traffic (stable and canary roles together; not the shadow's copies).
    pub fn version(&self, version: u64) -> VersionWindow {
        let mut window = VersionWindow { requests: 0, errors: 0, latency: histogram() };
        for s in self.series.iter().filter(|s| s.version == version && s.role != Role::Shadow) {
            window.requests += s.requests;
            window.errors += s.errors;
            let _ = window.latency.add(&s.latency);
        }
        window
    }

    pub fn shadow_of(&self, version: u64) -> ShadowSnapshot {
        self.shadow
            .iter()
            .find(|s| s.version == version)
            .cloned()
            .unwrap_or(ShadowSnapshot { version, ..Default::default() })
    }
}

impl Metrics {
    pub fn new(model: &str) -> Self {
        Metrics { model: model.to_string(), series: RwLock::new(BTreeMap::new()), shadow: RwLock::new(BTreeMap::new()) }
    }

    fn series(&self, version: u64, role: Role) -> Arc<Series> {
        if let Some(s) = self.series.read().expect("metrics lock").get(&(version, role)) {
            return s.clone();
        }
        self.series.write().expect("metrics lock").entry((version, role)).or_default().clone()
    }

    fn shadow(&self, version: u64) -> Arc<Shadow> {
        if let Some(s) = self.shadow.read().expect("metrics lock").get(&version) {
            return s.clone();
        }
        self.shadow.write().expect("metrics lock").entry(version).or_default().clone()
    }

    /// One answered request; `by_version` when it failed because of the version (rows it cannot
    /// score, a crash), not the client.
    pub fn record(&self, version: u64, role: Role, status: u16, by_version: bool, rows: usize, seconds: f64) {
        let s = self.series(version, role);
        s.requests.fetch_add(1, Relaxed);
        *s.codes.lock().expect("metrics lock").entry(status).or_default() += 1;
        if by_version || status >= 500 {
            s.errors.fetch_add(1, Relaxed);
        }
        s.rows.fetch_add(rows as u64, Relaxed);
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            s.buckets[i].fetch_add(1, Relaxed);
        }
        let micros = (seconds * 1e6).round().max(1.0) as u64;
        s.sum_micros.fetch_add(micros, Relaxed);
        s.latency.lock().expect("metrics lock").saturating_record(micros);
    }

    /// One shadow copy: whether it answered, and how many of its rows disagreed.
    pub fn record_shadow(&self, version: u64, answered: Option<(usize, usize)>) {
        let s = self.shadow(version);
        s.requests.fetch_add(1, Relaxed);
        match answered {
            Some((compared, disagreeing)) => {
                s.compared_rows.fetch_add(compared as u64, Relaxed);
                s.disagreeing_rows.fetch_add(disagreeing as u64, Relaxed);
            }
            None => {
                s.errors.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let series = self
            .series
            .read()
            .expect("metrics lock")
            .iter()
            .map(|((version, role), s)| SeriesSnapshot {
                version: *version,
                role: *role,
                requests: s.requests.load(Relaxed),
                errors: s.errors.load(Relaxed),
                rows: s.rows.load(Relaxed),
                latency: s.latency.lock().expect("metrics lock").clone(),
            })
            .collect();
        let shadow = self
            .shadow
            .read()
            .expect("metrics lock")
            .iter()
            .map(|(version, s)| ShadowSnapshot {
                version: *version,
                requests: s.requests.load(Relaxed),
                errors: s.errors.load(Relaxed),
                compared_rows: s.compared_rows.load(Relaxed),
                disagreeing_rows: s.disagreeing_rows.load(Relaxed),
            })
            .collect();
        Snapshot { series, shadow }
    }

    /// Prometheus' text exposition format (version 0.0.4).
    /// The metrics text; `table` is the table in force (None before the first is loaded: the
    /// generation reads 0, so a fleet's minimum is not met by a replica still loading).
    pub fn render(&self, table: Option<&RoutingTable>) -> String {
        let model = escape_label(&self.model);
        let mut out = String::new();
        let series = self.series.read().expect("metrics lock");
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            "ml_gates_requests_total",
            "counter",
            "Prediction requests answered, by version, role and HTTP status code.",
        );
        let mut lines = String::new();
        for ((version, role), s) in series.iter() {
            for (code, n) in s.codes.lock().expect("metrics lock").iter() {
                let _ = writeln!(
                    lines,
                    "ml_gates_requests_total{{model=\"{model}\",version=\"{version}\",role=\"{}\",code=\"{code}\"}} {n}",
                    role.as_str()
                );
            }
        }
        out.push_str(&std::mem::take(&mut lines));
        let labels =
            |version: &u64, role: &Role| format!("model=\"{model}\",version=\"{version}\",role=\"{}\"", role.as_str());
        let _ = writeln!(
            out,
            "# HELP ml_gates_request_errors_total Well-formed requests a version failed to answer (rows it cannot score, and 5xx).\n# TYPE ml_gates_request_errors_total counter"
        );
        for ((version, role), s) in series.iter() {
            let _ =
                writeln!(out, "ml_gates_request_errors_total{{{}}} {}", labels(version, role), s.errors.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP ml_gates_predicted_rows_total Rows predicted.\n# TYPE ml_gates_predicted_rows_total counter"
        );
        for ((version, role), s) in series.iter() {
            let _ =
                writeln!(out, "ml_gates_predicted_rows_total{{{}}} {}", labels(version, role), s.rows.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP ml_gates_request_duration_seconds Time from routing a request to its answer.\n# TYPE ml_gates_request_duration_seconds histogram"
        );
        for ((version, role), s) in series.iter() {
            let l = labels(version, role);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(&s.buckets) {
                cumulative += count.load(Relaxed);
                let _ = writeln!(out, "ml_gates_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {cumulative}");
            }
            let count = s.requests.load(Relaxed);
            let _ = writeln!(out, "ml_gates_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {count}");
            let _ = writeln!(
                out,
                "ml_gates_request_duration_seconds_sum{{{l}}} {}",
                s.sum_micros.load(Relaxed) as f64 / 1e6
            );
            let _ = writeln!(out, "ml_gates_request_duration_seconds_count{{{l}}} {count}");
        }
        drop(series);
        let shadow = self.shadow.read().expect("metrics lock");
        for (name, help, get) in [
            ("ml_gates_shadow_requests_total", "Requests copied to the shadow version.", 0),
            ("ml_gates_shadow_errors_total", "Copies the shadow version failed to answer.", 1),
            (
                "ml_gates_shadow_compared_rows_total",
                "Rows the shadow predicted and compared with the answering version.",
                2,
            ),
            ("ml_gates_shadow_disagreements_total", "Compared rows where the shadow's prediction differed.", 3),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (version, s) in shadow.iter() {
                let value = [&s.requests, &s.errors, &s.compared_rows, &s.disagreeing_rows][get].load(Relaxed);
                let _ = writeln!(out, "{name}{{model=\"{model}\",version=\"{version}\"}} {value}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP ml_gates_routing_percent Share of traffic each version answers by weight.\n# TYPE ml_gates_routing_percent gauge"
        );
        for (version, table) in table.iter().flat_map(|t| t.versions().into_iter().map(move |v| (v, t))) {
            let _ = writeln!(
                out,
                "ml_gates_routing_percent{{model=\"{model}\",version=\"{version}\"}} {}",
                table.percent_of(version)
            );
        }
        let _ = writeln!(
            out,
            "# HELP ml_gates_routing_generation The routing table in force.\n# TYPE ml_gates_routing_generation gauge\nml_gates_routing_generation{{model=\"{model}\"}} {}",
            table.map_or(0, |t| t.generation)
        );
        out
    }
}

pub(crate) fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_subtract_and_quantiles_are_exact() {
        let metrics = Metrics::new("churn");
        for ms in 1..=100 {
            metrics.record(1, Role::Stable, 200, false, 1, ms as f64 / 1000.0);
        }
        let start = metrics.snapshot();
        for _ in 0..10 {
            metrics.record(2, Role::Canary, 200, false, 2, 0.5);
        }
        metrics.record(2, Role::Canary, 500, false, 0, 0.001);
        metrics.record(1, Role::Stable, 400, false, 0, 0.001);
        let window = metrics.snapshot().since(&start);
        let canary = window.version(2);
        assert_eq!((canary.requests, canary.errors), (11, 1));
        assert!((canary.latency_ms(0.9).unwrap() - 500.0).abs() < 1.0);
        let stable = window.version(1);
        assert_eq!((stable.requests, stable.errors), (1, 0), "a 400 is the client's error");
        let all = metrics.snapshot().version(1);
        assert!((all.latency_ms(0.99).unwrap() - 99.0).abs() < 0.1);
        assert_eq!(window.version(9).error_rate(), None, "no data is no rate");
    }

    #[test]
    fn the_text_format_has_cumulative_buckets() {
        let metrics = Metrics::new("ch\"urn");
        metrics.record(1, Role::Stable, 200, false, 3, 0.0004);
        metrics.record(1, Role::Stable, 200, false, 3, 0.02);
        metrics.record_shadow(2, Some((3, 1)));
        let mut table = RoutingTable::single(1, "");
        table.mirror = Some(crate::routing::Mirror { version: 2, percent: 50.0, tolerance: 0.0 });
        let text = metrics.render(Some(&table));
        let l = r#"model="ch\"urn",version="1",role="stable""#;
        assert!(text.contains(&format!("ml_gates_requests_total{{{l},code=\"200\"}} 2")), "{text}");
        assert!(text.contains(&format!("ml_gates_request_duration_seconds_bucket{{{l},le=\"0.0005\"}} 1")));
        assert!(text.contains(&format!("ml_gates_request_duration_seconds_bucket{{{l},le=\"0.025\"}} 2")));
        assert!(text.contains(&format!("ml_gates_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 2")));
        assert!(text.contains(r#"ml_gates_shadow_disagreements_total{model="ch\"urn",version="2"} 1"#));
        assert!(text.contains(r#"ml_gates_routing_percent{model="ch\"urn",version="1"} 100"#));
    }
}
