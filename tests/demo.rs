//! `gslbd demo`: the built-in example with stand-in clouds on 127.0.0.11-13:18080, driven the
//! way the printed how-to tells a newcomer to drive it. The demo binds fixed addresses, so only
//! one demo runs at a time: everything that starts one lives in a single test.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const AWS: &str = "127.0.0.11:18080";

fn a_records(s: &Server, name: &str) -> BTreeSet<String> {
    let m = s.query(name, RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

/// Polls `www.example.test A` until it equals `want`, for at most 10 s.
fn wait_for(s: &Server, want: &BTreeSet<String>) -> Duration {
    let t0 = Instant::now();
    loop {
        let got = a_records(s, "www.example.test.");
        if &got == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "still {got:?}, want {want:?}\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn demo_serves_the_example_and_a_failed_cloud_leaves_and_rejoins() {
    let mut s = Server::start_cmd("demo", &["--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]);
    let http = s.http.expect("HTTP address logged");

    // The how-to names the ports actually bound.
    let dig = format!("dig @127.0.0.1 -p {} +short www.example.test A", s.udp.port());
    assert!(
        s.wait_log(&dig, Duration::from_secs(5)),
        "no `{dig}`:\n{}",
        s.log_text()
    );
    for needle in [
        "three stand-in clouds are up (aws 127.0.0.11:18080, rackspace 127.0.0.12:18080, flexiscale 127.0.0.13:18080)",
        "curl -X POST http://127.0.0.11:18080/fail",
        "curl -X POST http://127.0.0.11:18080/recover",
        &format!("curl http://{http}/ready"),
        "Ctrl-C stops the demo.",
    ] {
        assert!(
            s.wait_log(needle, Duration::from_secs(5)),
            "no `{needle}`:\n{}",
            s.log_text()
        );
    }
    assert_eq!(http_get(http, "/ready").0, 200);

    // All three clouds answer (members from config/gslbd.yaml).
    let all = set(&["192.0.2.10", "192.0.2.11", "198.51.100.10", "203.0.113.10"]);
    let without_aws = set(&["198.51.100.10", "203.0.113.10"]);
    wait_for(&s, &all);
    assert_eq!(a_records(&s, "api.example.test."), set(&["192.0.2.20"]));

    // The stand-in endpoints.
    let aws: SocketAddr = AWS.parse().unwrap();
    assert_eq!(http_get(aws, "/healthz"), (200, "ok".to_string()));
    assert!(http_get(aws, "/").1.contains("healthy"));

    // Take aws down: its addresses leave the answers, and api fails over to rackspace.
    let (status, body) = http_request(aws, "POST", "/fail", &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(http_get(aws, "/healthz").0, 503);
    assert!(http_get(aws, "/").1.contains("failed"));
    let took = wait_for(&s, &without_aws);
    eprintln!("aws left the answers {took:?} after POST /fail");
    assert_eq!(a_records(&s, "api.example.test."), set(&["198.51.100.20"]));

    // Bring it back.
    let (status, body) = http_request(aws, "POST", "/recover", &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(http_get(aws, "/healthz").0, 200);
    let took = wait_for(&s, &all);
    eprintln!("aws rejoined the answers {took:?} after POST /recover");

    // A second demo cannot bind the stand-in addresses: exit 1, naming the address.
    let mut second = Command::new(bin())
        .args(["demo", "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while second.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second demo kept running while the first holds {AWS}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(AWS), "{stderr}");

    // Ctrl-C: clean shutdown, exit 0.
    s.signal("INT");
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0), "{}", s.log_text());
}

#[test]
fn demo_rejects_bad_usage_with_64() {
    let (code, _, stderr) = run_cli(&["demo", "--dns-listen", "not-an-address"]);
    assert_eq!(code, 64, "{stderr}");
    let (code, _, stderr) = run_cli(&["demo", "--zone", "zones/example.test.zone"]);
    assert_eq!(code, 64, "{stderr}");
}
