//! The sticky pull-request comment: one per pull request and per config file, found by a hidden
//! marker and its author, updated in place on every run and created when absent.
//!
//! Requests go through octocrab's raw calls so the status and headers stay visible: a 429, or a
//! 403 whose rate limit is exhausted, waits for `Retry-After` or `x-ratelimit-reset` (capped) and
//! retries; a 5xx retries with capped exponential backoff; any other 403 is a token that may not
//! write (a pull request from a fork), reported as a warning. The verdict never depends on it.

use octocrab::Octocrab;
use serde_json::{json, Value};
use std::time::Duration;

/// GitHub's limit on a comment body.
pub const MAX_BODY: usize = 65_536;

/// The hidden marker of the comment for `config_file`. Its text is made safe for an HTML comment.
pub fn marker(config_file: &str) -> String {
    let safe: String = config_file.chars().map(|c| if c == '-' || c == '>' || c == '<' { '_' } else { c }).collect();
    format!("<!-- ml-gates sticky report: {safe} -->")
}

/// The comment's body: the marker, then the Markdown report cut to GitHub's limit with a note.
/// The report's own text is escaped by the Markdown renderer, so no data can forge the marker.
pub fn body(marker: &str, markdown: &str) -> String {
    let full = format!("{marker}\n{markdown}");
    if full.chars().count() <= MAX_BODY {
        return full;
    }
    let note =
        "\n\n> **The report was cut here** to fit GitHub's comment limit; the full report is in the job summary.\n";
    crate::report::markdown::cut(&full, MAX_BODY, note, crate::report::markdown::Measure::Chars)
}

/// What happened to the comment.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created(u64),
    Updated(u64),
    /// Not posted, and why (a read-only token).
    Skipped(String),
}

/// Retry limits.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub attempts: u32,
    /// The longest wait for one retry, whatever the server asks.
    pub max_wait: Duration,
    pub first_backoff: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Retries { attempts: 5, max_wait: Duration::from_secs(60), first_backoff: Duration::from_secs(1) }
    }
}

/// A client for one repository.
pub struct Client {
    octo: Octocrab,
    api: String,
    owner: String,
    repo: String,
    retries: Retries,
}

/// A response: status, headers that matter, body.
struct Reply {
    status: u16,
    body: String,
}

