//! NSEC3 (RFC 5155): the owner-name hash, the parameters a zone's chain is built with, and the
//! chain itself as a sorted hash index, for the proofs of denial served to DO queries.

use super::{rtype, RdataList, Record};
use crate::name::Name;

/// Hash algorithm 1, the only one defined (RFC 5155 11).
pub const SHA1: u8 = 1;
/// Length of a SHA-1 digest.
pub const HASH_LEN: usize = 20;
/// Most NSEC3 iterations a zone may use: a zone whose NSEC3PARAM asks for more is not loaded.
/// A DO question hashes up to three names (and the ancestors of a cut under opt-out), each
/// `iterations + 1` times, so this bounds what one question costs.
pub const MAX_ITERATIONS: u16 = 150;

/// The parameters of a chain: hash algorithm, iterations and salt (RFC 5155 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub algorithm: u8,
    pub iterations: u16,
    pub salt: Vec<u8>,
}

impl Params {
    /// Reads the parameters from NSEC3PARAM or NSEC3 RDATA (both start with algorithm, flags,
    /// iterations, salt length and salt); returns them with the flags octet.
    pub fn from_rdata(rdata: &[u8]) -> Option<(Params, u8)> {
        let (&algorithm, rest) = rdata.split_first()?;
        let (&flags, rest) = rest.split_first()?;
        let (it, rest) = rest.split_first_chunk::<2>()?;
        let (&salt_len, rest) = rest.split_first()?;
        let salt = rest.get(..salt_len as usize)?.to_vec();
        Some((
            Params {
                algorithm,
                iterations: u16::from_be_bytes(*it),
                salt,
            },
            flags,
        ))
    }

    /// True when NSEC3 RDATA uses these parameters.
    fn matches(&self, nsec3_rdata: &[u8]) -> bool {
        Params::from_rdata(nsec3_rdata).is_some_and(|(p, _)| p == *self)
    }
}

/// The hashed owner name of `name` (RFC 5155 5): SHA-1 over the lower-case wire name and the
/// salt, then `iterations` more times over the digest and the salt.
pub fn hash(name: &Name, params: &Params) -> [u8; HASH_LEN] {
    let alg = &ring::digest::SHA1_FOR_LEGACY_USE_ONLY;
    let lower = name.to_lowercase();
    let mut ctx = ring::digest::Context::new(alg);
    ctx.update(lower.wire());
    ctx.update(&params.salt);
    let mut h = [0u8; HASH_LEN];
    h.copy_from_slice(ctx.finish().as_ref());
    for _ in 0..params.iterations {
        let mut ctx = ring::digest::Context::new(alg);
        ctx.update(&h);
        ctx.update(&params.salt);
        h.copy_from_slice(ctx.finish().as_ref());
    }
    h
}

/// The hash an NSEC3 owner name carries in its first label (base32hex, RFC 4648 7).
pub fn owner_hash(owner: &Name) -> Option<[u8; HASH_LEN]> {
    let label = owner.labels().next()?;
    let upper = label.to_ascii_uppercase();
    let bytes = data_encoding::BASE32HEX_NOPAD.decode(&upper).ok()?;
    bytes.try_into().ok()
}

/// The base32hex text of a hash, as it appears as the first label of an NSEC3 owner.
pub fn encode_hash(h: &[u8]) -> String {
    data_encoding::BASE32HEX_NOPAD.encode(h).to_ascii_lowercase()
}

/// One NSEC3 RRset of the chain: where its records and the RRSIGs covering it are in the
/// zone's NSEC3 record list (sorted by [`sort_records`]), so that the chain holds no second copy
/// of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub hash: [u8; HASH_LEN],
    start: u32,
    nsec3_len: u16,
    sig_len: u16,
}

impl Entry {
    /// The NSEC3 records of this owner (at least one).
    pub fn nsec3s<'a>(&self, records: &'a [Record]) -> &'a [Record] {
        let start = self.start as usize;
        records.get(start..start + self.nsec3_len as usize).unwrap_or_default()
    }

    /// The RRSIGs covering them.
    pub fn sigs<'a>(&self, records: &'a [Record]) -> &'a [Record] {
        let start = self.start as usize + self.nsec3_len as usize;
        records.get(start..start + self.sig_len as usize).unwrap_or_default()
    }
}

