# The consent service image the Helm chart runs: built in a Rust image, run
# in a slim one as an unprivileged user. Build from the repository root:
#   docker build -t consent-service .
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p consent-service

FROM debian:bookworm-slim
# The chart runs as 10001 with a read-only root filesystem; the data
# directory is the only writable path (a volume).
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin consent \
    && mkdir -p /var/lib/consent-service \
    && chown 10001:10001 /var/lib/consent-service
COPY --from=build /src/target/release/consent-service /usr/local/bin/consent-service
USER 10001:10001
# The log goes to the volume unless --data-dir says otherwise.
ENV ICR_DATA_DIR=/var/lib/consent-service
# gRPC, and the plain-text health port for probes.
EXPOSE 50051 8081
ENTRYPOINT ["/usr/local/bin/consent-service"]
