//! Prometheus metrics (L2), prefix `gslbd_`. Label values come from configuration or from small
//! fixed sets, never from query names. Query-path handles are resolved once at start-up into a
//! table indexed by transport, rcode and qtype, so answering a query does no label lookup.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::dns::handler::{Outcome, Transport};
use crate::dns::QueryObserver;

const RCODES: [(u16, &str); 9] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (6, "YXDOMAIN"),
    // TSIG failures (RFC 8945 5.2); counted apart so that SERVFAIL stays a sign of a bug.
    (9, "NOTAUTH"),
    (16, "BADVERS"),
];
const QTYPES: [(u16, &str); 16] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (39, "DNAME"),
    (43, "DS"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (257, "CAA"),
    (255, "ANY"),
    (0, "OTHER"),
];
const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

/// Every metric gslbd exports.
pub struct Metrics {
    pub registry: Registry,
    /// [transport][rcode][qtype]
    queries: Vec<IntCounter>,
    response_seconds: [Histogram; 2],
    truncated: [IntCounter; 2],
    dropped: [IntCounter; 2],
    pub target_up: IntGaugeVec,
    pub provider_up: IntGaugeVec,
    pub pool_members_answered: IntGaugeVec,
    /// 1 while a pool has no healthy member for a family (answering per `when_all_down`).
    pub pool_all_down: IntGaugeVec,
    pub probe_seconds: HistogramVec,
    /// Failed probes by check and reason, the reason being `health::failure::Failure::label`.
    pub probe_failures: IntCounterVec,
    /// How late probes start against their schedule (runner, one observation per probe).
    pub probe_start_delay: Histogram,
    pub transitions: IntCounterVec,
    pub snapshot_generation: IntGauge,
    pub snapshot_swaps: IntCounter,
    pub reloads: IntCounterVec,
    pub all_down_events: IntCounterVec,
    pub admin_actions: IntCounterVec,
    /// State file reads and writes that failed, by `op` (load, save).
    pub state_file_errors: IntCounterVec,
    /// 1 while the last state file read or write succeeded (or there is no state file).
    pub state_file_ok: IntGauge,
    /// Open HTTP connections, and those the server closed: `evicted` (the idlest, to make room
    /// for a new one at `server.http_max_connections`), `header_timeout`, `request_timeout`.
    pub http_connections: IntGauge,
    pub http_closed: IntCounterVec,
    /// Admin requests refused before their body was read, by reason (`token`, `disabled`).
    pub admin_refused: IntCounterVec,
    /// Log lines held back by a throttle (`crate::logthrottle`), by event.
    pub log_suppressed: IntCounterVec,
    rrl: [IntCounter; 2],
    /// Times a UDP helper thread was called in because the socket had a backlog.
    udp_helper_calls: IntCounter,
    /// TCP connections closed to admit another, by reason (`prefix_full`, `table_full`).
    tcp_evictions: [IntCounter; 2],
    /// Zone transfers out: serial per zone, bumps, NOTIFY results, transfers served and refused.
    pub xfr_serial: IntGaugeVec,
    /// The serial each secondary last reported in an IXFR request or was last sent.
    pub xfr_secondary_serial: IntGaugeVec,
    pub xfr_serial_bumps: IntCounterVec,
    pub xfr_notify: IntCounterVec,
    pub xfr_transfers: IntCounterVec,
    pub xfr_refused: IntCounterVec,
    pub dnssec: crate::metrics_dnssec::DnssecMetrics,
    /// Peer instances (`cluster`).
    pub cluster: ClusterMetrics,
}

/// The metrics of a cluster of instances (registered also without one, so that dashboards
/// see them at zero).
pub struct ClusterMetrics {
    /// 1 while a valid message from the peer arrived within `stale_after`.
    pub peer_reachable: IntGaugeVec,
    /// Messages by direction (`in`, `out`) and result (`ok`, or why one was refused or failed).
    pub messages: IntCounterVec,
    /// Message body bytes by direction.
    pub bytes: IntCounterVec,
    /// Fresh reports per target and status (`up`, `down`, `stale`).
    pub target_votes: IntGaugeVec,
    /// 1 while fewer than `quorum` instances are heard from (every target on the own view).
    pub quorum_lost: IntGauge,
    /// Entries of a peer's message about providers, members or targets this config lacks.
    pub unknown_subjects: IntCounter,
}

