//! The Prometheus alerting rules and the Grafana dashboard under `contrib/`: promtool accepts the
//! rules and passes their unit tests (each alert firing and not firing), every dashboard query is
//! valid PromQL, and every metric, label and label value that a rule or a panel names exists in a
//! live `/metrics` scrape of a server whose configuration makes the labelled series appear.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use endpoint::{Endpoint, Mode};

const RULES: &str = "contrib/prometheus/gslbd-alerts.yml";
const RULE_TESTS: &str = "contrib/prometheus/gslbd-alerts.test.yml";
const DASHBOARD: &str = "contrib/grafana/gslbd.json";
const TOKEN: &str = "contrib-test-admin-token";

/// Series that Prometheus makes itself; they never appear in gslbd's own scrape.
const PROMETHEUS_SERIES: [&str; 1] = ["up"];
/// Labels Prometheus attaches to every scraped series (`le` is a histogram's own).
const TARGET_LABELS: [&str; 3] = ["job", "instance", "le"];

/// Runs promtool in `dir`; panics with its output unless it succeeds.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool not runnable ({e}): install the Debian package `prometheus` (tests/run.sh does)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

fn yaml(rel: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(repo().join(rel)).unwrap()).unwrap()
}

/// (alert name, expression) of every alerting rule.
fn alert_rules() -> Vec<(String, String)> {
    let doc = yaml(RULES);
    let mut out = Vec::new();
    for g in doc["groups"].as_sequence().expect("groups") {
        for r in g["rules"].as_sequence().expect("rules") {
            let name = r["alert"].as_str().expect("every rule is an alert").to_string();
            out.push((name, r["expr"].as_str().expect("expr").to_string()));
        }
    }
    out
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join(DASHBOARD)).unwrap()).unwrap()
}

/// Every PromQL expression of the dashboard (panels, variables, annotations), with Grafana's
/// variables replaced so that the text is plain PromQL.
fn dashboard_exprs(d: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut panels: Vec<&serde_json::Value> = d["panels"].as_array().expect("panels").iter().collect();
    while let Some(p) = panels.pop() {
        if let Some(inner) = p["panels"].as_array() {
            panels.extend(inner);
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(t["expr"].as_str().expect("every target has an expr").to_string());
        }
    }
    for v in d["templating"]["list"].as_array().expect("templating") {
        if v["type"] == "query" {
            // label_values(SELECTOR, LABEL) is Grafana's; the selector is PromQL.
            let q = v["query"]["query"].as_str().expect("variable query");
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .and_then(|s| s.rsplit_once(','))
                .map(|(sel, _)| sel.to_string())
                .unwrap_or_else(|| panic!("variable query {q:?} is not label_values(SELECTOR, LABEL)"));
            out.push(inner);
        }
    }
    for a in d["annotations"]["list"].as_array().expect("annotations") {
        if let Some(e) = a["expr"].as_str() {
            out.push(e.to_string());
        }
    }
    out.iter()
        .map(|e| {
            e.replace("$__rate_interval", "5m")
                .replace("$job", ".*")
                .replace("$instance", ".*")
        })
        .collect()
}

/// The identifier at the start of `s` (empty when there is none).
fn next_word(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    &s[..end]
}

/// A metric selector named in an expression: the name and its (label, operator, value) matchers.
#[derive(Debug)]
struct Selector {
    name: String,
    matchers: Vec<(String, String, String)>,
}

