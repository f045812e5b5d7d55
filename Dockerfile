# Multi-stage build of every Allezon binary (write-api, read-api, projector, archiver, migrate).
# One image, several commands: docker-compose picks the binary per service.
# The toolchain of rust-toolchain.toml (which .dockerignore leaves out, so rustup in the
# image neither downloads it again nor adds components a build does not need): change both.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
# librdkafka is built from source (vendored, static): it needs only these.
RUN apt-get update && apt-get install -y --no-install-recommends build-essential zlib1g-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin write-api --bin read-api --bin projector --bin archiver --bin migrate

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 allezon
COPY --from=build /src/target/release/write-api /src/target/release/read-api \
                  /src/target/release/projector /src/target/release/archiver \
                  /src/target/release/migrate /usr/local/bin/
COPY migrations/*.sql /app/migrations/
WORKDIR /app
USER allezon
ENV MIGRATIONS_DIR=/app/migrations LOG_FORMAT=json RUST_LOG=info
