//! Three real gslbd instances in one cluster on loopback (cluster listeners on 127.0.0.21-23),
//! probing stand-in endpoints on 127.0.0.11-12: a real failure is dropped by all of them alike,
//! drains and undrains taken on one instance reach the others within 2 s (in /admin/state, with
//! their origin, and in DNS answers), a restarted instance catches up, losing both peers falls
//! back to the own view (/status, log, metric), a wrong secret is refused and counted, and a
//! config that differs shows as a digest mismatch.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

#[path = "common/cluster_lab.rs"]
mod cluster_lab;

use std::time::Duration;

use cluster_lab::*;
use common::*;
use endpoint::{Endpoint, Mode};
use serde_json::Value;

const INTERVAL_MS: u64 = 200;

fn lab(dir: &std::path::Path, names: &[(&str, &str)]) -> Vec<Instance> {
    names
        .iter()
        .map(|(name, ip)| Instance {
            name: name.to_string(),
            listen: format!("{ip}:{}", free_port()).parse().unwrap(),
            dir: dir.join(name),
        })
        .collect()
}

fn shared(aws: &Endpoint, rack: &Endpoint) -> Shared {
    Shared {
        zone: zone(),
        checks: vec![
            ("aws".into(), aws.check_yaml(INTERVAL_MS, 150, 1, 1)),
            ("rack".into(), rack.check_yaml(INTERVAL_MS, 150, 1, 1)),
        ],
        quorum: "majority".into(),
        stale_after: "2s".into(),
        pool_extra: String::new(),
        probe_from_listen: true,
        tls: false,
        sign_with: None,
    }
}

/// Writes every instance's config for one cluster with `sh` and the shared secret, starts them
/// all and waits until each hears every peer.
fn start_all(inst: &[Instance], sh: &Shared) -> Vec<Server> {
    for i in inst {
        write_config(i, inst, sh, SECRET);
    }
    let s: Vec<Server> = inst.iter().map(start).collect();
    until(Duration::from_secs(10), "every instance hears every peer", || {
        s.iter().all(all_reachable)
    });
    s
}

fn start(i: &Instance) -> Server {
    Server::start_in(&["--config", i.config().to_str().unwrap()], Some(&i.dir))
}

fn http(s: &Server) -> std::net::SocketAddr {
    s.http.unwrap()
}