impl ClusterMetrics {
    fn new(r: &Registry) -> ClusterMetrics {
        let m = ClusterMetrics {
            peer_reachable: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "gslbd_cluster_peer_reachable",
                        "1 while a valid message from the peer arrived within stale_after",
                    ),
                    &["peer"],
                )
                .expect("valid metric"),
            ),
            messages: reg(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "gslbd_cluster_messages_total",
                        "Cluster messages by direction and result (ok, or why refused or failed)",
                    ),
                    &["direction", "result"],
                )
                .expect("valid metric"),
            ),
            bytes: reg(
                r,
                IntCounterVec::new(
                    Opts::new("gslbd_cluster_bytes_total", "Cluster message body bytes by direction"),
                    &["direction"],
                )
                .expect("valid metric"),
            ),
            target_votes: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "gslbd_target_votes",
                        "Instances whose fresh report says up or down, or that have no fresh report (stale), per target",
                    ),
                    &["target", "status"],
                )
                .expect("valid metric"),
            ),
            quorum_lost: reg(
                r,
                IntGauge::new(
                    "gslbd_cluster_quorum_lost",
                    "1 while fewer than quorum instances are heard from and answers follow this instance's own probes",
                )
                .expect("valid metric"),
            ),
            unknown_subjects: reg(
                r,
                IntCounter::new(
                    "gslbd_cluster_unknown_subjects_total",
                    "Overrides or reports from peers about providers, members or targets this config lacks (ignored)",
                )
                .expect("valid metric"),
            ),
        };
        for dir in ["in", "out"] {
            m.messages.with_label_values(&[dir, "ok"]);
            m.bytes.with_label_values(&[dir]);
        }
        m
    }
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    r.register(Box::new(c.clone())).expect("metric names are unique");
    c
}

