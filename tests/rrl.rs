//! Response rate limiting end to end: one client over its budget gets some truncated replies
//! (slip) and silence for the rest, over UDP only; the next second restores full answers.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;

#[test]
fn rrl_slips_and_drops_over_budget_then_recovers() {
    let (_dir, cfg) = example_config("  rrl: { responses_per_second: 5, slip: 2 }\n");
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
    let q = query_msg("mail.example.test.", RecordType::A, None);
    let (mut full, mut tc, mut silent) = (0, 0, 0);
    let t0 = std::time::Instant::now();
    for _ in 0..30 {
        sock.send_to(&q, s.udp).unwrap();
        let mut buf = [0u8; 1500];
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                let m = Message::from_vec(&buf[..n]).unwrap();
                if m.metadata.truncation {
                    assert!(m.answers.is_empty());
                    tc += 1;
                } else {
                    assert_eq!(m.answers.len(), 1);
                    full += 1;
                }
            }
            Err(_) => silent += 1,
        }
    }
    // at most 5 full answers per started second of the burst
    let seconds = t0.elapsed().as_secs() as usize + 2;
    assert!(
        full >= 5 && full <= 5 * seconds,
        "full {full} tc {tc} silent {silent} in {seconds} windows"
    );
    assert!(tc >= 3, "slipped replies: full {full} tc {tc} silent {silent}");
    assert!(silent >= 3, "dropped replies: full {full} tc {tc} silent {silent}");
    // TCP is never limited
    assert_eq!(s.query_tcp("mail.example.test.", RecordType::A).answers.len(), 1);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(s.query("mail.example.test.", RecordType::A).answers.len(), 1);
    let (_, m) = http_get(s.http.unwrap(), "/metrics");
    assert!(m.contains("gslbd_rrl_limited_total{action=\"slipped\"}"), "{m}");
}
