//! `deploy.target: registry` against a fleet: three `ml-gates serve` replicas on loopback follow
//! one registry (a real OCI registry, and a folder), a real Prometheus scrapes all three, a client
//! spreads steady traffic over them, and `ml-gates deploy` rolls a candidate out by writing
//! routing generations to the registry, waiting until every replica applied each one, and judging
//! the fleet's traffic through Prometheus with the built-in PromQL.

mod common;

use common::servers::{Auth, OciServer, Prometheus};
use common::workspace::{answered_by, oci_section, text, Replica, Workspace, ONE_ROW};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Old clients send only the two features the champion reads: a candidate that needs all four
/// fails their requests.
const OLD_CLIENT: &str = r#"{"dataframe_records": [{"age": 30, "tenure_months": 3}]}"#;

/// One answer the client got: when, which version answered (or the failure), and whether the
/// request was an old client's.
type Answer = (Instant, Result<String, String>, bool);

/// Steady traffic from two client threads over every replica in turn, one request in ten from an
/// old client.
struct Traffic {
    stop: Arc<AtomicBool>,
    /// Replicas taken out of the rotation (as a load balancer does with one that died).
    out: Arc<Vec<AtomicBool>>,
    /// Requests in flight to each replica.
    busy: Arc<Vec<std::sync::atomic::AtomicUsize>>,
    answers: Arc<Mutex<Vec<Answer>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(urls: &[String]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let out: Arc<Vec<AtomicBool>> = Arc::new(urls.iter().map(|_| AtomicBool::new(false)).collect());
        let busy: Arc<Vec<std::sync::atomic::AtomicUsize>> =
            Arc::new(urls.iter().map(|_| std::sync::atomic::AtomicUsize::new(0)).collect());
        let answers = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..2)
            .map(|t| {
                let (stop, out, busy, answers, urls) =
                    (stop.clone(), out.clone(), busy.clone(), answers.clone(), urls.to_vec());
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    let mut i = t;
                    while !stop.load(Ordering::SeqCst) {
                        // Counted in flight before the check, so that a replica taken out has none
                        // once its count reaches zero.
                        busy[i % urls.len()].fetch_add(1, Ordering::SeqCst);
                        if out[i % urls.len()].load(Ordering::SeqCst) {
                            busy[i % urls.len()].fetch_sub(1, Ordering::SeqCst);
                            i += 1;
                            continue;
                        }
                        let old = i % 10 == 3;
                        let answer = client
                            .post(format!("{}/invocations", urls[i % urls.len()]))
                            .header("content-type", "application/json")
                            .body(if old { OLD_CLIENT } else { ONE_ROW })
                            .send()
                            .map_err(|e| format!("replica {}: {e:?}", i % urls.len()))
                            .and_then(|a| {
                                let version = a
                                    .headers()
                                    .get("x-ml-gates-version")
                                    .and_then(|v| v.to_str().ok())
                                    .map(String::from);
                                match (a.status().as_u16(), version) {
                                    (200, Some(v)) => Ok(v),
                                    (status, v) => Err(format!("{status} from version {}", v.unwrap_or_default())),
                                }
                            });
                        busy[i % urls.len()].fetch_sub(1, Ordering::SeqCst);
                        answers.lock().unwrap().push((Instant::now(), answer, old));
                        i += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                })
            })
            .collect();
        Traffic { stop, out, busy, answers, threads }
    }

    fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        Arc::try_unwrap(self.answers).unwrap().into_inner().unwrap()
    }
}

/// `ml-gates deploy` in `ws`: its exit code, its JSON report, and its log lines with when each came.
fn deploy(ws: &Workspace, version: &str) -> (Option<i32>, serde_json::Value, Vec<(Instant, String)>) {
    deploy_watching(ws, version, |_| {})
}

/// The same, calling `on_line` with each log line as it comes.
fn deploy_watching(
    ws: &Workspace,
    version: &str,
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> (Option<i32>, serde_json::Value, Vec<(Instant, String)>) {
    let mut child = ws
        .command(&["deploy", "--version", version, "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        std::io::BufRead::lines(std::io::BufReader::new(stderr))
            .map_while(Result::ok)
            .map(|l| {
                on_line(&l);
                (Instant::now(), l)
            })
            .collect::<Vec<_>>()
    });
    let out = child.wait_with_output().unwrap();
    let lines = lines.join().unwrap();
    let log: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), log.join("\n")));
    (out.status.code(), report, lines)
}

/// When the log line containing `needle` came.
fn when(lines: &[(Instant, String)], needle: &str) -> Instant {
    lines.iter().find(|(_, l)| l.contains(needle)).unwrap_or_else(|| panic!("no line with '{needle}'")).0
}

