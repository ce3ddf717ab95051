# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a slim Debian as a non-root user that may
# bind port 53 through CAP_NET_BIND_SERVICE only.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml build.rs ./
COPY src ./src
COPY config ./config
COPY zones ./zones
COPY benches ./benches
RUN cargo build --release --locked --bin gslbd

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libcap2-bin \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10053 --home-dir /nonexistent --shell /usr/sbin/nologin gslbd \
    && mkdir -p /var/lib/gslbd && chown gslbd:gslbd /var/lib/gslbd && chmod 0700 /var/lib/gslbd
COPY --from=build /src/target/release/gslbd /usr/local/bin/gslbd
RUN setcap cap_net_bind_service=+ep /usr/local/bin/gslbd
COPY config/gslbd.yaml /etc/gslbd/config/gslbd.yaml
COPY zones /etc/gslbd/zones
# Config and zones (read-only for the service); /var/lib/gslbd holds `server.state_file`.
VOLUME ["/etc/gslbd", "/var/lib/gslbd"]
USER 10053
EXPOSE 53/udp 53/tcp 9153/tcp
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["curl", "-fsS", "http://127.0.0.1:9153/ready"]
ENTRYPOINT ["/usr/local/bin/gslbd"]
CMD ["serve", "--config", "/etc/gslbd/config/gslbd.yaml", "--dns-listen", "0.0.0.0:53", "--http-listen", "0.0.0.0:9153"]
