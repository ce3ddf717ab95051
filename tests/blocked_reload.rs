//! A reload whose zone file read never returns, end to end. The zone file lies on a FUSE file
//! system served by this test that answers lookups and opens but never a read, as a hung network
//! mount behaves: a regular file, so no file type check refuses it, and `O_NONBLOCK` does not
//! help. While that reload is stuck, a provider that dies must still leave the answers, an admin
//! drain must still apply, the reload must fail by `server.reload_timeout`, and the next reload
//! must work although the stuck read has still not returned.
//!
//! Needs `/dev/fuse` and the right to mount (root); fails loudly without them.

mod common;

#[path = "common/endpoint.rs"]
mod endpoint;

use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use endpoint::{Endpoint, Mode};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, INodeNo, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyEntry,
    Request,
};
use serde_json::Value;

const TOKEN: &str = "test-token-0123456789";
const ZONE_NAME: &str = "hung.zone";
const ZONE: &str =
    "$ORIGIN hung.test.\n@ 300 IN SOA ns1 h 1 3600 900 1209600 300\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n";
const RELOAD_TIMEOUT_S: u64 = 10;

/// One directory holding one zone file whose reads are held, unanswered, for as long as the
/// file system is mounted.
struct HungFs {
    reads: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<ReplyData>>>,
}

fn attr(ino: u64, kind: FileType, size: u64) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind,
        perm: if kind == FileType::Directory { 0o755 } else { 0o644 },
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: 0,
        flags: 0,
        blksize: 512,
    }
}