/// The candidate's share of the answers between `from` and `to`.
fn share(answers: &[Answer], candidate: &str, from: Instant, to: Instant) -> (f64, usize) {
    let versions: Vec<&String> =
        answers.iter().filter(|(at, _, _)| *at > from && *at < to).filter_map(|(_, a, _)| a.as_ref().ok()).collect();
    let n = versions.len();
    (versions.iter().filter(|v| v.as_str() == candidate).count() as f64 / n.max(1) as f64, n)
}

fn rollout_through_the_fleet(section: &str, hard_cases: bool) {
    let ws = Workspace::new(section);
    let champion = std::fs::canonicalize("examples/churn/models/champion.model").unwrap();
    let champion = champion.to_str().unwrap();
    // Version 1, the champion (it reads two features); 2, a good candidate (the same model); 3, a
    // candidate that needs all four features (old clients' requests fail on it).
    ws.ok(&["register", "--model", champion]);
    ws.ok(&["promote", "1"]);
    ws.ok(&["register", "--model", champion]);
    ws.ok(&["train"]);
    ws.ok(&["register"]);
    // Three replicas, each in a workspace of its own (nothing shared but the registry).
    let homes: Vec<Workspace> = (0..3).map(|_| Workspace::new(section)).collect();
    let mut replicas: Vec<Replica> = homes.iter().map(|h| Replica::start(h, &["--watch", "500ms"])).collect();
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    for r in &replicas {
        assert!(r.first.contains("v1 100 %"), "{}", r.first);
    }
    let prometheus =
        Prometheus::start(&urls.iter().map(|u| u.trim_start_matches("http://").to_string()).collect::<Vec<_>>());
    let config = ws.path().join("ml-gates.yaml");
    let deploy_section = format!(
        "deploy:\n  strategy: canary\n  steps: [10, 50, 100]\n  interval: 6s\n  min_samples: 20\n  target: registry\n  fleet_timeout: 30s\n  analysis: {{error_rate: {{max: 0.01}}}}\n  metrics: {{prometheus: {{url: \"{}\"}}}}\n",
        prometheus.url
    );
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap() + &deploy_section).unwrap();
    let traffic = Traffic::start(&urls);
    // Wait until Prometheus sees every replica serving.
    let started = Instant::now();
    while prometheus.value("count(ml_gates_routing_generation)") != Some(3.0) {
        assert!(started.elapsed() < Duration::from_secs(30), "Prometheus does not scrape the three replicas");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The good candidate: every step applied by the whole fleet, judged on its traffic, promoted.
    let (code, report, lines) = deploy(&ws, "2");
    let log: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let detail = &report["deploy"];
    assert_eq!(code, Some(0), "{detail}\n{}", log.join("\n"));
    assert_eq!((detail["ending"].as_str(), detail["target"].as_str()), (Some("completed"), Some("registry")));
    let phases = detail["phases"].as_array().unwrap();
    assert_eq!(phases.iter().map(|p| p["weight"].as_f64().unwrap()).collect::<Vec<_>>(), vec![10.0, 50.0, 100.0]);
    for p in phases {
        let m = &p["measurements"][0];
        assert_eq!((m["metric"].as_str(), m["phase"].as_str()), (Some("error_rate"), Some("successful")), "{p}");
    }
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 2);
    let table = ws.registry().routing().unwrap().unwrap();
    assert_eq!((table.stable, table.generation), (2, 4), "three steps, then the final table");
    for url in &urls {
        assert_eq!(answered_by(url), "2");
    }

    // The bad candidate: its first step's error rate fails; the fleet goes back to version 2.
    let (code, report, bad_lines) = deploy(&ws, "3");
    let bad_log: Vec<&str> = bad_lines.iter().map(|(_, l)| l.as_str()).collect();
    let detail = &report["deploy"];
    assert_eq!(code, Some(1), "{detail}\n{}", bad_log.join("\n"));
    assert_eq!(detail["ending"], "rolled_back", "{detail}");
    assert_eq!(detail["phases"].as_array().unwrap().len(), 1, "stopped at the first step: {detail}");
    let m = &detail["phases"][0]["measurements"][0];
    assert_eq!((m["metric"].as_str(), m["phase"].as_str()), (Some("error_rate"), Some("failed")), "{detail}");
    // About a tenth of the candidate's requests are old clients': ~90 in a window at 10 %, so a
    // window without a failure (0.9^90) does not happen.
    assert!(m["value"].as_f64().unwrap() > 0.01, "{m}");
    assert!(
        bad_log.iter().any(|l| l.contains("rollback: every replica serves routing generation 6")),
        "{}",
        bad_log.join("\n")
    );
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 2);
    for url in &urls {
        assert_eq!(answered_by(url), "2");
    }
    if hard_cases {
        replica_killed_and_routing_changes(&ws, &mut replicas, &traffic, &urls);
    } else {
        shadow_through_the_fleet(&ws, &urls);
    }
    // The clients stop before the replicas do.
    let answers = traffic.stop();
    drop(replicas);

    // The traffic the replicas answered followed each step once the fleet had applied it.
    let applied = |g: u64| when(&lines, &format!("every replica serves routing generation {g} "));
    let written = |g: u64| when(&lines, &format!("routing generation {g} written"));
    let (s10, n10) = share(&answers, "2", applied(1), written(2));
    let (s50, n50) = share(&answers, "2", applied(2), written(3));
    let (s100, n100) = share(&answers, "2", applied(3), written(4));
    assert!(n10 > 100 && n50 > 100 && n100 > 100, "{n10} {n50} {n100}");
    assert!((0.02..0.25).contains(&s10), "10 % step: {s10} of {n10}");
    assert!((0.35..0.65).contains(&s50), "50 % step: {s50} of {n50}");
    assert_eq!(s100, 1.0, "100 % step: {s100} of {n100}");
    // No request failed, but the old clients' requests the bad candidate could not score.
    let failed: Vec<&Answer> =
        answers.iter().filter(|(_, a, old)| a.as_ref().is_err_and(|e| !(*old && e.ends_with("version 3")))).collect();
    assert!(failed.is_empty(), "{} of {} failed: {:?}", failed.len(), answers.len(), &failed[..failed.len().min(3)]);
}

