//! DNS wire format for the query path: a strict request parser (header, one question, the OPT
//! record) and a response encoder with full name compression and RRset-atomic truncation.
//! Names in received messages may be compressed; pointers must point backwards and are bounded,
//! so hostile input cannot loop.

use crate::name::{Name, MAX_LABEL_LEN, MAX_NAME_LEN};
use crate::zone::lookup::Rr;
use crate::zone::rtype;

pub const HEADER_LEN: usize = 12;

/// Header flag bits (RFC 1035 4.1.1).
pub const QR: u16 = 0x8000;
pub const AA: u16 = 0x0400;
pub const TC: u16 = 0x0200;
pub const RD: u16 = 0x0100;
pub const CD: u16 = 0x0010;
/// The DO bit in the OPT TTL field (RFC 3225).
pub const EDNS_DO: u32 = 0x8000;

/// Why a message could not be parsed. Everything here becomes FORMERR (or a drop when even the
/// header is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message shorter than its header")]
    ShortHeader,
    #[error("message ends inside a record or name")]
    Truncated,
    #[error("bad compression pointer")]
    BadPointer,
    #[error("label type not supported")]
    BadLabel,
    #[error("name longer than 255 octets")]
    NameTooLong,
    #[error("more than one OPT record")]
    SeveralOpt,
    #[error("OPT record not owned by the root")]
    BadOpt,
    #[error("TSIG record not the last record of the additional section")]
    MisplacedTsig,
}

/// The parsed header (flags kept raw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(msg: &[u8]) -> Result<Header, WireError> {
        if msg.len() < HEADER_LEN {
            return Err(WireError::ShortHeader);
        }
        let u = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
        Ok(Header {
            id: u(0),
            flags: u(2),
            qdcount: u(4),
            ancount: u(6),
            nscount: u(8),
            arcount: u(10),
        })
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    pub fn is_response(&self) -> bool {
        self.flags & QR != 0
    }
}

/// The EDNS(0) OPT pseudo-record of a request (RFC 6891 6.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// Where the OPT RDATA (the options) sits in the message: `start..end`.
    pub options: (usize, usize),
}

/// A parsed question: `wire` keeps the name exactly as sent (case included, uncompressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub header: Header,
    pub question: Question,
    pub edns: Option<Edns>,
}

/// Reads a possibly compressed name starting at `pos`. Returns the uncompressed name (case as
/// sent) and the position after the name's in-place encoding.
pub fn read_name(msg: &[u8], pos: usize) -> Result<(Name, usize), WireError> {
    // On the stack: the one allocation is the finished name. The length is checked after each
    // label, so at most 254 + 1 + 63 bytes are ever written.
    let mut buf = [0u8; MAX_NAME_LEN + 1 + 1 + MAX_LABEL_LEN];
    let mut n = 0;
    let (len, end) = walk_name(msg, pos, |label| {
        buf[n..n + label.len()].copy_from_slice(label);
        n += label.len();
    })?;
    debug_assert_eq!(len, n + 1);
    buf[n] = 0;
    Ok((Name::from_wire_unchecked(&buf[..n + 1]), end))
}

/// What [`read_name`] checks, without building the name (no allocation): returns the name's
/// uncompressed length and the position after its in-place encoding, and fails exactly where
/// `read_name` fails, with the same error.
pub fn skip_name(msg: &[u8], pos: usize) -> Result<(usize, usize), WireError> {
    walk_name(msg, pos, |_| {})
}

/// Follows the possibly compressed name at `pos`, handing each label (with its length octet)
/// to `label` in order; returns the uncompressed length (root label included) and the position
/// after the name's in-place encoding.
fn walk_name(msg: &[u8], mut pos: usize, mut label: impl FnMut(&[u8])) -> Result<(usize, usize), WireError> {
    let mut n = 0;
    let mut end: Option<usize> = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                let len = len as usize;
                if len == 0 {
                    n += 1;
                    if n > MAX_NAME_LEN {
                        return Err(WireError::NameTooLong);
                    }
                    return Ok((n, end.unwrap_or(pos + 1)));
                }
                debug_assert!(len <= MAX_LABEL_LEN);
                label(msg.get(pos..pos + 1 + len).ok_or(WireError::Truncated)?);
                n += 1 + len;
                if n >= MAX_NAME_LEN {
                    return Err(WireError::NameTooLong);
                }
                pos += 1 + len;
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                let target = (((len & 0x3f) as usize) << 8) | lo as usize;
                // Only backwards pointers (RFC 1035 4.1.4 "a prior occurrence"): no loops.
                if target >= pos {
                    return Err(WireError::BadPointer);
                }
                hops += 1;
                if hops > 127 {
                    return Err(WireError::BadPointer);
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(WireError::BadLabel),
        }
    }
}

