//! Pre-signed zones served by gslbd validate: a validating resolver (Unbound, Debian package
//! `unbound`, started by the test on a loopback port with the fixtures' DS records as trust
//! anchors and stub zones pointing at gslbd) must set AD on static answers, NXDOMAIN, NODATA,
//! empty non-terminals, wildcard answers and wildcard NODATA, CNAME and DNAME chains, DS and the
//! absence of DS, in the NSEC, NSEC3 and NSEC3 opt-out fixtures; in the opt-out zone, answers
//! whose proof is an opt-out NSEC3 must come back insecure (same answer, no AD), not bogus. A zone with one RRSIG altered
//! must make that answer fail (SERVFAIL), so the resolver is seen to validate.
//!
//! Unbound answers `test.` itself by default (RFC 6761); the configuration turns that off.
//! Unbound only ever talks to gslbd: every other IPv4 address is in its `do-not-query-address`
//! list and IPv6 is off. The test is `#[ignore]`d for a plain `cargo test`; `tests/run.sh`
//! installs Unbound and runs it, and without Unbound it fails and says so.

mod common;
#[path = "common/unbound.rs"]
mod unbound;

use std::net::SocketAddr;

use common::*;
use unbound::Unbound;

const ZONES: [&str; 3] = ["nsec.test", "nsec3.test", "optout.test"];

fn start_unbound(gslbd: SocketAddr, zones: &[&str]) -> Unbound {
    let mut anchors = String::new();
    // A zone whose parent is served too is reached through the parent's DS, not anchored.
    for z in zones
        .iter()
        .filter(|z| !zones.iter().any(|p| z.ends_with(&format!(".{p}"))))
    {
        anchors.push_str(&std::fs::read_to_string(fixture(&format!("signed/{z}.ds"))).unwrap());
    }
    let stubs: Vec<(&str, SocketAddr)> = zones.iter().map(|z| (*z, gslbd)).collect();
    Unbound::start(&anchors, &stubs, "")
}

fn resolve(unbound: &Unbound, name: &str, t: RecordType) -> Message {
    unbound.resolve(name, t)
}

fn gslbd_serving(files: &[(String, std::path::PathBuf)]) -> Server {
    let mut args = Vec::new();
    for (z, f) in files {
        args.push("--zone".to_string());
        args.push(format!("{z}.={}", f.display()));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&argv)
}