fn all_reachable(s: &Server) -> bool {
    let st = status(http(s));
    st["cluster"]["peers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["reachable"] == Value::Bool(true))
}

const BOTH: [&str; 2] = ["192.0.2.10", "198.51.100.10"];

#[test]
fn three_instances_agree_share_admin_actions_catch_up_and_fall_back_without_quorum() {
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let inst = lab(
        dir.path(),
        &[("ns1", "127.0.0.21"), ("ns2", "127.0.0.22"), ("ns3", "127.0.0.23")],
    );
    let sh = shared(&aws, &rack);
    let mut s = start_all(&inst, &sh);

    // Everyone hears everyone; every target has three fresh up votes.
    until(Duration::from_secs(10), "every target with three votes", || {
        s.iter().all(|x| {
            let st = status(http(x));
            votes(&target(&st, "aws@")) == (3, 0, 0) && votes(&target(&st, "rack@")) == (3, 0, 0)
        })
    });
    for (x, i) in s.iter().zip(&inst) {
        let st = status(http(x));
        let c = &st["cluster"];
        assert_eq!(c["instance"], i.name.as_str());
        assert_eq!(c["quorum"], "majority");
        assert_eq!(c["quorum_lost"], false);
        assert_eq!(c["config_mismatch"], false);
        assert_eq!(c["peers"].as_array().unwrap().len(), 2);
        for p in c["peers"].as_array().unwrap() {
            assert_eq!(p["config_digest"], c["config_digest"], "same config, same digest");
            assert!(p["last_seen"].as_f64().unwrap() > 0.0);
        }
        let t = target(&st, "aws@");
        assert_eq!(
            (t["own_status"].as_str(), t["status"].as_str()),
            (Some("up"), Some("up"))
        );
        assert_eq!(www_a(x), set(&BOTH));
        assert_eq!(metric(x, "gslbd_cluster_quorum_lost "), 0.0);
        assert_eq!(metric_sum(x, "gslbd_cluster_peer_reachable", &[]), 2.0);
    }

    // One vantage point (ns1) sees aws fail: its own probes say down, the vote says up, and no
    // instance fails over.
    aws.fail_for(&["127.0.0.21".parse().unwrap()]);
    until(Duration::from_secs(5), "ns1's own probes see aws down", || {
        let t = target(&status(http(&s[0])), "aws@");
        t["own_status"] == "down" && votes(&t) == (2, 1, 0)
    });
    for _ in 0..10 {
        for x in &s {
            assert_eq!(www_a(x), set(&BOTH), "false failover");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(target(&status(http(&s[1])), "aws@")["status"], "up");
    aws.fail_for(&[]);
    until(Duration::from_secs(5), "ns1 sees aws again", || {
        votes(&target(&status(http(&s[0])), "aws@")) == (3, 0, 0)
    });

    // A provider really down: every instance drops it (detection is one probe interval with
    // fall 1, plus a push), and they answer alike.
    aws.set(Mode::Fail503);
    until(Duration::from_secs(5), "aws dropped everywhere", || {
        s.iter().all(|x| www_a(x) == set(&["198.51.100.10"]))
    });
    until(Duration::from_secs(3), "three down votes everywhere", || {
        s.iter().all(|x| votes(&target(&status(http(x)), "aws@")) == (0, 3, 0))
    });
    let x0 = &s[0];
    assert_eq!(
        metric_sum(x0, "gslbd_target_votes", &["status=\"down\"", "target=\"aws@"]),
        3.0,
        "the vote metric counts them"
    );
    // Recovery.
    aws.set(Mode::Healthy);
    until(Duration::from_secs(5), "aws back everywhere", || {
        s.iter().all(|x| www_a(x) == set(&BOTH))
    });

    // A drain on ns1 reaches ns2 and ns3 within 2 s, with its origin, in their answers too.
    let (code, body) = post_admin(
        &s[0],
        TOKEN,
        "/admin/drain",
        r#"{"provider": "rackspace", "reason": "maintenance", "who": "ops"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let took = until(Duration::from_secs(2), "drain seen by ns2 and ns3", || {
        s[1..].iter().all(|x| {
            drains(&admin_state(http(x))) == [("rackspace".to_string(), None, Some("ns1".to_string()))]
                && www_a(x) == set(&["192.0.2.10"])
        })
    });
    eprintln!("drain propagated in {took:?}");
    let st = status(http(&s[2]));
    let prov = st["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "rackspace")
        .unwrap()
        .clone();
    assert_eq!(prov["drain"]["origin"], "ns1", "{prov}");

    // An undrain on ns3 lifts the drain ns1 took, everywhere.
    let (code, body) = post_admin(
        &s[2],
        TOKEN,
        "/admin/undrain",
        r#"{"provider": "rackspace", "who": "ops"}"#,
    );
    assert_eq!(code, 200, "{body}");
    until(Duration::from_secs(2), "undrain seen by ns1 and ns2", || {
        s[..2]
            .iter()
            .all(|x| drains(&admin_state(http(x))).is_empty() && www_a(x) == set(&BOTH))
    });
    // and it stays lifted: ns1 does not push its old drain back.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(s.iter().all(|x| drains(&admin_state(http(x))).is_empty()));

    // ns3 is down while ns1 drains aws; started again (its state file lacks the drain), it
    // catches up from the first push.
    drop(s.pop());
    let (code, body) = post_admin(
        &s[0],
        TOKEN,
        "/admin/drain",
        r#"{"provider": "aws", "reason": "while ns3 was away", "who": "ops"}"#,
    );
    assert_eq!(code, 200, "{body}");
    until(Duration::from_secs(2), "ns2 has the drain", || {
        drains(&admin_state(http(&s[1]))).len() == 1
    });
    let saved = std::fs::read_to_string(inst[2].dir.join("state.json")).unwrap_or_default();
    assert!(
        !saved.contains("while ns3 was away"),
        "ns3's state file predates the drain"
    );
    s.push(start(&inst[2]));
    let took = until(Duration::from_secs(2), "restarted ns3 caught up", || {
        drains(&admin_state(http(&s[2]))) == [("aws".to_string(), None, Some("ns1".to_string()))]
            && www_a(&s[2]) == set(&["198.51.100.10"])
    });
    eprintln!("restarted instance caught up in {took:?}");
    // and keeps it in its own state file
    until(Duration::from_secs(2), "ns3 persisted the drain", || {
        std::fs::read_to_string(inst[2].dir.join("state.json")).is_ok_and(|t| t.contains("while ns3 was away"))
    });
    let (code, _) = post_admin(&s[1], TOKEN, "/admin/undrain", r#"{"provider": "aws", "who": "ops"}"#);
    assert_eq!(code, 200);
    until(Duration::from_secs(2), "undrained everywhere", || {
        s.iter().all(|x| www_a(x) == set(&BOTH))
    });

    // ns1 loses both peers: fewer than a majority heard from, so its own view decides, and it
    // says so in /status, the log and the metric.
    let mut gone: Vec<Server> = s.drain(1..).collect();
    for g in &mut gone {
        let _ = g.child.kill();
    }
    let ns1 = &s[0];
    until(Duration::from_secs(5), "ns1 reports quorum lost", || {
        let st = status(http(ns1));
        st["cluster"]["quorum_lost"] == Value::Bool(true)
    });
    let st = status(http(ns1));
    for p in st["cluster"]["peers"].as_array().unwrap() {
        assert_eq!(p["reachable"], false, "{p}");
    }
    let t = target(&st, "aws@");
    assert_eq!(votes(&t), (1, 0, 2));
    assert_eq!(t["vote_fallback"], true);
    assert_eq!(metric(ns1, "gslbd_cluster_quorum_lost "), 1.0);
    assert_eq!(metric(ns1, "gslbd_cluster_peer_reachable{peer=\"ns2\"} "), 0.0);
    assert!(
        ns1.wait_log("cluster: quorum lost", Duration::from_secs(1)),
        "{}",
        ns1.log_text()
    );
    // On its own view, a failure it sees alone counts.
    rack.set(Mode::Fail503);
    until(Duration::from_secs(5), "ns1 drops rackspace on its own view", || {
        www_a(ns1) == set(&["192.0.2.10"])
    });
    rack.set(Mode::Healthy);
    // A peer back: quorum regained, logged.
    gone.truncate(0);
    s.push(start(&inst[1]));
    until(Duration::from_secs(5), "quorum regained", || {
        status(http(&s[0]))["cluster"]["quorum_lost"] == Value::Bool(false)
    });
    assert!(s[0].wait_log("cluster: quorum regained", Duration::from_secs(1)));
}

#[test]
fn a_wrong_secret_is_refused_and_counted_and_a_different_config_shows_as_a_digest_mismatch() {
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let inst = lab(
        dir.path(),
        &[("ns1", "127.0.0.24"), ("ns2", "127.0.0.25"), ("ns3", "127.0.0.26")],
    );
    let sh = shared(&aws, &rack);
    write_config(&inst[0], &inst, &sh, SECRET);
    // ns2 answers with another TTL: its digest differs.
    let other = Shared {
        pool_extra: "    degraded_ttl: 7\n".into(),
        ..shared(&aws, &rack)
    };
    write_config(&inst[1], &inst, &other, SECRET);
    // ns3 signs with another secret.
    write_config(&inst[2], &inst, &sh, OTHER_SECRET);
    let s: Vec<Server> = inst.iter().map(start).collect();

    until(
        Duration::from_secs(10),
        "ns1 hears ns2 and counts ns3's refusals",
        || {
            let st = status(http(&s[0]));
            peer(&st, "ns2")["reachable"] == Value::Bool(true)
                && scrape_metric(
                    http(&s[0]),
                    "gslbd_cluster_messages_total{direction=\"in\",result=\"bad_signature\"}",
                )
                .is_some_and(|n| n >= 2.0)
        },
    );
    let st = status(http(&s[0]));
    let c = &st["cluster"];
    assert_eq!(peer(&st, "ns3")["reachable"], false, "refused messages never count");
    assert_eq!(peer(&st, "ns3")["last_seen"], Value::Null);
    let ns2 = peer(&st, "ns2");
    assert_eq!(ns2["config_mismatch"], true, "{c}");
    assert_ne!(ns2["config_digest"], c["config_digest"]);
    assert_eq!(c["config_mismatch"], true);
    // ns3 sees its own pushes refused, and refuses ns1's.
    until(Duration::from_secs(5), "ns3 counts both sides of the refusal", || {
        let n = |l: &str| scrape_metric(http(&s[2]), l).unwrap_or(0.0);
        n("gslbd_cluster_messages_total{direction=\"out\",result=\"refused\"}") >= 1.0
            && n("gslbd_cluster_messages_total{direction=\"in\",result=\"bad_signature\"}") >= 1.0
    });
    assert!(s[0].wait_log("cluster: message refused", Duration::from_secs(1)));
    // ns1 and ns2 form a majority of three: no quorum lost.
    assert_eq!(c["quorum_lost"], false);
    until(Duration::from_secs(3), "ns1 counts its own and ns2's votes", || {
        votes(&target(&status(http(&s[0])), "aws@")) == (2, 0, 1)
    });

    // A message from no configured peer, and an oversized one, are refused and counted too.
    let listen = inst[0].listen;
    let (code, _) = http_request(
        listen,
        "POST",
        "/cluster/v1/state",
        &[
            ("x-gslbd-instance", "mallory"),
            ("x-gslbd-timestamp", "1"),
            ("x-gslbd-seq", "1"),
            ("x-gslbd-signature", "AAAA"),
        ],
        "{}",
    );
    assert_eq!(code, 401);
    assert_eq!(
        scrape_metric(
            http(&s[0]),
            "gslbd_cluster_messages_total{direction=\"in\",result=\"unknown_peer\"}"
        ),
        Some(1.0)
    );
    let big = " ".repeat((1 << 20) + 1);
    let (code, _) = http_request(listen, "POST", "/cluster/v1/state", &[], &big);
    assert_eq!(code, 413);
    assert_eq!(
        scrape_metric(
            http(&s[0]),
            "gslbd_cluster_messages_total{direction=\"in\",result=\"too_large\"}"
        ),
        Some(1.0)
    );
    // The admin port does not take cluster messages.
    let (code, _) = http_request(http(&s[0]), "POST", "/cluster/v1/state", &[], "{}");
    assert_eq!(code, 404);
}

#[test]
fn peers_talk_mutual_tls_when_configured_and_refuse_clients_without_a_certificate() {
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let inst = lab(dir.path(), &[("ns1", "127.0.0.27"), ("ns2", "127.0.0.28")]);
    let sh = Shared {
        tls: true,
        ..shared(&aws, &rack)
    };
    write_certs(&inst);
    let s = start_all(&inst, &sh);
    assert!(s[0].wait_log("(TLS, peers' certificates required)", Duration::from_secs(5)));
    until(
        Duration::from_secs(10),
        "both count each other's votes over TLS",
        || s.iter().all(|x| votes(&target(&status(http(x)), "aws@")) == (2, 0, 0)),
    );
    let (code, body) = post_admin(
        &s[1],
        TOKEN,
        "/admin/drain",
        r#"{"provider": "aws", "reason": "over tls", "who": "ops"}"#,
    );
    assert_eq!(code, 200, "{body}");
    until(Duration::from_secs(2), "drain over TLS", || {
        drains(&admin_state(http(&s[0]))) == [("aws".to_string(), None, Some("ns2".to_string()))]
    });

    // Plain HTTP to the TLS port gets no HTTP answer.
    let (code, _) = http_request(inst[0].listen, "POST", "/cluster/v1/state", &[], "{}");
    assert_eq!(code, 0, "plain HTTP is not served on a TLS cluster port");
    // A TLS client that trusts the CA but has no certificate of its own is refused; the same
    // client with ns2's certificate gets an HTTP answer (a refusal of its unsigned message).
    let ask = |with_cert: bool| -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use rustls::pki_types::pem::PemObject;
            use rustls::pki_types::{CertificateDer, PrivateKeyDer};
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(inst[0].dir.join("ca.pem")).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots);
            let config = if with_cert {
                let certs = CertificateDer::pem_file_iter(inst[1].dir.join("cert.pem"))
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
                let key = PrivateKeyDer::from_pem_file(inst[1].dir.join("key.pem")).unwrap();
                builder.with_client_auth_cert(certs, key).unwrap()
            } else {
                builder.with_no_client_auth()
            };
            let tcp = tokio::net::TcpStream::connect(inst[0].listen).await.unwrap();
            let name = rustls::pki_types::ServerName::IpAddress(inst[0].listen.ip().into());
            let Ok(mut tls) = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect(name, tcp)
                .await
            else {
                return String::new();
            };
            let _ = tls
                .write_all(b"POST /cluster/v1/state HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                .await;
            let mut buf = Vec::new();
            let _ = tls.read_to_end(&mut buf).await;
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let without = ask(false);
    assert!(
        !without.contains("HTTP/1.1"),
        "answered without a client certificate: {without}"
    );
    let with = ask(true);
    assert!(with.starts_with("HTTP/1.1 400"), "{with}");
    assert!(with.contains("refused: malformed"), "{with}");
}

#[test]
fn instances_signing_one_zone_with_the_same_keys_agree_on_the_config_digest() {
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gslbd"))
        .args([
            "keygen",
            "--zone",
            "example.test",
            "--algorithm",
            "ecdsap256sha256",
            "--ksk",
            "--dir",
        ])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let inst = lab(dir.path(), &[("ns1", "127.0.0.31"), ("ns2", "127.0.0.32")]);
    let sh = Shared {
        sign_with: Some(keys),
        ..shared(&aws, &rack)
    };
    let s = start_all(&inst, &sh);
    // Each instance made its own signatures (ECDSA signatures differ every time); the digest
    // covers what the zone says, so the two agree.
    for (me, other) in [(0, "ns2"), (1, "ns1")] {
        let st = status(http(&s[me]));
        let p = peer(&st, other);
        assert_eq!(p["config_digest"], st["cluster"]["config_digest"], "{st}");
        assert_eq!(p["config_mismatch"], false);
        assert_eq!(st["cluster"]["config_mismatch"], false);
    }
}

/// A reload that changes a zone moves the instance's config digest (computed beside the
/// publisher, not on it) to the new one: a mismatch with the peer that still serves the old zone,
/// then agreement again once the peer reloads the same file.
#[test]
fn a_reload_moves_the_config_digest_and_peers_agree_again_after_theirs() {
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let dir = tempfile::tempdir().unwrap();
    let zone_file = dir.path().join("example.test.zone");
    std::fs::copy(zone(), &zone_file).unwrap();
    let inst = lab(dir.path(), &[("ns1", "127.0.0.41"), ("ns2", "127.0.0.42")]);
    let sh = Shared {
        zone: zone_file.clone(),
        ..shared(&aws, &rack)
    };
    let s = start_all(&inst, &sh);
    let digest = |i: usize| {
        status(http(&s[i]))["cluster"]["config_digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = digest(0);
    assert_eq!(before, digest(1));

    let mut text = std::fs::read_to_string(&zone_file).unwrap();
    text.push_str("added 300 IN TXT \"a record only the new zone has\"\n");
    std::fs::write(&zone_file, text).unwrap();
    let (code, body) = post_admin(&s[0], TOKEN, "/reload", "");
    assert_eq!(code, 200, "{body}");
    until(Duration::from_secs(5), "ns1's digest follows its new zone", || {
        digest(0) != before
    });
    until(Duration::from_secs(5), "ns2 sees the mismatch", || {
        peer(&status(http(&s[1])), "ns1")["config_mismatch"] == Value::Bool(true)
    });
    assert_eq!(digest(1), before);

    let (code, body) = post_admin(&s[1], TOKEN, "/reload", "");
    assert_eq!(code, 200, "{body}");
    until(Duration::from_secs(5), "both agree on the new zone", || {
        let (a, b) = (digest(0), digest(1));
        a == b
            && a != before
            && s.iter()
                .all(|x| status(http(x))["cluster"]["config_mismatch"] == Value::Bool(false))
    });
}
