//! A small client of the OCI distribution API (spec v1.1) on the project's reqwest 0.12: blobs
//! (checked, uploaded in chunks of at most 4 MiB, downloaded through redirects without the
//! Authorization header on another host), manifests and tag lists (followed through `Link`
//! pages). Authentication as registries ask for it: a `401` with `WWW-Authenticate: Bearer
//! realm=…,service=…,scope=…` is answered by a token from the realm (asked with Basic
//! credentials, or anonymously), `Basic` by the credentials; a token that stops working is
//! replaced once. Transient failures (unreachable, 429 with its Retry-After, 5xx) are retried
//! with capped exponential backoff. Credentials and tokens never reach a message.

use super::super::RegistryError;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, LOCATION};
use reqwest::{Method, StatusCode, Url};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The largest PATCH body sent: GHCR refuses larger chunks (416).
pub const CHUNK: u64 = 4 << 20;
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Where a repository lives and how to reach it.
#[derive(Clone)]
pub struct Endpoint {
    /// `https://host[:port]`, or `http://` for a loopback host.
    pub base: String,
    /// `host[:port]`, for messages.
    pub host: String,
    /// The repository path inside the registry (`owner/repo/churn`).
    pub name: String,
}

impl Endpoint {
    /// `host[:port]/path` (`core::names::oci_repository`); plain HTTP only for loopback hosts.
    pub fn parse(repository: &str) -> Result<Endpoint, String> {
        let (host, name) = crate::core::names::oci_repository(repository)?;
        let scheme = if is_loopback(&host) { "http" } else { "https" };
        Ok(Endpoint { base: format!("{scheme}://{host}"), host, name })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.name)
    }
}

/// 127.0.0.0/8, `localhost` and `[::1]`, with or without a port.
pub fn is_loopback(host: &str) -> bool {
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    bare == "localhost" || bare == "::1" || bare.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.octets()[0] == 127)
}

/// One failed request: whether trying again could help, and what the registry said.
#[derive(Debug)]
pub struct Failure {
    pub status: Option<StatusCode>,
    pub transient: bool,
    pub wait: Option<Duration>,
    pub message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Failure { status: None, transient: false, wait: None, message: message.into() }
    }
}

/// An answer: status, headers, body (read whole; only small documents are read this way).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Retry and timeout settings.
#[derive(Clone, Debug)]
pub struct Limits {
    pub attempts: u32,
    pub timeout: Duration,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

pub struct Client {
    pub endpoint: Endpoint,
    credentials: Option<(String, String)>,
    http: reqwest::Client,
    limits: Limits,
    /// The Authorization header in force (a Bearer token, or Basic), replaced on a 401.
    auth: Mutex<Option<String>>,
}

/// A request's parts, kept so that it can be sent again.
struct Request<'a> {
    method: Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<&'a [u8]>,
}

impl Client {
    pub fn new(
        endpoint: Endpoint,
        credentials: Option<(String, String)>,
        limits: Limits,
    ) -> Result<Self, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(limits.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ml-gates/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Remote(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client { endpoint, credentials, http, limits, auth: Mutex::new(None) })
    }

    /// One request to the registry, with the authentication it asks for; no retries.
    async fn once(&self, req: &Request<'_>) -> Result<reqwest::Response, Failure> {
        let mut renewed = false;
        loop {
            let auth = self.auth.lock().unwrap().clone();
            let mut builder = self.http.request(req.method.clone(), &req.url);
            for (k, v) in &req.headers {
                builder = builder.header(*k, v);
            }
            if let Some(auth) = &auth {
                builder = builder.header(AUTHORIZATION, auth);
            }
            if let Some(body) = req.body {
                builder = builder.body(body.to_vec());
            } else if matches!(req.method, Method::PUT | Method::POST | Method::PATCH) {
                builder = builder.header(CONTENT_LENGTH, "0");
            }
            let response = builder.send().await.map_err(network)?;
            if response.status() != StatusCode::UNAUTHORIZED || renewed {
                return Ok(response);
            }
            // Asked to authenticate (or the token in force expired): answer the challenge once.
            let challenge = response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(challenge) = challenge.as_deref().and_then(Challenge::parse) else {
                return Ok(response);
            };
            let fresh = match challenge {
                Challenge::Basic => match &self.credentials {
                    Some((user, password)) => Some(basic(user, password)),
                    None => return Ok(response),
                },
                Challenge::Bearer { realm, service, scope } => {
                    Some(format!("Bearer {}", self.token(&realm, service.as_deref(), scope.as_deref()).await?))
                }
            };
            *self.auth.lock().unwrap() = fresh;
            renewed = true;
        }
    }