/// A replica SIGKILLed in the middle of a rollout's first step: the rollout neither passes on the
/// missing replica's data nor waits for it; it goes on with the fleet Prometheus still scrapes.
/// Then 20 routing changes under traffic: no request fails, and the fleet ends on the last.
fn replica_killed_and_routing_changes(ws: &Workspace, replicas: &mut Vec<Replica>, traffic: &Traffic, urls: &[String]) {
    let champion = std::fs::canonicalize("examples/churn/models/champion.model").unwrap();
    ws.ok(&["register", "--model", champion.to_str().unwrap()]);
    let victim = replicas.remove(0);
    let pid = victim.pid();
    let (out, busy) = (traffic.out.clone(), traffic.busy.clone());
    let killed = Arc::new(AtomicBool::new(false));
    let flag = killed.clone();
    let (code, report, lines) = deploy_watching(ws, "4", move |line| {
        if line.contains("every replica serves routing generation 7 ") && !flag.swap(true, Ordering::SeqCst) {
            // Out of the clients' rotation first, as a load balancer would notice, then killed.
            out[0].store(true, Ordering::SeqCst);
            let started = Instant::now();
            while busy[0].load(Ordering::SeqCst) > 0 && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    });
    drop(victim);
    let log: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(killed.load(Ordering::SeqCst), "the replica was never killed:\n{}", log.join("\n"));
    let detail = &report["deploy"];
    assert_eq!((code, detail["ending"].as_str()), (Some(0), Some("completed")), "{detail}\n{}", log.join("\n"));
    for p in detail["phases"].as_array().unwrap() {
        assert_eq!(p["measurements"][0]["phase"], "successful", "{p}");
    }
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 4);
    for url in &urls[1..] {
        assert_eq!(answered_by(url), "4");
    }
    // 20 routing changes while the clients send: the two replicas follow, nothing fails.
    let before = traffic.answers.lock().unwrap().len();
    for i in 0..20 {
        let weights = if i % 2 == 0 { r#"[{"version": 2, "weight": 1}]"# } else { r#"[{"version": 4, "weight": 1}]"# };
        std::fs::write(ws.path().join("table.json"), format!(r#"{{"stable": 4, "weights": {weights}}}"#)).unwrap();
        ws.ok(&["routing", "set", "table.json"]);
        std::thread::sleep(Duration::from_millis(250));
    }
    let started = Instant::now();
    while urls[1..].iter().any(|u| answered_by(u) != "4") {
        assert!(started.elapsed() < Duration::from_secs(30), "the fleet did not end on the last table");
        std::thread::sleep(Duration::from_millis(100));
    }
    let answers = traffic.answers.lock().unwrap();
    let during = &answers[before..];
    assert!(during.len() > 100, "{}", during.len());
    let versions: std::collections::BTreeSet<&str> =
        during.iter().filter_map(|(_, a, _)| a.as_ref().ok().map(String::as_str)).collect();
    assert_eq!(versions, ["2", "4"].into_iter().collect(), "both tables served");
    let failed: Vec<&Answer> = during.iter().filter(|(_, a, _)| a.is_err()).collect();
    assert!(failed.is_empty(), "{} of {} failed: {:?}", failed.len(), during.len(), &failed[..failed.len().min(3)]);
    drop(answers);

    // The manual override from GitHub: a workflow_dispatch run with `rollback` sends the champion
    // alias back (4 → 2) and the fleet with it, through the action.
    let (out, outputs) = common::action(
        ws.path(),
        "workflow_dispatch",
        r#"{"inputs": {"rollback": "true"}, "ref": "refs/heads/main"}"#,
        "refs/heads/main",
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("rollback: the champion alias and the traffic go back"), "{stdout}");
    assert_eq!(common::output(&outputs, "verdict").as_deref(), Some("pass"), "{outputs}");
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 2);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.path().join(".ml-gates/report.json")).unwrap()).unwrap();
    let rollback = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "rollback").unwrap();
    assert_eq!((rollback["status"].as_str(), rollback["value"].as_u64()), (Some("pass"), Some(2)), "{rollback}");
    for url in &urls[1..] {
        assert_eq!(answered_by(url), "2");
    }
}

