"""What each dependency costs in the ml-gates binary: the sizes of its code and data symbols
(`nm --print-size`), each symbol charged to the first crate its demangled name mentions other than
the standard library's (a `core::ptr::drop_in_place<polars_core::...>` is polars'), a generic container's
instantiation (rayon's job for a polars closure) charged to the crate it serves; crates of one
project (polars-*, tokio, hyper, ...) summed. Needs a binary with symbols (`strip = false`).
  usage: python3 bench/binary_cost.py target/release/ml-gates
"""
import collections
import re
import subprocess
import sys

STD = set("""core alloc std T F mut anon impl dyn const u8 u32 u64 usize i64 f64 str bool char Self fn
closure ptr iter slice vec fmt thread ops collections sync cell option result mem hash string boxed rc
cmp convert panicking io any array num time task future marker clone default borrow raw_vec
intrinsics ffi os sys env path process error net backtrace panic hint pin""".split())
# Generic containers: a symbol instantiated for another crate's types is charged to that crate.
CONTAINERS = {"rayon", "rayon_core", "hashbrown", "indexmap", "futures_util", "futures_core", "crossbeam_deque",
              "crossbeam_epoch", "either"}
GROUPS = [("polars", "polars"), ("arrow", "polars"), ("parquet", "polars"), ("brotli", "polars (compression)"),
          ("zstd", "polars (compression)"), ("lz4", "polars (compression)"), ("snap", "polars (compression)"),
          ("flate2", "polars (compression)"), ("miniz", "polars (compression)"), ("simd_json", "polars"),
          ("object_store", "polars"), ("rayon", "rayon"), ("tokio", "tokio"), ("hyper", "hyper/axum/h2"),
          ("h2", "hyper/axum/h2"), ("axum", "hyper/axum/h2"), ("http", "hyper/axum/h2"), ("tower", "hyper/axum/h2"),
          ("rustls", "rustls/ring"), ("ring", "rustls/ring"), ("webpki", "rustls/ring"), ("ecp_nistz256", "rustls/ring"),
          ("octocrab", "octocrab"), ("reqwest", "reqwest"), ("linfa", "linfa/ndarray"), ("ndarray", "linfa/ndarray"),
          ("serde", "serde/json/yaml"), ("yaml", "serde/json/yaml"), ("schemars", "schemars"), ("clap", "clap"),
          ("regex", "regex"), ("aho_corasick", "regex"), ("ort", "ort"), ("ml_gates", "ml-gates"),
          ("hashbrown", "hashbrown/indexmap"), ("indexmap", "hashbrown/indexmap"), ("mimalloc", "mimalloc"),
          ("hdrhistogram", "hdrhistogram"), ("chrono", "chrono"), ("futures", "futures")]


def group(crate):
    for prefix, name in GROUPS:
        if crate.startswith(prefix):
            return name
    return "other"


def main(binary):
    nm = subprocess.run(["nm", "--demangle", "--print-size", "--size-sort", binary],
                        capture_output=True, text=True, check=True).stdout
    sizes = collections.Counter()
    total = 0
    for line in nm.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        size = int(parts[1], 16)
        total += size
        crates = [c for c in re.findall(r"(?<![:\w])([A-Za-z_]\w*)::", parts[3]) if c not in STD]
        owners = [c for c in crates if c not in CONTAINERS] or crates
        sizes[group(owners[0]) if owners else "std"] += size
    print(f"| part | MB | share |\n|---|---:|---:|")
    for name, size in sizes.most_common():
        print(f"| {name} | {size / 1e6:.1f} | {100 * size / total:.0f}% |")
    print(f"| all symbols | {total / 1e6:.1f} | |")


if __name__ == "__main__":
    main(sys.argv[1])
