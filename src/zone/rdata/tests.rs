use super::*;

/// Splits like the zone tokenizer for simple cases: whitespace separates, `"..."` quotes.
fn toks(s: &str) -> Vec<Token<'_>> {
    let mut v = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        if b[i] == b'"' {
            i += 1;
            while b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            v.push(Token {
                text: &s[start + 1..i],
                quoted: true,
                line: 1,
                col: start + 1,
            });
            i += 1;
            continue;
        }
        let mut inq = false;
        while i < b.len() && (inq || b[i] != b' ') {
            if b[i] == b'\\' {
                i += 1;
            } else if b[i] == b'"' {
                inq = !inq;
            }
            i += 1;
        }
        v.push(Token {
            text: &s[start..i],
            quoted: false,
            line: 1,
            col: start + 1,
        });
    }
    v
}

fn origin() -> Name {
    "example.com.".parse().unwrap()
}

fn ok(t: u16, s: &str) -> Vec<u8> {
    let o = origin();
    match parse_rdata(t, &toks(s), Some(&o)) {
        Ok(v) => v,
        Err(e) => panic!("{} {s:?}: {e:?}", rtype::mnemonic(t)),
    }
}

fn bad(t: u16, s: &str) -> (usize, String) {
    let o = origin();
    match parse_rdata(t, &toks(s), Some(&o)) {
        Ok(v) => panic!("{} {s:?} accepted: {v:02x?}", rtype::mnemonic(t)),
        Err(e) => (e.token, e.msg),
    }
}

fn hx(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    HEXLOWER_PERMISSIVE.decode(s.as_bytes()).unwrap()
}

const EX: &str = "07 6578616d706c65 03 636f6d 00";

#[test]
fn a_aaaa() {
    assert_eq!(ok(A, "192.0.2.1"), [192, 0, 2, 1]);
    assert_eq!(ok(AAAA, "2001:db8::1"), hx("20010db8000000000000000000000001"));
    assert_eq!(ok(AAAA, "::ffff:192.0.2.1"), hx("00000000000000000000ffffc0000201"));
    assert_eq!(bad(A, "192.0.2"), (0, "A address: bad IPv4 address \"192.0.2\"".into()));
    assert_eq!(bad(A, "192.0.2.256").0, 0);
    assert_eq!(bad(A, ""), (0, "missing A address".into()));
    assert_eq!(bad(A, "192.0.2.1 x"), (1, "unexpected \"x\" after A RDATA".into()));
    assert_eq!(
        bad(AAAA, "2001:db8::g").1,
        "AAAA address: bad IPv6 address \"2001:db8::g\""
    );
}

#[test]
fn name_types_keep_case_and_complete_relative() {
    for t in [NS, CNAME, DNAME, PTR, MD, MF, MB, MG, MR] {
        assert_eq!(ok(t, "Www"), hx(&format!("03 577777 {EX}")));
    }
    assert_eq!(ok(NS, "@"), hx(EX));
    assert_eq!(
        ok(NS, "ns1.Example.NET."),
        hx("03 6e7331 07 4578616d706c65 03 4e4554 00")
    );
    assert_eq!(ok(CNAME, "."), [0]);
    let e = parse_rdata(NS, &toks("ns1"), None).unwrap_err();
    assert_eq!(e.msg, "NS target: relative name \"ns1\" and no $ORIGIN to complete it");
    let e = parse_rdata(NS, &toks("@"), None).unwrap_err();
    assert_eq!(e.msg, "NS target: @ used and no $ORIGIN");
    assert_eq!(bad(NS, "a..b").1, "NS target: empty label in name \"a..b\"");
}

#[test]
fn soa() {
    let v = ok(SOA, "ns1 hostmaster.example.com. 2024010101 1h 15m 2w 300");
    let mut want = hx(&format!("03 6e7331 {EX} 0a 686f73746d6173746572 {EX}"));
    for n in [2024010101u32, 3600, 900, 1209600, 300] {
        want.extend_from_slice(&n.to_be_bytes());
    }
    assert_eq!(v, want);
    assert_eq!(
        bad(SOA, "ns1 hm 4294967296 1 1 1 1"),
        (2, "SOA serial 4294967296 out of range 0..4294967295".into())
    );
    assert_eq!(bad(SOA, "ns1 hm 1 1 1 1"), (6, "missing SOA minimum".into()));
    assert_eq!(
        bad(SOA, "ns1 hm 1 1x 1 1 1"),
        (3, "SOA refresh: expected a number, got \"1x\"".into())
    );
}

