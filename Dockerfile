# The ml-gates action image: the binary, ONNX Runtime's library, the shared libraries they load and
# a CA bundle, on nothing else (`FROM scratch`: no shell, no package manager, no Python).
# Released versions are prebuilt (.github/workflows/release.yml) and a release's action.yml pulls
# them (docs/action.md#releases): image: docker://ghcr.io/OWNER/ml-gates:X.Y.Z
# tests/image.rs builds the last stage from the same scripts/image-rootfs.sh and runs it as
# GitHub's runner runs a container action.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# protoc and protobuf's well-known types compile Spark Connect's protocol (scripts/build-deps.sh).
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The shipping profile (Cargo.toml `[profile.dist]`: fat LTO, one codegen unit, stripped).
RUN cargo build --profile dist --locked --bin ml-gates

# ONNX Runtime's library for ONNX models (train.model_file: model.onnx), taken from the
# `onnxruntime` wheel: ml-gates loads it at run time (docs/models.md#onnx-models).
FROM python:3.11-slim-bookworm AS onnxruntime
RUN pip download --no-deps --only-binary=:all: --dest /wheel onnxruntime==1.32.0 \
    && python3 -m zipfile -e /wheel/onnxruntime-*.whl /wheel/unpacked \
    && cp /wheel/unpacked/onnxruntime/capi/libonnxruntime.so.* /libonnxruntime.so

# The image's file system, with the libraries of the system that built the binary.
FROM build AS rootfs
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates binutils \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/image-rootfs.sh /image-rootfs.sh
COPY --from=onnxruntime /libonnxruntime.so /libonnxruntime.so
RUN sh /image-rootfs.sh /src/target/dist/ml-gates /libonnxruntime.so /rootfs

# A container action cannot see the Python that actions/setup-python installs on the runner, and a
# bare python3 has none of the user's packages: train on the runner in an earlier step and give
# ml-gates the model file (train.model_file: model.onnx; examples/workflows).
FROM scratch
COPY --from=rootfs /rootfs/ /
ENTRYPOINT ["/usr/local/bin/ml-gates"]
