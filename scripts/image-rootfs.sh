#!/bin/sh
# The action image's whole file system, assembled in OUT: the ml-gates binary, ONNX Runtime's
# library, the shared libraries both load (as `ldd` lists them, from the system that built the
# binary), a CA bundle for HTTPS and a /tmp. No shell, no package manager, no Python: the image is
# `FROM scratch` plus this folder (Dockerfile), and tests/image.rs builds it the same way.
#   usage: scripts/image-rootfs.sh BINARY LIBONNXRUNTIME OUT
set -eu
[ $# -eq 3 ] || { echo "usage: $0 BINARY LIBONNXRUNTIME OUT" >&2; exit 2; }
binary=$1 onnxruntime=$2 out=$3
for f in "$binary" "$onnxruntime" /etc/ssl/certs/ca-certificates.crt; do
  [ -f "$f" ] || { echo "$0: $f: not found" >&2; exit 2; }
done
rm -rf "$out"
mkdir -p "$out/usr/local/bin" "$out/usr/local/lib" "$out/etc/ssl/certs" "$out/tmp"
chmod 1777 "$out/tmp"
cp "$binary" "$out/usr/local/bin/ml-gates"
# ml-gates looks for ONNX Runtime in /usr/local/lib first (docs/models.md#onnx-models).
cp "$onnxruntime" "$out/usr/local/lib/libonnxruntime.so"
cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
# Every library either loads, at the path the dynamic loader looks for it (the real file, not a
# link: /lib may be a link to /usr/lib on the building system, and the copy must not depend on it).
for lib in $( { ldd "$binary"; ldd "$onnxruntime"; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
# The binary starts only if the loader it names is there.
loader=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -f "$out$loader" ] || { echo "$0: the loader $loader was not copied" >&2; exit 1; }
