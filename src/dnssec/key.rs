//! DNSSEC keys in BIND's file format: `K<zone>.+<alg>+<tag>.key` (the DNSKEY record, in zone-file
//! form) and `.private` (the private key, `Private-key-format: v1.2` as `ldns-keygen` writes it or
//! `v1.3` as `dnssec-keygen` writes it, the latter with the timing lines that drive a key's
//! state). Loading, key tags (RFC 4034 appendix B), DS digests (RFC 4509, RFC 6605), and the
//! generation of new key pairs (`gslbd keygen`).

use std::path::{Path, PathBuf};

use data_encoding::{BASE64, HEXUPPER};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use super::time::{format_timestamp, parse_timestamp};
use super::wire::lowercase_name;
use crate::name::Name;

/// DNSSEC algorithm 13 (RFC 6605).
pub const ECDSAP256SHA256: u8 = 13;
/// DNSSEC algorithm 15 (RFC 8080).
pub const ED25519: u8 = 15;
/// DNSKEY flags of a zone key with the SEP bit: a key-signing key (KSK) or a combined key (CSK).
pub const FLAGS_KSK: u16 = 257;
/// DNSKEY flags of a zone key without the SEP bit: a zone-signing key (ZSK).
pub const FLAGS_ZSK: u16 = 256;
/// Largest key file read: key files are a few hundred octets; anything near this is not one.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// A problem with a key file or a keys directory, located as `file:line` where a line is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{file}:{line}: {msg}")]
    At { file: String, line: usize, msg: String },
    #[error("{file}: {msg}")]
    File { file: String, msg: String },
}

fn at(file: &Path, line: usize, msg: impl Into<String>) -> KeyError {
    KeyError::At {
        file: file.display().to_string(),
        line,
        msg: msg.into(),
    }
}

fn in_file(file: &Path, msg: impl Into<String>) -> KeyError {
    KeyError::File {
        file: file.display().to_string(),
        msg: msg.into(),
    }
}

/// The name of an algorithm as BIND's files and `gslbd keygen --algorithm` spell it.
pub fn algorithm_name(alg: u8) -> &'static str {
    match alg {
        ECDSAP256SHA256 => "ECDSAP256SHA256",
        ED25519 => "ED25519",
        _ => "UNKNOWN",
    }
}

/// Parses `ecdsap256sha256`/`13` or `ed25519`/`15` (any case).
pub fn parse_algorithm(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "ecdsap256sha256" | "13" => Some(ECDSAP256SHA256),
        "ed25519" | "15" => Some(ED25519),
        _ => None,
    }
}

/// When a key enters and leaves each state (Unix seconds; `None`: not set). A v1.2 file has no
/// timing lines: such a key is published and active from the start and never retires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub created: Option<u64>,
    pub publish: Option<u64>,
    pub activate: Option<u64>,
    pub inactive: Option<u64>,
    pub delete: Option<u64>,
}

impl Timing {
    /// The DNSKEY is in the zone at `now`: published, not yet deleted.
    pub fn is_published(&self, now: u64) -> bool {
        self.publish.is_none_or(|t| t <= now) && self.delete.is_none_or(|t| now < t)
    }

    /// The key makes signatures at `now`: active, not yet inactive, still published.
    pub fn is_active(&self, now: u64) -> bool {
        self.is_published(now) && self.activate.is_none_or(|t| t <= now) && self.inactive.is_none_or(|t| now < t)
    }

    /// The next moment after `now` at which the key's state changes, if any.
    pub fn next_event(&self, now: u64) -> Option<u64> {
        [self.publish, self.activate, self.inactive, self.delete]
            .into_iter()
            .flatten()
            .filter(|&t| t > now)
            .min()
    }

    /// The state's name, for the status page and logs.
    pub fn state(&self, now: u64) -> &'static str {
        if self.delete.is_some_and(|t| t <= now) {
            "deleted"
        } else if self.is_active(now) {
            "active"
        } else if self.inactive.is_some_and(|t| t <= now) {
            "retired"
        } else if self.is_published(now) {
            "published"
        } else {
            "created"
        }
    }
}