    /// A token from the realm for `scope`, asked with the credentials (anonymously without).
    async fn token(&self, realm: &str, service: Option<&str>, scope: Option<&str>) -> Result<String, Failure> {
        let mut url = Url::parse(realm).map_err(|_| Failure::new(format!("the token realm '{realm}' is not a URL")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = service {
                q.append_pair("service", service);
            }
            if let Some(scope) = scope {
                q.append_pair("scope", scope);
            }
        }
        let realm_host = url.host_str().unwrap_or_default().to_string();
        let mut builder = self.http.get(url);
        if let Some((user, password)) = &self.credentials {
            builder = builder.header(AUTHORIZATION, basic(user, password));
        }
        let response = builder.send().await.map_err(network)?;
        let status = response.status();
        if !status.is_success() {
            let mut f = failure(status, response.headers(), &[]);
            f.message = format!("the token service at {realm_host} answered HTTP {}", status.as_u16());
            return Err(f);
        }
        let body = response.bytes().await.map_err(network)?;
        let parsed: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| Failure::new(format!("the token service at {realm_host} did not answer JSON")))?;
        parsed["token"]
            .as_str()
            .or_else(|| parsed["access_token"].as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Failure::new(format!("the token service at {realm_host} gave no token")))
    }

    /// A request retried while its failures are transient; any answer but a transient error is
    /// returned (the caller judges 4xx).
    async fn send(&self, req: &Request<'_>) -> Result<reqwest::Response, Failure> {
        let mut delay = self.limits.backoff;
        let mut attempt = 1;
        loop {
            let result = match self.once(req).await {
                Ok(r)
                    if r.status() == StatusCode::TOO_MANY_REQUESTS
                        || r.status() == StatusCode::BAD_REQUEST
                        || r.status().is_server_error() =>
                {
                    let status = r.status();
                    let headers = r.headers().clone();
                    let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    Err(failure(status, &headers, &body))
                }
                other => other,
            };
            match result {
                Err(f) if f.transient && attempt < self.limits.attempts => {
                    let wait = f.wait.unwrap_or(delay).min(self.limits.max_backoff.max(delay));
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(self.limits.max_backoff);
                    attempt += 1;
                }
                Err(mut f) => {
                    if f.transient && attempt > 1 {
                        f.message = format!("{} (after {attempt} attempts)", f.message);
                    }
                    return Err(f);
                }
                Ok(r) => return Ok(r),
            }
        }
    }

    /// A request whose whole answer is read; a status outside `ok` is a failure.
    pub async fn call(
        &self,
        method: Method,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: Option<&[u8]>,
        ok: &[u16],
    ) -> Result<Answer, Failure> {
        let req = Request { method: method.clone(), url, headers, body };
        let response = self.send(&req).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = if method == Method::HEAD { Vec::new() } else { response.bytes().await.map_err(network)?.to_vec() };
        if ok.contains(&status.as_u16()) {
            Ok(Answer { status, headers, body })
        } else {
            Err(failure(status, &headers, &body))
        }
    }

    // ---- manifests

    /// GET or HEAD of a manifest; None when the repository or the reference does not exist.
    async fn manifest(&self, method: Method, reference: &str) -> Result<Option<Answer>, Failure> {
        let answer = self
            .call(
                method,
                self.endpoint.url(&format!("manifests/{reference}")),
                vec![("accept", OCI_MANIFEST.to_string())],
                None,
                &[200, 404],
            )
            .await?;
        Ok((answer.status != StatusCode::NOT_FOUND).then_some(answer))
    }

