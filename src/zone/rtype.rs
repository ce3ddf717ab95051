//! Record type numbers and mnemonics (IANA "Resource Record (RR) TYPEs" registry).

use std::borrow::Cow;

macro_rules! rr_types {
    ($($(#[$doc:meta])* $name:ident = $num:expr, $mn:literal;)*) => {
        $($(#[$doc])* pub const $name: u16 = $num;)*
        /// Every type with a mnemonic, as `(number, mnemonic)`.
        pub const ALL: &[(u16, &str)] = &[$(($num, $mn)),*];
    };
}

rr_types! {
    A = 1, "A";
    NS = 2, "NS";
    MD = 3, "MD";
    MF = 4, "MF";
    CNAME = 5, "CNAME";
    SOA = 6, "SOA";
    MB = 7, "MB";
    MG = 8, "MG";
    MR = 9, "MR";
    NULL = 10, "NULL";
    WKS = 11, "WKS";
    PTR = 12, "PTR";
    HINFO = 13, "HINFO";
    MINFO = 14, "MINFO";
    MX = 15, "MX";
    TXT = 16, "TXT";
    RP = 17, "RP";
    AFSDB = 18, "AFSDB";
    X25 = 19, "X25";
    ISDN = 20, "ISDN";
    RT = 21, "RT";
    NSAP = 22, "NSAP";
    NSAP_PTR = 23, "NSAP-PTR";
    SIG = 24, "SIG";
    KEY = 25, "KEY";
    PX = 26, "PX";
    GPOS = 27, "GPOS";
    AAAA = 28, "AAAA";
    LOC = 29, "LOC";
    NXT = 30, "NXT";
    EID = 31, "EID";
    NIMLOC = 32, "NIMLOC";
    SRV = 33, "SRV";
    ATMA = 34, "ATMA";
    NAPTR = 35, "NAPTR";
    KX = 36, "KX";
    CERT = 37, "CERT";
    A6 = 38, "A6";
    DNAME = 39, "DNAME";
    SINK = 40, "SINK";
    OPT = 41, "OPT";
    APL = 42, "APL";
    DS = 43, "DS";
    SSHFP = 44, "SSHFP";
    IPSECKEY = 45, "IPSECKEY";
    RRSIG = 46, "RRSIG";
    NSEC = 47, "NSEC";
    DNSKEY = 48, "DNSKEY";
    DHCID = 49, "DHCID";
    NSEC3 = 50, "NSEC3";
    NSEC3PARAM = 51, "NSEC3PARAM";
    TLSA = 52, "TLSA";
    SMIMEA = 53, "SMIMEA";
    HIP = 55, "HIP";
    NINFO = 56, "NINFO";
    RKEY = 57, "RKEY";
    TALINK = 58, "TALINK";
    CDS = 59, "CDS";
    CDNSKEY = 60, "CDNSKEY";
    OPENPGPKEY = 61, "OPENPGPKEY";
    CSYNC = 62, "CSYNC";
    ZONEMD = 63, "ZONEMD";
    SVCB = 64, "SVCB";
    HTTPS = 65, "HTTPS";
    DSYNC = 66, "DSYNC";
    SPF = 99, "SPF";
    UINFO = 100, "UINFO";
    UID = 101, "UID";
    GID = 102, "GID";
    UNSPEC = 103, "UNSPEC";
    NID = 104, "NID";
    L32 = 105, "L32";
    L64 = 106, "L64";
    LP = 107, "LP";
    EUI48 = 108, "EUI48";
    EUI64 = 109, "EUI64";
    NXNAME = 128, "NXNAME";
    TKEY = 249, "TKEY";
    TSIG = 250, "TSIG";
    IXFR = 251, "IXFR";
    AXFR = 252, "AXFR";
    MAILB = 253, "MAILB";
    MAILA = 254, "MAILA";
    ANY = 255, "ANY";
    URI = 256, "URI";
    CAA = 257, "CAA";
    AVC = 258, "AVC";
    DOA = 259, "DOA";
    AMTRELAY = 260, "AMTRELAY";
    RESINFO = 261, "RESINFO";
    WALLET = 262, "WALLET";
    TA = 32768, "TA";
    DLV = 32769, "DLV";
}

/// The type number for a mnemonic (case-insensitive), including the RFC 3597 `TYPEnnn` form.
pub fn from_mnemonic(s: &str) -> Option<u16> {
    if let Some(&(n, _)) = ALL.iter().find(|(_, m)| m.eq_ignore_ascii_case(s)) {
        return Some(n);
    }
    let b = s.as_bytes();
    if b.len() > 4 && b[..4].eq_ignore_ascii_case(b"TYPE") {
        let digits = &b[4..];
        if digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit) {
            let v = digits.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
            return u16::try_from(v).ok();
        }
    }
    None
}

/// The mnemonic for a type number; `TYPEnnn` (RFC 3597) when it has none.
pub fn mnemonic(t: u16) -> Cow<'static, str> {
    match ALL.iter().find(|(n, _)| *n == t) {
        Some(&(_, m)) => Cow::Borrowed(m),
        None => Cow::Owned(format!("TYPE{t}")),
    }
}

/// True only for the RFC 1035 types whose RDATA names may be compressed on output
/// (RFC 3597 section 4: NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, MINFO, MX).
pub fn compressible_rdata(t: u16) -> bool {
    matches!(t, NS | MD | MF | CNAME | SOA | MB | MG | MR | PTR | MINFO | MX)
}

/// True for the meta and query types (RFC 6895 section 3.1: OPT and 128..=255) and type 0,
/// none of which may appear as data in a zone file.
pub fn is_meta(t: u16) -> bool {
    t == 0 || t == OPT || (128..=255).contains(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_round_trip() {
        for &(n, m) in ALL {
            assert_eq!(from_mnemonic(m), Some(n), "{m}");
            assert_eq!(from_mnemonic(&m.to_ascii_lowercase()), Some(n), "{m}");
            assert_eq!(mnemonic(n), m);
        }
        assert_eq!(A, 1);
        assert_eq!(CAA, 257);
        assert_eq!(HTTPS, 65);
        assert_eq!(from_mnemonic("Nsec3Param"), Some(51));
        assert_eq!(from_mnemonic("type123"), Some(123));
        assert_eq!(from_mnemonic("TYPE1"), Some(1));
        assert_eq!(from_mnemonic("TYPE65535"), Some(65535));
        assert_eq!(from_mnemonic("TYPE65536"), None);
        assert_eq!(from_mnemonic("TYPE"), None);
        assert_eq!(from_mnemonic("TYPE1x"), None);
        assert_eq!(from_mnemonic("TYPE000001"), None);
        assert_eq!(from_mnemonic("BOGUS"), None);
        assert_eq!(mnemonic(123), "TYPE123");
        assert_eq!(mnemonic(65535), "TYPE65535");
    }

    #[test]
    fn compressible_only_rfc1035_name_types() {
        for t in [NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, MINFO, MX] {
            assert!(compressible_rdata(t), "{t}");
        }
        for t in [A, TXT, RP, AFSDB, SRV, NAPTR, DNAME, KX, RRSIG, NSEC, SVCB, HTTPS, 999] {
            assert!(!compressible_rdata(t), "{t}");
        }
    }

    #[test]
    fn meta_types() {
        for t in [0, OPT, NXNAME, TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY] {
            assert!(is_meta(t), "{t}");
        }
        for t in [A, URI, CAA, TA, 127, 256] {
            assert!(!is_meta(t), "{t}");
        }
    }
}