/// The private half, in the form `ring` signs with.
pub enum Signer {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signer::Ecdsa(_) => "Signer::Ecdsa(..)",
            Signer::Ed25519(_) => "Signer::Ed25519(..)",
        })
    }
}

/// A zone key pair as loaded from its two files.
#[derive(Debug)]
pub struct Key {
    /// The zone the key belongs to (the DNSKEY owner), lower-cased.
    pub zone: Name,
    pub flags: u16,
    pub algorithm: u8,
    /// The public key field of the DNSKEY RDATA.
    pub public: Vec<u8>,
    pub tag: u16,
    pub timing: Timing,
    /// The `.key` file, for messages and the status page.
    pub file: PathBuf,
    signer: Signer,
}

impl Key {
    /// True for a key with the SEP bit (KSK or CSK): the key the parent's DS names.
    pub fn is_sep(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key.
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        dnskey_rdata(self.flags, self.algorithm, &self.public)
    }

    /// The DS RDATA for this key with digest type 2 (SHA-256) or 4 (SHA-384).
    pub fn ds_rdata(&self, digest_type: u8) -> Vec<u8> {
        ds_rdata(&self.zone, self.tag, self.algorithm, &self.dnskey_rdata(), digest_type)
    }

    /// The DS record in presentation form, as `dnssec-dsfromkey` prints it.
    pub fn ds_text(&self, digest_type: u8) -> String {
        let ds = self.ds_rdata(digest_type);
        format!(
            "{} IN DS {} {} {} {}",
            self.zone,
            self.tag,
            self.algorithm,
            digest_type,
            HEXUPPER.encode(&ds[4..])
        )
    }

    /// Signs `data` (the RRSIG RDATA head and the canonical RRset) in the wire form RRSIG wants:
    /// r||s for ECDSA (RFC 6605 4), the 64-octet signature for Ed25519 (RFC 8080 4).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match &self.signer {
            // ring signs P-256 with a fresh random nonce; its only failure is a broken system RNG,
            // which leaves nothing to sign with at all.
            Signer::Ecdsa(k) => k
                .sign(&SystemRandom::new(), data)
                .map(|s| s.as_ref().to_vec())
                .expect("the system random number generator works"),
            Signer::Ed25519(k) => k.sign(data).as_ref().to_vec(),
        }
    }
}

/// DNSKEY RDATA from its fields.
pub fn dnskey_rdata(flags: u16, algorithm: u8, public: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + public.len());
    v.extend_from_slice(&flags.to_be_bytes());
    v.push(3);
    v.push(algorithm);
    v.extend_from_slice(public);
    v
}

