//! The state file and the serials file beside it, end to end, as a careless operator or a local
//! attacker leaves them: a FIFO at the path, a huge file of repeated drains, a corrupt file, and
//! symlinks planted at the temp names the files were once written through.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

use std::path::Path;
use std::time::Duration;

use common::*;
use endpoint::Endpoint;
use serde_json::Value;

const TOKEN: &str = "test-token-0123456789";

/// Two healthy providers answering www; a state file `state.json` beside the config; with
/// `transfers`, zone transfers to loopback (so the serials file `state.json.serials` is written
/// at start).
struct Setup {
    dir: tempfile::TempDir,
    _aws: Endpoint,
    _rack: Endpoint,
}

impl Setup {
    fn new(transfers: bool) -> Setup {
        let aws = Endpoint::start("127.0.0.11");
        let rack = Endpoint::start("127.0.0.12");
        let dir = tempfile::tempdir().unwrap();
        let zone = repo().join("zones/example.test.zone");
        let chk = |e: &Endpoint| e.check_yaml(200, 150, 1, 1);
        let mut cfg = format!(
            "version: 1\nserver:\n  coalesce: 0ms\n  admin_token: {TOKEN}\n  state_file: state.json\nzones: [{:?}]\n\
             checks:\n  aws: {}\n  rack: {}\nproviders:\n  aws: {{}}\n  rackspace: {{}}\npools:\n  www.example.test.:\n\
             \x20   members:\n\
             \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
             \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n",
            zone.display(),
            chk(&aws),
            chk(&rack)
        );
        if transfers {
            cfg.push_str("transfers:\n  example.test.:\n    allow: [127.0.0.0/8]\n");
        }
        std::fs::write(dir.path().join("gslbd.yaml"), cfg).unwrap();
        Setup {
            dir,
            _aws: aws,
            _rack: rack,
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn start(&self) -> Server {
        Server::start(&["--config", self.path("gslbd.yaml").to_str().unwrap()])
    }
}

fn state_status(s: &Server) -> Value {
    let (_, body) = http_get(s.http.unwrap(), "/status");
    serde_json::from_str::<Value>(&body).unwrap()["state_file"].clone()
}

fn admin_state(s: &Server) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let (code, body) = http_request(s.http.unwrap(), "GET", "/admin/state", &[("Authorization", &auth)], "");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn drain(s: &Server, provider: &str) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    let body = serde_json::json!({"provider": provider, "reason": "maintenance", "who": "t"}).to_string();
    let (code, text) = http_request(
        s.http.unwrap(),
        "POST",
        "/admin/drain",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body,
    );
    (code, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(ok.success());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// The files in the state file's directory whose names start with `prefix`.
fn names_starting(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn fifo_state_and_serials_files_do_not_hang_start_up() {
    let c = Setup::new(true);
    // No writer ever opens them: a blocking open waits forever.
    mkfifo(&c.path("state.json"));
    mkfifo(&c.path("state.json.serials"));
    let s = c.start();
    assert_eq!(www_a(&s), set(&["192.0.2.10", "198.51.100.10"]));
    let st = state_status(&s);
    assert!(
        st["error"]
            .as_str()
            .unwrap()
            .contains("cannot read state file: not a regular file (a FIFO)"),
        "{st}"
    );
    assert!(
        s.log_text().contains("state.json.serials: not a regular file (a FIFO)"),
        "{}",
        s.log_text()
    );
    // The next admin action keeps the FIFO aside (nothing read from it) and writes a real file.
    let (code, body) = drain(&s, "aws");
    assert_eq!(code, 200, "{body}");
    assert_eq!(www_a(&s), set(&["198.51.100.10"]));
    let st = state_status(&s);
    assert_eq!(st["error"], Value::Null, "{st}");
    let copy = st["corrupt_copy"].as_str().unwrap().to_string();
    assert!(is_fifo(Path::new(&copy)), "{copy}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(c.path("state.json")).unwrap()).unwrap();
    assert_eq!(saved["drains"][0]["provider"], "aws");
}

/// One drain as JSON, compact.
fn drain_json(provider: &str, reason: &str) -> String {
    format!(r#"{{"provider":"{provider}","member":null,"reason":"{reason}","who":"ops","since":1,"expires":null}}"#)
}

fn state_text(drains: &[String]) -> String {
    format!(r#"{{"drains":[{}],"forces":[]}}"#, drains.join(","))
}

#[test]
fn a_million_identical_drains_are_refused_and_duplicates_merge() {
    let c = Setup::new(false);
    let one = drain_json("aws", "maintenance");
    let huge = state_text(&vec![one.clone(); 1_000_000]);
    assert!(huge.len() > 8 << 20);
    std::fs::write(c.path("state.json"), &huge).unwrap();
    drop(huge);
    let s = c.start();
    let st = state_status(&s);
    assert!(
        st["error"]
            .as_str()
            .unwrap()
            .contains("cannot read state file: file is larger than the limit of 8388608 bytes"),
        "{st}"
    );
    assert_eq!(admin_state(&s)["drains"], serde_json::json!([]));
    assert_eq!(www_a(&s), set(&["192.0.2.10", "198.51.100.10"]));
    drop(s);

    // Within the size cap, repeats of one drain load as that one drain (the last one written).
    let mut drains = vec![drain_json("aws", "old reason"); 4999];
    drains.push(drain_json("aws", "newest reason"));
    std::fs::write(c.path("state.json"), state_text(&drains)).unwrap();
    let s = c.start();
    assert_eq!(state_status(&s)["error"], Value::Null);
    let drains = admin_state(&s)["drains"].clone();
    assert_eq!(drains.as_array().unwrap().len(), 1, "{drains}");
    assert_eq!(drains[0]["reason"], "newest reason");
    assert!(
        s.log_text().contains("merged 4999 duplicate entries"),
        "{}",
        s.log_text()
    );
    assert_eq!(www_a(&s), set(&["198.51.100.10"]));
}

#[test]
fn a_corrupt_state_file_is_kept_before_the_first_write() {
    let c = Setup::new(false);
    std::fs::write(c.path("state.json"), "{ this is not json").unwrap();
    let s = c.start();
    let st = state_status(&s);
    assert!(st["error"].as_str().unwrap().contains("corrupt state file"), "{st}");
    assert_eq!(st["corrupt_copy"], Value::Null, "nothing copied before a write: {st}");
    let (code, body) = drain(&s, "aws");
    assert_eq!(code, 200, "{body}");
    let st = state_status(&s);
    let copy = st["corrupt_copy"].as_str().unwrap().to_string();
    let name = Path::new(&copy).file_name().unwrap().to_string_lossy().into_owned();
    let secs = name.strip_prefix("state.json.corrupt-").expect("named after the file");
    assert!(secs.parse::<u64>().is_ok(), "{name}");
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "{ this is not json");
    assert!(
        s.wait_log(
            &format!("kept the state file that failed to load as {copy}"),
            Duration::from_secs(5)
        ),
        "{}",
        s.log_text()
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(c.path("state.json")).unwrap()).unwrap();
    assert_eq!(saved["drains"][0]["provider"], "aws");
    // Only the first write over the bad file makes a copy.
    let (code, body) = drain(&s, "rackspace");
    assert_eq!(code, 200, "{body}");
    assert_eq!(names_starting(c.dir.path(), "state.json.corrupt-"), [name]);
}

#[test]
fn links_planted_at_the_old_temp_names_are_not_followed() {
    let c = Setup::new(true);
    let victim = c.path("victim");
    std::fs::write(&victim, "precious").unwrap();
    for name in [".state.json.tmp", "state.json.serials.tmp"] {
        std::os::unix::fs::symlink(&victim, c.path(name)).unwrap();
    }
    let s = c.start();
    // The serials file is written when the first serial is committed, at start.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !c.path("state.json.serials").exists() {
        assert!(std::time::Instant::now() < deadline, "{}", s.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, body) = drain(&s, "aws");
    assert_eq!(code, 200, "{body}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    for name in [".state.json.tmp", "state.json.serials.tmp"] {
        assert_eq!(std::fs::read_link(c.path(name)).unwrap(), victim, "{name} left alone");
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(c.path("state.json")).unwrap()).unwrap();
    assert_eq!(saved["drains"][0]["provider"], "aws");
    let serials: Value = serde_json::from_str(&std::fs::read_to_string(c.path("state.json.serials")).unwrap()).unwrap();
    assert!(serials["example.test."].as_u64().is_some(), "{serials}");
    // Both files are regular files of their own, readable only by their owner.
    use std::os::unix::fs::PermissionsExt;
    for name in ["state.json", "state.json.serials"] {
        let m = std::fs::symlink_metadata(c.path(name)).unwrap();
        assert!(m.is_file(), "{name}");
        assert_eq!(m.permissions().mode() & 0o777, 0o600, "{name}");
    }
    // No temp file is left behind.
    let left: Vec<String> = names_starting(c.dir.path(), ".state.json.")
        .into_iter()
        .chain(names_starting(c.dir.path(), ".state.json.serials."))
        .filter(|n| n.ends_with(".tmp") && n != ".state.json.tmp")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
