//! The sticky PR comment against a stateful fake of GitHub's REST API (wiremock): comments are
//! kept, listed by page, created and updated like GitHub does, and failures can be queued.

use ml_gates::github::comment::{body, marker, Client, Outcome, Retries};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const BOT: &str = "github-actions[bot]";

#[derive(Default)]
struct State {
    /// (id, author, body)
    comments: Vec<(u64, String, String)>,
    next_id: u64,
    /// Responses served before the real behaviour, one per request.
    failures: VecDeque<ResponseTemplate>,
    /// (method, path and query, JSON body)
    requests: Vec<(String, String, serde_json::Value)>,
}

#[derive(Clone, Default)]
struct FakeGitHub(Arc<Mutex<State>>);

impl FakeGitHub {
    fn comment(&self, author: &str, text: &str) -> u64 {
        let mut s = self.0.lock().unwrap();
        s.next_id += 1;
        let id = 1000 + s.next_id;
        s.comments.push((id, author.into(), text.into()));
        id
    }
    fn fail_next(&self, response: ResponseTemplate) {
        self.0.lock().unwrap().failures.push_back(response);
    }
    fn requests(&self) -> Vec<(String, String, serde_json::Value)> {
        self.0.lock().unwrap().requests.clone()
    }
    fn comments(&self) -> Vec<(u64, String, String)> {
        self.0.lock().unwrap().comments.clone()
    }
}

fn json_of(id: u64, author: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "user": {"login": author}, "body": text})
}

impl Respond for FakeGitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let path = request.url.path().to_string();
        let query = request.url.query().map(|q| format!("?{q}")).unwrap_or_default();
        let payload: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null);
        s.requests.push((request.method.to_string(), format!("{path}{query}"), payload.clone()));
        if let Some(failure) = s.failures.pop_front() {
            return failure;
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method.as_str(), parts.as_slice()) {
            ("GET", ["repos", "octo", "churn", "issues", _, "comments"]) => {
                let param = |k: &str| {
                    request.url.query_pairs().find(|(n, _)| n == k).and_then(|(_, v)| v.parse::<usize>().ok())
                };
                let (per_page, page) = (param("per_page").unwrap_or(30).min(100), param("page").unwrap_or(1));
                let items: Vec<serde_json::Value> = s
                    .comments
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|(id, a, b)| json_of(*id, a, b))
                    .collect();
                ResponseTemplate::new(200).set_body_json(items)
            }
            ("POST", ["repos", "octo", "churn", "issues", _, "comments"]) => {
                let text = payload["body"].as_str().unwrap_or_default().to_string();
                s.next_id += 1;
                let id = 1000 + s.next_id;
                s.comments.push((id, BOT.into(), text.clone()));
                ResponseTemplate::new(201).set_body_json(json_of(id, BOT, &text))
            }
            ("PATCH", ["repos", "octo", "churn", "issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap();
                let text = payload["body"].as_str().unwrap_or_default().to_string();
                match s.comments.iter_mut().find(|c| c.0 == id) {
                    Some(c) => {
                        c.2 = text.clone();
                        ResponseTemplate::new(200).set_body_json(json_of(id, &c.1, &text))
                    }
                    None => ResponseTemplate::new(404),
                }
            }
            ("POST", ["repos", "octo", "churn", "check-runs"]) => {
                ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 77, "name": payload["name"]}))
            }
            ("PATCH", ["repos", "octo", "churn", "check-runs", "77"]) => {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 77}))
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

/// Keep what a test sent, for scripts/check-openapi.cjs (run by scripts/test.sh after the tests):
/// every request is checked against GitHub's OpenAPI description.
fn record(test: &str, fake: &FakeGitHub) {
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("github-requests");
    std::fs::create_dir_all(&folder).unwrap();
    let lines: String = fake
        .requests()
        .into_iter()
        .map(|(method, path, body)| {
            serde_json::json!({"method": method, "path": path, "body": body}).to_string() + "\n"
        })
        .collect();
    std::fs::write(folder.join(format!("{test}.jsonl")), lines).unwrap();
}

async fn setup() -> (MockServer, FakeGitHub, Client) {
    let server = MockServer::start().await;
    let fake = FakeGitHub::default();
    Mock::given(any()).respond_with(fake.clone()).mount(&server).await;
    let retries = Retries { attempts: 4, max_wait: Duration::from_secs(2), first_backoff: Duration::from_millis(10) };
    let client = Client::new(&server.uri(), "octo/churn", "ghs_test", retries).unwrap();
    (server, fake, client)
}

#[tokio::test]
async fn the_first_run_creates_and_the_second_updates_in_place() {
    let (_server, fake, client) = setup().await;
    let m = marker("ml-gates.yaml");
    let first = client.upsert(7, &m, BOT, &body(&m, "run 1")).await.unwrap();
    let Outcome::Created(id) = first else { panic!("{first:?}") };
    let second = client.upsert(7, &m, BOT, &body(&m, "run 2")).await.unwrap();
    assert_eq!(second, Outcome::Updated(id));
    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].2.ends_with("run 2"));
    // Another config file of the same repository (a monorepo) keeps its own comment.
    let other = marker("models/price/ml-gates.yaml");
    assert!(matches!(client.upsert(7, &other, BOT, &body(&other, "price")).await.unwrap(), Outcome::Created(_)));
    assert_eq!(fake.comments().len(), 2);
    record("the_first_run_creates_and_the_second_updates_in_place", &fake);
}