/// A shadow rollout through the fleet: every replica copies the requests to the candidate, the
/// disagreement and the copies' error rate come from the replicas' shadow counters through
/// Prometheus, then the switch.
fn shadow_through_the_fleet(ws: &Workspace, urls: &[String]) {
    let champion = std::fs::canonicalize("examples/churn/models/champion.model").unwrap();
    ws.ok(&["register", "--model", champion.to_str().unwrap()]);
    let config = ws.path().join("ml-gates.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let shadow = text.replace("strategy: canary\n  steps: [10, 50, 100]\n", "strategy: shadow\n").replace(
        "analysis: {error_rate: {max: 0.01}}",
        "analysis: {disagreement: {max: 0.01}, shadow_error_rate: {max: 0.01}}",
    );
    assert_ne!(shadow, text);
    std::fs::write(&config, shadow).unwrap();
    let (code, report, lines) = deploy(ws, "4");
    let log: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let detail = &report["deploy"];
    assert_eq!((code, detail["ending"].as_str()), (Some(0), Some("completed")), "{detail}\n{}", log.join("\n"));
    let shadow_phase = &detail["phases"][0];
    let measured: Vec<(&str, &str, f64)> = shadow_phase["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["metric"].as_str().unwrap(), m["phase"].as_str().unwrap(), m["value"].as_f64().unwrap()))
        .collect();
    // The same model as stable: no row disagrees, no copy fails.
    assert_eq!(
        measured,
        vec![("disagreement", "successful", 0.0), ("shadow_error_rate", "successful", 0.0)],
        "{shadow_phase}"
    );
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 4);
    for url in urls {
        assert_eq!(answered_by(url), "4");
    }
}

#[test]
fn a_canary_rolls_out_to_a_fleet_following_an_oci_registry() {
    let server = OciServer::start(Auth::Htpasswd);
    rollout_through_the_fleet(&oci_section(&server.repository("fleet/churn")), false);
}

#[test]
fn a_canary_rolls_out_to_a_fleet_following_a_folder() {
    let shared = tempfile::tempdir().unwrap();
    rollout_through_the_fleet(&format!("registry:\n  path: {}\n", shared.path().join("registry").display()), true);
}