impl Filesystem for HungFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if u64::from(parent) == 1 && name == ZONE_NAME {
            reply.entry(
                &Duration::from_secs(60),
                &attr(2, FileType::RegularFile, ZONE.len() as u64),
                fuser::Generation(0),
            );
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match u64::from(ino) {
            1 => reply.attr(&Duration::from_secs(60), &attr(1, FileType::Directory, 0)),
            2 => reply.attr(
                &Duration::from_secs(60),
                &attr(2, FileType::RegularFile, ZONE.len() as u64),
            ),
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // Never answered: the reader waits as on a server that stopped responding.
        self.held.lock().unwrap().push(reply);
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
}

/// The mounted file system; unmounted (lazily) on drop.
struct Mount {
    _session: fuser::BackgroundSession,
    reads: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<ReplyData>>>,
}

fn mount(at: &Path) -> Mount {
    assert!(
        Path::new("/dev/fuse").exists(),
        "this test needs /dev/fuse (FUSE) to stand in for a hung network mount"
    );
    let reads = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    let fs = HungFs {
        reads: reads.clone(),
        held: held.clone(),
    };
    let mut cfg = fuser::Config::default();
    cfg.mount_options.push(fuser::MountOption::RO);
    cfg.mount_options
        .push(fuser::MountOption::FSName("gslbd-test-hung".into()));
    let session = fuser::spawn_mount(fs, at, &cfg)
        .unwrap_or_else(|e| panic!("cannot mount a FUSE file system at {} (root needed): {e}", at.display()));
    Mount {
        _session: session,
        reads,
        held,
    }
}

/// Waits for the answer to become `want`, as long as a failover may take with checks every
/// 200 ms (fall 1, timeout 150 ms), with generous slack for a loaded machine.
fn wait_www(s: &Server, want: &[&str]) {
    let want = set(want);
    let t0 = Instant::now();
    while www_a(s) != want {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "still {:?}, want {want:?}",
            www_a(s)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn post(s: &Server, path: &str, body: &str, timeout: Duration) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    let (code, text) = http_request_timeout(
        s.http.unwrap(),
        "POST",
        path,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        body,
        timeout,
    );
    (code, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn config(zones: &[&Path], endpoints: &[&Endpoint]) -> String {
    let chk = |e: &Endpoint| e.check_yaml(200, 150, 1, 1);
    format!(
        "version: 1\nserver:\n  coalesce: 0ms\n  admin_token: {TOKEN}\n  state_file: state.json\n  reload_timeout: {RELOAD_TIMEOUT_S}s\n\
         zones: {:?}\n\
         checks:\n  aws: {}\n  rack: {}\n  flex: {}\nproviders:\n  aws: {{}}\n  rackspace: {{}}\n  flexiscale: {{}}\n\
         pools:\n  www.example.test.:\n    members:\n\
         \x20     - {{ provider: aws, address: 192.0.2.10, check: aws }}\n\
         \x20     - {{ provider: rackspace, address: 198.51.100.10, check: rack }}\n\
         \x20     - {{ provider: flexiscale, address: 203.0.113.10, check: flex }}\n",
        zones.iter().map(|z| z.display().to_string()).collect::<Vec<_>>(),
        chk(endpoints[0]),
        chk(endpoints[1]),
        chk(endpoints[2]),
    )
}

#[test]
#[ignore = "needs FUSE (/dev/fuse) and root; tests/run.sh runs it"]
fn failover_and_admin_go_on_while_a_reload_is_stuck_in_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let fs = mount(&mnt);
    let aws = Endpoint::start("127.0.0.11");
    let rack = Endpoint::start("127.0.0.12");
    let flex = Endpoint::start("127.0.0.13");
    let eps = [&aws, &rack, &flex];
    let good = repo().join("zones/example.test.zone");
    let hung = mnt.join(ZONE_NAME);
    let cfg = dir.path().join("gslbd.yaml");
    std::fs::write(&cfg, config(&[&good], &eps)).unwrap();
    let mut s = Server::start(&["--config", cfg.to_str().unwrap()]);
    wait_www(&s, &["192.0.2.10", "198.51.100.10", "203.0.113.10"]);

    // The config now names a zone file on the hung mount; the reload blocks reading it.
    std::fs::write(&cfg, config(&[&good, &hung], &eps)).unwrap();
    let http = s.http.unwrap();
    let reload = std::thread::spawn(move || {
        let auth = format!("Bearer {TOKEN}");
        let t0 = Instant::now();
        let (code, body) = http_request_timeout(
            http,
            "POST",
            "/reload",
            &[("Authorization", &auth)],
            "",
            Duration::from_secs(RELOAD_TIMEOUT_S * 6),
        );
        (code, body, t0.elapsed())
    });
    let t0 = Instant::now();
    while fs.reads.load(Ordering::SeqCst) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the reload never read the zone file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // A provider dies: it leaves the answers within the usual detection window.
    let killed = Instant::now();
    aws.set(Mode::Stopped);
    wait_www(&s, &["198.51.100.10", "203.0.113.10"]);
    let failover = killed.elapsed();
    let (_, body) = http_get(http, "/status");
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["providers"][0]["status"], "down", "{st}");
    // An operator drains another: applied at once.
    let (code, body) = post(
        &s,
        "/admin/drain",
        r#"{"provider":"rackspace","reason":"maintenance"}"#,
        Duration::from_secs(10),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(www_a(&s), set(&["203.0.113.10"]));
    assert!(!reload.is_finished(), "all this happened while the reload was stuck");

    // The reload fails by its deadline; the running data stays.
    let (code, body, took) = reload.join().unwrap();
    eprintln!("while the reload was stuck: failover in {failover:?}; the reload failed after {took:?}");
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(&format!(
            "server.reload_timeout: the reload did not finish within {RELOAD_TIMEOUT_S}s"
        )),
        "{body}"
    );
    assert!(
        took >= Duration::from_secs(RELOAD_TIMEOUT_S) && took < Duration::from_secs(RELOAD_TIMEOUT_S * 3),
        "{took:?}"
    );
    assert_eq!(
        scrape_metric(http, "gslbd_reloads_total{result=\"failure\"}"),
        Some(1.0)
    );
    assert!(s.log_text().contains("reload failed; still serving the previous data"));
    assert_eq!(www_a(&s), set(&["203.0.113.10"]));
    let soa = s.query("hung.test.", RecordType::SOA);
    assert_eq!(soa.response_code, ResponseCode::Refused, "the hung zone is not served");

    // The read is still stuck; the next reload runs all the same.
    assert_eq!(fs.held.lock().unwrap().len(), 1);
    std::fs::write(&cfg, config(&[&good], &eps)).unwrap();
    let (code, body) = post(&s, "/reload", "", Duration::from_secs(RELOAD_TIMEOUT_S * 3));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        scrape_metric(http, "gslbd_reloads_total{result=\"success\"}"),
        Some(1.0)
    );
    // Health and the drain carry over into the reloaded configuration.
    assert_eq!(www_a(&s), set(&["203.0.113.10"]));
    assert_eq!(fs.held.lock().unwrap().len(), 1, "the stuck read was never answered");
    // Shutting down does not wait for the stuck read either (and the server goes before the
    // mount, so that unmounting finds no reader).
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(15)), Some(0), "{}", s.log_text());
}
