//! The servers the registry tests run against, started on free loopback ports and stopped when
//! dropped: a CNCF distribution registry (Debian's `docker-registry`, with htpasswd or a token
//! service) and an MLflow tracking server (`python3 -m mlflow server`). scripts/test.sh installs both.
#![allow(dead_code)]

use std::process::Command;

pub const USER: &str = "robot";
pub const PASSWORD: &str = "s3cr3t-pa55word-never-printed";

/// A distribution registry on a free loopback port, with htpasswd users; killed when dropped.
pub struct OciServer {
    child: std::process::Child,
    /// The token service, when there is one.
    helpers: Vec<std::process::Child>,
    pub host: String,
    pub dir: tempfile::TempDir,
}

/// How the registry authenticates: htpasswd (Basic), or a token service (Bearer, GHCR's flow).
#[derive(Clone, Copy, PartialEq)]
pub enum Auth {
    Htpasswd,
    Token,
}

/// The user that may only pull, in the token service.
pub const READER: &str = "reader";

impl OciServer {
    pub fn start(auth: Auth) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let port = free();
        let mut helpers = Vec::new();
        let auth_section = match auth {
            Auth::Htpasswd => {
                let hash = Command::new("python3")
                    .args([
                        "-c",
                        "import bcrypt, sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(5)).decode())",
                        PASSWORD,
                    ])
                    .output()
                    .expect("python3 with bcrypt (bash scripts/test.sh installs it)");
                assert!(hash.status.success(), "bcrypt: {}", String::from_utf8_lossy(&hash.stderr));
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{USER}:{}", String::from_utf8_lossy(&hash.stdout).trim())).unwrap();
                format!("  htpasswd:\n    realm: ml-gates-tests\n    path: {}\n", htpasswd.display())
            }
            Auth::Token => {
                let token_port = free();
                let child = Command::new("python3")
                    .arg("tests/oci/token_server.py")
                    .arg(dir.path())
                    .args([&token_port.to_string(), USER, PASSWORD, READER])
                    .stderr(std::fs::File::create(dir.path().join("token.err")).unwrap())
                    .spawn()
                    .unwrap();
                helpers.push(child);
                let started = std::time::Instant::now();
                while !dir.path().join("ready").exists() {
                    let log = std::fs::read_to_string(dir.path().join("token.err")).unwrap_or_default();
                    assert!(
                        started.elapsed() < std::time::Duration::from_secs(30),
                        "the token service did not start (PyJWT and cryptography: bash scripts/test.sh installs them):\n{log}"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                format!(
                    "  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: ml-gates-tests\n    issuer: ml-gates-test-token-service\n    rootcertbundle: {}\n",
                    dir.path().join("cert.pem").display()
                )
            }
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  formatter: json\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: ml-gates-tests\nauth:\n{auth_section}",
                dir.path().join("storage").display(),
            ),
        )
        .unwrap();
        let child = spawn_registry(dir.path());
        let server = OciServer { child, helpers, host: format!("127.0.0.1:{port}"), dir };
        server.wait_until_up();
        server
    }

