//! Response rate limiting end to end: one client over its budget gets some truncated replies
//! (slip) and silence for the rest, over UDP only; the next second restores full answers. RRL is
//! on by default (200 responses/s per /24 or /56, slip 2), exempt prefixes are never limited, and
//! without EDNS no response is larger than 512 octets (the amplification bound, measured over the
//! fixture corpus).

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;

#[test]
fn rrl_slips_and_drops_over_budget_then_recovers() {
    let (_dir, cfg) = example_config("  rrl: { responses_per_second: 5, slip: 2 }\n");
    let s = Server::start(&["--config", cfg.to_str().unwrap(), "--rrl", "on"]);
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
                    assert!(n <= q.len(), "a slipped reply is no larger than the query");
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

/// Sends `n` copies of `q` back to back from one socket while another thread reads; returns
/// (full answers, truncated answers).
fn burst(server: std::net::SocketAddr, q: &[u8], n: usize) -> (usize, usize) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let reader = {
        let sock = sock.try_clone().unwrap();
        std::thread::spawn(move || {
            let (mut full, mut tc) = (0, 0);
            let mut buf = [0u8; 1500];
            while let Ok((len, _)) = sock.recv_from(&mut buf) {
                let m = Message::from_vec(&buf[..len]).unwrap();
                if m.metadata.truncation {
                    tc += 1;
                } else {
                    full += 1;
                }
            }
            (full, tc)
        })
    };
    for i in 0..n {
        sock.send_to(q, server).unwrap();
        if i % 50 == 49 {
            // paced a little so that neither socket buffer overflows
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    reader.join().unwrap()
}

#[test]
fn rrl_is_on_by_default_at_200_per_second() {
    // no rrl key in the config, no --rrl flag: the defaults apply
    let (_dir, cfg) = example_config("");
    let s = Server::start_default_rrl(&["--config", cfg.to_str().unwrap()]);
    let q = query_msg("mail.example.test.", RecordType::A, None);
    let t0 = std::time::Instant::now();
    let (full, tc) = burst(s.udp, &q, 1000);
    // the burst spans at most a few one-second windows of 200 each
    let windows = t0.elapsed().as_secs() as usize + 1;
    assert!(full <= 200 * windows, "full {full} in {windows} windows");
    assert!(full >= 200, "full {full}: the first 200 pass");
    assert!(tc > 0, "slip 2: some limited replies are TC=1 (full {full})");
    let (_, m) = http_get(s.http.unwrap(), "/metrics");
    assert!(m.contains("gslbd_rrl_limited_total{action=\"dropped\"}"), "{m}");
}

/// 50 queries one after the other (well over 5 per second): how many got a full answer.
fn sequential_full_answers(s: &Server) -> usize {
    let q = query_msg("mail.example.test.", RecordType::A, None);
    (0..50)
        .filter(|_| {
            udp_exchange(s.udp, &q, Duration::from_millis(300))
                .is_some_and(|r| Message::from_vec(&r).is_ok_and(|m| m.answers.len() == 1))
        })
        .count()
}

#[test]
fn rrl_off_switches_and_exempt_prefixes() {
    // a budget of 5/s, but loopback is exempt: every query is answered
    let (_d1, exempt) = example_config("  rrl: { responses_per_second: 5, exempt: [\"127.0.0.0/8\", \"::1\"] }\n");
    let s = Server::start_default_rrl(&["--config", exempt.to_str().unwrap()]);
    assert_eq!(sequential_full_answers(&s), 50, "exempt");
    drop(s);
    // the same budget without the exemption limits (the control)
    let (_d2, tight) = example_config("  rrl: { responses_per_second: 5 }\n");
    let s = Server::start_default_rrl(&["--config", tight.to_str().unwrap()]);
    let limited = sequential_full_answers(&s);
    assert!(limited < 50, "control: {limited} of 50 answered in full");
    drop(s);
    // --rrl off on the command line switches it off
    let s = Server::start_default_rrl(&["--config", tight.to_str().unwrap(), "--rrl", "off"]);
    assert_eq!(sequential_full_answers(&s), 50, "--rrl off");
    drop(s);
    // enabled: false in the config switches it off
    let (_d3, disabled) = example_config("  rrl: { enabled: false, responses_per_second: 5 }\n");
    let s = Server::start_default_rrl(&["--config", disabled.to_str().unwrap()]);
    assert_eq!(sequential_full_answers(&s), 50, "enabled: false");
    drop(s);
    // a bad exempt prefix is a located config error
    let (d4, bad) = example_config("  rrl: { exempt: [\"10.0.0.0/33\"] }\n");
    let (code, _, err) = run_cli(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 64);
    let shown = err.replace(&format!("{}/", d4.path().display()), "");
    assert!(
        shown.contains("c.yaml:3:19: bad prefix \"10.0.0.0/33\": expected an address or ADDRESS/LENGTH"),
        "{shown}"
    );
}

/// Amplification without EDNS: RFC 1035 4.2.1 caps a UDP response at 512 octets, so the factor
/// (response size / query size) is at most 512 / query size; ANY is answered with one RRset
/// (RFC 8482) and so is never larger than the largest single-type answer at the same name.
#[test]
fn responses_without_edns_stay_within_512_octets_and_any_is_minimal() {
    let dir = fixture("rich");
    let zones = ["rich.test", "other.example", "deleg.rich.test", "big.test"];
    let files: Vec<_> = zones.iter().map(|z| dir.join(format!("{z}.zone"))).collect();
    let mut args = Vec::new();
    for (z, f) in zones.iter().zip(&files) {
        args.push("--zone".to_string());
        args.push(format!("{z}.={}", f.display()));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Server::start(&argv);
    let file_refs: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    // Every type present plus the common ones and ANY.
    let (names, types) = zone_corpus(&file_refs, &[1, 2, 5, 6, 15, 16, 28, 33, 43, 255]);
    let (mut n, mut max_factor, mut worst, mut sum_factor) = (0usize, 0f64, String::new(), 0f64);
    for name in &names {
        let mut largest_typed = 0;
        let mut any_len = 0;
        for &t in &types {
            let qn: gslbd::name::Name = name.parse().expect("name parses");
            let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            q.extend_from_slice(qn.wire());
            q.extend_from_slice(&t.to_be_bytes());
            q.extend_from_slice(&[0, 1]);
            let r = udp_exchange(s.udp, &q, Duration::from_secs(2))
                .or_else(|| udp_exchange(s.udp, &q, Duration::from_secs(2)))
                .unwrap_or_else(|| panic!("no reply for {name} {t}"));
            assert!(r.len() <= 512, "{name} type {t}: {} octets without EDNS", r.len());
            let factor = r.len() as f64 / q.len() as f64;
            if factor > max_factor {
                max_factor = factor;
                worst = format!("{name} type {t}: {} -> {} octets", q.len(), r.len());
            }
            sum_factor += factor;
            n += 1;
            if t == 255 {
                // (owner, type) of each answer record, read with gslbd's wire reader: hickory
                // refuses some empty RDATA that is legal for unknown types
                let ancount = u16::from_be_bytes([r[6], r[7]]);
                let (_, mut pos) = gslbd::dns::wire::read_name(&r, 12).unwrap();
                pos += 4;
                let mut sets = std::collections::BTreeSet::new();
                for _ in 0..ancount {
                    let (owner, p) = gslbd::dns::wire::read_name(&r, pos).unwrap();
                    let rtype = u16::from_be_bytes([r[p], r[p + 1]]);
                    let rdlen = u16::from_be_bytes([r[p + 8], r[p + 9]]) as usize;
                    sets.insert((owner.wire().to_ascii_lowercase(), rtype));
                    pos = p + 10 + rdlen;
                }
                let at_name = sets
                    .iter()
                    .filter(|(o, _)| o[..] == qn.wire().to_ascii_lowercase())
                    .count();
                assert!(at_name <= 1, "ANY {name}: one RRset (RFC 8482): {sets:?}");
                any_len = r.len();
            } else {
                largest_typed = largest_typed.max(r.len());
            }
        }
        assert!(
            any_len <= largest_typed,
            "ANY {name}: {any_len} octets, largest typed answer {largest_typed}"
        );
    }
    assert!(n > 1000, "corpus of {n} queries");
    eprintln!(
        "amplification without EDNS over {n} responses: max {max_factor:.1}x ({worst}), mean {:.2}x",
        sum_factor / n as f64
    );
    // the bound docs/security.md documents: 512 / shortest query in the corpus
    let shortest = names
        .iter()
        .map(|n| n.parse::<gslbd::name::Name>().unwrap().wire().len() + 12 + 4)
        .min()
        .unwrap();
    assert!(max_factor <= 512.0 / shortest as f64 + 0.01);
}
