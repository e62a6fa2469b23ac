"""Benchmark: the data gate pushed down to Spark (`data.engine: {spark: …}`) against Great
Expectations' Spark engine, on the same Apache Spark Connect server, the same parquet file and
the same 30 expectations; time, and what crosses the wire between each client and the server.

Usage (from the repository root, after `cargo build --release`):
    GX_PYTHON=/path/to/venv/bin/python SPARK_HOME=/path/to/pyspark python3 bench/spark_bench.py [ROWS]
GX_PYTHON is a Python with `great-expectations` and `pyspark[connect]` (the server's version);
SPARK_HOME is pyspark's folder (its `sbin/start-connect-server.sh` starts the server: local[2],
2 GiB of driver memory, on loopback). The data is bench/gx_bench.py's (bench/validate_bench.py's
seeded generator); the suite is gx_bench.py's 30 expectations. Each tool runs once after a warm-up run of its own (Spark's caches of the file's footer
and the JVM's compiled code warm for both); what crosses the wire is counted by a byte-counting
TCP relay (bench/storage_bench.py's) between the client and the server, in the timed runs. PyDeequ
is not here: its jar comes from Maven Central, which this machine cannot reach.
"""
import json
import os
import pathlib
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gx_bench  # noqa: E402
from storage_bench import Relay  # noqa: E402
from validate_bench import BINARY, DATA, generate, run  # noqa: E402

SUITE = gx_bench.SUITE

GX_SCRIPT = r'''
import json, sys
import great_expectations as gx
import great_expectations.expectations as gxe
from pyspark.sql import SparkSession
url, path, suite = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
spark = SparkSession.builder.remote(url).getOrCreate()
df = spark.read.parquet(path)
context = gx.get_context(mode="ephemeral")
batch = context.data_sources.add_spark("s").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b").get_batch(
    batch_parameters={"dataframe": df})
types = {"str": "StringType", "int": "LongType", "float": "DoubleType"}
type_of = lambda c, t: types[t]
''' + gx_bench.GX_SUITE


def start_server(home, log_dir):
    port = socket.create_server(("127.0.0.1", 0)).getsockname()[1]
    env = dict(os.environ, SPARK_HOME=home, SPARK_NO_DAEMONIZE="1", SPARK_LOG_DIR=log_dir, SPARK_PID_DIR=log_dir)
    log = open(pathlib.Path(log_dir) / "spark.log", "wb")
    proc = subprocess.Popen(
        [f"{home}/sbin/start-connect-server.sh", "--master", "local[2]", "--driver-memory", "2g",
         "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1",
         "--conf", "spark.ui.enabled=false"],
        env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the Spark Connect server did not start: {log_dir}/spark.log")


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    python = os.environ.get("GX_PYTHON", sys.executable)
    home = os.environ["SPARK_HOME"]
    DATA.mkdir(parents=True, exist_ok=True)
    data = DATA / f"churn_{rows}_dup.parquet"
    generate(rows, data)
    with tempfile.TemporaryDirectory() as tmp:
        server, port = start_server(home, tmp)
        try:
            relay = Relay(port)
            url = f"sc://127.0.0.1:{relay.port}"
            config = pathlib.Path(tmp) / "ml-gates.yaml"
            text = gx_bench.ml_gates_config(str(data.resolve()))
            config.write_text(text.replace("  id: customer_id\n", f"  id: customer_id\n  engine: {{spark: '{url}'}}\n"))
            suite = json.dumps(SUITE)
            gates_cmd = [str(BINARY), "validate", "--config", str(config), "--format", "json"]
            gx_cmd = [python, "-c", GX_SCRIPT, url, str(data.resolve()), suite]
            results = {}
            for name, cmd in [("ml-gates", gates_cmd), ("gx", gx_cmd)]:
                run(cmd)  # warm-up
                before = relay.received
                wall, rss, out = run(cmd)
                results[name] = (wall, relay.received - before, out)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    gates = gx_bench.ml_gates_outcome(json.loads(results["ml-gates"][2]))
    gx = json.loads(results["gx"][2].strip().splitlines()[-1])
    differ = [n for n, _, _ in SUITE if gates[n] != gx[n]]
    for n in differ:
        print(f"differs: {n}: ml-gates {gates[n]}, GX {gx[n]}", file=sys.stderr)
    if differ:
        raise SystemExit("the tools disagree: no figure")
    failing = [n for n, _, _ in SUITE if not gates[n]]
    versions = subprocess.run([python, "-c", "import great_expectations, pyspark; print(great_expectations.__version__, pyspark.__version__)"],
                              capture_output=True, text=True).stdout.split()
    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}; Apache Spark {versions[1]} (Spark Connect, local[2]); "
          f"Great Expectations {versions[0]}; {rows:,} rows; {len(SUITE)} expectations, the same "
          f"{len(SUITE) - len(failing)} pass and {len(failing)} fail in both ({', '.join(failing)})\n")
    print("| tool | wall | from the server | ml-gates faster by |")
    print("|---|---:|---:|---:|")
    gw, gb, _ = results["gx"]
    mw, mb, _ = results["ml-gates"]
    print(f"| Great Expectations (Spark engine) | {gw:.2f} s | {gb / 1024:,.1f} KiB | {gw / mw:.1f}x |")
    print(f"| ml-gates (`data.engine: spark`) | {mw:.2f} s | {mb / 1024:,.1f} KiB | 1.0x |")


if __name__ == "__main__":
    main()
