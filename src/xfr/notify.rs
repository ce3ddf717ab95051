//! NOTIFY out (RFC 1996): one task per (zone, secondary) and serial. Sends a UDP NOTIFY with the
//! new SOA in the answer section (3.7), TSIG-signed when the secondary has a key, and resends
//! with doubling timeouts until the secondary acknowledges (a response with the same ID, opcode
//! NOTIFY and NOERROR) or the retries are used up (3.6). A newer serial aborts the task.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::UdpSocket;
use tracing::{info, warn};

use super::Rec;
use crate::dns::tsig::{self, Key};
use crate::dns::wire::{Encoder, Header, Question, Section, AA};
use crate::metrics::Metrics;
use crate::name::Name;
use crate::zone::rtype;

pub const OPCODE_NOTIFY: u16 = 4;

/// The NOTIFY state of one secondary, for `/status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerStatus {
    pub address: String,
    pub key: Option<String>,
    pub notify: bool,
    /// pending | acked | given_up | superseded | off
    pub state: &'static str,
    pub serial: u32,
    pub attempts: u32,
    pub since: u64,
}

/// Per zone (by apex text), per secondary.
pub type PeerTable = Arc<RwLock<std::collections::BTreeMap<String, Vec<PeerStatus>>>>;

/// What one NOTIFY task needs.
pub struct Job {
    pub zone: Name,
    pub soa: Rec,
    pub peer: SocketAddr,
    pub key: Option<Key>,
    pub retries: u32,
    pub timeout: Duration,
    pub metrics: Arc<Metrics>,
    pub peers: PeerTable,
}

fn set_state(job: &Job, state: &'static str, attempts: u32) {
    if let Ok(mut t) = job.peers.write() {
        if let Some(list) = t.get_mut(&job.zone.to_string()) {
            for p in list.iter_mut().filter(|p| p.address == job.peer.to_string()) {
                p.state = state;
                p.serial = super::soa_serial(&job.soa.rdata);
                p.attempts = attempts;
                p.since = tsig::now();
            }
        }
    }
}

fn message(job: &Job, id: u16) -> (Vec<u8>, Option<Vec<u8>>) {
    let q = Question {
        name: job.zone.clone(),
        qtype: rtype::SOA,
        qclass: crate::zone::CLASS_IN,
    };
    let mut enc = Encoder::new(
        Vec::new(),
        id,
        (OPCODE_NOTIFY << 11) | AA,
        Some(&q),
        u16::MAX as usize,
        0,
    );
    enc.push_rrset(Section::Answer, &job.soa.rr());
    let mut m = enc.finish();
    let mac = job
        .key
        .as_ref()
        .map(|k| tsig::sign(&mut m, k, None, tsig::now(), 0, false));
    (m, mac)
}

/// Runs one NOTIFY round to completion (acknowledged or given up).
pub async fn run(job: Job) {
    let zone = job.zone.to_string();
    let peer = job.peer.to_string();
    let count = |result: &str| job.metrics.xfr_notify.with_label_values(&[&zone, &peer, result]).inc();
    let bind: SocketAddr = if job.peer.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => {
            warn!(%zone, %peer, error = %e, "xfr: cannot open a socket for NOTIFY");
            count("given_up");
            set_state(&job, "given_up", 0);
            return;
        }
    };
    let mut idb = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut idb);
    let id = u16::from_be_bytes(idb);
    let (msg, mac) = message(&job, id);
    let mut wait = job.timeout;
    let mut buf = vec![0u8; 65535];
    for attempt in 0..=job.retries {
        set_state(&job, "pending", attempt + 1);
        if let Err(e) = sock.send_to(&msg, job.peer).await {
            warn!(%zone, %peer, error = %e, "xfr: NOTIFY send failed");
        }
        count("sent");
        if attempt > 0 {
            count("retried");
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let r = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
            let Ok(Ok((len, from))) = r else { break };
            let resp = &buf[..len];
            let Ok(h) = Header::parse(resp) else { continue };
            if from != job.peer || h.id != id || !h.is_response() || h.opcode() as u16 != OPCODE_NOTIFY {
                continue;
            }
            if let (Some(k), Some(mac)) = (&job.key, &mac) {
                let ok = matches!(tsig::find(resp), Ok(Some(t)) if tsig::verify(resp, &t, Some(k), Some(mac), tsig::now()).is_ok());
                if !ok {
                    warn!(%zone, %peer, "xfr: NOTIFY answer without a valid TSIG; ignored");
                    continue;
                }
            }
            let rcode = h.flags & 0xf;
            if rcode == 0 {
                count("acked");
                set_state(&job, "acked", attempt + 1);
                info!(
                    "xfr: NOTIFY for {zone} serial {} acknowledged by {peer}",
                    super::soa_serial(&job.soa.rdata)
                );
                return;
            }
            count("failed");
            warn!(%zone, %peer, rcode, "xfr: NOTIFY answered with an error");
            break;
        }
        wait = (wait * 2).min(Duration::from_secs(60));
    }
    count("given_up");
    set_state(&job, "given_up", job.retries + 1);
    warn!(
        "xfr: NOTIFY for {zone} to {peer} given up after {} attempts",
        job.retries + 1
    );
}