    /// A manifest by tag or digest: its bytes and digest, or None when the repository or the
    /// reference does not exist.
    pub async fn get_manifest(&self, reference: &str) -> Result<Option<(Vec<u8>, String)>, Failure> {
        let Some(answer) = self.manifest(Method::GET, reference).await? else { return Ok(None) };
        let digest = format!("sha256:{}", crate::core::digest::sha256_hex(&answer.body));
        Ok(Some((answer.body, digest)))
    }

    /// The digest a tag points at, or None.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<String>, Failure> {
        let Some(answer) = self.manifest(Method::HEAD, reference).await? else { return Ok(None) };
        match answer.header("docker-content-digest") {
            Some(d) => Ok(Some(d.to_string())),
            // A registry that does not say: read it.
            None => Ok(self.get_manifest(reference).await?.map(|(_, d)| d)),
        }
    }

    /// Store `bytes` (an OCI image manifest) under `reference` (a tag or its digest).
    pub async fn put_manifest(&self, reference: &str, bytes: &[u8]) -> Result<(), Failure> {
        self.call(
            Method::PUT,
            self.endpoint.url(&format!("manifests/{reference}")),
            vec![("content-type", OCI_MANIFEST.to_string())],
            Some(bytes),
            &[200, 201],
        )
        .await
        .map(|_| ())
    }

    // ---- blobs

    /// Whether the registry has the blob.
    pub async fn has_blob(&self, digest: &str) -> Result<bool, Failure> {
        let answer =
            self.call(Method::HEAD, self.endpoint.url(&format!("blobs/{digest}")), vec![], None, &[200, 404]).await?;
        Ok(answer.status == StatusCode::OK)
    }

    /// Upload a blob (unless the registry has it): a session, PATCH chunks of at most 4 MiB, then
    /// the closing PUT with its digest. A failed upload starts again from nothing.
    pub async fn push_blob(&self, digest: &str, size: u64, source: Source<'_>) -> Result<(), Failure> {
        if self.has_blob(digest).await? {
            return Ok(());
        }
        let mut delay = self.limits.backoff;
        let mut attempt = 1;
        loop {
            match self.upload(digest, size, &source).await {
                Ok(()) => return Ok(()),
                Err(f) if f.transient && attempt < self.limits.attempts => {
                    tokio::time::sleep(f.wait.unwrap_or(delay)).await;
                    delay = (delay * 2).min(self.limits.max_backoff);
                    attempt += 1;
                }
                Err(f) => return Err(f),
            }
        }
    }

    async fn upload(&self, digest: &str, size: u64, source: &Source<'_>) -> Result<(), Failure> {
        let start = self.call(Method::POST, self.endpoint.url("blobs/uploads/"), vec![], None, &[202]).await?;
        let mut location = self.location(&start)?;
        let mut file = match source {
            Source::File(path) => Some(
                std::fs::File::open(path).map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?,
            ),
            Source::Bytes(_) => None,
        };
        let mut offset = 0u64;
        let mut buffer = Vec::new();
        while offset < size {
            let len = (size - offset).min(CHUNK);
            let chunk: &[u8] = match (source, file.as_mut()) {
                (Source::Bytes(b), _) => &b[offset as usize..(offset + len) as usize],
                (Source::File(path), Some(f)) => {
                    buffer.resize(len as usize, 0);
                    f.seek(SeekFrom::Start(offset))
                        .and_then(|_| f.read_exact(&mut buffer))
                        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
                    &buffer
                }
                (Source::File(_), None) => unreachable!("a file source is open"),
            };
            let req = Request {
                method: Method::PATCH,
                url: location.clone(),
                headers: vec![
                    ("content-type", "application/octet-stream".to_string()),
                    ("content-range", format!("{offset}-{}", offset + len - 1)),
                ],
                body: Some(chunk),
            };
            let response = self.once(&req).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            if status != StatusCode::ACCEPTED {
                return Err(failure(status, &headers, &body));
            }
            location = self.location(&Answer { status, headers, body })?;
            offset += len;
        }
        let mut url = Url::parse(&location)
            .map_err(|_| Failure::new("the registry gave an upload location that is not a URL"))?;
        url.query_pairs_mut().append_pair("digest", digest);
        let req = Request { method: Method::PUT, url: url.to_string(), headers: vec![], body: None };
        let response = self.once(&req).await?;
        let status = response.status();
        if status == StatusCode::CREATED || status == StatusCode::NO_CONTENT {
            return Ok(());
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        Err(failure(status, &headers, &body))
    }

    /// An upload session's next URL, from the answer's Location (relative or absolute).
    fn location(&self, answer: &Answer) -> Result<String, Failure> {
        let raw = answer
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Failure::new("the registry started an upload without a Location"))?;
        let base = Url::parse(&self.endpoint.base).expect("the endpoint is a URL");
        base.join(raw)
            .map(|u| u.to_string())
            .map_err(|_| Failure::new("the registry gave an upload location that is not a URL"))
    }

    /// A small blob, read whole and checked against its digest.
    pub async fn get_blob(&self, digest: &str) -> Result<Vec<u8>, Failure> {
        let mut out = Vec::new();
        self.fetch_blob(digest, &mut out).await?;
        Ok(out)
    }

    /// Download a blob into `out`, following redirects (to the registry's storage, which gets no
    /// Authorization header when it is another host), and check its sha256 on the way.
    pub async fn fetch_blob(&self, digest: &str, out: &mut dyn Write) -> Result<u64, Failure> {
        let req = Request {
            method: Method::GET,
            url: self.endpoint.url(&format!("blobs/{digest}")),
            headers: vec![],
            body: None,
        };
        let mut response = self.send(&req).await?;
        let mut hops = 0;
        while response.status().is_redirection() {
            hops += 1;
            let target = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| response.url().join(l).ok())
                .ok_or_else(|| Failure::new("the registry redirected a download without a Location"))?;
            if hops > 5 {
                return Err(Failure::new("the registry redirected a download more than 5 times"));
            }
            let same_host = target.host_str() == response.url().host_str() && target.port() == response.url().port();
            response = if same_host {
                self.send(&Request { method: Method::GET, url: target.to_string(), headers: vec![], body: None })
                    .await?
            } else {
                // Another host (GHCR's storage): a pre-signed URL, and never our credentials.
                self.http.get(target).send().await.map_err(network)?
            };
        }
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            return Err(failure(status, &headers, &body));
        }
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            hasher.update(&chunk);
            out.write_all(&chunk).map_err(|e| Failure::new(format!("cannot write the download: {e}")))?;
            bytes += chunk.len() as u64;
        }
        let got = format!("sha256:{}", crate::core::digest::hex(&hasher.finalize()));
        if got != digest {
            return Err(Failure::new(format!("the blob {digest} arrived with digest {got}")));
        }
        Ok(bytes)
    }

    // ---- tags

    /// Every tag of the repository (empty when it does not exist), through `Link` pages.
    pub async fn tags(&self) -> Result<Vec<String>, Failure> {
        let mut url = format!("{}?n=100", self.endpoint.url("tags/list"));
        let mut tags = Vec::new();
        for _ in 0..10_000 {
            let answer = self.call(Method::GET, url.clone(), vec![], None, &[200, 404]).await?;
            if answer.status == StatusCode::NOT_FOUND {
                return Ok(tags);
            }
            let page: serde_json::Value = serde_json::from_slice(&answer.body)
                .map_err(|_| Failure::new("the registry's tag list is not JSON"))?;
            tags.extend(page["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)));
            match answer.header("link").and_then(next_link) {
                Some(next) => {
                    let base = Url::parse(&url).expect("a URL");
                    url = base.join(&next).map_err(|_| Failure::new("the registry's Link is not a URL"))?.to_string();
                }
                None => return Ok(tags),
            }
        }
        Err(Failure::new("the registry's tag list did not end after 10,000 pages"))
    }
}

/// What a blob upload reads from.
pub enum Source<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// A transport failure, said without the URL (which could hold a pre-signed query).
fn network(e: reqwest::Error) -> Failure {
    let message = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.without_url().to_string()
    };
    Failure { status: None, transient: true, wait: None, message }
}