/// The selectors of a PromQL expression and the labels of its `by`, `without`, `on`, `ignoring`
/// and `group_*` clauses. A tokenizer, not a parser: promtool checks the syntax of every
/// expression it reads, so it only has to be right on valid PromQL.
fn promql_refs(expr: &str) -> (Vec<Selector>, Vec<String>) {
    const LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
    const WORDS: [&str; 8] = ["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"];
    let b = expr.as_bytes();
    let mut i = 0;
    let (mut sels, mut labels) = (Vec::new(), Vec::new());
    let ident = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] == b':') {
            *i += 1;
        }
        expr[s..*i].to_string()
    };
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let string = |i: &mut usize| {
        let q = b[*i];
        let s = *i + 1;
        *i += 1;
        while *i < b.len() && b[*i] != q {
            *i += if b[*i] == b'\\' { 2 } else { 1 };
        }
        *i += 1;
        expr[s..*i - 1].to_string()
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' || c == b'\'' || c == b'`' {
            string(&mut i);
        } else if c == b'[' {
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
        } else if c == b'{' {
            panic!("selector without a metric name in {expr:?}");
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let word = ident(&mut i);
            skip_ws(&mut i);
            let next = b.get(i).copied();
            if LISTS.contains(&word.as_str()) {
                if next == Some(b'(') {
                    let end = i + expr[i..].find(')').expect("closed label list");
                    labels.extend(
                        expr[i + 1..end]
                            .split(',')
                            .map(|l| l.trim().to_string())
                            .filter(|l| !l.is_empty()),
                    );
                    i = end + 1;
                }
            } else if WORDS.contains(&word.as_str())
                || next == Some(b'(')
                || matches!(next_word(&expr[i..]), "by" | "without")
            {
                // an operator keyword, a function, or an aggregation with its clause first
            } else {
                let mut matchers = Vec::new();
                if next == Some(b'{') {
                    i += 1;
                    loop {
                        skip_ws(&mut i);
                        if b[i] == b'}' {
                            i += 1;
                            break;
                        }
                        let label = ident(&mut i);
                        skip_ws(&mut i);
                        let op_start = i;
                        while matches!(b[i], b'=' | b'!' | b'~') {
                            i += 1;
                        }
                        let op = expr[op_start..i].to_string();
                        skip_ws(&mut i);
                        let value = string(&mut i);
                        matchers.push((label, op, value));
                        skip_ws(&mut i);
                        if b[i] == b',' {
                            i += 1;
                        }
                    }
                }
                sels.push(Selector { name: word, matchers });
            }
        } else {
            i += 1;
        }
    }
    (sels, labels)
}

/// The exposition format's samples: metric name to the label sets of its series.
fn scrape(text: &str) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let name_end = line.find(['{', ' ']).expect("sample line");
        let mut labels = BTreeMap::new();
        if line.as_bytes()[name_end] == b'{' {
            let b = line.as_bytes();
            let mut i = name_end + 1;
            while b[i] != b'}' {
                let eq = i + line[i..].find('=').expect("label=value");
                let key = line[i..eq].trim_start_matches(',').to_string();
                let mut j = eq + 2;
                let mut value = String::new();
                while b[j] != b'"' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    value.push(b[j] as char);
                    j += 1;
                }
                labels.insert(key, value);
                i = j + 1;
                if b[i] == b',' {
                    i += 1;
                }
            }
        }
        out.entry(line[..name_end].to_string()).or_default().push(labels);
    }
    out
}

/// What an expression names that the scrape lacks (empty when everything is there).
fn missing_in(expr: &str, samples: &BTreeMap<String, Vec<BTreeMap<String, String>>>) -> Vec<String> {
    let (sels, grouping) = promql_refs(expr);
    let mut missing = Vec::new();
    let mut known_labels: BTreeSet<&str> = TARGET_LABELS.into_iter().collect();
    for s in &sels {
        if PROMETHEUS_SERIES.contains(&s.name.as_str()) {
            continue;
        }
        let Some(series) = samples.get(&s.name) else {
            missing.push(format!("metric {}", s.name));
            continue;
        };
        known_labels.extend(series.iter().flat_map(|l| l.keys().map(String::as_str)));
        for (label, op, value) in &s.matchers {
            if TARGET_LABELS.contains(&label.as_str()) {
                continue;
            }
            if !series.iter().any(|l| l.contains_key(label)) {
                missing.push(format!("label {}{{{label}}}", s.name));
            } else if op == "=" && !series.iter().any(|l| l.get(label) == Some(value)) {
                missing.push(format!("series {}{{{label}=\"{value}\"}}", s.name));
            }
        }
    }
    for l in grouping {
        if !known_labels.contains(l.as_str()) {
            missing.push(format!("label {l} (grouping)"));
        }
    }
    missing
}

#[test]
fn promql_refs_finds_selectors_matchers_and_grouping_labels() {
    let (sels, labels) = promql_refs(
        "histogram_quantile(0.99, sum by (le, check) (rate(a_b_bucket{x=\"1,}\", y=~'z'}[5m]))) \
         + sum(byte_total) by (le) + max without(le) (bytes) \
         / on(zone) group_left c:d and sum(e offset 1h) without (w) > 1e-3",
    );
    let names: Vec<&str> = sels.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a_b_bucket", "byte_total", "bytes", "c:d", "e"]);
    assert_eq!(
        sels[0].matchers,
        [
            ("x".into(), "=".into(), "1,}".into()),
            ("y".into(), "=~".into(), "z".into())
        ]
    );
    assert_eq!(labels, ["le", "check", "le", "le", "zone", "w"]);
    let samples = scrape("# TYPE a_b_bucket counter\na_b_bucket{x=\"1,}\",le=\"0.1\"} 3\nc:d 1\n");
    assert_eq!(samples["a_b_bucket"][0]["x"], "1,}");
    assert_eq!(
        missing_in("sum by (zone) (a_b_bucket{x=\"2\"} + c:d + e{q=\"1\"})", &samples),
        ["series a_b_bucket{x=\"2\"}", "metric e", "label zone (grouping)"]
    );
}