impl Client {
    /// `api_url` is GITHUB_API_URL (GitHub Enterprise Server included); `repository` is `owner/repo`.
    pub fn new(api_url: &str, repository: &str, token: &str, retries: Retries) -> Result<Client, String> {
        let (owner, repo) =
            repository.split_once('/').ok_or_else(|| format!("GITHUB_REPOSITORY '{repository}' is not owner/repo"))?;
        let octo = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| format!("GITHUB_API_URL '{api_url}': {e}"))?
            .personal_token(token.to_string())
            .build()
            .map_err(|e| format!("cannot build the GitHub client: {e}"))?;
        Ok(Client {
            octo,
            api: api_url.trim_end_matches('/').to_string(),
            owner: owner.into(),
            repo: repo.into(),
            retries,
        })
    }

    async fn send(&self, method: &str, url: &str, payload: Option<&Value>) -> Result<Reply, String> {
        let mut backoff = self.retries.first_backoff;
        for attempt in 1..=self.retries.attempts {
            let response = match method {
                "GET" => self.octo._get(url).await,
                "POST" => self.octo._post(url, payload).await,
                _ => self.octo._patch(url, payload).await,
            };
            let response = match response {
                Ok(r) => r,
                Err(e) if attempt < self.retries.attempts => {
                    tokio::time::sleep(backoff.min(self.retries.max_wait)).await;
                    backoff *= 2;
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(format!("{method} {url}: {e}")),
            };
            let status = response.status().as_u16();
            let header = |name: &str| {
                response.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok())
            };
            let exhausted = header("x-ratelimit-remaining") == Some(0);
            let wait = if status == 429 || (status == 403 && (exhausted || header("retry-after").is_some())) {
                // Retry-After in seconds, else until the rate limit resets, else back off.
                let until_reset = header("x-ratelimit-reset").map(|reset| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs();
                    Duration::from_secs(reset.saturating_sub(now))
                });
                Some(header("retry-after").map(Duration::from_secs).or(until_reset).unwrap_or(backoff))
            } else if status >= 500 {
                Some(backoff)
            } else {
                None
            };
            match wait {
                Some(w) if attempt < self.retries.attempts => {
                    tokio::time::sleep(w.min(self.retries.max_wait)).await;
                    backoff = (backoff * 2).min(self.retries.max_wait);
                }
                _ => {
                    let body = self.octo.body_to_string(response).await.map_err(|e| e.to_string())?;
                    return Ok(Reply { status, body });
                }
            }
        }
        Err(format!("{method} {url}: no answer after {} attempts", self.retries.attempts))
    }

    /// One request with the retry policy: the status and the body. `path` starts at `/repos/…`.
    pub async fn request(&self, method: &str, path: &str, payload: Option<&Value>) -> Result<(u16, String), String> {
        let reply = self.send(method, &format!("{}{path}", self.api), payload).await?;
        Ok((reply.status, reply.body))
    }

    /// `/repos/{owner}/{repo}`.
    pub fn repo_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.repo)
    }

    /// Create or update the sticky comment on pull request `number`: the first comment by `author`
    /// holding `marker` is updated; a comment with the marker by anyone else is ignored.
    pub async fn upsert(&self, number: u64, marker: &str, author: &str, text: &str) -> Result<Outcome, String> {
        let base = format!("{}/repos/{}/{}", self.api, self.owner, self.repo);
        let mut found = None;
        'pages: for page in 1..=100 {
            let url = format!("{base}/issues/{number}/comments?per_page=100&page={page}");
            let reply = self.send("GET", &url, None).await?;
            if reply.status == 403 {
                return Ok(Outcome::Skipped(read_only(&reply)));
            }
            if reply.status != 200 {
                return Err(format!(
                    "listing the comments of #{number}: HTTP {}: {}",
                    reply.status,
                    short(&reply.body)
                ));
            }
            let comments: Vec<Value> =
                serde_json::from_str(&reply.body).map_err(|e| format!("listing the comments of #{number}: {e}"))?;
            for c in &comments {
                let mine = c.pointer("/user/login").and_then(Value::as_str) == Some(author);
                let marked = c.get("body").and_then(Value::as_str).is_some_and(|b| b.starts_with(marker));
                if mine && marked {
                    found = c.get("id").and_then(Value::as_u64);
                    break 'pages;
                }
            }
            if comments.len() < 100 {
                break;
            }
        }
        let payload = json!({ "body": text });
        let (reply, outcome): (Reply, fn(u64) -> Outcome) = match found {
            Some(id) => {
                (self.send("PATCH", &format!("{base}/issues/comments/{id}"), Some(&payload)).await?, Outcome::Updated)
            }
            None => (
                self.send("POST", &format!("{base}/issues/{number}/comments"), Some(&payload)).await?,
                Outcome::Created,
            ),
        };
        match reply.status {
            200 | 201 => {
                let v: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
                Ok(outcome(v.get("id").and_then(Value::as_u64).or(found).unwrap_or(0)))
            }
            403 => Ok(Outcome::Skipped(read_only(&reply))),
            s => Err(format!("writing the comment on #{number}: HTTP {s}: {}", short(&reply.body))),
        }
    }
}

fn read_only(reply: &Reply) -> String {
    format!(
        "the token may not write comments here (HTTP 403, as from a pull request of a fork): {}",
        short(&reply.body)
    )
}

fn short(body: &str) -> String {
    let one_line: String = body.chars().filter(|c| !c.is_control()).take(200).collect();
    one_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_cannot_be_closed_by_a_path() {
        assert_eq!(marker("models/a-->b.yaml"), "<!-- ml-gates sticky report: models/a___b.yaml -->");
    }

    #[test]
    fn long_bodies_are_cut_under_the_limit() {
        let md: String = (0..20_000).map(|i| format!("| {i} | ok |\n")).collect();
        let b = body("<!-- m -->", &md);
        assert!(b.chars().count() <= MAX_BODY);
        assert!(b.starts_with("<!-- m -->\n") && b.contains("The report was cut here"));
    }
}