#[test]
fn mx_kx_rt_afsdb_srv() {
    assert_eq!(ok(MX, "10 mail"), hx(&format!("000a 046d61696c {EX}")));
    assert_eq!(ok(KX, "10 mail"), hx(&format!("000a 046d61696c {EX}")));
    assert_eq!(ok(RT, "10 mail"), hx(&format!("000a 046d61696c {EX}")));
    assert_eq!(ok(AFSDB, "1 mail"), hx(&format!("0001 046d61696c {EX}")));
    assert_eq!(
        bad(MX, "70000 mail"),
        (0, "MX preference 70000 out of range 0..65535".into())
    );
    assert_eq!(
        bad(MX, "ten mail"),
        (0, "MX preference: expected a number, got \"ten\"".into())
    );
    assert_eq!(bad(MX, "10"), (1, "missing MX exchange".into()));
    assert_eq!(
        ok(SRV, "0 5 5060 sip.Example.com."),
        hx("0000 0005 13c4 03 736970 07 4578616d706c65 03 636f6d 00")
    );
    assert_eq!(bad(SRV, "1 2 65536 x").1, "SRV port 65536 out of range 0..65535");
}

#[test]
fn minfo_rp() {
    assert_eq!(ok(MINFO, "a b"), hx(&format!("0161 {EX} 0162 {EX}")));
    assert_eq!(ok(RP, "a ."), hx(&format!("0161 {EX} 00")));
}