/// A failed answer: the status and the registry's own error code and message, when it sent them.
fn failure(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Failure {
    let wait = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let detail = parsed
        .as_ref()
        .and_then(|v| v["errors"][0].as_object().cloned())
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or_default();
            let message = e.get("message").and_then(|c| c.as_str()).unwrap_or_default();
            format!("{code} {message}").trim().chars().take(300).collect::<String>()
        })
        .unwrap_or_default();
    // The distribution registry can refuse a write racing another write of the same blob or tag
    // with these; written again, it goes through.
    let racing = status == StatusCode::BAD_REQUEST
        && ["DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN"].iter().any(|c| detail.starts_with(c));
    Failure {
        status: Some(status),
        transient: status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || racing,
        wait,
        message: format!(
            "HTTP {}{}",
            status.as_u16(),
            if detail.is_empty() { String::new() } else { format!(" ({detail})") }
        ),
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| matches!(p.trim().replace(' ', "").as_str(), "rel=\"next\"" | "rel=next"))
            .then(|| target.to_string())
    })
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq)]
enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

impl Challenge {
    fn parse(header: &str) -> Option<Challenge> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut params = std::collections::HashMap::new();
        let mut rest = rest.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            params.insert(key.trim().to_ascii_lowercase(), value.to_string());
            rest = tail.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Challenge::Bearer {
            realm: params.remove("realm")?,
            service: params.remove("service"),
            scope: params.remove("scope"),
        })
    }
}