    fn wait_until_up(&self) {
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(&self.host).is_err() {
            let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "docker-registry did not start:\n{log}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Stop the registry (its storage stays): it is unreachable until [`OciServer::resume`].
    pub fn pause(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same port with the same storage.
    pub fn resume(&mut self) {
        self.child = spawn_registry(self.dir.path());
        self.wait_until_up();
    }

    /// The requests the registry served so far that change it (neither GET nor HEAD), from its
    /// access log.
    pub fn writes(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        log.lines()
            .filter_map(|l| {
                // The combined log format: … "METHOD /path HTTP/1.1" status …
                let request = l.split('"').nth(1)?;
                let (method, rest) = request.split_once(' ')?;
                (rest.starts_with("/v2/") && !matches!(method, "GET" | "HEAD")).then(|| request.to_string())
            })
            .collect()
    }

    pub fn repository(&self, path: &str) -> String {
        format!("{}/{path}", self.host)
    }
}

/// `docker-registry serve` with the config in `dir`, its logs appended to `dir`'s.
fn spawn_registry(dir: &std::path::Path) -> std::process::Child {
    let log = |name: &str| std::fs::OpenOptions::new().create(true).append(true).open(dir.join(name)).unwrap();
    Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(log("access.log"))
        .stderr(log("registry.log"))
        .spawn()
        .expect("docker-registry (Debian's package; bash scripts/test.sh installs it)")
}

impl Drop for OciServer {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.helpers.iter_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A tracking server on a free loopback port, stopped (with its workers) when dropped.
pub struct MlflowServer {
    pub child: std::process::Child,
    pub uri: String,
    pub _dir: tempfile::TempDir,
}

impl MlflowServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        use std::os::unix::process::CommandExt;
        let child = Command::new("python3")
            .args(["-m", "mlflow", "server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.path().join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.path().join("artifacts"))
            .stdout(std::fs::File::create(dir.path().join("server.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
            .process_group(0)
            .spawn()
            .expect("python3 -m mlflow: install the test requirements (bash scripts/test.sh does)");
        let server = MlflowServer { child, uri: format!("http://127.0.0.1:{port}"), _dir: dir };
        let started = std::time::Instant::now();
        loop {
            if get(&format!("{}/health", server.uri)).is_some_and(|(status, _)| status == 200) {
                return server;
            }
            let log = std::fs::read_to_string(server._dir.path().join("server.err")).unwrap_or_default();
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "the MLflow server did not start within 120 s (is mlflow installed? bash scripts/test.sh installs it):\n{log}"
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        // The whole process group: mlflow's uvicorn workers and job consumers too; KILL if TERM
        // is not enough within 10 s.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "TERM", "--", &group]).status();
        let started = std::time::Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(10) {
                let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).status();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // Workers that outlive the parent still belong to the group.
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(std::process::Stdio::null()).status();
    }
}

/// A GET with a plain HTTP/1.0 request (the test's own client, independent of ml-gates').
pub fn get(url: &str) -> Option<(u16, Vec<u8>)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response[split + 4..].to_vec()))
}

/// A Prometheus (Debian's package) on a free loopback port scraping `targets` (`host:port`,
/// their `/metrics`) every second; killed when dropped.
pub struct Prometheus {
    child: std::process::Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(targets: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        std::fs::write(
            dir.path().join("prometheus.yml"),
            format!(
                "global: {{scrape_interval: 1s, scrape_timeout: 900ms}}\nscrape_configs:\n  - job_name: ml-gates\n    static_configs: [{{targets: [{}]}}]\n",
                quoted.join(", ")
            ),
        )
        .unwrap();
        let child = Command::new("prometheus")
            .args(["--config.file=prometheus.yml", "--storage.tsdb.path=tsdb"])
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus (Debian's package; bash scripts/test.sh installs it)");
        let server = Prometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        let started = std::time::Instant::now();
        while get(&format!("{}/-/ready", server.url)).is_none_or(|(status, _)| status != 200) {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "Prometheus never became ready");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        server
    }

    /// The first sample of an instant query, if there is one.
    pub fn value(&self, query: &str) -> Option<f64> {
        let url = format!("{}/api/v1/query", self.url);
        let body: serde_json::Value =
            reqwest::blocking::Client::new().get(url).query(&[("query", query)]).send().ok()?.json().ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops a server's process group (TERM, then KILL after 10 s).
fn stop_group(child: &mut std::process::Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-s", "TERM", "--", &group]).stderr(std::process::Stdio::null()).status();
    let started = std::time::Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).status();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Waits until a loopback port accepts connections; panics with the server's log after `limit`.
fn await_port(port: u16, limit: std::time::Duration, log: &std::path::Path, what: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < limit,
            "{what} did not start within {limit:?} (bash scripts/test.sh installs it):\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// An S3 server (moto, `moto_server`) on a free loopback port that checks signatures: its IAM
/// user `ci` (keys `key_id`/`secret`) may do everything; other keys are refused.
pub struct MotoServer {
    child: std::process::Child,
    pub endpoint: String,
    pub key_id: String,
    pub secret: String,
    pub dir: tempfile::TempDir,
}

impl MotoServer {
    pub fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("moto.log");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Signatures are checked after the three requests that create the IAM user.
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("moto_server: pip install 'moto[server]' (bash scripts/test.sh does)");
        let mut server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            key_id: String::new(),
            secret: String::new(),
            dir,
        };
        await_port(port, std::time::Duration::from_secs(60), &log, "moto_server");
        let out =
            Command::new("python3").args(["tests/storage/objects.py", "s3-user", &server.endpoint]).output().unwrap();
        assert!(out.status.success(), "creating the S3 user: {}", String::from_utf8_lossy(&out.stderr));
        let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        server.key_id = keys["id"].as_str().unwrap().to_string();
        server.secret = keys["secret"].as_str().unwrap().to_string();
        server
    }

    /// Put files into `bucket` (created when missing) with boto3: `(key, file)` pairs.
    pub fn put(&self, bucket: &str, objects: &[(&str, &std::path::Path)]) {
        let mut command = Command::new("python3");
        command.args(["tests/storage/objects.py", "s3-put", &self.endpoint, &self.key_id, &self.secret, bucket]);
        for (key, file) in objects {
            command.arg(format!("{key}={}", file.display()));
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "boto3 put_object: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// Azurite's well-known development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Azure's blob storage emulator (azurite, from npm) on a free loopback port, with shared-key
/// authentication (a wrong key is refused).
pub struct AzuriteServer {
    child: std::process::Child,
    /// The account's blob endpoint, `http://127.0.0.1:<port>/devstoreaccount1`.
    pub endpoint: String,
    pub dir: tempfile::TempDir,
}

impl AzuriteServer {
    pub fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("azurite.log");
        let child = Command::new("node_modules/.bin/azurite-blob")
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--skipApiVersionCheck", "--silent"])
            .arg("--location")
            .arg(dir.path())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("azurite-blob: npm ci installs azurite (bash scripts/test.sh does)");
        await_port(port, std::time::Duration::from_secs(60), &log, "azurite-blob");
        AzuriteServer { child, endpoint: format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"), dir }
    }

    /// Upload files into `container` (created when missing) with the Azure Storage SDK.
    pub fn put(&self, container: &str, blobs: &[(&str, &std::path::Path)]) {
        let connection = format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={};",
            self.endpoint
        );
        let mut command = Command::new("python3");
        command.args(["tests/storage/objects.py", "az-put", &connection, container]);
        for (name, file) in blobs {
            command.arg(format!("{name}={}", file.display()));
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "azure upload_blob: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for AzuriteServer {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// A web server with range requests (PyPI's RangeHTTPServer) serving `dir` on a free loopback port.
pub struct WebServer {
    child: std::process::Child,
    pub url: String,
}

impl WebServer {
    pub fn start(dir: &std::path::Path) -> Self {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join("web.log");
        let child = Command::new("python3")
            .args(["-m", "RangeHTTPServer", &port.to_string(), "--bind", "127.0.0.1"])
            .current_dir(dir)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        await_port(port, std::time::Duration::from_secs(30), &log, "RangeHTTPServer (pip install rangehttpserver)");
        WebServer { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// Sail's Spark Connect server (PyPI `pysail`, in the virtual environment scripts/test.sh makes,
/// named by `ML_GATES_SAIL`) on a free loopback port.
pub struct SailServer {
    child: std::process::Child,
    pub url: String,
    pub _dir: tempfile::TempDir,
}

impl SailServer {
    pub fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let sail = std::env::var("ML_GATES_SAIL")
            .expect("ML_GATES_SAIL names Sail's `sail` program: bash scripts/test.sh installs it and sets it");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("sail.log");
        let child = Command::new(&sail)
            .args(["spark", "server", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{sail}: {e} (bash scripts/test.sh installs pysail)"));
        await_port(port, std::time::Duration::from_secs(60), &log, "sail spark server");
        SailServer { child, url: format!("sc://127.0.0.1:{port}"), _dir: dir }
    }
}

impl Drop for SailServer {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// Apache Spark's own Spark Connect server (`sbin/start-connect-server.sh` of PyPI's pyspark, in
/// the virtual environment scripts/test.sh makes, its folder named by `ML_GATES_SPARK_HOME`), in
/// the foreground on a free loopback port, `local[2]`, stopped with its JVM when dropped.
pub struct SparkServer {
    child: std::process::Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl SparkServer {
    pub fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let home = std::env::var("ML_GATES_SPARK_HOME")
            .expect("ML_GATES_SPARK_HOME names pyspark's folder: bash scripts/test.sh installs it and sets it");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("spark.log");
        let child = Command::new(format!("{home}/sbin/start-connect-server.sh"))
            .args(["--master", "local[2]", "--driver-memory", "1g"])
            .args(["--conf", "spark.connect.grpc.binding.address=127.0.0.1"])
            .args(["--conf", &format!("spark.connect.grpc.binding.port={port}")])
            .args(["--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1"])
            .args(["--conf", "spark.ui.enabled=false"])
            .env("SPARK_HOME", &home)
            .env("SPARK_NO_DAEMONIZE", "1")
            .env("SPARK_LOG_DIR", dir.path())
            .env("SPARK_PID_DIR", dir.path())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{home}/sbin/start-connect-server.sh: {e}"));
        await_port(port, std::time::Duration::from_secs(120), &log, "Apache Spark's Spark Connect server");
        SparkServer { child, url: format!("sc://127.0.0.1:{port}"), dir }
    }
}

impl Drop for SparkServer {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}