#[test]
#[ignore = "needs unbound; tests/run.sh runs it"]
fn answers_from_pre_signed_zones_validate() {
    let files: Vec<(String, std::path::PathBuf)> = ZONES
        .iter()
        .chain(&["sub.nsec.test"])
        .map(|z| (z.to_string(), fixture(&format!("signed/{z}.zone"))))
        .collect();
    let gslbd = gslbd_serving(&files);
    let unbound = start_unbound(gslbd.udp, &["nsec.test", "sub.nsec.test", "nsec3.test", "optout.test"]);
    let mut failures = Vec::new();
    let mut n = 0;
    for z in ZONES {
        // (name, type, rcode, answer section not empty, the proof rests on an opt-out NSEC3)
        for (name, t, rcode, answers, opt_out) in [
            ("www", RecordType::A, ResponseCode::NoError, true, false),
            ("www", RecordType::AAAA, ResponseCode::NoError, true, false),
            ("@", RecordType::DNSKEY, ResponseCode::NoError, true, false),
            ("big", RecordType::TXT, ResponseCode::NoError, true, false),
            ("nope", RecordType::A, ResponseCode::NXDomain, false, true),
            ("deep.nope", RecordType::TXT, ResponseCode::NXDomain, false, true),
            ("x.y.b.c.ent", RecordType::A, ResponseCode::NXDomain, false, true),
            ("www", RecordType::MX, ResponseCode::NoError, false, false),
            ("c.ent", RecordType::A, ResponseCode::NoError, false, false),
            ("a.b.wild", RecordType::A, ResponseCode::NoError, true, true),
            ("a.b.wild", RecordType::MX, ResponseCode::NoError, false, true),
            ("exists.wild", RecordType::A, ResponseCode::NoError, true, false),
            ("foo.wcname", RecordType::A, ResponseCode::NoError, true, true),
            ("chain", RecordType::A, ResponseCode::NoError, true, false),
            ("dangling", RecordType::A, ResponseCode::NXDomain, true, true),
            ("x.old", RecordType::A, ResponseCode::NoError, true, false),
            ("secure", RecordType::DS, ResponseCode::NoError, true, false),
            ("insecure", RecordType::DS, ResponseCode::NoError, false, true),
            ("deep.ent2", RecordType::DS, ResponseCode::NoError, false, true),
            ("_sip._tcp", RecordType::SRV, ResponseCode::NoError, true, false),
        ] {
            let q = if name == "@" {
                format!("{z}.")
            } else {
                format!("{name}.{z}.")
            };
            let m = resolve(&unbound, &q, t);
            n += 1;
            // RFC 5155 9.2: what an opt-out NSEC3 covers is insecure, not bogus: the same answer,
            // without AD.
            let secure = !(opt_out && z == "optout.test");
            let got = (
                m.metadata.response_code,
                m.metadata.authentic_data,
                !m.answers.is_empty(),
            );
            if got != (rcode, secure, answers) {
                failures.push(format!(
                    "{q} {t:?}: rcode {:?} AD {} answers {:?}",
                    got.0,
                    got.1,
                    rrs(&m.answers)
                ));
            }
        }
    }
    // The signed child, reached through the parent's DS, and CNAMEs across the cut both ways.
    for (q, t, rcode, answers) in [
        ("www.sub.nsec.test.", RecordType::A, ResponseCode::NoError, true),
        ("nope.sub.nsec.test.", RecordType::A, ResponseCode::NXDomain, false),
        ("x.w.sub.nsec.test.", RecordType::TXT, ResponseCode::NoError, true),
        ("www.sub.nsec.test.", RecordType::MX, ResponseCode::NoError, false),
        ("sub.nsec.test.", RecordType::DS, ResponseCode::NoError, true),
        ("tochild.nsec.test.", RecordType::A, ResponseCode::NoError, true),
        ("back.sub.nsec.test.", RecordType::A, ResponseCode::NoError, true),
    ] {
        let m = resolve(&unbound, q, t);
        n += 1;
        let got = (
            m.metadata.response_code,
            m.metadata.authentic_data,
            !m.answers.is_empty(),
        );
        if got != (rcode, true, answers) {
            failures.push(format!(
                "{q} {t:?}: rcode {:?} AD {} answers {:?}",
                got.0,
                got.1,
                rrs(&m.answers)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} answers did not validate as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{n} answers validated (AD set)");
}

#[test]
#[ignore = "needs unbound; tests/run.sh runs it"]
fn an_altered_signature_is_bogus() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("signed/nsec.test.zone")).unwrap();
    // The signature over www's A RRset gets one character of its base64 changed.
    let mut done = false;
    let altered: String = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if !done && f.len() > 5 && f[0] == "www.nsec.test." && f[3] == "RRSIG" && f[4] == "A" {
                done = true;
                // The signature is the last field; its sixth character changes.
                let at = l.rfind(char::is_whitespace).unwrap() + 6;
                let c = if &l[at..at + 1] == "A" { "B" } else { "A" };
                format!("{}{c}{}\n", &l[..at], &l[at + 1..])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(done, "the fixture has no RRSIG over www A");
    let file = dir.path().join("nsec.test.zone");
    std::fs::write(&file, altered).unwrap();
    let gslbd = gslbd_serving(&[("nsec.test".into(), file)]);
    let unbound = start_unbound(gslbd.udp, &["nsec.test"]);
    let bad = resolve(&unbound, "www.nsec.test.", RecordType::A);
    assert_eq!(bad.metadata.response_code, ResponseCode::ServFail, "{bad:?}");
    let good = resolve(&unbound, "mail.nsec.test.", RecordType::A);
    assert!(good.metadata.authentic_data && !good.answers.is_empty(), "{good:?}");
}