/// The key tag of DNSKEY RDATA (RFC 4034 appendix B; algorithm 1 is not supported anyway).
pub fn key_tag(dnskey: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, &b) in dnskey.iter().enumerate() {
        ac += if i & 1 == 1 { b as u32 } else { (b as u32) << 8 };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// DS RDATA (RFC 4034 5.1.4): tag, algorithm, digest type, digest of owner name and DNSKEY RDATA.
pub fn ds_rdata(zone: &Name, tag: u16, algorithm: u8, dnskey: &[u8], digest_type: u8) -> Vec<u8> {
    let mut input = lowercase_name(zone.wire());
    input.extend_from_slice(dnskey);
    let alg = match digest_type {
        4 => &ring::digest::SHA384,
        _ => &ring::digest::SHA256,
    };
    let digest = ring::digest::digest(alg, &input);
    let mut v = Vec::with_capacity(4 + digest.as_ref().len());
    v.extend_from_slice(&tag.to_be_bytes());
    v.push(algorithm);
    v.push(if digest_type == 4 { 4 } else { 2 });
    v.extend_from_slice(digest.as_ref());
    v
}

/// The fields of a `.key` file's DNSKEY record.
struct PublicPart {
    owner: Name,
    flags: u16,
    algorithm: u8,
    public: Vec<u8>,
}

/// Parses a `.key` file: comment lines (`;`), then one DNSKEY record
/// `OWNER [TTL] [IN] DNSKEY FLAGS 3 ALG BASE64...` on one line (as both tools write it).
fn parse_public(path: &Path, text: &str) -> Result<PublicPart, KeyError> {
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let data = line.split(';').next().unwrap_or("").trim();
        if data.is_empty() {
            continue;
        }
        if found.is_some() {
            return Err(at(
                path,
                line_no,
                "a second record: a .key file holds exactly one DNSKEY",
            ));
        }
        let toks: Vec<&str> = data.split_whitespace().collect();
        let Some(pos) = toks.iter().position(|t| t.eq_ignore_ascii_case("DNSKEY")) else {
            return Err(at(
                path,
                line_no,
                "expected a DNSKEY record (OWNER [TTL] IN DNSKEY FLAGS 3 ALGORITHM KEY)",
            ));
        };
        for t in &toks[1..pos] {
            if !(t.eq_ignore_ascii_case("IN") || t.bytes().all(|b| b.is_ascii_digit())) {
                return Err(at(path, line_no, format!("unexpected {t:?} between owner and DNSKEY")));
            }
        }
        if pos == 0 || toks.len() < pos + 5 {
            return Err(at(
                path,
                line_no,
                "incomplete DNSKEY record: expected OWNER IN DNSKEY FLAGS 3 ALGORITHM KEY",
            ));
        }
        let owner = Name::parse(toks[0], Some(&Name::root()))
            .map_err(|e| at(path, line_no, format!("bad owner name: {e}")))?
            .to_lowercase();
        let flags: u16 = toks[pos + 1]
            .parse()
            .map_err(|_| at(path, line_no, format!("bad DNSKEY flags {:?}", toks[pos + 1])))?;
        if flags != FLAGS_KSK && flags != FLAGS_ZSK {
            return Err(at(
                path,
                line_no,
                format!("DNSKEY flags {flags}: a zone key has 256 (ZSK) or 257 (KSK or CSK)"),
            ));
        }
        if toks[pos + 2] != "3" {
            return Err(at(
                path,
                line_no,
                format!("DNSKEY protocol {:?}: must be 3", toks[pos + 2]),
            ));
        }
        let algorithm = parse_algorithm(toks[pos + 3]).ok_or_else(|| {
            at(
                path,
                line_no,
                format!(
                    "DNSKEY algorithm {:?}: gslbd signs with 13 (ECDSAP256SHA256) or 15 (ED25519)",
                    toks[pos + 3]
                ),
            )
        })?;
        let b64: String = toks[pos + 4..].concat();
        let public = BASE64
            .decode(b64.as_bytes())
            .map_err(|e| at(path, line_no, format!("bad base64 in the public key: {e}")))?;
        let want = if algorithm == ECDSAP256SHA256 { 64 } else { 32 };
        if public.len() != want {
            return Err(at(
                path,
                line_no,
                format!(
                    "public key of {} octets: algorithm {algorithm} has {want}",
                    public.len()
                ),
            ));
        }
        found = Some(PublicPart {
            owner,
            flags,
            algorithm,
            public,
        });
    }
    found.ok_or_else(|| in_file(path, "no DNSKEY record in the file"))
}

/// The fields of a `.private` file.
struct PrivatePart {
    algorithm: u8,
    private: Vec<u8>,
    timing: Timing,
}