#[test]
#[ignore = "needs promtool; tests/run.sh runs it"]
fn alert_rules_pass_promtool_and_every_alert_is_tested_firing_and_not() {
    let dir = repo().join("contrib/prometheus");
    let rules = alert_rules();
    assert!(rules.len() >= 6, "{rules:?}");
    let out = promtool(&dir, &["check", "rules", "gslbd-alerts.yml"]);
    assert!(out.contains(&format!("SUCCESS: {} rules found", rules.len())), "{out}");
    promtool(&dir, &["test", "rules", "gslbd-alerts.test.yml"]);

    let tests = yaml(RULE_TESTS);
    let (mut firing, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for t in tests["tests"].as_sequence().expect("tests") {
        for a in t["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = a["alertname"].as_str().unwrap().to_string();
            match a["exp_alerts"].as_sequence() {
                Some(v) if !v.is_empty() => firing.insert(name),
                _ => quiet.insert(name),
            };
        }
    }
    let names: BTreeSet<String> = rules.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(firing, names, "every alert has a test in which it fires");
    assert_eq!(quiet, names, "every alert has a test in which it stays quiet");
    let tested: Vec<&str> = tests["rule_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert_eq!(tested, ["gslbd-alerts.yml"]);
}

#[test]
#[ignore = "needs promtool; tests/run.sh runs it"]
fn dashboard_uses_a_datasource_variable_and_valid_promql() {
    let d = dashboard();
    let vars = d["templating"]["list"].as_array().unwrap();
    let ds = vars
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a datasource variable");
    assert_eq!(
        (ds["name"].as_str(), ds["query"].as_str()),
        (Some("datasource"), Some("prometheus"))
    );
    let mut panels = 0;
    for p in d["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row") {
        panels += 1;
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {}", p["title"]);
        for t in p["targets"].as_array().expect("targets") {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "panel {}", p["title"]);
        }
    }
    assert!(panels >= 10, "{panels} panels");
    let titles: Vec<&str> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    for want in [
        "Responses by rcode",
        "Responses by transport",
        "Response time",
        "Providers",
        "Targets",
        "Transitions",
        "Reloads",
        "Transfers served",
    ] {
        assert!(titles.contains(&want), "no panel {want:?} in {titles:?}");
    }

    // promtool parses each expression as a recording rule: any PromQL error fails the check.
    let exprs = dashboard_exprs(&d);
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: {}\n",
            serde_json::to_string(e).unwrap()
        ));
    }
    std::fs::write(dir.path().join("dashboard.yml"), rules).unwrap();
    let out = promtool(dir.path(), &["check", "rules", "dashboard.yml"]);
    assert!(out.contains(&format!("SUCCESS: {} rules found", exprs.len())), "{out}");
}