/// A query message: `id`, one question of class IN (RD clear), and an OPT record (1232 octets,
/// DO as given) when `edns` is set. For tools, benchmarks and tests.
pub fn query_message(id: u16, name: &Name, qtype: u16, edns: Option<bool>) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER_LEN + name.len() + 4 + 11);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, edns.is_some() as u8]);
    m.extend_from_slice(name.wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&crate::zone::CLASS_IN.to_be_bytes());
    if let Some(dnssec_ok) = edns {
        let [hi, lo] = 1232u16.to_be_bytes();
        m.extend_from_slice(&[0, 0, 41, hi, lo, 0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    m
}

fn read_u16(msg: &[u8], pos: usize) -> Result<u16, WireError> {
    msg.get(pos..pos + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(WireError::Truncated)
}

/// Parses the question section that starts at byte 12.
pub fn parse_question(msg: &[u8]) -> Result<(Question, usize), WireError> {
    let (name, pos) = read_name(msg, HEADER_LEN)?;
    let qtype = read_u16(msg, pos)?;
    let qclass = read_u16(msg, pos + 2)?;
    Ok((Question { name, qtype, qclass }, pos + 4))
}

/// Parses the records after the question to find the OPT record; every record must be well
/// formed, there must be at most one OPT (RFC 6891 6.1.1) and it must be owned by the root, and a
/// TSIG record may only be the last record of the additional section (RFC 8945 5.1: FORMERR
/// otherwise, whether or not the TSIG is then verified).
pub fn parse_edns(msg: &[u8], header: &Header, mut pos: usize) -> Result<Option<Edns>, WireError> {
    let mut edns = None;
    let total = header.ancount as usize + header.nscount as usize + header.arcount as usize;
    let first_additional = header.ancount as usize + header.nscount as usize;
    for i in 0..total {
        let (owner_len, p) = skip_name(msg, pos)?;
        let rtype = read_u16(msg, p)?;
        let class = read_u16(msg, p + 2)?;
        let ttl_hi = read_u16(msg, p + 4)?;
        let ttl_lo = read_u16(msg, p + 6)?;
        let rdlen = read_u16(msg, p + 8)? as usize;
        let next = p + 10 + rdlen;
        if next > msg.len() {
            return Err(WireError::Truncated);
        }
        if rtype == rtype::TSIG && (i + 1 != total || i < first_additional) {
            return Err(WireError::MisplacedTsig);
        }
        if rtype == rtype::OPT {
            if i < first_additional || edns.is_some() {
                return Err(WireError::SeveralOpt);
            }
            if owner_len != 1 {
                return Err(WireError::BadOpt);
            }
            // Options must tile the RDATA exactly.
            let mut o = p + 10;
            while o < next {
                let olen = read_u16(msg, o + 2)? as usize;
                o += 4 + olen;
            }
            if o != next {
                return Err(WireError::BadOpt);
            }
            let ttl = ((ttl_hi as u32) << 16) | ttl_lo as u32;
            edns = Some(Edns {
                udp_size: class,
                version: ((ttl >> 16) & 0xff) as u8,
                dnssec_ok: ttl & EDNS_DO != 0,
                options: (p + 10, next),
            });
        }
        pos = next;
    }
    // Bytes after the last record are ignored, as NSD and BIND do.
    Ok(edns)
}

/// A response being written: header, echoed question, then RRsets section by section with name
/// compression, never exceeding `limit` bytes; an RRset that does not fit is left out whole.
pub struct Encoder {
    pub buf: Vec<u8>,
    limit: usize,
    /// Offsets of names (and their suffixes) already written, for compression pointers (inline:
    /// no allocation for ordinary responses).
    names: smallvec::SmallVec<[u16; 32]>,
    counts: [u16; 4],
    reserve: usize,
}

/// Which section an RRset goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer = 1,
    Authority = 2,
    Additional = 3,
}

impl Encoder {
    /// Starts a response: `flags` complete except TC; `question` echoed as received.
    /// `reserve` bytes are kept free for the OPT record.
    pub fn new(
        buf: Vec<u8>,
        id: u16,
        flags: u16,
        question: Option<&Question>,
        limit: usize,
        reserve: usize,
    ) -> Encoder {
        let mut e = Encoder {
            buf,
            limit,
            names: smallvec::SmallVec::new(),
            counts: [0; 4],
            reserve,
        };
        e.buf.clear();
        e.buf.extend_from_slice(&id.to_be_bytes());
        e.buf.extend_from_slice(&flags.to_be_bytes());
        e.buf.extend_from_slice(&[0; 8]);
        if let Some(q) = question {
            let w = q.name.wire();
            let mut pos = 0;
            while w[pos] != 0 {
                e.names.push((HEADER_LEN + pos) as u16);
                pos += 1 + w[pos] as usize;
            }
            e.buf.extend_from_slice(w);
            e.buf.extend_from_slice(&q.qtype.to_be_bytes());
            e.buf.extend_from_slice(&q.qclass.to_be_bytes());
            e.counts[0] = 1;
        }
        e
    }

    pub fn set_flag(&mut self, bit: u16) {
        let f = u16::from_be_bytes([self.buf[2], self.buf[3]]) | bit;
        self.buf[2..4].copy_from_slice(&f.to_be_bytes());
    }

    /// Writes a whole RRset or nothing. Returns false when it did not fit.
    pub fn push_rrset(&mut self, section: Section, rr: &Rr<'_>) -> bool {
        let mark = self.buf.len();
        let names_mark = self.names.len();
        for rdata in rr.rdatas.iter() {
            self.write_name(rr.owner.wire());
            self.buf.extend_from_slice(&rr.rtype.to_be_bytes());
            self.buf.extend_from_slice(&crate::zone::CLASS_IN.to_be_bytes());
            self.buf.extend_from_slice(&rr.ttl.to_be_bytes());
            let len_at = self.buf.len();
            self.buf.extend_from_slice(&[0, 0]);
            self.write_rdata(rr.rtype, rdata);
            let rdlen = (self.buf.len() - len_at - 2) as u16;
            self.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        }
        if self.buf.len() + self.reserve > self.limit {
            self.buf.truncate(mark);
            self.names.truncate(names_mark);
            return false;
        }
        self.counts[section as usize] += rr.rdatas.len() as u16;
        true
    }

    /// Writes an RRset and the RRSIGs covering it (RFC 4035 3.1.1), or RRsets that go out as
    /// one: all or none. Returns false when they do not fit together.
    pub fn push_rrsets_together<'r>(&mut self, section: Section, rrs: impl IntoIterator<Item = &'r Rr<'r>>) -> bool {
        let mark = self.buf.len();
        let names_mark = self.names.len();
        let count_mark = self.counts[section as usize];
        for rr in rrs {
            if !self.push_rrset(section, rr) {
                self.buf.truncate(mark);
                self.names.truncate(names_mark);
                self.counts[section as usize] = count_mark;
                return false;
            }
        }
        true
    }

    /// Appends the OPT record (RFC 6891): our payload size, extended rcode bits, version 0.
    pub fn push_opt(&mut self, udp_size: u16, ext_rcode: u8, dnssec_ok: bool) {
        self.push_opt_ecs(udp_size, ext_rcode, dnssec_ok, None);
    }

    /// [`Encoder::push_opt`] carrying an ECS option (RFC 7871): the query's with `scope`.
    pub fn push_opt_ecs(
        &mut self,
        udp_size: u16,
        ext_rcode: u8,
        dnssec_ok: bool,
        ecs: Option<(&crate::geo::ecs::ClientSubnet, u8)>,
    ) {
        self.buf.push(0);
        self.buf.extend_from_slice(&rtype::OPT.to_be_bytes());
        self.buf.extend_from_slice(&udp_size.to_be_bytes());
        let ttl: u32 = ((ext_rcode as u32) << 24) | if dnssec_ok { EDNS_DO } else { 0 };
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let rdlen = ecs.map_or(0, |(e, _)| e.wire_len()) as u16;
        self.buf.extend_from_slice(&rdlen.to_be_bytes());
        if let Some((e, scope)) = ecs {
            e.write(scope, &mut self.buf);
        }
        self.counts[3] += 1;
    }

    /// Fills in the section counts and returns the message.
    pub fn finish(mut self) -> Vec<u8> {
        for (i, c) in self.counts.iter().enumerate() {
            self.buf[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        self.buf
    }

    /// Types whose RDATA names may be compressed (RFC 3597 section 4: the RFC 1035 types only).
    fn write_rdata(&mut self, t: u16, rdata: &[u8]) {
        match t {
            rtype::NS | rtype::CNAME | rtype::PTR | 3 | 4 | 7 | 8 | 9 => self.write_name(rdata),
            rtype::MX if rdata.len() > 2 => {
                self.buf.extend_from_slice(&rdata[..2]);
                self.write_name(&rdata[2..]);
            }
            rtype::SOA | 14 => {
                let first = name_len(rdata);
                let second = first + name_len(&rdata[first..]);
                self.write_name(&rdata[..first]);
                self.write_name(&rdata[first..second]);
                self.buf.extend_from_slice(&rdata[second..]);
            }
            _ => self.buf.extend_from_slice(rdata),
        }
    }

    /// Writes an uncompressed wire name, replacing its longest already-written suffix with a
    /// pointer and remembering the new labels for later names.
    fn write_name(&mut self, wire: &[u8]) {
        // Only names written before this one are complete in `buf`; the labels of this name are
        // remembered as they go out but must not be matched until the name is finished (a name
        // with a repeated label, `a.a.example.`, would otherwise be compared against its own
        // half-written self and read past the end of `buf`).
        let complete = self.names.len();
        let mut pos = 0;
        while wire[pos] != 0 {
            let suffix = &wire[pos..];
            if let Some(&off) = self.names[..complete]
                .iter()
                .find(|&&off| names_equal(&self.buf, off as usize, suffix))
            {
                self.buf.extend_from_slice(&(0xc000 | off).to_be_bytes());
                return;
            }
            let here = self.buf.len();
            if here < 0x4000 {
                self.names.push(here as u16);
            }
            let len = wire[pos] as usize;
            self.buf.extend_from_slice(&wire[pos..pos + 1 + len]);
            pos += 1 + len;
        }
        self.buf.push(0);
    }
}

/// Length of the uncompressed name at the start of `wire`.
fn name_len(wire: &[u8]) -> usize {
    let mut pos = 0;
    while pos < wire.len() && wire[pos] != 0 {
        pos += 1 + wire[pos] as usize;
    }
    (pos + 1).min(wire.len())
}

/// Compares the (possibly compressed) name at `off` in our own output with the uncompressed
/// `suffix`, case-insensitively.
fn names_equal(msg: &[u8], mut off: usize, suffix: &[u8]) -> bool {
    let mut s = 0;
    loop {
        let len = msg[off];
        if len & 0xc0 == 0xc0 {
            off = (((len & 0x3f) as usize) << 8) | msg[off + 1] as usize;
            continue;
        }
        let len = len as usize;
        if suffix[s] as usize != len {
            return false;
        }
        if len == 0 {
            return true;
        }
        if !msg[off + 1..off + 1 + len].eq_ignore_ascii_case(&suffix[s + 1..s + 1 + len]) {
            return false;
        }
        off += 1 + len;
        s += 1 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_name_follows_backward_pointers_only() {
        // header (12 bytes) + "a.b." at 12, then pointer to 12 at 17.
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x01a\x01b\x00");
        m.extend_from_slice(&[0xc0, 12]);
        let (n, end) = read_name(&m, 17).unwrap();
        assert_eq!(n.wire(), b"\x01a\x01b\x00");
        assert_eq!(end, 19);
        // self-pointer and forward pointer are rejected
        let mut loop_msg = vec![0u8; 12];
        loop_msg.extend_from_slice(&[0xc0, 12]);
        assert_eq!(read_name(&loop_msg, 12), Err(WireError::BadPointer));
        let mut fwd = vec![0u8; 12];
        fwd.extend_from_slice(&[0xc0, 14, 0]);
        assert_eq!(read_name(&fwd, 12), Err(WireError::BadPointer));
        // 0x40 label type
        let mut bad = vec![0u8; 12];
        bad.extend_from_slice(&[0x41, 0]);
        assert_eq!(read_name(&bad, 12), Err(WireError::BadLabel));
        // truncated label
        let mut short = vec![0u8; 12];
        short.extend_from_slice(&[5, b'a']);
        assert_eq!(read_name(&short, 12), Err(WireError::Truncated));
    }

    /// A name reader written apart from `walk_name`, step by step after RFC 1035 4.1.4, as an
    /// independent reference for it.
    fn reference_read_name(msg: &[u8], mut pos: usize) -> Result<(usize, usize), WireError> {
        let mut n = 0;
        let mut end: Option<usize> = None;
        let mut hops = 0;
        loop {
            let len = *msg.get(pos).ok_or(WireError::Truncated)?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    n += 1;
                    if n > MAX_NAME_LEN {
                        return Err(WireError::NameTooLong);
                    }
                    return Ok((n, end.unwrap_or(pos + 1)));
                }
                0x00 => {
                    let len = len as usize;
                    msg.get(pos + 1..pos + 1 + len).ok_or(WireError::Truncated)?;
                    n += 1 + len;
                    if n >= MAX_NAME_LEN {
                        return Err(WireError::NameTooLong);
                    }
                    pos += 1 + len;
                }
                0xc0 => {
                    let lo = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                    let target = (((len & 0x3f) as usize) << 8) | lo as usize;
                    if target >= pos {
                        return Err(WireError::BadPointer);
                    }
                    hops += 1;
                    if hops > 127 {
                        return Err(WireError::BadPointer);
                    }
                    end.get_or_insert(pos + 2);
                    pos = target;
                }
                _ => return Err(WireError::BadLabel),
            }
        }
    }

    #[test]
    fn skip_name_fails_and_ends_exactly_where_read_name_does() {
        // Random messages biased towards label-like bytes and pointers, every start position.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ok = 0;
        for _ in 0..20_000 {
            let len = (next() % 300) as usize;
            let msg: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0 => 0,
                    1 => 0xc0,
                    2 => (next() % 64) as u8,
                    3 => 63,
                    _ => next() as u8,
                })
                .collect();
            for pos in 0..=len.min(20) {
                let reference = reference_read_name(&msg, pos);
                let a = read_name(&msg, pos).map(|(n, end)| (n.len(), end));
                assert_eq!(a, reference, "read_name: {msg:02x?} at {pos}");
                assert_eq!(skip_name(&msg, pos), reference, "skip_name: {msg:02x?} at {pos}");
                if let Ok((name, _)) = read_name(&msg, pos) {
                    // The labels are the ones on the wire, in order (case kept).
                    let mut p = pos;
                    let mut expect = Vec::new();
                    while msg[p] != 0 {
                        if msg[p] & 0xc0 == 0xc0 {
                            p = (((msg[p] & 0x3f) as usize) << 8) | msg[p + 1] as usize;
                            continue;
                        }
                        expect.extend_from_slice(&msg[p..p + 1 + msg[p] as usize]);
                        p += 1 + msg[p] as usize;
                    }
                    expect.push(0);
                    assert_eq!(name.wire(), &expect[..]);
                }
                ok += a.is_ok() as usize;
            }
        }
        assert!(
            ok > 1000,
            "only {ok} names parsed: the inputs do not exercise the success path"
        );
        // A maximal name (255 octets) and one octet more.
        let long = |labels: usize, last: usize| {
            let mut m = Vec::new();
            for _ in 0..labels {
                m.push(63);
                m.extend_from_slice(&[b'a'; 63]);
            }
            m.push(last as u8);
            m.extend(std::iter::repeat_n(b'b', last));
            m.push(0);
            m
        };
        for m in [long(3, 61), long(3, 62)] {
            assert_eq!(read_name(&m, 0).map(|(n, e)| (n.len(), e)), reference_read_name(&m, 0));
            assert_eq!(skip_name(&m, 0), reference_read_name(&m, 0));
        }
        assert!(skip_name(&long(3, 61), 0).is_ok() && skip_name(&long(3, 62), 0).is_err());
    }

    #[test]
    fn overlong_names_are_rejected() {
        let mut m = vec![0u8; 12];
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.push(0);
        assert_eq!(read_name(&m, 12), Err(WireError::NameTooLong));
    }

    #[test]
    fn compression_points_at_question_and_earlier_names() {
        let q = Question {
            name: "WWW.example.test.".parse().unwrap(),
            qtype: 1,
            qclass: 1,
        };
        let mut e = Encoder::new(Vec::new(), 7, QR, Some(&q), 512, 0);
        let owner: Name = "www.example.test.".parse().unwrap();
        let rr = Rr {
            owner: std::borrow::Cow::Borrowed(&owner),
            rtype: rtype::CNAME,
            ttl: 60,
            rdatas: crate::zone::Rdatas::Owned(vec![b"\x04mail\x07example\x04test\x00".to_vec().into()]),
        };
        assert!(e.push_rrset(Section::Answer, &rr));
        let msg = e.finish();
        // owner is a pointer to the question (offset 12)
        let ans = 12 + q.name.len() + 4;
        assert_eq!(&msg[ans..ans + 2], &[0xc0, 12]);
        // rdata: "mail" label then a pointer to "example.test." at offset 12 + 4
        let rdata = ans + 12;
        assert_eq!(&msg[rdata..rdata + 5], b"\x04mail");
        assert_eq!(&msg[rdata + 5..rdata + 7], &[0xc0, 16]);
        assert_eq!(u16::from_be_bytes([msg[6], msg[7]]), 1);
    }

    #[test]
    fn names_with_repeated_labels_compress_safely() {
        // found by the `request` fuzz target: a DNAME-made CNAME target `\x01.\x01.new...`
        let q = Question {
            name: "x.test.".parse().unwrap(),
            qtype: 5,
            qclass: 1,
        };
        let mut e = Encoder::new(Vec::new(), 1, QR, Some(&q), 512, 0);
        let owner: Name = "x.test.".parse().unwrap();
        let rr = Rr {
            owner: std::borrow::Cow::Borrowed(&owner),
            rtype: rtype::CNAME,
            ttl: 60,
            rdatas: crate::zone::Rdatas::Owned(vec![b"\x01a\x01a\x01a\x04test\x00".to_vec().into()]),
        };
        assert!(e.push_rrset(Section::Answer, &rr));
        let msg = e.finish();
        let m = hickory_proto::op::Message::from_vec(&msg).unwrap();
        assert_eq!(m.answers[0].data.to_string(), "a.a.a.test.");
    }

    #[test]
    fn rrset_that_does_not_fit_is_left_out_whole() {
        let q = Question {
            name: "x.test.".parse().unwrap(),
            qtype: 16,
            qclass: 1,
        };
        let mut e = Encoder::new(Vec::new(), 1, QR, Some(&q), 100, 0);
        let owner: Name = "x.test.".parse().unwrap();
        let rr = Rr {
            owner: std::borrow::Cow::Borrowed(&owner),
            rtype: rtype::TXT,
            ttl: 60,
            rdatas: crate::zone::Rdatas::Owned(vec![vec![40u8; 41].into(), vec![40u8; 41].into()]),
        };
        let before = e.buf.len();
        assert!(!e.push_rrset(Section::Answer, &rr));
        assert_eq!(e.buf.len(), before);
        let msg = e.finish();
        assert_eq!(u16::from_be_bytes([msg[6], msg[7]]), 0);
    }
}
