# The ml-gates action image: build the binary, then ship it alone on a slim Debian.
# Released versions are prebuilt (.github/workflows/release.yml) and a release's action.yml pulls
# them (docs/action.md#releases): image: docker://ghcr.io/OWNER/ml-gates:X.Y.Z
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin ml-gates && strip target/release/ml-gates

# ONNX Runtime's library for ONNX models (train.model_file: model.onnx), taken from the
# `onnxruntime` wheel: ml-gates loads it at run time (docs/models.md#onnx-models).
FROM python:3.11-slim-bookworm AS onnxruntime
RUN pip download --no-deps --only-binary=:all: --dest /wheel onnxruntime==1.32.0 \
    && python3 -m zipfile -e /wheel/onnxruntime-*.whl /wheel/unpacked \
    && cp /wheel/unpacked/onnxruntime/capi/libonnxruntime.so.* /libonnxruntime.so

FROM debian:bookworm-slim
# ca-certificates for HTTPS (MLflow, GitHub's API). No python3: a container action cannot see the
# Python that actions/setup-python installs on the runner, and a bare python3 has none of the
# user's packages. Train on the runner in an earlier step and give ml-gates the model file
# (train.model_file: model.onnx; examples/workflows).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=onnxruntime /libonnxruntime.so /usr/local/lib/libonnxruntime.so
COPY --from=build /src/target/release/ml-gates /usr/local/bin/ml-gates
ENTRYPOINT ["/usr/local/bin/ml-gates"]