#[test]
fn every_metric_the_rules_and_dashboard_name_is_in_a_live_scrape() {
    let live = Endpoint::start("127.0.0.31");
    let dead = Endpoint::start("127.0.0.32");
    dead.set(Mode::Stopped);
    let notify_sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let secondary = notify_sink.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zone = repo().join("zones/example.test.zone");
    let cfg = format!(
        "version: 1\nserver:\n  coalesce: 0ms\n  admin_token: {TOKEN}\n\
         zones: [{{ file: {zone:?}, dnssec: {{ sign: true, keys_dir: keys }} }}]\n\
         checks:\n  live: {}\n  dead: {}\n\
         providers:\n  aws: {{}}\n  rackspace: {{}}\n\
         pools:\n\
         \x20 www.example.test.:\n    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: live }}\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.10, check: dead }}\n\
         \x20 api.example.test.:\n    when_all_down: fallback\n    fallback: [192.0.2.99]\n    members:\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.20, check: dead }}\n\
         \x20 down.example.test.:\n    members:\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.30, check: dead }}\n\
         transfers:\n  example.test.:\n    secondaries:\n\
         \x20     - {{ address: \"{secondary}\" }}\n    notify_retries: 0\n    notify_timeout: 100ms\n",
        live.check_yaml(200, 150, 1, 1),
        dead.check_yaml(200, 150, 1, 1),
    );
    std::fs::write(dir.path().join("gslbd.yaml"), cfg).unwrap();
    // The zone is signed, for the DNSSEC series.
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let keygen = [
        "keygen",
        "--zone",
        "example.test.",
        "--algorithm",
        "ed25519",
        "--ksk",
        "--dir",
    ];
    let (code, _, err) = run_cli(&[&keygen[..], &[keys.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{err}");
    let s = Server::start(&["--config", dir.path().join("gslbd.yaml").to_str().unwrap()]);
    let http = s.http.unwrap();

    // Traffic that makes the labelled series appear: answers over both transports, a transfer
    // (full, then an IXFR at the current serial), a refused one (AXFR over UDP), an admin action.
    s.query("www.example.test.", RecordType::A);
    s.query_tcp("static.example.test.", RecordType::A);
    let mut t = std::net::TcpStream::connect(s.tcp).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write_framed(&mut t, &query_msg("example.test.", RecordType::AXFR, None));
    let first = Message::from_vec(&read_framed(&mut t).expect("AXFR answer")).unwrap();
    assert_eq!(first.metadata.response_code, ResponseCode::NoError);
    let serial = match &first.answers[0].data {
        RData::SOA(soa) => soa.serial,
        other => panic!("AXFR starts with the SOA, not {other:?}"),
    };
    let mut ixfr = Message::query();
    ixfr.metadata.id = rand_id();
    ixfr.add_query(Query::query(
        Name::from_ascii("example.test.").unwrap(),
        RecordType::IXFR,
    ));
    ixfr.add_authority(first.answers[0].clone());
    let up_to_date = tcp_query(s.tcp, &ixfr.to_vec().unwrap());
    assert_eq!(
        up_to_date.answers.len(),
        1,
        "an IXFR at the current serial gets the SOA only"
    );
    udp_exchange(
        s.udp,
        &query_msg("example.test.", RecordType::AXFR, None),
        Duration::from_secs(2),
    );
    let (code, body) = http_request(
        http,
        "POST",
        "/admin/drain",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        "{\"provider\":\"rackspace\",\"reason\":\"dashboard test\"}",
    );
    assert_eq!(code, 200, "{body}");

    let rules = alert_rules();
    let d = dashboard();
    let mut exprs: Vec<(String, String)> = rules.iter().map(|(n, e)| (format!("alert {n}"), e.clone())).collect();
    exprs.extend(dashboard_exprs(&d).into_iter().map(|e| ("dashboard".to_string(), e)));
    for (what, e) in &exprs {
        let (sels, _) = promql_refs(e);
        assert!(!sels.is_empty(), "{what}: no metric found in {e:?}");
    }

    // Probes, transitions, all-down pools and the unanswered NOTIFY take a few probe rounds.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (text, missing) = loop {
        let (_, text) = http_get(http, "/metrics");
        let samples = scrape(&text);
        let missing: Vec<String> = exprs
            .iter()
            .flat_map(|(what, e)| {
                missing_in(e, &samples)
                    .into_iter()
                    .map(move |m| format!("{what}: {m} ({e})"))
            })
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            break (text, missing);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        missing.is_empty(),
        "not in the scrape:\n{}\n\nscrape:\n{text}",
        missing.join("\n")
    );

    // The new gauges say what they claim: the two dead pools are all down, www is not, and the
    // secondary holds the serial it was sent.
    let samples = scrape(&text);
    let value = |name: &str, want: &[(&str, &str)]| -> f64 {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with(&format!("{name}{{")) && want.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .unwrap_or_else(|| panic!("no {name} {want:?} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(
        value(
            "gslbd_pool_all_down",
            &[("pool", "api.example.test."), ("when_all_down", "fallback")]
        ),
        1.0
    );
    assert_eq!(
        value(
            "gslbd_pool_all_down",
            &[("pool", "down.example.test."), ("when_all_down", "serve_all")]
        ),
        1.0
    );
    assert_eq!(
        value("gslbd_pool_all_down", &[("pool", "www.example.test."), ("family", "A")]),
        0.0
    );
    assert_eq!(
        samples["gslbd_pool_all_down"].len(),
        3,
        "one series per pool and family with members"
    );
    let peer = secondary.to_string();
    assert_eq!(value("gslbd_xfr_secondary_serial", &[("peer", &peer)]), serial as f64);
    // Health changes after the transfer bump the zone's serial past what the secondary holds.
    assert!(value("gslbd_xfr_serial", &[("zone", "example.test.")]) >= serial as f64);
    drop(live);
}