#[test]
fn txt_spf_hinfo() {
    assert_eq!(ok(TXT, "\"hello world\""), b"\x0bhello world");
    assert_eq!(ok(TXT, "a \"b c\" \"\""), b"\x01a\x03b c\x00");
    assert_eq!(ok(SPF, "\"v=spf1 -all\""), b"\x0bv=spf1 -all");
    assert_eq!(ok(TXT, r#""a\"b\\c\065\255""#), b"\x07a\"b\\cA\xff");
    assert_eq!(ok(TXT, r"semi\;colon"), b"\x0asemi;colon");
    let long = "x".repeat(255);
    assert_eq!(ok(TXT, &long).len(), 256);
    let too = "x".repeat(256);
    assert_eq!(
        bad(TXT, &too),
        (0, "TXT string is 256 octets long, more than 255".into())
    );
    assert_eq!(bad(TXT, ""), (0, "missing TXT string".into()));
    assert_eq!(bad(TXT, r#""a\25""#).1, "TXT string: bad escape in \"a\\\\25\"");
    assert_eq!(ok(HINFO, "\"Intel x86\" Linux"), b"\x09Intel x86\x05Linux");
    assert_eq!(bad(HINFO, "x"), (1, "missing HINFO OS".into()));
    assert_eq!(ok(X25, "311061700956"), b"\x0c311061700956");
    assert_eq!(ok(ISDN, "150862028003217 004"), b"\x0f150862028003217\x03004");
}

#[test]
fn naptr() {
    assert_eq!(
        ok(NAPTR, r#"100 10 "S" "SIP+D2U" "!^.*$!sip:x@y!" _sip._udp"#),
        hx("0064000a0153075349502b4432550e215e2e2a24217369703a78407921045f736970045f756470076578616d706c6503636f6d00")
    );
}

#[test]
fn caa() {
    assert_eq!(
        ok(CAA, "0 issue \"letsencrypt.org\""),
        hx("00 05 6973737565 6c657473656e63727970742e6f7267")
    );
    assert_eq!(ok(CAA, "128 iodef \"\""), hx("80 05 696f646566"));
    assert_eq!(ok(CAA, "0 issue ;"), hx("00 05 6973737565 3b"));
    assert_eq!(
        bad(CAA, "0 is-sue \"x\"").1,
        "CAA tag \"is-sue\" must be 1..255 letters and digits"
    );
    assert_eq!(bad(CAA, "256 issue x").1, "CAA flags 256 out of range 0..255");
}

#[test]
fn loc() {
    // RFC 1876 example, cross-checked with dnspython.
    assert_eq!(
        ok(LOC, "42 21 54 N 71 06 18 W -24m 30m"),
        hx("0033161389172dd070be15f000988d20")
    );
    assert_eq!(
        ok(LOC, "42 21 43.952 N 71 5 6.344 W -24m 1m 200m 10m"),
        hx("001224138917069070bf2dd800988d20")
    );
    assert_eq!(ok(LOC, "52 N 4 E 0"), hx("001216138b28720080dbba0000989680"));
    assert_eq!(
        ok(LOC, "0 0 0.001 S 180 W 42849672.95m 90000000m 0 0.01m"),
        hx("009900107fffffff59604e00ffffffff")
    );
    assert_eq!(bad(LOC, "91 N 0 E 0").1, "LOC latitude degrees 91 out of range 0..90");
    assert_eq!(bad(LOC, "90 1 N 0 E 0").1, "LOC latitude beyond 90 degrees");
    assert_eq!(
        bad(LOC, "10 60 N 0 E 0").1,
        "LOC latitude minutes 60 out of range 0..59"
    );
    assert_eq!(
        bad(LOC, "10 1 60 N 0 E 0").1,
        "LOC latitude seconds \"60\" not in 0..59.999"
    );
    assert_eq!(bad(LOC, "10 1 1 X 0 E 0").1, "LOC latitude: expected N or S, got \"X\"");
    assert_eq!(bad(LOC, "10 N 0 E 0 0 0 0 0").0, 8);
    assert_eq!(
        bad(LOC, "10 N 0 E -100000.01").1,
        "LOC altitude -100000.01 out of range -100000.00..42849672.95"
    );
    assert_eq!(
        bad(LOC, "10 N 0 E 0 90000000.01").1,
        "LOC size 90000000.01 out of range 0..90000000.00"
    );
    assert_eq!(bad(LOC, "10 N"), (2, "missing LOC longitude".into()));
}

#[test]
fn sshfp_tlsa_smimea_uri() {
    assert_eq!(ok(SSHFP, "4 2 ABCDEF 0123"), hx("04 02 abcdef0123"));
    assert_eq!(
        bad(SSHFP, "4 2 ABC").1,
        "SSHFP fingerprint: bad hex: invalid length at 2"
    );
    assert_eq!(bad(SSHFP, "4 2"), (2, "missing SSHFP fingerprint".into()));
    assert_eq!(ok(TLSA, "3 1 1 00ff"), hx("03 01 01 00ff"));
    assert_eq!(ok(SMIMEA, "3 1 1 00 ff"), hx("03 01 01 00ff"));
    assert_eq!(
        ok(URI, "10 1 \"ftp://ftp1.example.com/public\""),
        hx("000a 0001 6674703a2f2f667470312e6578616d706c652e636f6d2f7075626c6963")
    );
    assert_eq!(bad(URI, "10 1 \"\"").1, "URI target is empty");
}

#[test]
fn ds_dnskey_rrsig() {
    assert_eq!(
        ok(DS, "60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118"),
        hx("ec45 05 01 2bb183af5f22588179a53b0a98631fad1a292118")
    );
    assert_eq!(ok(CDS, "0 0 0 00"), hx("0000 00 00 00"));
    assert_eq!(ok(TA, "1 8 2 aa"), hx("0001 08 02 aa"));
    assert_eq!(ok(DLV, "1 8 2 aa"), hx("0001 08 02 aa"));
    assert_eq!(ok(KEY, "256 3 8 AwEAAQ=="), hx("0100 03 08 03010001"));
    assert_eq!(
        ok(SIG, "A 8 2 3600 1 2 3 . AA=="),
        hx("0001 08 02 00000e10 00000001 00000002 0003 00 00")
    );
    assert_eq!(ok(DS, "1 RSASHA256 2 aa"), hx("0001 08 02 aa"));
    assert_eq!(bad(DS, "1 FOO 2 aa").1, "DS algorithm: expected a number, got \"FOO\"");
    assert_eq!(ok(DNSKEY, "256 3 8 AwEAAQ== AAE="), hx("0100 03 08 03010001 0001"));
    assert_eq!(ok(CDNSKEY, "0 3 0 AA=="), hx("0000 03 00 00"));
    assert_eq!(
        bad(DNSKEY, "256 3 8 AwEA!").1,
        "DNSKEY public key: bad base64: invalid length at 4"
    );
    assert_eq!(bad(DNSKEY, "256 3 8"), (3, "missing DNSKEY public key".into()));
    let v = ok(RRSIG, "A 8 2 3600 20240101000000 1704067200 12345 example.com. AAEC");
    assert_eq!(
        v,
        hx(&format!("0001 08 02 00000e10 65920080 65920080 3039 {EX} 000102"))
    );
    let v = ok(RRSIG, "TYPE65534 8 2 3600 21060207062815 19700101000000 1 . AA==");
    assert_eq!(v, hx("fffe 08 02 00000e10 ffffffff 00000000 0001 00 00"));
    // Wraps modulo 2^32 after 2106.
    let v = ok(RRSIG, "A 8 2 3600 21060207062816 0 1 . AA==");
    assert_eq!(&v[8..12], [0, 0, 0, 0]);
    assert_eq!(
        bad(RRSIG, "BOGUS 8 2 1 1 1 1 . AA==").1,
        "RRSIG type covered: unknown type \"BOGUS\""
    );
    assert_eq!(
        bad(RRSIG, "A 8 2 1 20240230000000 1 1 . AA==").1,
        "RRSIG signature expiration: bad timestamp \"20240230000000\""
    );
}

#[test]
fn nsec_nsec3_bitmaps() {
    // RFC 4034 section 4.3 example.
    assert_eq!(
        ok(NSEC, "host.example.com. A MX RRSIG NSEC TYPE1234"),
        hx("04686f7374076578616d706c6503636f6d000006400100000003041b000000000000000000000000000000000000000000000000000020")
    );
    assert_eq!(ok(NSEC, "a. A A a"), hx("0161 00 00 01 40"));
    assert_eq!(ok(NSEC, "a."), hx("0161 00"));
    assert_eq!(
        bad(NSEC, "a. A FOO"),
        (2, "NSEC type bitmap: unknown type \"FOO\"".into())
    );
    assert_eq!(
        ok(NSEC3, "1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"),
        hx("0101000c04aabbccdd1417f3df17b2b2adaef615257de4d2020b80ac6c7c0006400000000002")
    );
    assert_eq!(ok(NSEC3, "1 0 0 - 00"), hx("01 00 0000 00 01 00"));
    assert_eq!(
        bad(NSEC3, "1 0 0 - 0w").1,
        "NSEC3 next hashed owner name: bad base32hex: invalid symbol at 1"
    );
    assert_eq!(ok(NSEC3PARAM, "1 0 0 -"), hx("01 00 0000 00"));
    assert_eq!(ok(NSEC3PARAM, "1 0 10 AB"), hx("01 00 000a 01 ab"));
    assert_eq!(ok(CSYNC, "66 3 A NS AAAA"), hx("00000042 0003 00 04 60 00 00 08"));
}

#[test]
fn eui_openpgp_dhcid_cert_ipseckey_zonemd_wks() {
    assert_eq!(ok(EUI48, "00-00-5e-00-53-2A"), hx("00005e00532a"));
    assert_eq!(ok(EUI64, "00-00-5e-ef-10-00-00-2a"), hx("00005eef1000002a"));
    assert_eq!(
        bad(EUI48, "00:00:5e:00:53:2a").1,
        "EUI48 address \"00:00:5e:00:53:2a\" is not of the form xx-xx-xx-xx-xx-xx"
    );
    assert_eq!(ok(OPENPGPKEY, "AAEC Aw=="), hx("00010203"));
    assert_eq!(
        ok(DHCID, "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA="),
        hx("000201636fc0b8271c82825bb1ac5c41cf5351aa69b4febd94e8f17cdb95000da48c40")
    );
    assert_eq!(ok(CERT, "PGP 0 0 AAEC"), hx("0003 0000 00 000102"));
    assert_eq!(ok(CERT, "1 2 RSASHA256 AAEC"), hx("0001 0002 08 000102"));
    assert_eq!(
        ok(IPSECKEY, "10 1 2 192.0.2.38 AQNRU3mG"),
        hx("0a 01 02 c0000226 01035153 7986")
    );
    assert_eq!(ok(IPSECKEY, "10 0 2 . AQNRU3mG"), hx("0a 00 02 01035153 7986"));
    assert_eq!(
        ok(IPSECKEY, "10 3 0 gw.Example.com."),
        hx("0a 03 00 02 6777 07 4578616d706c65 03 636f6d 00")
    );
    assert_eq!(
        ok(IPSECKEY, "10 2 0 2001:db8::1"),
        hx("0a 02 00 20010db8000000000000000000000001")
    );
    assert_eq!(
        bad(IPSECKEY, "10 4 0 x").1,
        "IPSECKEY gateway type 4 is not 0, 1, 2 or 3"
    );
    assert_eq!(
        ok(ZONEMD, "2018031900 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE 7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE"),
        hx("7848b91c 01 01 febe3d4ce2ec2ffa4ba99d46cd69d6d29711e55217057bee7eb1a7b641a47ba7fed2dd5b97ae499fafa4f22c6bd647de")
    );
    assert_eq!(bad(ZONEMD, "1 1 1 00").1, "ZONEMD digest is shorter than 12 octets");
    assert_eq!(ok(WKS, "192.0.2.1 tcp 25 80"), ok(WKS, "192.0.2.1 6 25 80"));
    assert_eq!(
        ok(WKS, "192.0.2.1 tcp SMTP http"),
        hx("c0000201060000004000000000000080")
    );
    assert_eq!(bad(NULL, "x").1, "NULL RDATA can only be given in the \\# generic form");
}

#[test]
fn svcb_https() {
    // RFC 9460 appendix D test vectors.
    assert_eq!(ok(HTTPS, "0 foo.example.com."), hx(&format!("0000 03 666f6f {EX}")));
    assert_eq!(ok(SVCB, "1 ."), hx("0001 00"));
    assert_eq!(
        ok(SVCB, "16 foo.example.com. port=53"),
        hx(&format!("0010 03 666f6f {EX} 0003 0002 0035"))
    );
    assert_eq!(
        ok(SVCB, "1 foo.example.com. key667=hello"),
        hx(&format!("0001 03 666f6f {EX} 029b 0005 68656c6c6f"))
    );
    assert_eq!(
        ok(SVCB, r#"1 foo.example.com. key667="hello\210qoo""#),
        hx(&format!("0001 03 666f6f {EX} 029b 0009 68656c6c6fd2716f6f"))
    );
    assert_eq!(
        ok(SVCB, r#"1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1""#),
        hx(&format!(
            "0001 03 666f6f {EX} 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001"
        ))
    );
    assert_eq!(
        ok(SVCB, "1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\""),
        hx(&format!("0001 {EX} 0006 0010 20010db80122034400000000c0000221"))
    );
    let want = hx("0010 03 666f6f 07 6578616d706c65 03 6f7267 00 0000 0004 0001 0004 0001 0009 02 6832 05 68332d3139 0004 0004 c0000201");
    assert_eq!(
        ok(
            SVCB,
            r#"16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1"#
        ),
        want
    );
    assert_eq!(
        ok(
            SVCB,
            r#"16 foo.example.org. mandatory=alpn,ipv4hint alpn="h2,h3-19" ipv4hint=192.0.2.1"#
        ),
        want
    );
    let want = hx("0010 03 666f6f 07 6578616d706c65 03 6f7267 00 0001 000c 08 665c6f6f2c626172 02 6832");
    assert_eq!(ok(SVCB, r#"16 foo.example.org. alpn="f\\\\oo\\,bar,h2""#), want);
    assert_eq!(ok(SVCB, r#"16 foo.example.org. alpn=f\\\092oo\092,bar,h2"#), want);
    assert_eq!(
        ok(HTTPS, "1 . alpn=h2 no-default-alpn ech=AAEC"),
        hx("0001 00 0001 0003 02 6832 0002 0000 0005 0003 000102")
    );
    // Failure cases from RFC 9460 appendix D.3 and more.
    assert_eq!(
        bad(SVCB, "1 foo.example.com. key123=abc key123=def").1,
        "SVCB duplicate SvcParamKey \"key123\""
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. mandatory").1,
        "SVCB mandatory: a value is required"
    );
    assert_eq!(bad(SVCB, "1 foo.example.com. alpn").1, "SVCB alpn: a value is required");
    assert_eq!(bad(SVCB, "1 foo.example.com. port").1, "SVCB port: a value is required");
    assert_eq!(
        bad(SVCB, "1 foo.example.com. ipv4hint").1,
        "SVCB ipv4hint: a value is required"
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. ipv6hint").1,
        "SVCB ipv6hint: a value is required"
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. no-default-alpn=abc").1,
        "SVCB no-default-alpn: takes no value"
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. mandatory=key123").1,
        "SVCB mandatory key key123 is not present"
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. mandatory=mandatory").1,
        "SVCB mandatory: mandatory must not list itself"
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. ipv6hint=192.0.2.1").1,
        "SVCB ipv6hint: bad IPv6 address \"192.0.2.1\""
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. no-default-alpn").1,
        "SVCB no-default-alpn requires alpn"
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. bogus=1").1,
        "SVCB unknown SvcParamKey \"bogus\""
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. key65535=1").1,
        "SVCB unknown SvcParamKey \"key65535\""
    );
    assert_eq!(
        bad(SVCB, "1 foo.example.com. port=70000").1,
        "SVCB port: bad port \"70000\""
    );
    assert_eq!(
        ok(SVCB, "0 foo.example.com. port=1"),
        hx(&format!("0000 03 666f6f {EX} 0003 0002 0001"))
    );
    assert_eq!(
        bad(HTTPS, "1 foo.example.com. mandatory=port,port port=1").1,
        "HTTPS mandatory: duplicate key \"port\""
    );
}

#[test]
fn generic_form() {
    assert_eq!(ok(A, "\\# 4 C0000201"), [192, 0, 2, 1]);
    assert_eq!(ok(A, "\\# 4 C0 00 02 01"), [192, 0, 2, 1]);
    assert_eq!(ok(65280, "\\# 0"), Vec::<u8>::new());
    assert_eq!(ok(65280, "\\# 3 abcdef"), hx("abcdef"));
    assert_eq!(ok(NULL, "\\# 1 00"), [0]);
    assert_eq!(ok(TXT, "\\# 3 026869"), b"\x02hi");
    assert_eq!(ok(MX, "\\# 5 000a 016100"), hx("000a 016100"));
    assert_eq!(
        bad(65280, "\\# 4 abcdef"),
        (
            1,
            "TYPE65280 generic RDATA length 4 does not match the 3 octets of hex data".into()
        )
    );
    assert_eq!(
        bad(65280, "\\# 1 zz").1,
        "TYPE65280 generic RDATA: bad hex: invalid symbol at 0"
    );
    assert_eq!(bad(65280, "\\#"), (1, "missing TYPE65280 generic RDATA length".into()));
    assert_eq!(
        bad(65280, "\\# 65536").1,
        "TYPE65280 generic RDATA length 65536 out of range 0..65535"
    );
    assert_eq!(bad(A, "\\# 3 c00002").1, "A generic RDATA: A RDATA must be 4 octets");
    assert_eq!(bad(NS, "\\# 2 0161").1, "NS generic RDATA: truncated name");
    assert_eq!(bad(TXT, "\\# 2 0561").1, "TXT generic RDATA: bad character-string");
    assert_eq!(
        bad(65280, "1 2 3").1,
        "no presentation format known for TYPE65280: use the \\# generic form"
    );
}

#[test]
fn less_common_types() {
    // Expected bytes cross-checked with dnspython 2.9.
    assert_eq!(ok(AVC, "\"a:b|c\""), b"\x05a:b|c");
    assert_eq!(ok(NINFO, "\"a\" \"b\""), hx("01610162"));
    assert_eq!(ok(WALLET, "\"BTC\" \"bc1q\""), hx("034254430462633171"));
    assert_eq!(
        ok(RESINFO, "qnamemin exterr=15-17"),
        hx("08716e616d656d696e 0c6578746572723d31352d3137")
    );
    assert_eq!(ok(TALINK, "a. b"), hx(&format!("0161 00 0162 {EX}")));
    assert_eq!(ok(PX, "10 a b"), hx(&format!("000a 0161 {EX} 0162 {EX}")));
    assert_eq!(ok(LP, "10 l."), hx("000a 016c 00"));
    assert_eq!(ok(L32, "10 10.1.2.0"), hx("000a0a010200"));
    assert_eq!(ok(L64, "10 2001:0DB8:1140:1000"), hx("000a20010db811401000"));
    assert_eq!(ok(NID, "10 14:4fff:ff20:ee64"), hx("000a00144fffff20ee64"));
    assert_eq!(
        bad(NID, "10 14:4fff:ff20").1,
        "NID value \"14:4fff:ff20\" is not of the form xxxx:xxxx:xxxx:xxxx"
    );
    assert_eq!(
        ok(GPOS, "-32.6882 116.8652 10.0"),
        hx("082d33322e36383832083131362e383635320431302e30")
    );
    assert_eq!(
        ok(NSAP, "0x47.0005.80.005a00.0000.0001.e133.ffffff000161.00"),
        hx("47000580005a0000000001e133ffffff00016100")
    );
    assert_eq!(bad(NSAP, "47").1, "NSAP address must start with 0x");
    assert_eq!(ok(RKEY, "0 3 8 AwEAAQ=="), hx("0000030803010001"));
    assert_eq!(
        ok(DSYNC, "CDS 1 5359 ds-scanner.example.net."),
        hx("003b0114ef0a64732d7363616e6e6572076578616d706c65036e657400")
    );
    assert_eq!(ok(AMTRELAY, "10 0 0 ."), hx("0a00"));
    assert_eq!(ok(AMTRELAY, "10 1 1 203.0.113.15"), hx("0a81cb00710f"));
    assert_eq!(
        ok(AMTRELAY, "10 0 2 2001:db8::15"),
        hx("0a0220010db8000000000000000000000015")
    );
    assert_eq!(ok(AMTRELAY, "10 0 3 r."), hx("0a03 0172 00"));
    assert_eq!(
        bad(AMTRELAY, "10 2 0 .").1,
        "AMTRELAY discovery optional flag 2 out of range 0..1"
    );
    assert_eq!(
        ok(HIP, "2 2001AB AwEAAQ== rvs.example.com."),
        hx(&format!("03 02 0004 2001ab 03010001 03 727673 {EX}"))
    );
    assert_eq!(
        ok(APL, "1:192.168.32.0/21 !1:192.168.38.0/28"),
        hx("00011503c0a82000011c83c0a826")
    );
    assert_eq!(ok(APL, "1:224.0.0.0/4 2:FF00::/8"), hx("00010401e000020801ff"));
    assert_eq!(ok(APL, ""), Vec::<u8>::new());
    assert_eq!(bad(APL, "1:192.168.32.0/33").1, "APL prefix 33 out of range 0..32");
    assert_eq!(bad(APL, "3:1/1").1, "APL address family in \"3:1/1\" is not 1 or 2");
    assert_eq!(bad(APL, "1:x/1").1, "APL item \"1:x/1\" is not [!]afi:address/prefix");
}

#[test]
fn more_error_paths() {
    assert_eq!(
        bad(SVCB, "1 . alpn=h2,,h3").1,
        "SVCB alpn: each ALPN id must be 1..255 octets"
    );
    assert_eq!(bad(SVCB, "1 . ech=!!").1, "SVCB ech: bad base64: invalid length at 0");
    assert_eq!(bad(SVCB, "1 . dohpath=\\255").1, "SVCB dohpath: dohpath is not UTF-8");
    assert_eq!(bad(SVCB, "1 . port=\\255").1, "SVCB port: value is not ASCII");
    assert_eq!(bad(SVCB, "1 . ohttp=1").1, "SVCB ohttp: takes no value");
    assert_eq!(
        bad(SVCB, "1 . ipv4hint=1.2.3").1,
        "SVCB ipv4hint: bad IPv4 address \"1.2.3\""
    );
    assert_eq!(
        bad(SVCB, "1 . mandatory=bogus").1,
        "SVCB mandatory: unknown key \"bogus\""
    );
    assert_eq!(bad(SVCB, "1 . key01=x").1, "SVCB unknown SvcParamKey \"key01\"");
    assert_eq!(
        ok(SVCB, "1 . key3=53 key1=h2"),
        hx("0001 00 0001 0003 02 6832 0003 0002 0035")
    );
    assert_eq!(ok(SVCB, "1 . key9999"), hx("0001 00 270f 0000"));
    assert_eq!(bad(SVCB, "70000 .").1, "SVCB priority 70000 out of range 0..65535");
    assert_eq!(
        bad(IPSECKEY, "1 0 2 gw AA==").1,
        "IPSECKEY gateway must be \".\" for gateway type 0"
    );
    assert_eq!(
        bad(NSEC3PARAM, "1 0 0 abc").1,
        "NSEC3PARAM salt: bad hex: invalid length at 2"
    );
    let long = "ab".repeat(256);
    assert_eq!(
        bad(NSEC3PARAM, &format!("1 0 0 {long}")).1,
        "NSEC3PARAM salt is longer than 255 octets"
    );
    assert_eq!(
        bad(NSEC3, &format!("1 0 0 - {} A", "0".repeat(410))).1,
        "NSEC3 next hashed owner name: bad length"
    );
    assert_eq!(
        bad(NSEC3, "1 0 70000 - 00 A").1,
        "NSEC3 iterations 70000 out of range 0..65535"
    );
    assert_eq!(
        bad(CERT, "BOGUS 0 0 AA==").1,
        "CERT certificate type: expected a number, got \"BOGUS\""
    );
    assert_eq!(bad(DS, "65536 8 2 aa").1, "DS key tag 65536 out of range 0..65535");
    assert_eq!(bad(DS, "1 256 2 aa").1, "DS algorithm 256 out of range 0..255");
    assert_eq!(
        bad(EUI64, "00-00-5e-ef-10-00-00").1,
        "EUI64 address \"00-00-5e-ef-10-00-00\" is not of the form xx-xx-xx-xx-xx-xx-xx-xx"
    );
    assert_eq!(bad(EUI48, "0g-00-5e-00-53-2a").0, 0);
    assert_eq!(bad(CAA, "0 issue"), (2, "missing CAA value".into()));
    assert_eq!(
        bad(RRSIG, "A 8 2 1 2024010100000 1 1 . AA==").1,
        "RRSIG signature expiration 2024010100000 out of range 0..4294967295"
    );
    assert_eq!(
        bad(RRSIG, "A 8 2 1 20241301000000 1 1 . AA==").1,
        "RRSIG signature expiration: bad timestamp \"20241301000000\""
    );
    assert_eq!(
        bad(RRSIG, "A 8 2 1 1 x 1 . AA==").1,
        "RRSIG signature inception: expected a number, got \"x\""
    );
    assert_eq!(bad(RRSIG, "A 8 2 1 1 1 1 ."), (8, "missing RRSIG signature".into()));
    assert_eq!(bad(HIP, "2 zz AA==").1, "HIP HIT: bad hex: invalid symbol at 0");
    assert_eq!(bad(HIP, "2 00 !").1, "HIP public key: bad base64: invalid length at 0");
    assert_eq!(
        bad(WKS, "192.0.2.1 tcp bogus").1,
        "WKS port: expected a number, got \"bogus\""
    );
    assert_eq!(bad(URI, "1 1 \"a\\2\"").1, "URI target: bad escape in \"a\\\\2\"");
    assert_eq!(bad(DSYNC, "BOGUS 1 1 x.").1, "DSYNC type: unknown type \"BOGUS\"");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("3600"), Some(3600));
    assert_eq!(parse_duration("1h30m"), Some(5400));
    assert_eq!(parse_duration("2W"), Some(1209600));
    assert_eq!(parse_duration("1d1s"), Some(86401));
    assert_eq!(parse_duration("1h30"), Some(3630));
    assert_eq!(parse_duration("h"), None);
    assert_eq!(parse_duration("1x"), None);
    assert_eq!(parse_duration("1hh"), None);
    assert_eq!(parse_duration(""), None);
}
