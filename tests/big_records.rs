//! A record set too large for any DNS message is rejected where it is written (file:line:col),
//! by `gslbd check` and by a reload, instead of passing and then going missing from answers and
//! zone transfers. The largest one that is accepted is answered over TCP and transferred whole.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::*;

/// Owner `big.big.test.` (14 octets): a message holding its RRset of one record needs 535
/// (header, OPT, TSIG room) + 18 (question) + 14 (owner) + 8 (type, class, TTL) + 2 (RDLENGTH)
/// octets besides the RDATA (577), so 64,958 octets of RDATA is the most that fits in 65,535.
const LIMIT: usize = 64_958;

/// The zone, with `big.big.test. TYPE65280` carrying `rdata_len` octets (on line 5).
fn zone(serial: u32, rdata_len: usize) -> String {
    format!(
        "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster {serial} 3600 900 1209600 300\n\
         @ IN NS ns1\nbig IN TYPE65280 \\# {rdata_len} {}\nns1 IN A 192.0.2.53\n",
        "ab".repeat(rdata_len)
    )
}

fn write_config(dir: &Path, rdata_len: usize) -> std::path::PathBuf {
    std::fs::write(dir.join("big.test.zone"), zone(1, rdata_len)).unwrap();
    let cfg = dir.join("c.yaml");
    std::fs::write(
        &cfg,
        "version: 1\nzones: [big.test.zone]\ntransfers:\n  big.test.:\n    secondaries:\n\
         \x20     - { address: \"127.0.0.1:9\", notify: false }\n",
    )
    .unwrap();
    cfg
}

#[test]
fn check_rejects_a_record_set_too_big_for_a_message_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    for (len, ok) in [(LIMIT, true), (LIMIT + 1, false), (65_500, false)] {
        let cfg = write_config(dir.path(), len);
        let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
        if ok {
            assert_eq!(code, 0, "{len} octets: {out}{err}");
        } else {
            assert_eq!(code, 64, "{len} octets passed check: {out}{err}");
            assert!(
                err.contains("big.test.zone:5:1: big.big.test. TYPE65280 record of")
                    && err.contains("more than the 65535"),
                "{len} octets: {err}"
            );
        }
    }
}

#[test]
fn check_names_the_record_that_makes_a_set_too_big() {
    // TXT records of 251 octets at txt.big.test. (14 octets): a set of n needs 565 + 263 n
    // octets, so 247 fit and the 248th (line 4 + 248) is the one reported.
    let dir = tempfile::tempdir().unwrap();
    for (n, ok) in [(247, true), (248, false)] {
        let mut z =
            "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\n".to_string();
        for i in 0..n {
            z.push_str(&format!("txt IN TXT \"{i:03}{}\"\n", "x".repeat(247)));
        }
        let path = dir.path().join("big.test.zone");
        std::fs::write(&path, z).unwrap();
        let (code, out, err) = run_cli(&["check", "--zone", path.to_str().unwrap()]);
        if ok {
            assert_eq!(code, 0, "{n} records: {out}{err}");
        } else {
            assert_eq!(code, 64, "{n} records passed check: {out}{err}");
            assert!(
                err.contains(&format!(
                    "big.test.zone:{}:1: txt.big.test. TXT record of 251 octets",
                    4 + n
                )),
                "{err}"
            );
            assert_eq!(err.matches("TXT record of").count(), 1, "{err}");
        }
    }
}

/// AXFR of big.test. over TCP: every record of every message until the closing SOA.
fn axfr(s: &Server) -> Vec<Record> {
    let mut c = TcpStream::connect(s.tcp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write_framed(&mut c, &query_msg("big.test.", RecordType::AXFR, None));
    let mut recs = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        let m = Message::from_vec(&read_framed(&mut c).expect("transfer message")).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        for r in m.answers {
            soas += usize::from(r.record_type() == RecordType::SOA);
            recs.push(r);
        }
    }
    recs
}

fn big_rdata_len(recs: &[Record]) -> Option<usize> {
    recs.iter()
        .find(|r| r.record_type() == RecordType::Unknown(65280))
        .map(|r| match &r.data {
            RData::Unknown { rdata, .. } => rdata.anything.len(),
            other => panic!("TYPE65280 decoded as {other:?}"),
        })
}

#[test]
fn the_largest_accepted_record_is_served_and_a_reload_with_a_bigger_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), LIMIT);
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    // At the limit: answered whole over TCP, and present in the transfer.
    let m = tcp_query(s.tcp, &query_msg("big.big.test.", RecordType::Unknown(65280), None));
    assert!(!m.metadata.truncation);
    assert_eq!(big_rdata_len(&m.answers), Some(LIMIT));
    let before = axfr(&s);
    assert_eq!(big_rdata_len(&before), Some(LIMIT));

    // A reload with a record too big for any message is refused at its place; the old zone stays.
    let mut f = std::fs::File::create(dir.path().join("big.test.zone")).unwrap();
    f.write_all(zone(2, 65_500).as_bytes()).unwrap();
    drop(f);
    s.signal("HUP");
    assert!(s.wait_log("reload failed", Duration::from_secs(20)), "{}", s.log_text());
    assert!(
        s.log_text()
            .contains("big.test.zone:5:1: big.big.test. TYPE65280 record of 65500 octets"),
        "{}",
        s.log_text()
    );
    let after = axfr(&s);
    assert_eq!(big_rdata_len(&after), Some(LIMIT));
    assert_eq!(rrs(&after), rrs(&before), "the transferred zone changed");
}