/// Orders a zone's NSEC3 records (and the RRSIGs over them) for [`Chain::build`]: by owner,
/// each owner's NSEC3 records before its RRSIGs; exact duplicates removed (RFC 2181 5).
pub fn sort_records(records: &mut Vec<Record>) {
    records.sort_by(|a, b| {
        (a.owner.wire(), a.rtype != rtype::NSEC3, &a.rdata).cmp(&(b.owner.wire(), b.rtype != rtype::NSEC3, &b.rdata))
    });
    records.dedup_by(|a, b| a.owner == b.owner && a.rtype == b.rtype && a.rdata == b.rdata);
}

/// An NSEC3 chain: the zone's parameters and its NSEC3 RRsets sorted by hash.
#[derive(Debug, Clone)]
pub struct Chain {
    pub params: Params,
    entries: Vec<Entry>,
}

/// Where a hash falls in a chain: on an NSEC3 owner, or inside the interval an NSEC3 covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cover<'a> {
    pub entry: &'a Entry,
    pub exact: bool,
}

impl Chain {
    /// Builds the chain for the first NSEC3PARAM of `apex_params` (RDATAs) with hash algorithm
    /// SHA-1 and flags 0, from the NSEC3 records (and their RRSIGs) in `records`, ordered by
    /// [`sort_records`]. Owners whose NSEC3 records have other parameters are not part of it.
    /// `None` without a usable NSEC3PARAM.
    pub fn build(apex_params: &RdataList, records: &[Record]) -> Option<Chain> {
        let params = apex_params
            .iter()
            .filter_map(Params::from_rdata)
            .find(|(p, flags)| p.algorithm == SHA1 && *flags == 0)?
            .0;
        let mut entries: Vec<Entry> = Vec::new();
        let mut i = 0;
        while i < records.len() {
            let owner = &records[i].owner;
            let run = records[i..].iter().take_while(|r| r.owner == *owner).count();
            let group = &records[i..i + run];
            let nsec3_len = group.iter().take_while(|r| r.rtype == rtype::NSEC3).count();
            let hash = owner_hash(owner);
            if let (Some(hash), Some(first)) = (hash, group.first()) {
                if nsec3_len > 0 && params.matches(&first.rdata) {
                    entries.push(Entry {
                        hash,
                        start: i as u32,
                        nsec3_len: nsec3_len.min(u16::MAX as usize) as u16,
                        sig_len: (run - nsec3_len).min(u16::MAX as usize) as u16,
                    });
                }
            }
            i += run;
        }
        entries.sort_by_key(|e| e.hash);
        Some(Chain { params, entries })
    }

