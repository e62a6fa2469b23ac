"""Benchmark: the data gate on a file in object storage (S3 on loopback: moto) against the same
file on local disk, and what crosses the wire.

Usage (from the repository root, after `cargo build --release`):
    python3 bench/storage_bench.py [ROWS]        # default 10000000
Needs numpy, pyarrow, boto3 and moto[server] (requirements-test.txt). The data is the lesson
benchmark's (bench/validate_bench.py generates it into bench/data/). Two configs: the lesson's
checks over all 7 columns, and checks of 2 columns (which polars reads with range requests of
those columns' pages only). Each runs once per place on a warm server; wall time from
perf_counter; the bytes read from the network are the child's `rchar` (/proc/PID/io: every byte
its read calls returned, sockets included; a local parquet file is memory-mapped, so the remote
run's figure is the data that crossed the wire, plus a few KiB of config).
"""
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
  nulls: {{columns: {{age: 3}}, max_percent: 100}}
  ranges: {{age: [18, 100]}}
  target: {{min_class_percent: 5}}
"""


def run(binary, config, env):
    """Wall time, rchar and the report of one `ml-gates validate`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(binary), "validate", "--config", str(config), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    rchar = 0
    # Sample /proc/PID/io until the process ends: the last sample before exit holds its total.
    while proc.poll() is None:
        try:
            text = pathlib.Path(f"/proc/{proc.pid}/io").read_text()
            rchar = int(next(line.split()[1] for line in text.splitlines() if line.startswith("rchar:")))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            pass
        time.sleep(0.005)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"ml-gates failed ({proc.returncode}): {err.decode()}")
    return wall, rchar, json.loads(out)


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
            for name, template in [("lesson's 7 columns", ALL_COLUMNS), ("2 columns", TWO_COLUMNS)]:
                local_cfg = pathlib.Path(tmp) / "local.yaml"
                remote_cfg = pathlib.Path(tmp) / "remote.yaml"
                local_cfg.write_text(template.format(data=data))
                remote_cfg.write_text(template.format(data=f"s3://lake/bench/{data.name}"))
                run(binary, local_cfg, env)  # warm the page cache
                local_wall, _, local_report = run(binary, local_cfg, env)
                run(binary, remote_cfg, env)  # warm the server
                remote_wall, remote_rchar, remote_report = run(binary, remote_cfg, env)
                if values(local_report) != values(remote_report):
                    raise SystemExit(f"{name}: the reports differ:\n{values(local_report)}\n{values(remote_report)}")
                wire = remote_rchar  # the socket reads, plus the config and /proc (a few KiB)
                print(f"| {name} | {local_wall:.2f} s | {remote_wall:.2f} s | {remote_wall / local_wall:.2f}x "
                      f"| {wire / 2**20:.1f} MiB | {wire / size:.0%} |")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
