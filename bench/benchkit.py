"""What the registry benchmarks share: the binary under test, a free loopback port, and a workspace
with the churn example's data and a config whose `registry:` section is the benchmark's."""
import http.client
import http.server
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def binary():
    """ML_GATES_BIN, else the release build in CARGO_TARGET_DIR (or ./target)."""
    return pathlib.Path(
        os.environ.get("ML_GATES_BIN")
        or pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "ml-gates"
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """version: 1
name: churn
data:
  train: data/train.parquet
  test: data/test.parquet
  target: churn
  task: classification
  id: customer_id
  timestamp: event_time
train:
  model: logistic_regression
  params: {max_iterations: 200}
  preprocess: {scale: standard, impute: median, one_hot: [plan]}
evaluate:
  metrics: {accuracy: {min: 0.7}}
"""


def workspace(path, registry):
    """The churn example's data in `path`, and ml-gates.yaml with `registry` (one YAML line under
    `registry:`, such as `mlflow: {uri: ..., experiment: bench}`)."""
    path = pathlib.Path(path)
    (path / "data").mkdir(parents=True, exist_ok=True)
    for f in ["train.parquet", "test.parquet"]:
        shutil.copy(ROOT / "examples" / "churn" / "data" / f, path / "data" / f)
    (path / "ml-gates.yaml").write_text(CONFIG + "registry:\n  " + registry + "\n")
    return path


class CountingProxy(http.server.ThreadingHTTPServer):
    """A forwarding HTTP/1.1 proxy on a free loopback port to the server on `upstream_port`,
    counting the requests it forwards, those that write (neither GET nor HEAD), and the bytes the
    server answered. `url` is where clients go instead."""

    def __init__(self, upstream_port):
        self.lock = threading.Lock()
        self.requests = self.writes = self.sent = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                with proxy.lock:
                    proxy.requests += 1
                    proxy.writes += self.command not in ("GET", "HEAD")
                    proxy.sent += len(data)
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = forward

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def snapshot(self):
        """(requests, writes, bytes answered) so far."""
        with self.lock:
            return self.requests, self.writes, self.sent


def _wait(ready, what, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start within {seconds} s")


def start_docker_registry(work):
    """Debian's docker-registry (the CNCF distribution registry) on a free loopback port, without
    authentication, its storage and access log in `work`: (process, port, access log path)."""
    work = pathlib.Path(work)
    port = free_port()
    (work / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {work / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: bench\n"
    )
    log = work / "access.log"
    process = subprocess.Popen(["docker-registry", "serve", str(work / "config.yml")],
                               stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    _wait(lambda: socket.create_connection(("127.0.0.1", port), timeout=0.2).close() is None, "docker-registry")
    return process, port, log


def start_mlflow(work):
    """An MLflow tracking server (SQLite, the artifact proxy, one worker) on a free loopback port,
    its files in `work`: (process, port), once /health answers."""
    work = pathlib.Path(work)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}", "--artifacts-destination", str(work / "artifacts")],
        stdout=open(work / "mlflow.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    _wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200, "mlflow server")
    return process, port


def stop(process):
    """Stop a server started here, with its workers (its process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except OSError:
        process.terminate()
    process.wait()
