//! `gslbd demo` and `gslbd demo --cluster`: the built-in example with stand-in clouds on
//! 127.0.0.11-13:18080, driven the way the printed how-to tells a newcomer to drive it. The demo binds fixed addresses, so only
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
    drop(s);

    // The same stand-ins serve the cluster demo, so it runs here, after the single one.
    cluster_demo_outvotes_one_vantage_point_and_shares_a_drain(&all, &without_aws);
}

/// `gslbd demo --cluster`, driven as its how-to says.
fn cluster_demo_outvotes_one_vantage_point_and_shares_a_drain(all: &BTreeSet<String>, without_aws: &BTreeSet<String>) {
    use std::io::{BufRead, BufReader};
    use std::sync::{Arc, Mutex};
    let mut child = ChildGuard::new(
        Command::new(bin())
            .args(["demo", "--cluster"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.as_ref().unwrap().id();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let c = child.0.as_mut().unwrap();
    for stream in [
        Box::new(c.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(c.stderr.take().unwrap()),
    ] {
        let log = log.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stream).lines().map_while(Result::ok) {
                log.lock().unwrap().push(l);
            }
        });
    }
    let text = || log.lock().unwrap().join("\n");
    let t0 = Instant::now();
    while !text().contains("Ctrl-C stops the demo.") {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the cluster demo did not start:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for needle in [
        "gslbd demo --cluster: instances ns1, ns2, ns3 on 127.0.0.21, 127.0.0.22, 127.0.0.23",
        "dig @127.0.0.21 -p 5353 +short www.example.test A",
        "curl -X POST 'http://127.0.0.11:18080/fail?from=127.0.0.21'",
    ] {
        assert!(text().contains(needle), "no `{needle}`:\n{}", text());
    }
    let dns: Vec<SocketAddr> = ["127.0.0.21:5353", "127.0.0.22:5353", "127.0.0.23:5353"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let www = |d: SocketAddr| -> BTreeSet<String> {
        udp_query(d, &query_msg("www.example.test.", RecordType::A, None))
            .answers
            .iter()
            .map(|r| r.data.to_string())
            .collect()
    };
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let t0 = Instant::now();
        while !f() {
            assert!(t0.elapsed() < Duration::from_secs(10), "{what}:\n{}", text());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    until("all three answer every cloud", &|| dns.iter().all(|d| &www(*d) == all));
    let ns1: SocketAddr = "127.0.0.21:9153".parse().unwrap();
    let aws: SocketAddr = AWS.parse().unwrap();
    let aws_target = |http: SocketAddr| -> serde_json::Value {
        let st: serde_json::Value = serde_json::from_str(&http_get(http, "/status").1).unwrap();
        st["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "aws@127.0.0.11")
            .unwrap()
            .clone()
    };

    // aws fails for ns1's probes only: ns1 sees it down and is outvoted; nobody drops it.
    let (code, body) = http_request(aws, "POST", "/fail?from=127.0.0.21", &[], "");
    assert_eq!(code, 200, "{body}");
    until("ns1 sees aws down", &|| aws_target(ns1)["own_status"] == "down");
    let t = aws_target(ns1);
    assert_eq!(
        (t["votes"]["up"].as_u64(), t["votes"]["down"].as_u64()),
        (Some(2), Some(1)),
        "{t}"
    );
    assert_eq!(t["status"], "up");
    for _ in 0..5 {
        for d in &dns {
            assert_eq!(&www(*d), all, "false failover at {d}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // aws down for everyone: all three drop it.
    assert_eq!(http_request(aws, "POST", "/fail", &[], "").0, 200);
    until("all drop aws", &|| dns.iter().all(|d| &www(*d) == without_aws));
    assert_eq!(http_request(aws, "POST", "/recover", &[], "").0, 200);
    until("aws back everywhere", &|| dns.iter().all(|d| &www(*d) == all));

    // A drain on ns1 reaches ns3, with its origin.
    let (code, body) = http_request(
        ns1,
        "POST",
        "/admin/drain",
        &[
            ("Authorization", "Bearer demo-token-0123456789"),
            ("Content-Type", "application/json"),
        ],
        r#"{"provider":"rackspace","reason":"demo","who":"test"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let ns3: SocketAddr = "127.0.0.23:9153".parse().unwrap();
    until("ns3 has ns1's drain", &|| {
        let (_, body) = http_request(
            ns3,
            "GET",
            "/admin/state",
            &[("Authorization", "Bearer demo-token-0123456789")],
            "",
        );
        body.contains("\"origin\":\"ns1\"") && !www(dns[2]).contains("198.51.100.10")
    });

    // Ctrl-C: all three stop, exit 0, the temporary files are gone.
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let c = child.0.as_mut().unwrap();
    let t0 = Instant::now();
    let code = loop {
        if let Some(st) = c.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the cluster demo did not stop:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0), "{}", text());
    assert!(!std::env::temp_dir().join(format!("gslbd-demo-cluster-{pid}")).exists());
}

#[test]
fn demo_rejects_bad_usage_with_64() {
    let (code, _, stderr) = run_cli(&["demo", "--dns-listen", "not-an-address"]);
    assert_eq!(code, 64, "{stderr}");
    let (code, _, stderr) = run_cli(&["demo", "--zone", "zones/example.test.zone"]);
    assert_eq!(code, 64, "{stderr}");
    // The cluster demo's addresses are fixed: listen flags do not combine with it.
    let (code, _, stderr) = run_cli(&["demo", "--cluster", "--dns-listen", "127.0.0.1:0"]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("--cluster"), "{stderr}");
}
