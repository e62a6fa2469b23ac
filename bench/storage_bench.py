"""Benchmark: the data gate on a file in object storage (S3 on loopback: moto) against the same
file on local disk, and what crosses the wire.

Usage (from the repository root, after `cargo build --release`):
    python3 bench/storage_bench.py [ROWS]        # default 10000000
Needs numpy, pyarrow, boto3 and moto[server] (requirements-test.txt). The data is the lesson
benchmark's (bench/validate_bench.py generates it into bench/data/). Two configs: the lesson's
checks over all 7 columns, and checks of 2 columns plus the default non-finite check of the float
column: 3 columns (which polars reads with range requests of those columns' pages only). Each runs once per place after a warm-up run; wall time from
perf_counter. What crosses the wire is counted by a byte-counting TCP relay between ml-gates and
the server, in one more run of its own (the relay is not in the timed runs).
"""
import socket
import threading
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchkit  # noqa: E402
import validate_bench  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent

ALL_COLUMNS = validate_bench.ML_GATES_CONFIG
TWO_COLUMNS = """version: 1
name: bench
data:
  train: {data}
  target: churn
  task: classification
validate:
  rows: {{min: 500}}
  nulls: {{columns: {{age: 3}}}}
  ranges: {{age: [18, 100]}}
  target: {{min_class_percent: 5}}
"""


class Relay:
    """A TCP relay on a free loopback port to `port`, counting the bytes the server sends."""

    def __init__(self, port):
        self.target, self.received = port, 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self.pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, True), daemon=True).start()

    def pump(self, source, sink, count):
        try:
            while data := source.recv(1 << 16):
                if count:
                    with self.lock:
                        self.received += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()


def run(binary, config, env):
    """Wall time and the report of one `ml-gates validate`."""
    start = time.perf_counter()
    proc = subprocess.run(
        [str(binary), "validate", "--config", str(config), "--format", "json"], capture_output=True, env=env
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"ml-gates failed ({proc.returncode}): {proc.stderr.decode()}")
    return wall, json.loads(proc.stdout)


def values(report):
    return [(c["id"], c.get("column"), c.get("value")) for c in report["checks"] if c["id"] != "freshness"]


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    binary = benchkit.binary()
    if not binary.exists():
        raise SystemExit(f"{binary} not found: run `cargo build --release` first (or set ML_GATES_BIN)")
    data = ROOT / "bench" / "data" / f"churn_{rows}_dup.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    validate_bench.generate(rows, data)
    port = benchkit.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        import boto3

        for _ in range(100):
            try:
                s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id="bench", aws_secret_access_key="bench")
                s3.create_bucket(Bucket="lake")
                break
            except Exception:
                time.sleep(0.1)
        s3.upload_file(str(data), "lake", f"bench/{data.name}")
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ALLOW_HTTP="true")
        size = data.stat().st_size
        print(f"{rows:,} rows, {size / 2**20:.1f} MiB parquet; moto_server on loopback\n")
        print("| checks | local wall | S3 wall | ratio | read from S3 | share of the file |")
        print("|---|---:|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as tmp:
            for name, template in [("lesson's 7 columns", ALL_COLUMNS), ("3 columns", TWO_COLUMNS)]:
                local_cfg = pathlib.Path(tmp) / "local.yaml"
                remote_cfg = pathlib.Path(tmp) / "remote.yaml"
                local_cfg.write_text(template.format(data=data))
                remote_cfg.write_text(template.format(data=f"s3://lake/bench/{data.name}"))
                run(binary, local_cfg, env)  # warm the page cache
                local_wall, local_report = run(binary, local_cfg, env)
                run(binary, remote_cfg, env)  # warm the server
                remote_wall, remote_report = run(binary, remote_cfg, env)
                if values(local_report) != values(remote_report):
                    raise SystemExit(f"{name}: the reports differ:\n{values(local_report)}\n{values(remote_report)}")
                relay = Relay(port)
                run(binary, remote_cfg, dict(env, AWS_ENDPOINT_URL=f"http://127.0.0.1:{relay.port}"))
                wire = relay.received
                print(f"| {name} | {local_wall:.2f} s | {remote_wall:.2f} s | {remote_wall / local_wall:.2f}x "
                      f"| {wire / 2**20:.1f} MiB | {wire / size:.0%} |")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