impl Metrics {
    /// Builds and registers everything (a start-up invariant: names are static and unique).
    pub fn new() -> Metrics {
        let r = Registry::new();
        let queries_vec = reg(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "gslbd_queries_total",
                    "DNS responses sent, by rcode, qtype and transport",
                ),
                &["rcode", "qtype", "transport"],
            )
            .expect("valid metric"),
        );
        let mut queries = Vec::with_capacity(2 * RCODES.len() * QTYPES.len());
        for t in TRANSPORTS {
            for (_, rc) in RCODES {
                for (_, qt) in QTYPES {
                    queries.push(queries_vec.with_label_values(&[rc, qt, t]));
                }
            }
        }
        let resp = reg(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "gslbd_response_seconds",
                    "Time from receiving a query to sending its response",
                )
                .buckets(vec![1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1]),
                &["transport"],
            )
            .expect("valid metric"),
        );
        let trunc = reg(
            &r,
            IntCounterVec::new(
                Opts::new("gslbd_responses_truncated_total", "Responses sent with TC=1"),
                &["transport"],
            )
            .expect("valid metric"),
        );
        let dropped = reg(
            &r,
            IntCounterVec::new(
                Opts::new("gslbd_dropped_total", "Messages dropped unanswered (responses, runts)"),
                &["transport"],
            )
            .expect("valid metric"),
        );
        let rrl = reg(
            &r,
            IntCounterVec::new(
                Opts::new("gslbd_rrl_limited_total", "UDP responses held back by rate limiting"),
                &["action"],
            )
            .expect("valid metric"),
        );
        let udp_helper_calls = reg(
            &r,
            IntCounter::new(
                "gslbd_udp_helper_calls_total",
                "Times an extra UDP receive thread was called in because a full batch was queued",
            )
            .expect("valid metric"),
        );
        let tcp_evictions = reg(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "gslbd_tcp_evictions_total",
                    "TCP connections closed to admit a new one: the idlest of a prefix at its cap \
                     (prefix_full) or of the busiest prefix when the table is full (table_full)",
                ),
                &["reason"],
            )
            .expect("valid metric"),
        );
        let m = Metrics {
            tcp_evictions: [
                tcp_evictions.with_label_values(&["prefix_full"]),
                tcp_evictions.with_label_values(&["table_full"]),
            ],
            udp_helper_calls,
            rrl: [rrl.with_label_values(&["dropped"]), rrl.with_label_values(&["slipped"])],
            queries,
            response_seconds: [resp.with_label_values(&["udp"]), resp.with_label_values(&["tcp"])],
            truncated: [trunc.with_label_values(&["udp"]), trunc.with_label_values(&["tcp"])],
            dropped: [dropped.with_label_values(&["udp"]), dropped.with_label_values(&["tcp"])],
            target_up: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new("gslbd_target_up", "Health of each probed target (1 up, 0 down)"),
                    &["target", "provider", "check"],
                )
                .expect("valid metric"),
            ),
            provider_up: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new("gslbd_provider_up", "Provider state (1 up, 0 down)"),
                    &["provider"],
                )
                .expect("valid metric"),
            ),
            pool_members_answered: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new("gslbd_pool_members_answered", "Members a pool currently answers with"),
                    &["pool", "family"],
                )
                .expect("valid metric"),
            ),
            pool_all_down: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "gslbd_pool_all_down",
                        "1 while a pool has no healthy member for a family; when_all_down says what it answers",
                    ),
                    &["pool", "family", "when_all_down"],
                )
                .expect("valid metric"),
            ),
            probe_seconds: reg(
                &r,
                HistogramVec::new(
                    HistogramOpts::new("gslbd_probe_duration_seconds", "Health probe duration")
                        .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                    &["check"],
                )
                .expect("valid metric"),
            ),
            probe_start_delay: reg(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "gslbd_probe_start_delay_seconds",
                        "How late each health probe started against its schedule",
                    )
                    .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
                )
                .expect("valid metric"),
            ),
            probe_failures: reg(
                &r,
                IntCounterVec::new(
                    Opts::new("gslbd_probe_failures_total", "Failed health probes by reason"),
                    &["check", "reason"],
                )
                .expect("valid metric"),
            ),
            transitions: reg(
                &r,
                IntCounterVec::new(
                    Opts::new("gslbd_health_transitions_total", "Target status flips"),
                    &["to"],
                )
                .expect("valid metric"),
            ),
            snapshot_generation: reg(
                &r,
                IntGauge::new("gslbd_snapshot_generation", "Generation of the snapshot being served")
                    .expect("valid metric"),
            ),
            snapshot_swaps: reg(
                &r,
                IntCounter::new("gslbd_snapshot_swaps_total", "Snapshots published").expect("valid metric"),
            ),
            reloads: reg(
                &r,
                IntCounterVec::new(Opts::new("gslbd_reloads_total", "Reloads by result"), &["result"])
                    .expect("valid metric"),
            ),
            all_down_events: reg(
                &r,
                IntCounterVec::new(
                    Opts::new("gslbd_all_down_events_total", "Times a pool had no healthy member"),
                    &["pool"],
                )
                .expect("valid metric"),
            ),
            admin_actions: reg(
                &r,
                IntCounterVec::new(Opts::new("gslbd_admin_actions_total", "Admin API actions"), &["action"])
                    .expect("valid metric"),
            ),
            xfr_serial: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new("gslbd_xfr_serial", "SOA serial of each transferred zone"),
                    &["zone"],
                )
                .expect("valid metric"),
            ),
            xfr_secondary_serial: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "gslbd_xfr_secondary_serial",
                        "Serial a secondary last reported in an IXFR request, or was last sent in a transfer",
                    ),
                    &["zone", "peer"],
                )
                .expect("valid metric"),
            ),
            xfr_serial_bumps: reg(
                &r,
                IntCounterVec::new(
                    Opts::new("gslbd_xfr_serial_bumps_total", "Serial increases of transferred zones"),
                    &["zone", "reason"],
                )
                .expect("valid metric"),
            ),
            xfr_notify: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "gslbd_xfr_notify_total",
                        "NOTIFY messages by result: sent (every datagram), retried, acked, failed (error answer), given_up, superseded",
                    ),
                    &["zone", "peer", "result"],
                )
                .expect("valid metric"),
            ),
            xfr_transfers: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "gslbd_xfr_transfers_total",
                        "Zone transfers served, by type (axfr, ixfr) and style (full, incremental, current)",
                    ),
                    &["zone", "type", "style", "peer"],
                )
                .expect("valid metric"),
            ),
            xfr_refused: reg(
                &r,
                IntCounterVec::new(
                    Opts::new("gslbd_xfr_refused_total", "Transfer requests refused, by reason"),
                    &["reason"],
                )
                .expect("valid metric"),
            ),
            state_file_errors: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "gslbd_state_file_errors_total",
                        "State file reads and writes that failed",
                    ),
                    &["op"],
                )
                .expect("valid metric"),
            ),
            state_file_ok: reg(
                &r,
                IntGauge::new(
                    "gslbd_state_file_ok",
                    "1 while the last state file read or write succeeded (or there is none)",
                )
                .expect("valid metric"),
            ),
            http_connections: reg(
                &r,
                IntGauge::new("gslbd_http_connections", "Open HTTP connections").expect("valid metric"),
            ),
            http_closed: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "gslbd_http_connections_closed_total",
                        "HTTP connections closed by the server: evicted at the connection cap, header_timeout, request_timeout",
                    ),
                    &["reason"],
                )
                .expect("valid metric"),
            ),
            admin_refused: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "gslbd_admin_refused_total",
                        "Admin requests refused: token (missing or wrong), disabled (no token configured)",
                    ),
                    &["reason"],
                )
                .expect("valid metric"),
            ),
            log_suppressed: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "gslbd_log_lines_suppressed_total",
                        "Log lines held back by the per-prefix log throttle, by event",
                    ),
                    &["event"],
                )
                .expect("valid metric"),
            ),
            dnssec: crate::metrics_dnssec::DnssecMetrics::new(&r),
            cluster: ClusterMetrics::new(&r),
            registry: r,
        };
        m.state_file_ok.set(1);
        for reason in ["evicted", "header_timeout", "request_timeout"] {
            m.http_closed.with_label_values(&[reason]);
        }
        for reason in ["token", "disabled"] {
            m.admin_refused.with_label_values(&[reason]);
        }
        for event in ["xfr_refused", "admin_refused"] {
            m.log_suppressed.with_label_values(&[event]);
        }
        for op in ["load", "save"] {
            m.state_file_errors.with_label_values(&[op]);
        }
        let info =
            IntGaugeVec::new(Opts::new("gslbd_build_info", "Build information"), &["version"]).expect("valid metric");
        info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        m.registry.register(Box::new(info)).expect("unique");
        for result in ["success", "failure"] {
            m.reloads.with_label_values(&[result]);
        }
        m
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn t_idx(t: Transport) -> usize {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
    }
}

