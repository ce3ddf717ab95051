//! The UDP answer cache (src/dns/cache.rs) against the general path: every question of the
//! test corpus (the three fixture sets' names x types, with and without EDNS and DO, RD and CD on and
//! off, in three cases of the name) must get byte-identical answers from the cache and from the
//! uncached path; pool answers rotated whole come from the cache in every rotation the general
//! path gives, weighted picks and `max_answers` cuts never do; a new snapshot never sees the old
//! one's answers.

mod common;

use std::path::Path;

use gslbd::config::{self, Source};
use gslbd::dns::cache::thread_stats;
use gslbd::dns::handler::{answer, answer_uncached, Transport};
use gslbd::snapshot::Snapshot;
use gslbd::snapshot_build;

/// A query for `name` (wire form, any case), with id, RD/CD and EDNS/DO as given.
fn query(id: u16, name: &[u8], qtype: u16, rd: bool, cd: bool, edns: Option<bool>) -> Vec<u8> {
    let mut m = gslbd::dns::wire::query_message(id, &gslbd::name::Name::from_wire_unchecked(name), qtype, edns);
    let flags: u16 = if rd { 0x0100 } else { 0 } | if cd { 0x0010 } else { 0 };
    m[2..4].copy_from_slice(&flags.to_be_bytes());
    m
}

