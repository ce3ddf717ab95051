//! Differential test against gdnsd's geoip plugin (Debian's `gdnsd`): the same generated
//! database, an equivalent map (gdnsd's nested `map` and `nets`), thousands of ECS client
//! prefixes over IPv4 and IPv6. Both must choose the same provider for every prefix. Where the
//! ECS scopes differ, gslbd's must be the wider one (gdnsd's scope is the block of equal provider
//! *order*; gslbd's the block of equal *answer*), equal to the brute-force reference (never
//! narrower than needed), and correct: addresses spread over gslbd's whole scope block get the
//! same answer from both servers.

mod common;

#[path = "common/geo.rs"]
mod geo;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use geo::*;

const A: u16 = 1;
const AAAA: u16 = 28;
const WWW: &str = "www.example.test.";

fn gdnsd_bin() -> &'static str {
    for p in ["/usr/sbin/gdnsd", "/usr/bin/gdnsd"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!("gdnsd is not installed (apt-get install gdnsd; tests/run.sh does)");
}

fn start_gdnsd(dir: &Path, db: &Path) -> (ChildGuard, SocketAddr) {
    let port = free_port();
    let config = format!(
        "options => {{
    listen => [ 127.0.0.1:{port} ]
    udp_threads => 1
    tcp_threads => 1
    run_dir => \"{d}/run\"
    state_dir => \"{d}/state\"
}}
plugins => {{
    geoip => {{
        maps => {{
            world => {{
                geoip2_db => \"{db}\"
                {map}
            }}
        }}
        resources => {{
            www_v4 => {{ map => world, dcmap => {dcmap_v4} }}
            www_v6 => {{ map => world, dcmap => {dcmap_v6} }}
        }}
    }}
}}
",
        d = dir.display(),
        db = db.display(),
        map = gdnsd_map(),
        dcmap_v4 = gdnsd_dcmap(false),
        dcmap_v6 = gdnsd_dcmap(true),
    );
    std::fs::create_dir_all(dir.join("zones")).unwrap();
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(
        dir.join("zones/example.test"),
        "$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww 30 DYNA geoip!www_v4\nwww6 30 DYNA geoip!www_v6\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("gdnsd.log")).unwrap();
    let child = Command::new(gdnsd_bin())
        .args(["-c", dir.to_str().unwrap(), "start"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn gdnsd");
    let guard = ChildGuard(Some(child));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Ready when it answers.
    let started = Instant::now();
    loop {
        let q = ecs_query(1, "example.test.", 6, None, None);
        if udp_exchange(addr, &q, Duration::from_millis(200)).is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "gdnsd did not start:\n{}",
            std::fs::read_to_string(dir.join("gdnsd.log")).unwrap_or_default()
        );
    }
    (guard, addr)
}

fn start_gslbd(dir: &Path, db: &Path) -> Server {
    let zone = repo().join("zones/example.test.zone");
    let cfg = format!(
        "version: 1\nzones: [{:?}]\n{}{}pools:\n{}",
        zone.display(),
        providers_yaml(),
        geo_yaml(db, true),
        geo_pool_yaml(|_| None)
    );
    let path = dir.join("gslbd.yaml");
    std::fs::write(&path, cfg).unwrap();
    Server::start(&["--config", path.to_str().unwrap()])
}

/// A block's first address, last address and a few inside, as /32 or /128 ECS prefixes.
fn samples(ip: IpAddr, scope: u8, rng: &mut Rng) -> Vec<(IpAddr, u8)> {
    match ip {
        IpAddr::V4(a) => {
            let m = if scope == 0 { 0 } else { u32::MAX << (32 - scope) };
            let lo = u32::from(a) & m;
            let hi = lo | !m;
            let mut v = vec![lo, hi];
            v.extend((0..3).map(|_| lo | (rng.next() as u32 & !m)));
            v.into_iter().map(|x| (IpAddr::V4(Ipv4Addr::from(x)), 32)).collect()
        }
        IpAddr::V6(a) => {
            let m = if scope == 0 {
                0
            } else {
                u128::MAX << (128 - scope as u32)
            };
            let lo = u128::from(a) & m;
            let hi = lo | !m;
            let mut v = vec![lo, hi];
            v.extend((0..3).map(|_| lo | (((rng.next() as u128) << 64 | rng.next() as u128) & !m)));
            v.into_iter().map(|x| (IpAddr::V6(Ipv6Addr::from(x)), 128)).collect()
        }
    }
}

#[test]
#[ignore = "needs gdnsd; tests/run.sh runs it"]
fn gslbd_and_gdnsd_geoip_choose_the_same_provider_and_gslbd_scopes_are_never_narrower() {
    let dir = tempfile::tempdir().unwrap();
    let db = write_db(dir.path());
    let (_gdnsd, gdnsd) = start_gdnsd(&dir.path().join("gdnsd"), &db);
    let gslbd = start_gslbd(dir.path(), &db);
    let mut ours = Client::new(gslbd.udp);
    let mut theirs = Client::new(gdnsd);
    let mut rng = Rng(0x9d15_0001);
    let corpus = corpus(4000, 0x9d15_0002);
    let (mut same_scope, mut wider, mut v6) = (0, 0, 0);
    for &(ip, len) in &corpus {
        let (qtype, gname) = if ip.is_ipv4() {
            (A, WWW)
        } else {
            (AAAA, "www6.example.test.")
        };
        let a = ours.ask(WWW, qtype, Some((ip, len)));
        let b = theirs.ask(gname, qtype, Some((ip, len)));
        assert_eq!(a.addrs.len(), 1, "gslbd {ip}/{len}: {a:?}");
        assert_eq!(b.addrs.len(), 1, "gdnsd {ip}/{len}: {b:?}");
        assert_eq!(
            provider_of_answer(&a.addrs[0]),
            provider_of_answer(&b.addrs[0]),
            "{ip}/{len}: gslbd {a:?}, gdnsd {b:?}"
        );
        let (sa, sb) = (a.ecs.as_ref().unwrap().2, b.ecs.as_ref().unwrap().2);
        v6 += ip.is_ipv6() as usize;
        if sa == sb {
            same_scope += 1;
            continue;
        }
        // gslbd's block is wider, and it is the widest correct one
        assert!(sa < sb, "{ip}/{len}: gslbd scope /{sa} narrower than gdnsd's /{sb}");
        wider += 1;
        let want = match ip {
            IpAddr::V4(_) => reference_scope(key_of(ip), 96, &["aws", "flexiscale", "rackspace"]) - 96,
            IpAddr::V6(_) => reference_scope(key_of(ip), 0, &["aws", "flexiscale", "rackspace"]),
        };
        assert_eq!(sa, want, "{ip}/{len}");
        // every sampled address of gslbd's block gets the same answer from both servers
        for (s, slen) in samples(ip, sa, &mut rng) {
            let x = ours.ask(WWW, qtype, Some((s, slen)));
            let y = theirs.ask(gname, qtype, Some((s, slen)));
            assert_eq!(x.addrs, a.addrs, "gslbd {s} inside {ip}/{sa}");
            assert_eq!(
                provider_of_answer(&y.addrs[0]),
                provider_of_answer(&a.addrs[0]),
                "gdnsd {s} inside {ip}/{sa}"
            );
        }
    }
    assert!(v6 > 500, "{v6} IPv6 prefixes");
    assert!(
        wider > 0,
        "no prefix where the answer-based scope is wider than the order-based one"
    );
    eprintln!(
        "{} prefixes ({v6} IPv6): same provider in all; scope equal in {same_scope}, gslbd wider in {wider}",
        corpus.len()
    );
}
