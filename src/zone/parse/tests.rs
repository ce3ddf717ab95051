use super::*;
use crate::zone::rtype::*;

fn n(s: &str) -> Name {
    s.parse().unwrap()
}

fn zone(text: &str) -> Vec<Record> {
    match parse_zone(text, "z.zone", Some(&n("example.com.")), None) {
        Ok(v) => v,
        Err(e) => panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

fn errs(text: &str) -> Vec<String> {
    errs_origin(text, Some(&n("example.com.")))
}

fn errs_origin(text: &str, origin: Option<&Name>) -> Vec<String> {
    match parse_zone(text, "z.zone", origin, None) {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn err1(text: &str) -> String {
    let e = errs(text);
    assert_eq!(e.len(), 1, "{e:?}");
    e[0].clone()
}

const SOA_ZONE: &str = "\
$TTL 1h ; default TTL
@   IN  SOA ns1.example.com. hostmaster.Example.com. (
            2024010101 ; serial
            7200       ; refresh
            1H         ; retry
            2w         ; expire
            300 )      ; minimum
    IN  NS  ns1
    IN  NS  ns2.example.net.
ns1 300 IN A 192.0.2.1
www IN 60 A 192.0.2.2
    AAAA 2001:db8::2
Mail.Example.COM. MX 10 MAIL
txt TXT \"a b; not a comment\" c ; comment
";

#[test]
fn realistic_zone() {
    let r = zone(SOA_ZONE);
    assert_eq!(r.len(), 8);
    let apex = n("example.com.");
    assert_eq!(r[0].owner, apex);
    assert_eq!(r[0].rtype, SOA);
    assert_eq!(r[0].ttl, 3600);
    assert_eq!(r[0].class, CLASS_IN);
    assert_eq!(r[0].line, 2);
    assert_eq!(&*r[0].file, "z.zone");
    let mut soa = Vec::new();
    soa.extend_from_slice(n("ns1.example.com.").wire());
    soa.extend_from_slice(b"\x0ahostmaster\x07Example\x03com\x00");
    for v in [2024010101u32, 7200, 3600, 1209600, 300] {
        soa.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(&*r[0].rdata, &soa[..]);
    assert_eq!((r[1].owner.clone(), r[1].rtype, r[1].line), (apex.clone(), NS, 8));
    assert_eq!(&*r[1].rdata, n("ns1.example.com.").wire());
    assert_eq!(&*r[2].rdata, n("ns2.example.net.").wire());
    assert_eq!(
        (r[3].owner.clone(), r[3].ttl, &*r[3].rdata),
        (n("ns1.example.com."), 300, &[192, 0, 2, 1][..])
    );
    assert_eq!((r[4].owner.clone(), r[4].ttl), (n("www.example.com."), 60));
    // Blank owner: previous owner; no TTL: $TTL.
    assert_eq!(
        (r[5].owner.clone(), r[5].rtype, r[5].ttl),
        (n("www.example.com."), AAAA, 3600)
    );
    // Owner lower-cased, RDATA case kept.
    assert_eq!(r[6].owner.wire(), b"\x04mail\x07example\x03com\x00");
    assert_eq!(&*r[6].rdata, b"\x00\x0a\x04MAIL\x07example\x03com\x00");
    assert_eq!(&*r[7].rdata, b"\x12a b; not a comment\x01c");
}

#[test]
fn crlf_and_bom() {
    let text = SOA_ZONE.replace('\n', "\r\n");
    assert_eq!(zone(&text), zone(SOA_ZONE));
    let text = format!("\u{feff}{SOA_ZONE}");
    assert_eq!(zone(&text), zone(SOA_ZONE));
    assert_eq!(zone("a 1 A 192.0.2.1").len(), 1);
    assert_eq!(
        err1("a 1 A 192.0.2.1\r\nb 1 A 1.2.3\r\n"),
        "z.zone:2:7: A address: bad IPv4 address \"1.2.3\""
    );
}

#[test]
fn origin_changes_and_relative_names() {
    let r = zone("$TTL 60\n$ORIGIN sub\nwww A 192.0.2.1\n$ORIGIN Other.Test.\n@ CNAME www\nx.y CNAME @\n");
    assert_eq!(r[0].owner, n("www.sub.example.com."));
    assert_eq!(r[1].owner, n("other.test."));
    assert_eq!(&*r[1].rdata, b"\x03www\x05Other\x04Test\x00");
    assert_eq!(r[2].owner, n("x.y.other.test."));
    assert_eq!(&*r[2].rdata, b"\x05Other\x04Test\x00");
    // No origin at all: relative names are located errors until $ORIGIN.
    let e = errs_origin(
        "$TTL 60\nwww A 192.0.2.1\n@ A 192.0.2.1\nx. CNAME y\n$ORIGIN t.\nz A 192.0.2.1\n",
        None,
    );
    assert_eq!(
        e,
        [
            "z.zone:2:1: relative name \"www\" and no $ORIGIN to complete it",
            "z.zone:3:1: @ used and no $ORIGIN is known",
            "z.zone:4:10: CNAME target: relative name \"y\" and no $ORIGIN to complete it",
        ]
    );
    assert_eq!(
        errs_origin("$ORIGIN www\n", None),
        ["z.zone:1:9: relative name \"www\" and no $ORIGIN to complete it"]
    );
}

#[test]
fn ttl_and_class_order_and_defaults() {
    let r = zone("a 1h30m IN A 192.0.2.1\nb IN 2d A 192.0.2.1\nc A 192.0.2.1\n$TTL 1W\nd in a 192.0.2.1\ne CLASS1 5 TYPE1 \\# 4 c0000201\n");
    let t: Vec<u32> = r.iter().map(|r| r.ttl).collect();
    // c takes the previous record's TTL (no $TTL yet); d takes $TTL.
    assert_eq!(t, [5400, 172800, 172800, 604800, 5]);
    assert!(r.iter().all(|r| *r.rdata == [192, 0, 2, 1]));
    assert_eq!(zone("a 2147483647 A 192.0.2.1")[0].ttl, MAX_TTL);
}

#[test]
fn ttl_errors() {
    assert_eq!(
        err1("a A 192.0.2.1"),
        "z.zone:1:1: no TTL: add $TTL or a TTL on the record"
    );
    assert_eq!(
        err1("a 2147483648 A 192.0.2.1"),
        "z.zone:1:3: TTL 2147483648 exceeds 2147483647 (RFC 2181)"
    );
    assert_eq!(err1("a 1x A 192.0.2.1"), "z.zone:1:3: bad TTL \"1x\"");
    assert_eq!(
        err1("$TTL 9999999999"),
        "z.zone:1:6: TTL 9999999999 exceeds 2147483647 (RFC 2181)"
    );
    assert_eq!(err1("$TTL"), "z.zone:1:5: missing TTL after $TTL");
    assert_eq!(err1("$TTL 1 2"), "z.zone:1:8: unexpected \"2\" after $TTL");
    assert_eq!(err1("a 1 1 A 192.0.2.1"), "z.zone:1:5: TTL given twice");
}

#[test]
fn class_errors() {
    assert_eq!(err1("a 1 CH A 192.0.2.1"), "z.zone:1:5: only class IN is supported");
    assert_eq!(err1("a HS 1 A 192.0.2.1"), "z.zone:1:3: only class IN is supported");
    assert_eq!(err1("a 1 CLASS3 TXT x"), "z.zone:1:5: only class IN is supported");
    assert_eq!(err1("a 1 IN IN A 192.0.2.1"), "z.zone:1:8: class given twice");
}

#[test]
fn record_errors() {
    assert_eq!(err1("a 1 BOGUS x"), "z.zone:1:5: unknown record type \"BOGUS\"");
    assert_eq!(err1("a 1 IN"), "z.zone:1:7: missing record type");
    assert_eq!(
        err1("a 1 OPT \\# 0"),
        "z.zone:1:5: OPT is a meta or query type and cannot appear in a zone file"
    );
    assert_eq!(
        err1("a 1 ANY \\# 0"),
        "z.zone:1:5: ANY is a meta or query type and cannot appear in a zone file"
    );
    assert_eq!(
        err1("a 1 MX 70000 b"),
        "z.zone:1:8: MX preference 70000 out of range 0..65535"
    );
    assert_eq!(err1("a 1 MX 10"), "z.zone:1:10: missing MX exchange");
}

#[test]
fn lexer_errors() {
    assert_eq!(
        err1("a 1 TXT \"abc\nb 1 A 192.0.2.1"),
        "z.zone:1:9: unterminated quoted string"
    );
    assert_eq!(err1("a 1 TXT ( x\n"), "z.zone:1:9: unclosed parenthesis");
    assert_eq!(err1("a 1 TXT x\"y\n"), "z.zone:1:10: unterminated quoted string");
    // An escaped newline inside a quoted string continues it and still counts the line.
    assert_eq!(
        err1("a 1 TXT \"x\\\ny\"\nb 1 A 1\n"),
        "z.zone:3:7: A address: bad IPv4 address \"1\""
    );
    assert_eq!(err1("a 1 TXT x )\n"), "z.zone:1:11: ')' without '('");
    assert_eq!(err1("a 1 TXT ( ( x ) )\n"), "z.zone:1:11: nested parentheses");
    assert_eq!(
        err1("   A 192.0.2.1\n"),
        "z.zone:1:4: no owner name: the first record must not start with whitespace"
    );
    assert_eq!(err1("$FOO bar"), "z.zone:1:1: unknown directive $FOO");
    assert_eq!(
        err1("$GENERATE 1-2 a A 1.2.3.$"),
        "z.zone:1:1: $GENERATE is not supported"
    );
    assert_eq!(err1("a..b 1 A 192.0.2.1"), "z.zone:1:1: empty label in name \"a..b\"");
}

#[test]
fn directive_errors() {
    assert_eq!(err1("$ORIGIN"), "z.zone:1:8: missing name after $ORIGIN");
    assert_eq!(err1("$ORIGIN a. b."), "z.zone:1:12: unexpected \"b.\" after $ORIGIN");
    assert_eq!(err1("$origin a..b."), "z.zone:1:9: empty label in name \"a..b.\"");
    assert_eq!(
        err1("$INCLUDE x.zone a..b"),
        "z.zone:1:17: empty label in name \"a..b\""
    );
    assert_eq!(
        err1("$INCLUDE x.zone a. b"),
        "z.zone:1:20: unexpected \"b\" after $INCLUDE"
    );
    assert_eq!(err1("$TTL 1d\n$TTL x"), "z.zone:2:6: bad TTL \"x\"");
    // Errors inside a parenthesised entry point at the right line and column.
    assert_eq!(
        err1("$TTL 1\n@ SOA ns1 hm (\n 1 2 3\n 4 )\n"),
        "z.zone:4:3: missing SOA minimum"
    );
    assert_eq!(
        err1("$TTL 1\n@ SOA ns1 hm (\n 1 2 3\n 4x 5 )\n"),
        "z.zone:4:2: SOA expire: expected a number, got \"4x\""
    );
}

#[test]
fn rdata_from_text_api() {
    let o = n("example.com.");
    assert_eq!(rdata_from_text(A, "192.0.2.1", None).unwrap(), [192, 0, 2, 1]);
    assert_eq!(
        rdata_from_text(MX, "( 10 ; pref\n Mail )", Some(&o)).unwrap(),
        b"\x00\x0a\x04Mail\x07example\x03com\x00"
    );
    assert_eq!(rdata_from_text(TXT, "\"a b\"\nc", None).unwrap(), b"\x03a b\x01c");
    assert_eq!(
        rdata_from_text(MX, "10", Some(&o)).unwrap_err(),
        "1:3: missing MX exchange"
    );
    assert_eq!(rdata_from_text(A, "", None).unwrap_err(), "1:1: missing A address");
    assert_eq!(
        rdata_from_text(A, "x y", None).unwrap_err(),
        "1:1: A address: bad IPv4 address \"x\""
    );
    assert_eq!(
        rdata_from_text(TXT, "\"abc", None).unwrap_err(),
        "1:1: unterminated quoted string"
    );
}

#[test]
fn collects_all_errors_and_caps() {
    let e = errs("$TTL 1\na A 1\nb MX x y\nok A 192.0.2.1\nc TXT\n");
    assert_eq!(
        e,
        [
            "z.zone:2:5: A address: bad IPv4 address \"1\"",
            "z.zone:3:6: MX preference: expected a number, got \"x\"",
            "z.zone:5:6: missing TXT string",
        ]
    );
    let many = "a 1 A x\n".repeat(500);
    assert_eq!(errs(&many).len(), MAX_ERRORS);
}

#[test]
fn parentheses_comments_escapes_quotes() {
    let r = zone("$TTL 1\na TXT ( \"x;y\" ; c1\n  z\\;w ; c2\n \"q\\\"r\" ) ; end\n\\@\\.x A 192.0.2.1\n");
    assert_eq!(&*r[0].rdata, b"\x03x;y\x03z;w\x03q\"r");
    assert_eq!(r[0].line, 2);
    assert_eq!(r[1].owner.wire(), b"\x03@.x\x07example\x03com\x00");
    assert_eq!(r[1].line, 5);
    // A multi-line entry keeps line numbers right for later errors.
    assert_eq!(
        err1("$TTL 1\na TXT (\n x\n y )\nb A 1.2.3.4.5\n"),
        "z.zone:5:5: A address: bad IPv4 address \"1.2.3.4.5\""
    );
}

#[test]
fn include_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("inc.zone"), "www A 192.0.2.9\n$ORIGIN deep\nx A 192.0.2.10\n").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/a.zone"), "$INCLUDE b.zone\n").unwrap();
    std::fs::write(d.join("sub/b.zone"), "b A 192.0.2.11\nbad A 300.0.0.1\n").unwrap();
    std::fs::write(d.join("loop.zone"), "$INCLUDE loop.zone\n").unwrap();
    let main =
        "$TTL 1\nfirst A 192.0.2.1\n$INCLUDE inc.zone\n  A 192.0.2.2\n$INCLUDE inc.zone other\nlast A 192.0.2.3\n";
    let r = parse_zone(main, "main.zone", Some(&n("example.com.")), Some(d)).unwrap();
    let got: Vec<(String, String)> = r.iter().map(|r| (r.owner.to_string(), r.file.to_string())).collect();
    let inc = d.join("inc.zone").display().to_string();
    assert_eq!(
        got,
        [
            ("first.example.com.".to_string(), "main.zone".to_string()),
            ("www.example.com.".into(), inc.clone()),
            ("x.deep.example.com.".into(), inc.clone()),
            // The include changed neither the origin nor the previous owner.
            ("first.example.com.".into(), "main.zone".into()),
            ("www.other.example.com.".into(), inc.clone()),
            ("x.deep.other.example.com.".into(), inc.clone()),
            ("last.example.com.".into(), "main.zone".into()),
        ]
    );
    // Errors inside an included file name that file (and do not quote it); nested includes
    // resolve relative to the including file.
    let e = parse_zone(
        "$TTL 1\n$INCLUDE sub/a.zone\n",
        "main.zone",
        Some(&n("example.com.")),
        Some(d),
    )
    .unwrap_err();
    let b = d.join("sub/b.zone").display().to_string();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        format!("{b}:2:7: A address: bad IPv4 address \"...\"")
    );
    // Loops.
    let e = parse_zone("$INCLUDE loop.zone\n", "main.zone", None, Some(d)).unwrap_err();
    let l = d.join("loop.zone").display().to_string();
    assert_eq!(
        e[0].to_string(),
        format!("{l}:1:10: $INCLUDE loop: {l} is already being read")
    );
    // Missing file, missing argument, and $INCLUDE without a base directory.
    let e = parse_zone("$INCLUDE nope.zone\n", "main.zone", None, Some(d)).unwrap_err();
    assert!(
        e[0].to_string().starts_with(&format!(
            "main.zone:1:10: cannot read $INCLUDE file {}: ",
            d.join("nope.zone").display()
        )),
        "{}",
        e[0]
    );
    assert_eq!(err1("$INCLUDE"), "z.zone:1:9: missing file name after $INCLUDE");
    assert_eq!(err1("$INCLUDE x.zone"), "z.zone:1:1: $INCLUDE is not allowed here");
}

#[test]
fn errors_in_included_files_do_not_quote_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = "root:$6$Zq9cT3xv$SecretHashValue:19000:0:99999:7:::
PermitRootLogin yes
password = hunter2
api_key \"AKIASECRETKEY\"
ttl 99999999999 A 192.0.2.1
$Password Opensesame
$ORIGIN qq..zz
www 300 A 300.1.2.3
xyzzy 2147483648 A 192.0.2.1
";
    std::fs::write(d.join("shadow"), secret).unwrap();
    let e = parse_zone(
        "$TTL 1\n$INCLUDE shadow\n",
        "main.zone",
        Some(&n("example.com.")),
        Some(d),
    )
    .unwrap_err();
    let f = d.join("shadow").display().to_string();
    let got: Vec<String> = e.iter().map(|e| e.to_string().replace(&f, "shadow")).collect();
    assert_eq!(
        got,
        [
            "shadow:1:52: missing record type",
            "shadow:2:17: unknown record type \"...\"",
            "shadow:3:10: unknown record type \"...\"",
            "shadow:4:9: unknown record type \"...\"",
            "shadow:5:5: bad TTL \"...\"",
            "shadow:6:1: unknown directive ...",
            "shadow:7:9: empty label in name \"...\"",
            "shadow:8:11: A address: bad IPv4 address \"...\"",
            "shadow:9:7: TTL ... exceeds 2147483647 (RFC 2181)",
        ]
    );
    for word in secret.split_whitespace().filter(|w| w.len() >= 2) {
        for e in &got {
            assert!(!e.contains(word.trim_matches('"')), "{word:?} in {e:?}");
        }
    }
    // The zone named in the config is the operator's own: its errors quote it.
    let e = parse_zone("$TTL 1\nPermitRootLogin yes\n", "main.zone", None, Some(d)).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "main.zone:2:1: relative name \"PermitRootLogin\" and no $ORIGIN to complete it"
    );
}