/// Parses a `.private` file (`Key: value` lines; v1.2 and v1.3 and later minor versions).
fn parse_private(path: &Path, text: &str) -> Result<PrivatePart, KeyError> {
    let mut version = None;
    let mut algorithm = None;
    let mut private = None;
    let mut timing = Timing::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(at(path, line_no, format!("expected \"Key: value\", found {line:?}")));
        };
        let v = v.trim();
        let time = |v: &str| {
            parse_timestamp(v).map(Some).ok_or_else(|| {
                at(
                    path,
                    line_no,
                    format!("bad {k} time {v:?}: expected YYYYMMDDHHMMSS (UTC)"),
                )
            })
        };
        match k.trim() {
            "Private-key-format" => {
                let ok = v
                    .strip_prefix("v1.")
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m >= 2);
                if !ok {
                    return Err(at(
                        path,
                        line_no,
                        format!("Private-key-format {v:?}: gslbd reads v1.2 (ldns-keygen) and v1.3 (dnssec-keygen)"),
                    ));
                }
                version = Some(());
            }
            "Algorithm" => {
                let num = v.split_whitespace().next().unwrap_or("");
                algorithm = Some(parse_algorithm(num).ok_or_else(|| {
                    at(
                        path,
                        line_no,
                        format!("algorithm {v:?}: gslbd signs with 13 (ECDSAP256SHA256) or 15 (ED25519)"),
                    )
                })?);
            }
            "PrivateKey" => {
                let b: String = v.split_whitespace().collect();
                private = Some(
                    BASE64
                        .decode(b.as_bytes())
                        .map_err(|e| at(path, line_no, format!("bad base64 in PrivateKey: {e}")))?,
                );
            }
            "Created" => timing.created = time(v)?,
            "Publish" => timing.publish = time(v)?,
            "Activate" => timing.activate = time(v)?,
            "Inactive" => timing.inactive = time(v)?,
            "Delete" => timing.delete = time(v)?,
            // Other fields (Revoke, SyncPublish, SyncDelete, DSPublish, DSRemoved, PredecessorKey
            // and the fields of other algorithms' key formats) do not change what gslbd signs.
            _ => {}
        }
    }
    if version.is_none() {
        return Err(in_file(path, "no Private-key-format line: not a BIND private key file"));
    }
    let algorithm = algorithm.ok_or_else(|| in_file(path, "no Algorithm line"))?;
    let private = private.ok_or_else(|| in_file(path, "no PrivateKey line"))?;
    if private.len() != 32 {
        return Err(in_file(
            path,
            format!("PrivateKey of {} octets: algorithm {algorithm} has 32", private.len()),
        ));
    }
    Ok(PrivatePart {
        algorithm,
        private,
        timing,
    })
}

fn read(path: &Path) -> Result<String, KeyError> {
    crate::fsutil::read_regular(path, MAX_KEY_FILE)
        .map_err(|e| in_file(path, format!("cannot read key file: {e}")))
        .and_then(|b| String::from_utf8(b).map_err(|_| in_file(path, "not a text file")))
}

/// Loads a key pair from its `.key` file and the `.private` file beside it.
pub fn load_pair(key_file: &Path) -> Result<Key, KeyError> {
    let pubp = parse_public(key_file, &read(key_file)?)?;
    // Not `with_extension`: the zone's dots make everything after the last one look like one.
    let priv_file = match key_file.to_str().and_then(|s| s.strip_suffix(".key")) {
        Some(base) => PathBuf::from(format!("{base}.private")),
        None => return Err(in_file(key_file, "a key file name ends with .key")),
    };
    let privp = parse_private(&priv_file, &read(&priv_file)?)?;
    if privp.algorithm != pubp.algorithm {
        return Err(in_file(
            &priv_file,
            format!(
                "algorithm {} differs from the algorithm {} of {}",
                privp.algorithm,
                pubp.algorithm,
                key_file.display()
            ),
        ));
    }
    let mismatch = || {
        in_file(
            &priv_file,
            format!(
                "the private key does not match the public key in {}",
                key_file.display()
            ),
        )
    };
    let signer = match pubp.algorithm {
        ECDSAP256SHA256 => {
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&pubp.public);
            Signer::Ecdsa(
                EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &privp.private,
                    &point,
                    &SystemRandom::new(),
                )
                .map_err(|_| mismatch())?,
            )
        }
        _ => Signer::Ed25519(
            Ed25519KeyPair::from_seed_and_public_key(&privp.private, &pubp.public).map_err(|_| mismatch())?,
        ),
    };
    let rdata = dnskey_rdata(pubp.flags, pubp.algorithm, &pubp.public);
    Ok(Key {
        zone: pubp.owner,
        flags: pubp.flags,
        algorithm: pubp.algorithm,
        tag: key_tag(&rdata),
        public: pubp.public,
        timing: privp.timing,
        file: key_file.to_path_buf(),
        signer,
    })
}