#[tokio::test]
async fn a_forged_marker_by_another_author_is_ignored() {
    let (_server, fake, client) = setup().await;
    let m = marker("ml-gates.yaml");
    let forged = fake.comment("mallory", &format!("{m}\nall gates passed, merge away"));
    let outcome = client.upsert(7, &m, BOT, &body(&m, "the real report")).await.unwrap();
    assert!(matches!(outcome, Outcome::Created(id) if id != forged));
    let comments = fake.comments();
    assert!(comments.iter().any(|c| c.0 == forged && c.2.ends_with("merge away")), "the forged one is untouched");
    record("a_forged_marker_by_another_author_is_ignored", &fake);
}

#[tokio::test]
async fn more_than_a_hundred_comments_are_paged_through() {
    let (_server, fake, client) = setup().await;
    let m = marker("ml-gates.yaml");
    for i in 0..130 {
        fake.comment("someone", &format!("comment {i}"));
    }
    let ours = fake.comment(BOT, &body(&m, "old report"));
    let outcome = client.upsert(7, &m, BOT, &body(&m, "new report")).await.unwrap();
    assert_eq!(outcome, Outcome::Updated(ours));
    let pages: Vec<String> = fake.requests().into_iter().filter(|r| r.0 == "GET").map(|r| r.1).collect();
    assert_eq!(
        pages,
        [
            "/repos/octo/churn/issues/7/comments?per_page=100&page=1",
            "/repos/octo/churn/issues/7/comments?per_page=100&page=2"
        ]
    );
    record("more_than_a_hundred_comments_are_paged_through", &fake);
}

#[tokio::test]
async fn a_read_only_token_is_a_warning_not_an_error() {
    let (_server, fake, client) = setup().await;
    fake.fail_next(
        ResponseTemplate::new(403).set_body_string(r#"{"message":"Resource not accessible by integration"}"#),
    );
    let outcome = client.upsert(7, &marker("ml-gates.yaml"), BOT, "x").await.unwrap();
    let Outcome::Skipped(why) = outcome else { panic!("{outcome:?}") };
    assert!(why.contains("403") && why.contains("Resource not accessible by integration"), "{why}");
    assert_eq!(fake.requests().len(), 1, "no retry of a permission error");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let (_server, fake, client) = setup().await;
    fake.fail_next(ResponseTemplate::new(429).insert_header("retry-after", "1"));
    fake.fail_next(ResponseTemplate::new(502));
    let reset = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
    fake.fail_next(
        ResponseTemplate::new(403)
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
    );
    let start = std::time::Instant::now();
    let m = marker("ml-gates.yaml");
    let outcome = client.upsert(7, &m, BOT, &body(&m, "report")).await.unwrap();
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    assert!(start.elapsed() >= Duration::from_millis(900), "Retry-After was honoured");
    let gets = fake.requests().iter().filter(|r| r.0 == "GET").count();
    assert_eq!(gets, 4, "three failures, then the listing");
}

#[tokio::test]
async fn persistent_server_errors_end_in_an_error() {
    let (_server, fake, client) = setup().await;
    for _ in 0..4 {
        fake.fail_next(ResponseTemplate::new(503));
    }
    let err = client.upsert(7, &marker("ml-gates.yaml"), BOT, "x").await.unwrap_err();
    assert!(err.contains("HTTP 503"), "{err}");
}

#[tokio::test]
async fn request_bodies_carry_only_the_comment_text() {
    let (_server, fake, client) = setup().await;
    let m = marker("ml-gates.yaml");
    client.upsert(7, &m, BOT, &body(&m, "a")).await.unwrap();
    client.upsert(7, &m, BOT, &body(&m, "b")).await.unwrap();
    for (method, _, payload) in fake.requests().into_iter().filter(|r| r.0 != "GET") {
        let keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["body"], "{method}");
    }
    record("request_bodies_carry_only_the_comment_text", &fake);
}

#[tokio::test]
async fn a_check_run_carries_every_annotation_fifty_at_a_time() {
    use ml_gates::report::{Check, Report, Severity, Stage};
    let (_server, fake, client) = setup().await;
    let mut report = Report::new("churn", "ml-gates.yaml");
    let checks = (0..120)
        .map(|i| {
            Check::judged("value-range", Stage::Validate, false, Severity::Error)
                .dataset("train")
                .column(&format!("c{i}"))
                .value(i)
                .message(format!("{i} rows out of range"))
                .line(Some(10 + i as usize))
        })
        .collect();
    report.add_stage(Stage::Validate, checks);
    let (id, requests) =
        ml_gates::github::checks::publish(&client, "0123456789abcdef", &report, "ml-gates.yaml", "## report")
            .await
            .unwrap();
    assert_eq!((id, requests), (77, 3));
    let sent = fake.requests();
    let counts: Vec<usize> = sent.iter().map(|r| r.2["output"]["annotations"].as_array().unwrap().len()).collect();
    assert_eq!(counts, [50, 50, 20]);
    assert_eq!(sent[0].2["conclusion"], "failure");
    assert_eq!(sent[0].2["output"]["annotations"][3]["start_line"], 13);
    record("a_check_run_carries_every_annotation_fifty_at_a_time", &fake);
}