    /// The NSEC3 whose owner hashes to `h`, or else the one covering it: the greatest owner
    /// hash below `h`, or the last of the chain when `h` sorts before every owner (the chain
    /// wraps around). `None` for an empty chain.
    pub fn find(&self, h: &[u8; HASH_LEN]) -> Option<Cover<'_>> {
        match self.entries.binary_search_by(|e| e.hash.cmp(h)) {
            Ok(i) => Some(Cover {
                entry: &self.entries[i],
                exact: true,
            }),
            Err(0) => self.entries.last().map(|entry| Cover { entry, exact: false }),
            Err(i) => Some(Cover {
                entry: &self.entries[i - 1],
                exact: false,
            }),
        }
    }

    /// [`find`](Self::find) for the hash of `name`.
    pub fn find_name(&self, name: &Name) -> Option<Cover<'_>> {
        self.find(&hash(name, &self.params))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    /// RFC 5155 Appendix A: salt aabbccdd, 12 iterations, and the hashed owner names of the
    /// example zone.
    #[test]
    fn hashes_match_rfc5155_appendix_a() {
        let p = Params {
            algorithm: SHA1,
            iterations: 12,
            salt: vec![0xaa, 0xbb, 0xcc, 0xdd],
        };
        for (name, h) in [
            ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
            ("ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
            ("ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r"),
            ("w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
            ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
            ("x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"),
            ("y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"),
            ("x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"),
            ("xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"),
            (
                "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.",
                "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
            ),
            // Case does not matter: names are hashed in lower case.
            ("A.EXAMPLE.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
        ] {
            assert_eq!(encode_hash(&hash(&n(name), &p)), h, "{name}");
        }
    }

    #[test]
    fn zero_iterations_and_no_salt_hash_once() {
        let p = Params {
            algorithm: SHA1,
            iterations: 0,
            salt: vec![],
        };
        // SHA-1 of the wire name alone, computed independently with `sha1sum`.
        let expect = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"\x07example\x00");
        assert_eq!(&hash(&n("example."), &p)[..], expect.as_ref());
    }

    #[test]
    fn owner_hash_reads_the_first_label() {
        let h = owner_hash(&n("0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM.example.")).unwrap();
        assert_eq!(encode_hash(&h), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
        assert!(owner_hash(&n("not-base32.example.")).is_none());
        assert!(owner_hash(&n("0p9m.example.")).is_none(), "too short for a SHA-1 hash");
    }

    /// The iteration limit: 150 loads, 151 is an error at the NSEC3PARAM's line.
    #[test]
    fn nsec3param_iterations_above_the_limit_are_refused() {
        for (iterations, ok) in [(MAX_ITERATIONS, true), (MAX_ITERATIONS + 1, false)] {
            let text = format!(
                "$ORIGIN example.\n@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN NS ns\n\n@ 0 IN NSEC3PARAM 1 0 {iterations} aabb\n"
            );
            let records = crate::zone::parse::parse_zone(&text, "z.zone", Some(&n("example.")), None).unwrap();
            let built = crate::zone::set::Zone::build(Some(&n("example.")), records, "z.zone");
            match (ok, built) {
                (true, Ok(_)) => {}
                (false, Err(e)) => {
                    assert_eq!((e[0].file.as_str(), e[0].line), ("z.zone", 5), "{e:?}");
                    assert!(e[0].msg.contains("151 iterations: at most 150"), "{}", e[0].msg);
                }
                (_, r) => panic!("{iterations} iterations: {r:?}"),
            }
        }
    }

    fn rec(owner: &str, rtype: u16, rdata: Vec<u8>) -> Record {
        Record {
            owner: n(owner),
            rtype,
            class: 1,
            ttl: 300,
            rdata: rdata.into(),
            line: 1,
            file: "t".into(),
        }
    }

    fn nsec3_rdata(flags: u8, salt: &[u8]) -> Vec<u8> {
        let mut v = vec![SHA1, flags, 0, 12, salt.len() as u8];
        v.extend_from_slice(salt);
        v.push(20);
        v.extend_from_slice(&[0; 20]);
        v
    }

    /// Covering search: exact owners, hashes between two owners, before the first (wraps to the
    /// last) and after the last; NSEC3 records with other parameters stay out of the chain.
    #[test]
    fn covering_nsec3_search_wraps_around() {
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        let mut param = RdataList::default();
        param.push(&[SHA1, 1, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd]); // flags 1: not usable
        param.push(&[SHA1, 0, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd]);
        let owners = [
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
            "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
            "35mthgpgcu1qg68fab165klnsnk3dpvl",
            "k8udemvp1j2f7eg6jebps17vp3n8i58h",
        ];
        let mut records: Vec<Record> = owners
            .iter()
            .map(|o| rec(&format!("{o}.example."), rtype::NSEC3, nsec3_rdata(1, &salt)))
            .collect();
        // Another salt: not in the chain.
        records.push(rec(
            "00000000000000000000000000000000.example.",
            rtype::NSEC3,
            nsec3_rdata(0, &[1]),
        ));
        sort_records(&mut records);
        let chain = Chain::build(&param, &records).unwrap();
        assert_eq!(chain.len(), 4);
        let owner = |e: &Entry| e.nsec3s(&records)[0].owner.labels().next().unwrap().to_vec();
        let at = |name: &str| {
            let c = chain.find_name(&n(name)).unwrap();
            (owner(c.entry), c.exact)
        };
        let l = |s: &str| s.as_bytes().to_vec();
        assert_eq!(at("example."), (l(owners[0]), true));
        assert_eq!(at("a.example."), (l(owners[2]), true));
        // 2vptu5... (x.y.w) lies between 2t7b... and 35mt...
        assert_eq!(at("x.y.w.example."), (l(owners[1]), false));
        // b4um... (x.w) between 35mt... and k8ud...
        assert_eq!(at("x.w.example."), (l(owners[2]), false));
        // r53b... (*.w) after the last owner: covered by the last.
        assert_eq!(at("*.w.example."), (l(owners[3]), false));
        // Before the first owner: the last covers it (wrap-around).
        let first = chain.find(&[0; HASH_LEN]).unwrap();
        assert_eq!((owner(first.entry), first.exact), (l(owners[3]), false));
        // No usable NSEC3PARAM: no chain.
        let mut only_optout = RdataList::default();
        only_optout.push(&[SHA1, 1, 0, 0, 0]);
        assert!(Chain::build(&only_optout, &records).is_none());
    }
}