/// Most key files one keys directory may hold for a zone: a rollover needs a handful; more is a
/// directory that is not what the operator meant.
pub const MAX_KEYS: usize = 64;

/// Loads every key pair of `zone` in `dir`: files named `K<zone>.+<alg>+<tag>.key` (the zone
/// without case distinction). Keys of other zones in the same directory are left alone. At
/// least one key must be there.
pub fn load_dir(dir: &Path, zone: &Name) -> Result<Vec<Key>, KeyError> {
    let entries = std::fs::read_dir(dir).map_err(|e| in_file(dir, format!("cannot read keys directory: {e}")))?;
    let zone_text = zone.to_string().to_ascii_lowercase();
    let prefix = format!("k{zone_text}+");
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|e| in_file(dir, format!("cannot read keys directory: {e}")))?;
        let name = e.file_name().to_string_lossy().to_ascii_lowercase();
        if name.starts_with(&prefix) && name.ends_with(".key") {
            files.push(e.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(in_file(
            dir,
            format!("no key files for zone {zone} (K{zone_text}+ALG+TAG.key); make one with `gslbd keygen --zone {zone_text} --algorithm ecdsap256sha256 --ksk --dir DIR`"),
        ));
    }
    if files.len() > MAX_KEYS {
        return Err(in_file(
            dir,
            format!("{} key files for zone {zone}: at most {MAX_KEYS}", files.len()),
        ));
    }
    let mut keys = Vec::with_capacity(files.len());
    for f in files {
        let k = load_pair(&f)?;
        if k.zone != *zone {
            return Err(in_file(
                &f,
                format!("the DNSKEY owner {} is not the zone {zone}", k.zone),
            ));
        }
        keys.push(k);
    }
    Ok(keys)
}

/// A freshly made key pair: the file contents, the key tag and the DS.
pub struct Generated {
    pub base: String,
    pub key_text: String,
    pub private_text: String,
    pub tag: u16,
    pub dnskey: Vec<u8>,
}

/// Offsets of the private scalar and public point in the PKCS#8 document `ring` generates for
/// P-256 (RFC 5915 ECPrivateKey inside PKCS#8 v1): ring imports a raw scalar but exports only
/// PKCS#8, so the raw parts are read back from their fixed places, and checked by re-importing.
const P256_PKCS8_PRIVATE: std::ops::Range<usize> = 36..68;
const P256_PKCS8_PUBLIC: std::ops::Range<usize> = 74..138;

