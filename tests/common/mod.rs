//! Test harness: spawns the real `gslbd` binary on ephemeral loopback ports, reads its
//! `listening for ...` lines, and talks to it with hickory-proto as an independent DNS client.
#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
pub use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gslbd")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// A running gslbd; killed on drop.
pub struct Server {
    pub child: Child,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub http: Option<SocketAddr>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `gslbd serve ARGS --dns-listen 127.0.0.1:0 --http-listen 127.0.0.1:0` and waits
    /// for `ready`.
    pub fn start(args: &[&str]) -> Server {
        Self::start_in(args, None)
    }

    pub fn start_in(args: &[&str], dir: Option<&Path>) -> Server {
        Self::start_cmd_in("serve", args, dir)
    }

    /// Like [`Server::start`] but without the harness's `--rrl off`: rate limiting as the
    /// config (and its defaults) say.
    pub fn start_default_rrl(args: &[&str]) -> Server {
        Self::start_opts(&[], &[], "serve", args, None, false)
    }

    /// Like [`Server::start`] for another subcommand, e.g. `gslbd demo ARGS`.
    pub fn start_cmd(subcommand: &str, args: &[&str]) -> Server {
        Self::start_cmd_in(subcommand, args, None)
    }

    fn start_cmd_in(subcommand: &str, args: &[&str], dir: Option<&Path>) -> Server {
        Self::start_opts(&[], &[], subcommand, args, dir, true)
    }

    /// `gslbd serve ARGS` run through `wrapper` (e.g. `["prlimit", "--fsize=1024", "--"]`).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Server {
        Self::start_opts(wrapper, &[], "serve", args, None, true)
    }

    /// `gslbd serve ARGS` with extra environment variables (they override the harness's
    /// `RUST_LOG`).
    pub fn start_env(env: &[(&str, &str)], args: &[&str]) -> Server {
        Self::start_opts(&[], env, "serve", args, None, true)
    }

    fn start_opts(
        wrapper: &[&str],
        env: &[(&str, &str)],
        subcommand: &str,
        args: &[&str],
        dir: Option<&Path>,
        rrl_off: bool,
    ) -> Server {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(bin()),
            Some((w, rest)) => {
                let mut c = Command::new(w);
                c.args(rest).arg(bin());
                c
            }
        };
        cmd.arg(subcommand).args(args);
        if !args.contains(&"--dns-listen") {
            cmd.args(["--dns-listen", "127.0.0.1:0"]);
        }
        if !args.contains(&"--http-listen") {
            cmd.args(["--http-listen", "127.0.0.1:0"]);
        }
        // Response rate limiting is on by default (200/s per /24) and every test client is on
        // 127.0.0.0/24: tests that mean to exercise it pass `--rrl` themselves or use
        // `start_default_rrl`.
        if rrl_off && subcommand == "serve" && !args.contains(&"--rrl") {
            cmd.args(["--rrl", "off"]);
        }
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        cmd.env("RUST_LOG", "info,gslbd=debug,gslbd::dns=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn gslbd");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        ] {
            let log = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        // Until the server is handed out, a panic here must not leave the process running.
        let mut guard = ChildGuard(Some(child));
        let (mut udp, mut tcp, mut http) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => panic!("gslbd did not become ready; log:\n{}", log.lock().unwrap().join("\n")),
            };
            let addr = |tag: &str| {
                line.split(tag)
                    .nth(1)
                    .and_then(|s| s.split(['"', ' ']).next())
                    .map(|s| s.trim().parse::<SocketAddr>().unwrap())
            };
            if let Some(a) = addr("listening for UDP on ") {
                udp.get_or_insert(a);
            } else if let Some(a) = addr("listening for TCP on ") {
                tcp.get_or_insert(a);
            } else if let Some(a) = addr("listening for HTTP on ") {
                http = Some(a);
            } else if line.ends_with(" ready") || line.contains("\"message\":\"ready\"") {
                break;
            }
        }
        let (udp, tcp) = (udp.expect("UDP address logged"), tcp.expect("TCP address logged"));
        Server {
            child: guard.0.take().expect("child present"),
            udp,
            tcp,
            http,
            log,
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until a log line containing `needle` appears.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn query(&self, name: &str, qtype: RecordType) -> Message {
        udp_query(self.udp, &query_msg(name, qtype, None))
    }

    pub fn query_edns(&self, name: &str, qtype: RecordType, size: u16) -> Message {
        udp_query(self.udp, &query_msg(name, qtype, Some(size)))
    }

    pub fn query_tcp(&self, name: &str, qtype: RecordType) -> Message {
        tcp_query(self.tcp, &query_msg(name, qtype, None))
    }
}