/// Whether a failure is the registry refusing the credentials (401) or the permission (403).
pub fn denied(f: &Failure) -> bool {
    matches!(f.status, Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_host_and_lowercase_path() {
        let e = Endpoint::parse("ghcr.io/acme/models/churn").unwrap();
        assert_eq!(
            (e.base.as_str(), e.host.as_str(), e.name.as_str()),
            ("https://ghcr.io", "ghcr.io", "acme/models/churn")
        );
        let e = Endpoint::parse("127.0.0.1:5000/team/churn").unwrap();
        assert_eq!(e.base, "http://127.0.0.1:5000");
        assert_eq!(Endpoint::parse("localhost:5000/churn").unwrap().base, "http://localhost:5000");
        assert_eq!(Endpoint::parse("[::1]:5000/churn").unwrap().base, "http://[::1]:5000");
        assert_eq!(Endpoint::parse("registry.example.com:5000/a/b").unwrap().base, "https://registry.example.com:5000");
        let upper = Endpoint::parse("ghcr.io/Acme/Churn").err().unwrap();
        assert!(upper.contains("write 'ghcr.io/acme/churn'"), "{upper}");
        assert!(Endpoint::parse("https://ghcr.io/a/b").err().unwrap().contains("write 'ghcr.io/a/b'"));
        assert!(Endpoint::parse("acme/churn").err().unwrap().contains("not a host"));
        assert!(Endpoint::parse("ghcr.io").err().unwrap().contains("needs a host and a path"));
        assert!(Endpoint::parse("ghcr.io/a//b").is_err());
        assert!(Endpoint::parse("ghcr.io/a/b-").is_err());
        assert!(Endpoint::parse("ghcr.io/a__b/c.d/e---f").is_ok());
        assert!(Endpoint::parse("ghcr.io/a___b").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "127.3.4.5:80", "localhost", "localhost:5000", "[::1]", "[::1]:5000"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["ghcr.io", "10.0.0.1:5000", "128.0.0.1", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn challenges_as_registries_send_them() {
        assert_eq!(
            Challenge::parse(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:a/b:pull".into())
            })
        );
        assert_eq!(
            Challenge::parse(r#"bearer realm="http://127.0.0.1:1/auth", scope="repository:a:pull,push""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/auth".into(),
                service: None,
                scope: Some("repository:a:pull,push".into())
            })
        );
        assert_eq!(Challenge::parse(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse(r#"Bearer service="x""#), None);
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/b/tags/list?last=v9&n=100>; rel="next""#).as_deref(),
            Some("/v2/a/b/tags/list?last=v9&n=100")
        );
        assert_eq!(
            next_link(r#"<https://x/prev>; rel="prev", <https://x/next>; rel=next"#).as_deref(),
            Some("https://x/next")
        );
        assert_eq!(next_link(r#"<https://x/prev>; rel="prev""#), None);
    }
}