/// Makes a new key pair for `zone` in memory (nothing written).
pub fn generate(zone: &Name, algorithm: u8, ksk: bool, now: u64) -> Result<Generated, String> {
    let rng = SystemRandom::new();
    let (private, public) = match algorithm {
        ECDSAP256SHA256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| "the system random number generator failed".to_string())?;
            let d = doc.as_ref();
            let (Some(private), Some(public)) = (d.get(P256_PKCS8_PRIVATE), d.get(P256_PKCS8_PUBLIC)) else {
                return Err("unexpected PKCS#8 layout from ring".into());
            };
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, d, &rng)
                .map_err(|e| format!("ring rejected its own key: {e}"))?;
            if pair.public_key().as_ref().get(1..) != Some(public) {
                return Err("unexpected PKCS#8 layout from ring".into());
            }
            let mut point = vec![4u8];
            point.extend_from_slice(public);
            EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, private, &point, &rng)
                .map_err(|_| "unexpected PKCS#8 layout from ring".to_string())?;
            (private.to_vec(), public.to_vec())
        }
        ED25519 => {
            let seed: [u8; 32] = ring::rand::generate(&rng)
                .map_err(|_| "the system random number generator failed".to_string())?
                .expose();
            let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| format!("ed25519: {e}"))?;
            (seed.to_vec(), pair.public_key().as_ref().to_vec())
        }
        _ => return Err(format!("algorithm {algorithm} is not supported")),
    };
    let flags = if ksk { FLAGS_KSK } else { FLAGS_ZSK };
    let dnskey = dnskey_rdata(flags, algorithm, &public);
    let tag = key_tag(&dnskey);
    let zone_text = zone.to_string();
    let base = format!("K{zone_text}+{algorithm:03}+{tag:05}");
    let stamp = format_timestamp(now);
    let human = super::time::format_human(now);
    let kind = if ksk { "key-signing" } else { "zone-signing" };
    let key_text = format!(
        "; This is a {kind} key, keyid {tag}, for {zone_text}\n\
         ; Created: {stamp} ({human})\n\
         ; Publish: {stamp} ({human})\n\
         ; Activate: {stamp} ({human})\n\
         {zone_text} IN DNSKEY {flags} 3 {algorithm} {}\n",
        BASE64.encode(&public)
    );
    let private_text = format!(
        "Private-key-format: v1.3\n\
         Algorithm: {algorithm} ({})\n\
         PrivateKey: {}\n\
         Created: {stamp}\n\
         Publish: {stamp}\n\
         Activate: {stamp}\n",
        algorithm_name(algorithm),
        BASE64.encode(&private)
    );
    Ok(Generated {
        base,
        key_text,
        private_text,
        tag,
        dnskey,
    })
}

