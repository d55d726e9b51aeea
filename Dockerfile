# The bundled API (app/), as the container deployer runs on EC2 and ECS.
# Build: docker build -t api .    Run: docker run -e API_TOKEN=... -p 8000:8000 api

# Base images are pinned by digest (the tag beside it says which release that was): a moved tag
# cannot change what is built. Refresh with `docker buildx imagetools inspect <image:tag>`
# (the index digest), then rebuild and test.

# --- build: dependencies first, in their own cached layer --------------------------------
# rust:1.95-slim-bookworm
FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
WORKDIR /src

# Manifests and stub targets only, so this layer is rebuilt when dependencies change, not code.
COPY Cargo.toml Cargo.lock ./
COPY app/Cargo.toml app/Cargo.toml
COPY xtask/Cargo.toml xtask/Cargo.toml
RUN mkdir -p src app/src xtask/src tests \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs tests/integration.rs \
    && echo 'fn main() {}' > app/src/main.rs && touch app/src/lib.rs app/openapi.json \
    && echo 'fn main() {}' > xtask/src/main.rs \
    && cargo build --release --locked --package app --bin api \
    && rm -rf app/src app/openapi.json

COPY app app
RUN touch app/src/main.rs app/src/lib.rs \
    && cargo build --release --locked --package app --bin api

# --- runtime: glibc and CA certificates, no shell, non-root ------------------------------
# gcr.io/distroless/cc-debian12:nonroot
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=build /src/target/release/api /usr/local/bin/api

# Configuration comes only from the environment (see README): PORT, API_TOKEN or
# API_USER/API_PASSWORD, AWS_REGION, CACHE_TTL_SECONDS, LOG_FORMAT.
ENV PORT=8000 LOG_FORMAT=json
EXPOSE 8000
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/local/bin/api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/api"]