/// Index of an answer's counter in [`Metrics::queries`] (transport, rcode, qtype).
fn query_idx(t: usize, outcome: &Outcome) -> usize {
    let rc = RCODES.iter().position(|(c, _)| *c == outcome.rcode).unwrap_or(2);
    let qt = QTYPES
        .iter()
        .position(|(c, _)| *c == outcome.qtype)
        .unwrap_or(QTYPES.len() - 1);
    (t * RCODES.len() + rc) * QTYPES.len() + qt
}

/// The debug event of one answer (one per answer, in batches too).
#[inline]
fn log_answered(transport: Transport, outcome: &Outcome) {
    tracing::debug!(
        transport = transport.as_str(),
        rcode = outcome.rcode,
        qtype = outcome.qtype,
        tc = outcome.truncated,
        "answered"
    );
}

impl QueryObserver for Metrics {
    fn observe(&self, transport: Transport, outcome: &Outcome, elapsed: Duration) {
        let t = t_idx(transport);
        self.queries[query_idx(t, outcome)].inc();
        self.response_seconds[t].observe(elapsed.as_secs_f64());
        if outcome.truncated {
            self.truncated[t].inc();
        }
        log_answered(transport, outcome);
    }

    /// One batch: the shared counters and the histogram (atomics that the receive threads
    /// share) are touched once per run of equal answers and once per batch, not per answer.
    fn observe_batch(&self, transport: Transport, outcomes: &[Outcome], elapsed: Duration) {
        if outcomes.len() < 2 {
            outcomes.iter().for_each(|o| self.observe(transport, o, elapsed));
            return;
        }
        let t = t_idx(transport);
        let mut run: Option<(usize, u64)> = None;
        let mut truncated = 0;
        for o in outcomes {
            let i = query_idx(t, o);
            run = match run {
                Some((j, n)) if j == i => Some((j, n + 1)),
                Some((j, n)) => {
                    self.queries[j].inc_by(n);
                    Some((i, 1))
                }
                None => Some((i, 1)),
            };
            truncated += u64::from(o.truncated);
            log_answered(transport, o);
        }
        if let Some((j, n)) = run {
            self.queries[j].inc_by(n);
        }
        if truncated > 0 {
            self.truncated[t].inc_by(truncated);
        }
        let h = self.response_seconds[t].local();
        let secs = elapsed.as_secs_f64();
        outcomes.iter().for_each(|_| h.observe(secs));
        h.flush();
    }