/// An A/B test on real traffic across the fleet: the application reports each answer's true
/// outcome to the replica that answered (`POST /feedback` with its `x-ml-gates-request-id`), and
/// the sequential test reads the fleet's outcome counters through Prometheus.
#[test]
fn an_ab_test_through_the_fleet_decides_on_reported_outcomes() {
    use polars::prelude::{AnyValue, ParquetReader, SerReader};
    let shared = tempfile::tempdir().unwrap();
    let section = format!("registry:\n  path: {}\n", shared.path().join("registry").display());
    let ws = Workspace::new(&section);
    // Stable: a model trained on flipped labels (mostly wrong). Candidate: the logistic regression.
    let data = ws.path().join("data");
    common::flip_training_labels(&data);
    let weak = std::fs::read_to_string(ws.path().join("ml-gates.yaml"))
        .unwrap()
        .replace("data/train.parquet", "data/flipped.parquet");
    std::fs::write(ws.path().join("weak.yaml"), weak).unwrap();
    ws.ok(&["train", "--config", "weak.yaml", "--model", "weak.model"]);
    ws.ok(&["register", "--model", "weak.model"]);
    ws.ok(&["promote", "1"]);
    ws.ok(&["train"]);
    ws.ok(&["register"]);

    let homes: Vec<Workspace> = (0..3).map(|_| Workspace::new(&section)).collect();
    let replicas: Vec<Replica> = homes.iter().map(|h| Replica::start(h, &["--watch", "500ms"])).collect();
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let prometheus =
        Prometheus::start(&urls.iter().map(|u| u.trim_start_matches("http://").to_string()).collect::<Vec<_>>());
    let config = ws.path().join("ml-gates.yaml");
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap()
            + &format!(
                "deploy:\n  strategy: ab\n  interval: 3s\n  min_samples: 20\n  target: registry\n  fleet_timeout: 30s\n  ab: {{alpha: 0.05, min_samples: 200, max_windows: 20}}\n  metrics: {{prometheus: {{url: \"{}\"}}}}\n",
                prometheus.url
            ),
    )
    .unwrap();
    // The application: evaluation rows (their labels known later), each answer's outcome reported
    // to the replica that answered it.
    let test = ParquetReader::new(std::fs::File::open(data.join("test.parquet")).unwrap()).finish().unwrap();
    let rows: Vec<(String, i64)> = (0..test.height())
        .map(|i| {
            let get = |c: &str| test.column(c).unwrap().get(i).unwrap();
            let number = |c: &str| match get(c) {
                AnyValue::Null => "null".to_string(),
                v => v.to_string(),
            };
            let plan = match get("plan") {
                AnyValue::String(s) => format!("\"{s}\""),
                AnyValue::StringOwned(s) => format!("\"{s}\""),
                _ => "null".to_string(),
            };
            let body = format!(
                r#"{{"dataframe_records": [{{"age": {}, "monthly_spend": {}, "tenure_months": {}, "plan": {plan}}}]}}"#,
                number("age"),
                number("monthly_spend"),
                number("tenure_months")
            );
            (body, get("churn").try_extract::<i64>().unwrap())
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let reported = Arc::new(Mutex::new((0u64, Vec::<String>::new())));
    let clients: Vec<_> = (0..2)
        .map(|t| {
            let (stop, reported, urls, rows) = (stop.clone(), reported.clone(), urls.clone(), rows.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut i = t;
                while !stop.load(Ordering::SeqCst) {
                    let url = &urls[i % urls.len()];
                    let (body, label) = &rows[i % rows.len()];
                    let answer = client
                        .post(format!("{url}/invocations"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .unwrap();
                    assert_eq!(answer.status(), 200);
                    let id = answer.headers()["x-ml-gates-request-id"].to_str().unwrap().to_string();
                    let fed: serde_json::Value = client
                        .post(format!("{url}/feedback"))
                        .header("content-type", "application/json")
                        .body(format!(r#"{{"id": "{id}", "outcome": {label}}}"#))
                        .send()
                        .unwrap()
                        .json()
                        .unwrap();
                    let mut r = reported.lock().unwrap();
                    r.0 += fed["accepted"].as_u64().unwrap();
                    if let Some(unknown) = fed["unknown"].as_array().filter(|u| !u.is_empty()) {
                        r.1.push(format!("{unknown:?}"));
                    }
                    drop(r);
                    i += 2;
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    let started = Instant::now();
    while prometheus.value("count(ml_gates_routing_generation)") != Some(3.0) {
        assert!(started.elapsed() < Duration::from_secs(30), "Prometheus does not scrape the three replicas");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, report, lines) = deploy(&ws, "2");
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let log: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let detail = &report["deploy"];
    assert_eq!((code, detail["ending"].as_str()), (Some(0), Some("completed")), "{detail}\n{}", log.join("\n"));
    let ab = &detail["ab"];
    assert_eq!(ab["test"]["decided"], true, "{detail}");
    assert!(ab["stable"]["n"].as_u64().unwrap() >= 200 && ab["candidate"]["n"].as_u64().unwrap() >= 200, "{ab}");
    // The direction and size are the models' real difference in accuracy on those rows.
    let accuracy = |n: &serde_json::Value, sum: &serde_json::Value| sum.as_f64().unwrap() / n.as_f64().unwrap();
    let (stable, candidate) =
        (accuracy(&ab["stable"]["n"], &ab["stable"]["sum"]), accuracy(&ab["candidate"]["n"], &ab["candidate"]["sum"]));
    assert!(candidate - stable > 0.2, "stable {stable}, candidate {candidate}");
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 2);
    let r = reported.lock().unwrap();
    assert!(r.1.is_empty(), "feedback for unknown ids: {:?}", r.1);
    assert!(r.0 >= 400, "{}", r.0);
    drop(replicas);
}
