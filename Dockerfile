# The ml-gates action image: build the binary, then ship it alone on a slim Debian.
# Released versions are prebuilt (.github/workflows/release.yml) so workflows start in seconds:
#   runs: {using: docker, image: docker://ghcr.io/OWNER/ml-gates:v1}
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin ml-gates && strip target/release/ml-gates

FROM debian:bookworm-slim
# python3 for external trainers (train.command) that the project brings; ca-certificates for HTTPS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ml-gates /usr/local/bin/ml-gates
ENTRYPOINT ["/usr/local/bin/ml-gates"]