    fn dropped(&self, transport: Transport) {
        self.dropped[t_idx(transport)].inc();
        tracing::debug!(transport = transport.as_str(), "dropped message");
    }

    fn rate_limited(&self, slipped: bool) {
        self.rrl[slipped as usize].inc();
    }

    fn udp_helper_called(&self) {
        self.udp_helper_calls.inc();
    }

    fn tcp_evicted(&self, reason: crate::dns::listen::Eviction) {
        self.tcp_evictions[match reason {
            crate::dns::listen::Eviction::PrefixFull => 0,
            crate::dns::listen::Eviction::TableFull => 1,
        }]
        .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_counters_use_bounded_labels() {
        let m = Metrics::new();
        let o = |rcode, qtype| Outcome {
            rcode,
            qtype,
            truncated: false,
        };
        m.observe(Transport::Udp, &o(0, 1), Duration::from_micros(20));
        m.observe(Transport::Tcp, &o(3, 65000), Duration::from_micros(20));
        m.observe(Transport::Tcp, &o(9, 252), Duration::from_micros(20));
        m.dropped(Transport::Udp);
        let text = m.render();
        assert!(
            text.contains("gslbd_queries_total{qtype=\"A\",rcode=\"NOERROR\",transport=\"udp\"} 1"),
            "{text}"
        );
        assert!(text.contains("gslbd_queries_total{qtype=\"OTHER\",rcode=\"NXDOMAIN\",transport=\"tcp\"} 1"));
        assert!(text.contains("gslbd_queries_total{qtype=\"OTHER\",rcode=\"NOTAUTH\",transport=\"tcp\"} 1"));
        assert!(text.contains("gslbd_queries_total{qtype=\"OTHER\",rcode=\"SERVFAIL\",transport=\"tcp\"} 0"));
        assert!(text.contains("gslbd_dropped_total{transport=\"udp\"} 1"));
        assert!(text.contains("gslbd_build_info{version="));
    }

    /// A batch counts exactly as its answers one by one: counters, truncations and the
    /// histogram (count, sum and buckets).
    #[test]
    fn a_batch_counts_as_its_answers_one_by_one() {
        let o = |rcode, qtype, truncated| Outcome {
            rcode,
            qtype,
            truncated,
        };
        let batch = [
            o(0, 1, false),
            o(0, 1, false),
            o(3, 28, false),
            o(0, 1, true),
            o(0, 1, false),
            o(5, 65000, false),
        ];
        let elapsed = Duration::from_micros(700);
        let (one, many) = (Metrics::new(), Metrics::new());
        batch.iter().for_each(|b| one.observe(Transport::Udp, b, elapsed));
        many.observe_batch(Transport::Udp, &batch, elapsed);
        many.observe_batch(Transport::Udp, &[], elapsed);
        let lines = |m: &Metrics| -> Vec<String> {
            m.render()
                .lines()
                .filter(|l| {
                    l.starts_with("gslbd_queries_total")
                        || l.starts_with("gslbd_response")
                        || l.starts_with("gslbd_responses_truncated")
                })
                .map(str::to_string)
                .collect()
        };
        let a = lines(&one);
        assert!(
            a.iter()
                .any(|l| l.contains("qtype=\"A\",rcode=\"NOERROR\",transport=\"udp\"} 4")),
            "{a:#?}"
        );
        assert!(
            a.iter()
                .any(|l| l.starts_with("gslbd_response_seconds_count{transport=\"udp\"} 6")),
            "{a:#?}"
        );
        assert_eq!(a, lines(&many));
    }
}
