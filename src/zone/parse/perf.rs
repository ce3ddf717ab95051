use super::*;

/// `cargo test --release --lib zone::parse::perf -- --ignored --nocapture`
#[test]
#[ignore]
fn million_records() {
    let mut text = String::from("$TTL 300\n@ SOA ns1 hm 1 2 3 4 5\n");
    for i in 0..1_000_000u32 {
        use std::fmt::Write;
        match i % 4 {
            0 => writeln!(text, "host{i} IN A 10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
            1 => writeln!(text, "  AAAA 2001:db8::{:x}", i & 0xffff),
            2 => writeln!(text, "mx{i} 60 MX 10 mail{i}.example.net."),
            _ => writeln!(text, "txt{i} TXT \"v=spf1 include:_spf.example.com ~all\""),
        }
        .unwrap();
    }
    let origin: Name = "example.com.".parse().unwrap();
    let t = std::time::Instant::now();
    let r = parse_zone(&text, "big.zone", Some(&origin), None).unwrap();
    let el = t.elapsed();
    eprintln!("{} records in {el:?}", r.len());
    assert_eq!(r.len(), 1_000_001);
}
