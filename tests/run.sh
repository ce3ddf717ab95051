#!/usr/bin/env bash
# Runs the whole test suite. Installs the Debian packages the interop tests need when they are
# missing (NSD for the differential test, NSD and Knot as zone-transfer secondaries, Unbound as
# the validating resolver of tests/dnssec_validate.rs, Prometheus
# for the scrape test and its promtool for the alert rules, Chromium for the status page, dig for
# the examples, lintian for the Debian package, iproute2 and nftables for the cluster's network
# namespace test, dnsviz and zonemaster-cli for the DNSSEC linters), and cargo-deb, which builds that package; then
# runs every test, the ignored interop tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ] || need+=(nsd)
command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || need+=(knot)
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
# ldns-verify-zone, ldns-keygen, ldns-key2ds and dnssec-verify, dnssec-keygen, dnssec-dsfromkey
# (tests/dnssec_sign.rs: signed zones checked by two independent verifiers).
command -v ldns-verify-zone >/dev/null 2>&1 || need+=(ldnsutils)
command -v dnssec-verify >/dev/null 2>&1 || need+=(bind9-utils)
# A validating resolver in front of a secondary fed with a signed zone (tests/dnssec_sign.rs).
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
# promtool (alert rules and dashboard queries in tests/contrib.rs) comes with the same package.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
command -v objcopy >/dev/null 2>&1 || need+=(binutils)
command -v git >/dev/null 2>&1 || need+=(git)
# gdnsd with its geoip plugin (tests/geo_gdnsd.rs).
command -v gdnsd >/dev/null 2>&1 || [ -x /usr/sbin/gdnsd ] || need+=(gdnsd)
# The cluster's network-namespace tests (tests/cluster_netns.rs) cut paths with these.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
# DNSSEC linters run on a signed zone with pools inside a network namespace (tests/dnssec_lint.rs).
command -v dnsviz >/dev/null 2>&1 || need+=(dnsviz)
command -v zonemaster-cli >/dev/null 2>&1 || need+=(zonemaster-cli)
if ((${#need[@]})); then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  echo "installing test dependencies: ${need[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Packages must not start their own daemons on port 53 while the tests run.
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin"
if ! cargo deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb (tests/package.rs builds the Debian package with it)"
  cargo install cargo-deb --locked
fi

# The interop tests are `#[ignore]`d so that a plain `cargo test` needs only the Rust toolchain;
# here they run too (and fail, naming the tool, if it is missing). The parser's release-build
# timing run stays out: the nextest profile `run-sh` (.config/nextest.toml) filters it, and
# `--skip` does for cargo test.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --profile run-sh --run-ignored all --workspace --lib --bins --tests --no-fail-fast "$@"
else
  cargo test --workspace --lib --bins --tests --no-fail-fast "$@" -- --include-ignored \
    --skip zone::parse::perf::million_records
fi