#[test]
fn includes_must_be_regular_files_within_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("fifo.zone");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
    // A FIFO without a writer and an endless device: refused before a byte is read.
    for (inc, kind) in [
        ("fifo.zone".to_string(), "a FIFO"),
        ("/dev/zero".to_string(), "a character device"),
        (d.display().to_string(), "a directory"),
    ] {
        let e = parse_zone(&format!("$INCLUDE {inc}\n"), "main.zone", None, Some(d)).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            format!(
                "main.zone:1:10: cannot read $INCLUDE file {}: not a regular file ({kind})",
                d.join(&inc).display()
            )
        );
    }
    // The limit covers the zone and its includes together: a file that fits on its own is
    // refused once the including text has used up the rest.
    std::fs::write(d.join("a.zone"), "a 1 A 192.0.2.1\n").unwrap();
    let mut st = State {
        sink: &mut |_| {},
        errors: Vec::new(),
        default_ttl: None,
        last_ttl: None,
        stack: Vec::new(),
        bytes_left: 16,
    };
    st.parse_text(
        "$INCLUDE a.zone\n$INCLUDE a.zone\n",
        Arc::from("main.zone"),
        Some(n("example.com.")),
        Some(d),
        0,
    );
    let got: Vec<String> = st.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
            got,
            [format!(
                "main.zone:2:10: cannot read $INCLUDE file {}: the zone and its $INCLUDE files would exceed the limit of {MAX_ZONE_BYTES} bytes together",
                d.join("a.zone").display()
            )]
        );
}

#[test]
fn include_depth_limit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..12 {
        std::fs::write(d.join(format!("{i}.zone")), format!("$INCLUDE {}.zone\n", i + 1)).unwrap();
    }
    std::fs::write(d.join("12.zone"), "a 1 A 192.0.2.1\n").unwrap();
    let e = parse_zone("$INCLUDE 0.zone\n", "main.zone", None, Some(d)).unwrap_err();
    let f = d.join("9.zone").display().to_string();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        format!("{f}:1:1: $INCLUDE nested deeper than 10 levels")
    );
}

#[test]
fn generic_and_every_type_in_zone() {
    let r =
        zone("$TTL 1\na TYPE65280 \\# 3 ( 01\n 02 03 )\nb TYPE65281 \\# 0\nc SVCB 1 . alpn=\"h2,h3\" ( port=443 )\n");
    assert_eq!(&*r[0].rdata, [1, 2, 3]);
    assert_eq!(r[0].rtype, 65280);
    assert!(r[1].rdata.is_empty());
    assert_eq!(
        &*r[2].rdata,
        b"\x00\x01\x00\x00\x01\x00\x06\x02h2\x02h3\x00\x03\x00\x02\x01\xbb"
    );
}