/// `gslbd keygen`: makes a key pair, writes `DIR/K<zone>.+<alg>+<tag>.key` and `.private` (the
/// private file readable by its owner only; an existing pair is never overwritten) and returns
/// the base path and the DS record (SHA-256) in presentation form.
pub fn keygen(dir: &Path, zone: &Name, algorithm: u8, ksk: bool, now: u64) -> Result<(PathBuf, String), String> {
    let zone = zone.to_lowercase();
    // A tag already used by a key in the directory would make two files compete for one name.
    for _ in 0..16 {
        let g = generate(&zone, algorithm, ksk, now)?;
        let key_path = dir.join(format!("{}.key", g.base));
        let priv_path = dir.join(format!("{}.private", g.base));
        if key_path.exists() || priv_path.exists() {
            continue;
        }
        write_new(&priv_path, &g.private_text, 0o600)?;
        write_new(&key_path, &g.key_text, 0o644)?;
        let ds = ds_rdata(&zone, g.tag, algorithm, &g.dnskey, 2);
        let ds_text = format!("{zone} IN DS {} {algorithm} 2 {}", g.tag, HEXUPPER.encode(&ds[4..]));
        return Ok((dir.join(g.base), ds_text));
    }
    Err(format!("{}: no free key tag after 16 tries", dir.display()))
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(base: &Path, ext: &str) -> PathBuf {
        PathBuf::from(format!("{}.{ext}", base.display()))
    }

    fn zone() -> Name {
        Name::parse("example.test.", None).unwrap()
    }

    #[test]
    fn key_tag_matches_rfc_example() {
        // RFC 4034 5.4: the DNSKEY of dskey.example.com. has key tag 60485.
        let public = BASE64
            .decode(
                b"AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let rdata = dnskey_rdata(256, 5, &public);
        assert_eq!(key_tag(&rdata), 60485);
        let owner = Name::parse("dskey.example.com.", None).unwrap();
        let ds = ds_rdata(&owner, 60485, 5, &rdata, 1);
        // Digest type 1 is not made; the SHA-256 form is checked against the tools in tests/.
        assert_eq!(&ds[..4], &[0xec, 0x45, 5, 2]);
    }

    #[test]
    fn generated_keys_load_back_and_sign() {
        let dir = tempfile::tempdir().unwrap();
        for (alg, ksk) in [(ECDSAP256SHA256, true), (ED25519, false)] {
            let (base, ds) = keygen(dir.path(), &zone(), alg, ksk, 1_800_000_000).unwrap();
            let key = load_pair(&with(&base, "key")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(key.algorithm, alg);
            assert_eq!(key.is_sep(), ksk);
            assert_eq!(key.timing.activate, Some(1_800_000_000));
            assert_eq!(ds, key.ds_text(2));
            let sig = key.sign(b"data");
            assert_eq!(sig.len(), 64);
            let verify: &dyn ring::signature::VerificationAlgorithm = if alg == ED25519 {
                &ring::signature::ED25519
            } else {
                &ring::signature::ECDSA_P256_SHA256_FIXED
            };
            let mut point = key.public.clone();
            if alg == ECDSAP256SHA256 {
                point.insert(0, 4);
            }
            ring::signature::UnparsedPublicKey::new(verify, &point)
                .verify(b"data", &sig)
                .unwrap();
        }
        let keys = load_dir(dir.path(), &zone()).unwrap();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let (base, _) = keygen(dir.path(), &zone(), ED25519, true, 1_800_000_000).unwrap();
        let key = with(&base, "key");
        let text = std::fs::read_to_string(&key).unwrap();
        std::fs::write(&key, text.replace(" 3 15 ", " 3 8 ")).unwrap();
        let e = load_pair(&key).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:5: DNSKEY algorithm \"8\"", key.display())),
            "{e}"
        );
        std::fs::write(&key, text).unwrap();
        let private = with(&base, "private");
        let ptext = std::fs::read_to_string(&private).unwrap();
        std::fs::write(&private, ptext.replace("Activate: ", "Activate: 2026")).unwrap();
        let e = load_pair(&key).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:6: bad Activate time", private.display())),
            "{e}"
        );
        // A private key that is not the public key's.
        let other = generate(&zone(), ED25519, true, 0).unwrap();
        std::fs::write(&private, other.private_text).unwrap();
        let e = load_pair(&key).unwrap_err().to_string();
        assert!(e.contains("does not match the public key"), "{e}");
    }

    #[test]
    fn limits_on_key_files() {
        let dir = tempfile::tempdir().unwrap();
        // At most MAX_KEYS pairs per zone in one directory.
        for _ in 0..MAX_KEYS {
            keygen(dir.path(), &zone(), ED25519, false, 0).unwrap();
        }
        assert_eq!(load_dir(dir.path(), &zone()).unwrap().len(), MAX_KEYS);
        keygen(dir.path(), &zone(), ED25519, false, 0).unwrap();
        let e = load_dir(dir.path(), &zone()).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "{} key files for zone example.test.: at most {MAX_KEYS}",
                MAX_KEYS + 1
            )),
            "{e}"
        );
        // A key file of MAX_KEY_FILE octets is read (comments fill it); one more octet is not.
        let one = tempfile::tempdir().unwrap();
        let (base, _) = keygen(one.path(), &zone(), ED25519, true, 0).unwrap();
        let key = with(&base, "key");
        let text = std::fs::read_to_string(&key).unwrap();
        let pad = MAX_KEY_FILE as usize - text.len();
        let filler = format!(";{}\n", "x".repeat(pad - 2));
        std::fs::write(&key, format!("{filler}{text}")).unwrap();
        assert_eq!(std::fs::metadata(&key).unwrap().len(), MAX_KEY_FILE);
        load_pair(&key).unwrap();
        std::fs::write(&key, format!(";{filler}{text}")).unwrap();
        let e = load_pair(&key).unwrap_err().to_string();
        assert!(e.contains("cannot read key file"), "{e}");
    }

    #[test]
    fn timing_states() {
        let t = Timing {
            created: Some(0),
            publish: Some(10),
            activate: Some(20),
            inactive: Some(30),
            delete: Some(40),
        };
        assert_eq!(
            [5, 10, 20, 30, 40].map(|n| t.state(n)),
            ["created", "published", "active", "retired", "deleted"]
        );
        assert!(!t.is_active(25 + 10) && t.is_published(35) && !t.is_published(40));
        assert_eq!(t.next_event(20), Some(30));
        assert!(Timing::default().is_active(0));
    }
}