/// The name's wire form in lower, upper and alternating case.
fn cases(name: &gslbd::name::Name) -> [Vec<u8>; 3] {
    let w = name.wire();
    let lower = w.to_ascii_lowercase();
    let upper = w.to_ascii_uppercase();
    let mixed = w
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if i % 2 == 0 {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect();
    [lower, upper, mixed]
}

fn snapshot_of(config_text: &str, dir: &Path) -> std::sync::Arc<Snapshot> {
    let path = dir.join("gslbd.yaml");
    std::fs::write(&path, config_text).unwrap();
    let cfg = config::load(&path, Source::Disk).expect("config loads");
    snapshot_build::build_snapshot(&cfg, 1).expect("snapshot builds")
}

#[test]
fn cached_answers_equal_uncached_on_the_whole_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for rel in ["core/example.net.zone", "core/child.example.net.zone"] {
        files.push(common::fixture(rel));
    }
    for z in ["rich.test", "other.example", "deleg.rich.test", "big.test"] {
        files.push(common::fixture(&format!("rich/{z}.zone")));
    }
    // Signed zones: answers to DO questions carry RRSIGs and proofs, and are cached apart.
    for z in ["nsec.test", "sub.nsec.test", "nsec3.test", "optout.test"] {
        files.push(common::fixture(&format!("signed/{z}.zone")));
    }
    let mut yaml = String::from("version: 1\nzones:\n");
    for (f, origin) in files.iter().zip([
        "example.net.",
        "child.example.net.",
        "rich.test.",
        "other.example.",
        "deleg.rich.test.",
        "big.test.",
        "nsec.test.",
        "sub.nsec.test.",
        "nsec3.test.",
        "optout.test.",
    ]) {
        yaml.push_str(&format!("  - {{ file: \"{}\", origin: {origin} }}\n", f.display()));
    }
    let snap = snapshot_of(&yaml, dir.path());
    let file_refs: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    let (names, types) = common::zone_corpus(&file_refs, &[1, 2, 5, 6, 15, 16, 28, 33, 39, 43, 255, 65000]);
    let mut names: Vec<gslbd::name::Name> = names.iter().map(|n| n.parse().expect("name parses")).collect();
    names.push("outside.invalid.".parse().unwrap());
    let (hits0, _) = thread_stats();
    let mut compared = 0u64;
    let mut id = 1u16;
    for name in &names {
        for &qtype in &types {
            for edns in [None, Some(false), Some(true)] {
                // The first pass fills the cache (lower case); the others read it back in
                // every case, with other IDs and RD/CD bits.
                for (pass, wire) in cases(name).iter().enumerate() {
                    for (rd, cd) in [(false, false), (true, false), (true, true)] {
                        if pass == 0 && rd {
                            continue;
                        }
                        id = id.wrapping_add(7919);
                        let q = query(id, wire, qtype, rd, cd, edns);
                        let general = answer_uncached(&snap, &q, Transport::Udp, Vec::new());
                        let cached = answer(&snap, &q, Transport::Udp, Vec::new());
                        assert_eq!(
                            cached, general,
                            "{name} type {qtype} edns {edns:?} rd {rd} cd {cd} case {pass}: cached answer differs"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    let (hits1, _) = thread_stats();
    let hits = hits1 - hits0;
    eprintln!("{compared} answers compared, {hits} from the cache");
    // Every question was asked at least 7 times; all but the first can come from the cache
    // (a few slots collide and evict).
    assert!(
        hits * 10 >= compared * 7,
        "only {hits} of {compared} answers came from the cache"
    );
    // TCP never uses it.
    let q = query(9, names[0].wire(), 1, false, false, None);
    answer(&snap, &q, Transport::Tcp, Vec::new());
    answer(&snap, &q, Transport::Tcp, Vec::new());
    assert_eq!(thread_stats().0, hits1, "TCP answers were served from the UDP cache");
}

/// `answer` or `answer_uncached`.
type AnswerFn = fn(&Snapshot, &[u8], Transport, Vec<u8>) -> Option<(Vec<u8>, gslbd::dns::handler::Outcome)>;

/// `count` answers to `name` A (EDNS) from `f`, as a set of distinct answers without the ID.
fn distinct(snap: &Snapshot, name: &str, count: u16, f: AnswerFn) -> std::collections::BTreeSet<Vec<u8>> {
    let name: gslbd::name::Name = name.parse().unwrap();
    (0..count)
        .map(|id| {
            let q = query(id, name.wire(), 1, false, false, Some(false));
            f(snap, &q, Transport::Udp, Vec::new()).expect("answered").0[2..].to_vec()
        })
        .collect()
}

#[test]
fn pool_answers_rotate_per_query_from_the_cache_and_picks_are_never_cached() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.zone"),
        format!(
            "$ORIGIN t.test.\n$TTL 60\n@ SOA ns hostmaster 1 60 60 600 60\n@ NS a.dns\n@ NS bbbbb.dns\n{}",
            (1..=40).map(|i| format!("a.dns A 192.0.2.{i}\n")).collect::<String>()
        ),
    )
    .unwrap();
    // Never probed: only a snapshot is built (every member starts up).
    let yaml = format!(
        "version: 1\nzones: [ \"{}\" ]\n\
         checks: {{ c: {{ type: tcp, address: 127.0.0.1, port: 9 }} }}\n\
         providers: {{ a: {{}}, b: {{}} }}\n\
         pools:\n\
         \x20 all.t.test.: {{ policy: all, members: [ {{ provider: a, address: 192.0.2.1, check: c }}, \
         {{ provider: a, address: 192.0.2.2, check: c }}, {{ provider: b, address: 192.0.2.3, check: c }}, \
         {{ provider: b, address: 192.0.2.4, check: c }} ] }}\n\
         \x20 cut.t.test.: {{ policy: all, max_answers: 2, members: [ {{ provider: a, address: 192.0.2.1, check: c }}, \
         {{ provider: a, address: 192.0.2.2, check: c }}, {{ provider: b, address: 192.0.2.3, check: c }} ] }}\n\
         \x20 w.t.test.: {{ policy: weighted, members: [ {{ provider: a, address: 192.0.2.1, check: c, weight: 3 }}, \
         {{ provider: b, address: 192.0.2.2, check: c, weight: 1 }} ] }}\n\
         \x20 one.t.test.: {{ policy: all, members: [ {{ provider: a, address: 192.0.2.9, check: c }} ] }}\n\
         \x20 bbbbb.dns.t.test.: {{ policy: all, members: [ {{ provider: a, address: 192.0.2.61, check: c }}, \
         {{ provider: b, address: 192.0.2.62, check: c }} ] }}\n",
        dir.path().join("t.zone").display()
    );
    let snap = snapshot_of(&yaml, dir.path());

    // A pool rotated whole: the cached answers are exactly the uncached path's rotations (all 4
    // seen in 400 queries by both), and every one after the first came from the cache.
    let (h0, _) = thread_stats();
    let general = distinct(&snap, "all.t.test.", 400, answer_uncached);
    let cached = distinct(&snap, "all.t.test.", 400, answer);
    assert_eq!(general.len(), 4, "the uncached path gave {} rotations", general.len());
    assert_eq!(cached, general, "cached rotations differ from the uncached path's");
    assert_eq!(
        thread_stats().0 - h0,
        399,
        "the rotated pool answer was not served from the cache"
    );

    // One member: cached as it is.
    let (h0, _) = thread_stats();
    assert_eq!(
        distinct(&snap, "one.t.test.", 10, answer),
        distinct(&snap, "one.t.test.", 1, answer_uncached)
    );
    assert_eq!(
        thread_stats().0 - h0,
        9,
        "the first answer fills the cache, the other 9 come from it"
    );

    // Static records are never rotated, even when a pool was read for the additional section:
    // the apex NS answer names a pool (its A records would be glue) and a host with 40 A
    // records that push the additional section out of 512 octets, leaving two NS records of
    // equal size that must stay in zone order (the second compresses against the first).
    let apex: gslbd::name::Name = "t.test.".parse().unwrap();
    let ns = |f: AnswerFn| -> std::collections::BTreeSet<Vec<u8>> {
        (0..50u16)
            .map(|id| {
                f(
                    &snap,
                    &query(id, apex.wire(), 2, false, false, None),
                    Transport::Udp,
                    Vec::new(),
                )
            })
            .map(|r| r.expect("answered").0[2..].to_vec())
            .collect()
    };
    let general = ns(answer_uncached);
    assert_eq!(general.len(), 1, "the uncached NS answer varies");
    assert_eq!(
        ns(answer),
        general,
        "the cached NS answer differs from the uncached one"
    );

    // A `max_answers` cut and a weighted pick vary in more than order: never cached, and they
    // still vary.
    for name in ["cut.t.test.", "w.t.test."] {
        let (h0, _) = thread_stats();
        let seen = distinct(&snap, name, 200, answer);
        assert_eq!(thread_stats().0, h0, "{name}: a pick came from the cache");
        assert!(seen.len() > 1, "{name}: one answer in 200 queries");
        assert_eq!(seen, distinct(&snap, name, 200, answer_uncached), "{name}");
    }
}

#[test]
fn a_new_snapshot_is_never_answered_from_the_old() {
    // Same question, two snapshots of different zone data: each gets its own answer.
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("t.zone");
    let mut answers = Vec::new();
    for addr in ["192.0.2.1", "192.0.2.2"] {
        std::fs::write(
            &zone,
            format!(
                "$ORIGIN t.test.\n$TTL 60\n@ SOA ns hostmaster 1 60 60 600 60\n@ NS ns\nns A 192.0.2.53\nh A {addr}\n"
            ),
        )
        .unwrap();
        let snap = snapshot_of(&format!("version: 1\nzones: [ \"{}\" ]\n", zone.display()), dir.path());
        let h: gslbd::name::Name = "h.t.test.".parse().unwrap();
        for id in [1, 2] {
            let q = query(id, h.wire(), 1, false, false, None);
            let (a, _) = answer(&snap, &q, Transport::Udp, Vec::new()).expect("answered");
            answers.push(a[a.len() - 4..].to_vec());
        }
    }
    assert_eq!(
        answers,
        vec![
            vec![192, 0, 2, 1],
            vec![192, 0, 2, 1],
            vec![192, 0, 2, 2],
            vec![192, 0, 2, 2]
        ],
        "the second snapshot was answered from the first one's cache"
    );
}

/// DO answers of a zone gslbd signs: a pool rotated whole is kept with its RRSIGs and rotated on
/// every hit, each rotation equal to one of the uncached path's (the RRSIG, which covers the
/// set, stays the same); a `max_answers` window is answered per query with its own signature.
#[test]
fn signed_pool_answers_are_cached_with_their_signatures_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let (code, _, err) = common::run_cli(&[
        "keygen",
        "--zone",
        "t.test",
        "--algorithm",
        "ed25519",
        "--ksk",
        "--dir",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        dir.path().join("t.zone"),
        "$ORIGIN t.test.\n$TTL 60\n@ SOA ns hostmaster 1 60 60 600 60\n@ NS ns\nns A 192.0.2.53\n",
    )
    .unwrap();
    let yaml = format!(
        "version: 1\nzones:\n  - file: \"{}\"\n    dnssec: {{ sign: true, keys_dir: \"{}\" }}\n\
         checks: {{ c: {{ type: tcp, address: 127.0.0.1, port: 9 }} }}\n\
         providers: {{ a: {{}}, b: {{}} }}\n\
         pools:\n\
         \x20 all.t.test.: {{ policy: all, members: [ {{ provider: a, address: 192.0.2.1, check: c }}, \
         {{ provider: a, address: 192.0.2.2, check: c }}, {{ provider: b, address: 192.0.2.3, check: c }} ] }}\n\
         \x20 cut.t.test.: {{ policy: all, max_answers: 2, members: [ {{ provider: a, address: 192.0.2.1, check: c }}, \
         {{ provider: a, address: 192.0.2.2, check: c }}, {{ provider: b, address: 192.0.2.3, check: c }} ] }}\n",
        dir.path().join("t.zone").display(),
        keys.display()
    );
    let snap = snapshot_of(&yaml, dir.path());
    let do_answers = |name: &str, count: u16, f: AnswerFn| -> std::collections::BTreeSet<Vec<u8>> {
        let name: gslbd::name::Name = name.parse().unwrap();
        (0..count)
            .map(|id| {
                let q = query(id, name.wire(), 1, false, false, Some(true));
                f(&snap, &q, Transport::Udp, Vec::new()).expect("answered").0[2..].to_vec()
            })
            .collect()
    };
    // (A records, RRSIG records) of one answer.
    let parts = |a: &[u8]| {
        let mut m = vec![0, 0];
        m.extend_from_slice(a);
        let m = common::Message::from_vec(&m).unwrap();
        let of = |t: common::RecordType| -> Vec<String> {
            m.answers
                .iter()
                .filter(|r| r.record_type() == t)
                .map(|r| r.data.to_string())
                .collect()
        };
        (of(common::RecordType::A), of(common::RecordType::RRSIG))
    };

    let (h0, _) = thread_stats();
    let general = do_answers("all.t.test.", 300, answer_uncached);
    let cached = do_answers("all.t.test.", 300, answer);
    assert_eq!(general.len(), 3, "the uncached path gave {} rotations", general.len());
    assert_eq!(cached, general, "cached DO rotations differ from the uncached path's");
    assert_eq!(
        thread_stats().0 - h0,
        299,
        "the signed pool answer was not served from the cache"
    );
    let sigs: std::collections::BTreeSet<Vec<String>> = cached.iter().map(|a| parts(a).1).collect();
    assert_eq!(sigs.len(), 1, "one signature for every rotation: {sigs:?}");
    assert!(sigs.iter().all(|s| s.len() == 1), "{sigs:?}");

    // Windows: per query, each with the signature of its own set.
    let (h0, _) = thread_stats();
    let windows = do_answers("cut.t.test.", 200, answer);
    assert_eq!(thread_stats().0, h0, "a max_answers window came from the cache");
    let by_set: std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>> = windows
        .iter()
        .map(|a| parts(a))
        .fold(Default::default(), |mut m, (mut a, s)| {
            a.sort();
            m.entry(a).or_default().insert(s);
            m
        });
    assert_eq!(by_set.len(), 3, "3 windows of 2 out of 3: {by_set:?}");
    assert!(by_set.values().all(|s| s.len() == 1 && s.iter().all(|x| x.len() == 1)));
    let distinct_sigs: std::collections::BTreeSet<_> = by_set.values().collect();
    assert_eq!(distinct_sigs.len(), 3, "each window has its own signature");
}
