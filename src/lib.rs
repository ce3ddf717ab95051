//! gslbd: an authoritative DNS server with global server load balancing across cloud providers.
//!
//! ```text
//!  UDP/TCP socket ──► dns::listen ──► dns::handler::answer(&Snapshot, bytes) ──► dns::wire ──► socket
//!                                         │ one ArcSwap load, then pure sync code
//!                                         ▼
//!                  Snapshot { generation, zones, setup, health, pools }   (immutable, Arc)
//!                                         ▲ store(), by exactly one task
//!  config + zone files ──► snapshot_build ──► publisher ◄── probe results ◄── health::runner ◄── health::probe
//!      (SIGHUP / POST /reload)              (rise/fall, coalesce, admin overrides, swap)
//! ```
//!
//! Layers (imports point to the same or a lower layer, never in a cycle):
//! - L4 `main.rs`, [`app`], [`demo`]: CLI, logging, binding sockets, tasks, shutdown; [`http`]:
//!   the HTTP face (metrics, status page, admin API), which drives the publisher.
//! - L3 [`publisher`] (probe folding and coalescing, the build thread, reloads, gauges): the only
//!   snapshot writer. [`snapshot_build`]: config and zone files into a snapshot. [`admin`]:
//!   operator overrides; [`state_store`]: the state file that keeps them across restarts.
//!   [`snapshot_sign`]: DNSSEC signing of zones at build; [`resign`]: re-signing on schedule.
//! - L3 [`xfr`]: zone transfers out. Its engine, woken by the publisher after each swap, is the
//!   only writer of the transfer table (materialised zones, serials, IXFR deltas); the listeners
//!   reach it through `dns::TransferHook` (AXFR/IXFR, TSIG, apex SOA); NOTIFY to secondaries.
//! - L2 [`config`], [`dns`], [`health`] (probe, runner, resolve), [`metrics`] (and
//!   [`metrics_dnssec`]),
//!   [`history`] (the bounded ring of recent transitions the status page shows).
//! - L1 [`snapshot`].
//! - L0 [`fsutil`] (bounded reads of regular files, atomic no-follow writes), [`logthrottle`]
//!   (per-prefix log throttle, escaping of operator text), [`name`],
//!   [`zone`] (parser, `ZoneSet`, pure `lookup`), [`dnssec`] (key files, signer, denial chains),
//!   [`gslb`] (pure `select`; `gslb::setup`, the validated setup a snapshot carries), [`geo`]
//!   (compiled geo maps, ECS, scopes), `health::check` (the check model), `health::failure`
//!   (why a probe failed), `health::state` (pure rise/fall).
//!
//! `tests/layers.rs` reads the `use crate::` paths and fails on an upward import or a cycle.
//!
//! Glossary: **Zone** (one apex and its data), **ZoneSet** (all served zones), **Answer** (what a
//! lookup decided), **Provider** (a cloud), **Pool** (a GSLB name's candidates), **Member** (one
//! address or CNAME target in a pool, of one provider), **Target** (one probed endpoint,
//! deduplicated by check + address), **Check** (probe spec), **Status** (up/down),
//! **Transition** (a status flip), **Snapshot** (the immutable world queries read),
//! **Selection** (what a pool answers now), **Secondary** (a server that transfers a zone from
//! us), **Serial** (the RFC 1982 version of a transferred zone).
#![forbid(unsafe_code)]
pub mod admin;
pub mod app;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod demo_cluster;
pub mod dns;
pub mod dnssec;
pub mod fsutil;
pub mod geo;
pub mod gslb;
pub mod health;
pub mod history;
pub mod http;
pub mod logthrottle;
pub mod metrics;
pub mod metrics_dnssec;
pub mod name;
pub mod publisher;
pub mod resign;
pub mod snapshot;
pub mod snapshot_build;
pub mod snapshot_sign;
pub mod state_store;
pub mod xfr;
pub mod zone;