/// Kills a child process (by its own PID) and reaps it on drop, unless it has been taken: for
/// every process a test starts besides gslbd (NSD, Knot, Prometheus...), so a failing assertion
/// never leaves one running.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    pub fn new(child: Child) -> ChildGuard {
        ChildGuard(Some(child))
    }
}

/// Runs `bin -d -c conf` (NSD's and Unbound's foreground mode) and returns once it answers a
/// SOA query for `probe` on `addr` (any answer, a SERVFAIL too, says it listens). Panics with
/// the daemon's log (`log`, which it writes) when it does not within 20 s.
pub fn start_daemon(bin: &str, conf: &Path, addr: SocketAddr, probe: &str, log: &Path) -> ChildGuard {
    let child = ChildGuard::new(
        Command::new(bin)
            .args(["-d", "-c"])
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}")),
    );
    let q = query_msg(probe, RecordType::SOA, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if udp_exchange(addr, &q, Duration::from_millis(300)).is_some() {
            return child;
        }
    }
    drop(child); // stops the daemon, so that its log is complete
    panic!("{bin} did not start; log: {:?}", std::fs::read_to_string(log));
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A query message in wire form, with a random ID, RD clear, optionally EDNS with `size`.
pub fn query_msg(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = rand_id();
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

pub fn rand_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish() as u16
}

/// Sends raw bytes over UDP; returns the raw reply, or None after `timeout`.
pub fn udp_exchange(server: SocketAddr, msg: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(timeout)).unwrap();
    sock.send_to(msg, server).unwrap();
    let mut buf = vec![0u8; 65535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

pub fn udp_query(server: SocketAddr, msg: &[u8]) -> Message {
    for _ in 0..3 {
        if let Some(reply) = udp_exchange(server, msg, Duration::from_secs(2)) {
            let m = Message::from_vec(&reply).expect("reply parses");
            assert_eq!(&reply[..2], &msg[..2], "reply ID matches");
            return m;
        }
    }
    panic!("no UDP reply from {server}");
}

/// Sends one length-prefixed message over a new TCP connection and reads one reply.
pub fn tcp_query(server: SocketAddr, msg: &[u8]) -> Message {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write_framed(&mut s, msg);
    Message::from_vec(&read_framed(&mut s).expect("tcp reply")).expect("reply parses")
}

pub fn write_framed(s: &mut TcpStream, msg: &[u8]) {
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    s.write_all(&framed).unwrap();
}

pub fn read_framed(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Records of a section as sorted presentation strings, for readable asserts.
pub fn rrs(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(|r| r.to_string().to_lowercase()).collect();
    v.sort();
    v
}

/// Runs `gslbd ARGS` to completion; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// [`run_cli`] under `prlimit --as=MAX_BYTES` that must finish within `limit`: a hang or a
/// read that never ends fails the test (the process is killed) instead of blocking the suite or
/// eating the machine's memory.
pub fn run_cli_bounded(args: &[&str], limit: Duration, max_bytes: u64) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new("prlimit")
        .arg(format!("--as={max_bytes}"))
        .arg("--")
        .arg(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("prlimit (util-linux) is needed");
    let t0 = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "gslbd {args:?} still running after {limit:?}\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (code, read(&out), read(&err))
}

/// A loopback port free for both UDP and TCP right now, for a server the test starts that cannot
/// take port 0 and report what it bound (NSD, Knot, Prometheus).
pub fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The value on the first line of `s`'s `/metrics` that is `line_prefix` (a metric name, with its
/// labels as exposed when it has any) followed by the value; panics with the scrape when none is.
pub fn metric(s: &Server, line_prefix: &str) -> f64 {
    let (_, text) = http_get(s.http.unwrap(), "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{line_prefix} not in\n{text}"))
}

/// A minimal HTTP/1.1 GET, returning (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, &[], "")
}

/// The value of the first line of `/metrics` that starts with `line_prefix` (a metric name with
/// its labels as exposed, e.g. `gslbd_reloads_total{result="failure"}`), or `None`.
pub fn scrape_metric(addr: SocketAddr, line_prefix: &str) -> Option<f64> {
    let (_, body) = http_get(addr, "/metrics");
    body.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub fn http_request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    http_request_timeout(addr, method, path, headers, body, Duration::from_secs(10))
}

/// [`http_request`] waiting up to `timeout` for the answer (status 0 when none came).
pub fn http_request_timeout(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, dechunk(&body))
}

fn dechunk(body: &str) -> String {
    // axum answers small bodies with Content-Length; chunked bodies are joined here.
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 {
            return out;
        }
        if after.len() < n {
            return body.to_string();
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
}

/// Writes a config that serves the shipped example zone with `server_yaml` (lines indented under
/// `server:`) into a new temp dir; returns the dir (keep it alive) and the config path.
pub fn example_config(server_yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    let zone = repo().join("zones/example.test.zone");
    std::fs::write(
        &cfg,
        format!("version: 1\nserver:\n{server_yaml}zones: [{:?}]\n", zone.display()),
    )
    .unwrap();
    (dir, cfg)
}

/// A question corpus from zone files: every owner name, a child of each that does not exist
/// (`nx-probe.`), and every type present plus `common_types` (never OPT). Names in
/// presentation form, sorted.
pub fn zone_corpus(files: &[&Path], common_types: &[u16]) -> (Vec<String>, Vec<u16>) {
    let mut names = std::collections::BTreeSet::new();
    let mut types: std::collections::BTreeSet<u16> = common_types.iter().copied().collect();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for r in gslbd::zone::parse::parse_zone(&text, &f.display().to_string(), None, None).unwrap() {
            names.insert(format!("nx-probe.{}", r.owner));
            names.insert(r.owner.to_string());
            types.insert(r.rtype);
        }
    }
    types.remove(&41);
    (names.into_iter().collect(), types.into_iter().collect())
}

/// Sum of the samples of `name` on `/metrics` whose label sets contain every one of `labels`
/// (e.g. `reason="token"`); a metric without labels is matched by its bare name.
pub fn metric_sum(s: &Server, name: &str, labels: &[&str]) -> f64 {
    let (_, body) = http_get(s.http.expect("HTTP listener"), "/metrics");
    body.lines()
        .filter(|l| {
            let bare = l
                .strip_prefix(name)
                .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'));
            bare && labels.iter().all(|x| l.contains(x))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// Resident set size of a process in KiB (Linux `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// One kept-alive HTTP/1.1 connection for repeated GETs: it needs no new descriptor on the
/// server once open (for reading `/status` while the server is out of descriptors).
pub struct KeepAlive {
    stream: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> KeepAlive {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        KeepAlive {
            stream: BufReader::new(s),
            addr,
        }
    }

    /// GETs `path` on this connection; returns (status, body). Panics if the server closed it.
    pub fn get(&mut self, path: &str) -> (u16, String) {
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        self.stream.get_mut().write_all(req.as_bytes()).unwrap();
        let mut status = 0;
        let mut len = None;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            let n = self.stream.read_line(&mut line).unwrap();
            assert!(n > 0, "server closed the kept-alive connection");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if status == 0 {
                status = line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            } else if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked") {
                    chunked = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.stream.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0u8; n + 2];
                self.stream.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len.expect("Content-Length or chunked"), 0);
            self.stream.read_exact(&mut body).unwrap();
        }
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// A set of strings, for comparing answers regardless of order.
pub fn set(v: &[&str]) -> std::collections::BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The A records `www.example.test.` answers with now, as a set.
pub fn www_a(s: &Server) -> std::collections::BTreeSet<String> {
    s.query("www.example.test.", RecordType::A)
        .answers
        .iter()
        .map(|r| r.data.to_string())
        .collect()
}

/// POSTs `body` (JSON) to an admin path with `token` as bearer; the status and the JSON answer
/// (or the raw text as a JSON string when it is not JSON).
pub fn post_admin(s: &Server, token: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let (code, text) = http_request(
        s.http.expect("HTTP listener"),
        "POST",
        path,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        body,
    );
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// A KSK and a ZSK (ECDSA P-256) for `zone` from `gslbd keygen`, written to `dir` (created when
/// missing); returns the KSK's DS record as keygen prints it.
pub fn keygen_ksk_zsk(dir: &Path, zone: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let mut ds = String::new();
    for ksk in [true, false] {
        let mut args = vec![
            "keygen",
            "--zone",
            zone,
            "--algorithm",
            "ecdsap256sha256",
            "--dir",
            dir.to_str().unwrap(),
        ];
        if ksk {
            args.push("--ksk");
        }
        let (code, out, err) = run_cli(&args);
        assert_eq!(code, 0, "gslbd keygen: {err}");
        if ksk {
            ds = out;
        }
    }
    ds
}
