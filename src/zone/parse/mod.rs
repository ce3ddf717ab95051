//! Zone-file parser (RFC 1035 section 5 master format, with the BIND extensions in common use).
//!
//! [`parse_zone`] reads a whole file and returns every record, or every error found (up to
//! [`MAX_ERRORS`]), each located as `file:line:col` (1-based; the column counts bytes).
//!
//! Supported: `$ORIGIN`, `$TTL` (BIND units such as `1h30m`), `$INCLUDE file [origin]`
//! (relative to the including file's directory, depth-limited, loops rejected), `@`, relative
//! names, a blank owner meaning the previous owner, TTL and class in either order, parentheses
//! spanning lines, `;` comments, quoted strings, `\X`/`\DDD` escapes, CRLF line ends. Only class
//! IN is accepted. The TTL of a record is its own, else `$TTL`, else the previous record's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::rdata::{parse_duration, parse_rdata, Token};
use super::{rtype, Record, ZoneError, CLASS_IN};
use crate::name::Name;

/// Collecting stops after this many errors.
pub const MAX_ERRORS: usize = 100;
/// Deepest `$INCLUDE` nesting accepted.
pub const MAX_INCLUDE_DEPTH: usize = 10;
/// Largest TTL, RFC 2181 section 8.
pub const MAX_TTL: u32 = 0x7fff_ffff;
/// Most bytes read for one zone: its file and every `$INCLUDE` together. A million records take
/// about 34 MB, so this leaves room for zones of tens of millions of records while a mistaken
/// include of a huge file (or the same file included over and over) is refused instead of
/// filling memory.
pub const MAX_ZONE_BYTES: u64 = 1 << 30;

/// [`decode_8bit`] without copying text that is already valid UTF-8.
pub fn decode_8bit_owned(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => decode_8bit(e.as_bytes()),
    }
}

/// Zone-file bytes as text: valid UTF-8 as is; any other byte as a `\DDD` escape, which names
/// and strings read back as that byte (and which comments ignore).
pub fn decode_8bit(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 16);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\{b:03}"));
                }
            }
            out
        }
    }
}

/// Parses a zone file's text.
///
/// `file` names the file in errors and records. `origin` is the initial `$ORIGIN` (usually the
/// zone apex); without it relative names are errors until a `$ORIGIN` line. `include_base` is the
/// directory that relative `$INCLUDE` paths of this file are resolved against; `None` disables
/// `$INCLUDE`. Owner names come out lower-cased; names inside RDATA keep their case.
pub fn parse_zone(
    text: &str,
    file: &str,
    origin: Option<&Name>,
    include_base: Option<&Path>,
) -> Result<Vec<Record>, Vec<ZoneError>> {
    let mut records = Vec::new();
    parse_zone_into(text, file, origin, include_base, &mut |r| records.push(r))?;
    Ok(records)
}

/// [`parse_zone`], handing each record to `sink` as it is read instead of collecting them (a
/// zone builder takes them straight in; a million records never sit in one vector). On errors
/// the records already handed over are to be discarded.
pub fn parse_zone_into(
    text: &str,
    file: &str,
    origin: Option<&Name>,
    include_base: Option<&Path>,
    sink: &mut dyn FnMut(Record),
) -> Result<(), Vec<ZoneError>> {
    let mut st = State {
        sink,
        errors: Vec::new(),
        default_ttl: None,
        last_ttl: None,
        stack: Vec::new(),
        bytes_left: MAX_ZONE_BYTES.saturating_sub(text.len() as u64),
    };
    if let Some(base) = include_base {
        if let Ok(p) = std::fs::canonicalize(base.join(file)) {
            st.stack.push(p);
        }
    }
    st.parse_text(text, Arc::from(file), origin.cloned(), include_base, 0);
    if st.errors.is_empty() {
        Ok(())
    } else {
        Err(st.errors)
    }
}

/// Converts one record's RDATA in presentation form (what follows the type in a zone file:
/// quotes, escapes, parentheses and comments allowed, line breaks are plain separators) to
/// uncompressed wire form. Errors read `line:col: msg`.
pub fn rdata_from_text(rtype: u16, text: &str, origin: Option<&Name>) -> Result<Vec<u8>, String> {
    let mut lx = Lexer::new(text);
    let mut all: Vec<Token> = Vec::new();
    let mut toks: Vec<Token> = Vec::new();
    while let Some(r) = lx.entry(&mut toks) {
        match r {
            Ok(_) => all.extend_from_slice(&toks),
            Err((l, c, m)) => return Err(format!("{l}:{c}: {m}")),
        }
    }
    parse_rdata(rtype, &all, origin).map_err(|e| {
        let (l, c, m) = match all.get(e.token) {
            Some(t) => at(t, e.msg),
            None => match all.last() {
                Some(t) => after(t, e.msg),
                None => (1, 1, e.msg),
            },
        };
        format!("{l}:{c}: {m}")
    })
}

struct State<'s> {
    sink: &'s mut dyn FnMut(Record),
    errors: Vec<ZoneError>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    /// Canonical paths of the files being read, for loop detection.
    stack: Vec<PathBuf>,
    /// What is left of [`MAX_ZONE_BYTES`] for further `$INCLUDE` files.
    bytes_left: u64,
}

/// Per-file parsing context: what `$INCLUDE` must not leak back to the including file.
struct FileCtx<'p> {
    file: Arc<str>,
    origin: Option<Name>,
    last_owner: Option<Name>,
    base: Option<&'p Path>,
    depth: usize,
}

type Fail = (usize, usize, String);

fn at(t: &Token, msg: String) -> Fail {
    (t.line, t.col, msg)
}

/// The position just after a token (where a missing field was expected).
fn after(t: &Token, msg: String) -> Fail {
    let len = t.text.len() + if t.quoted { 2 } else { 0 };
    (t.line, t.col + len, msg)
}

/// Parses a TTL token: seconds or BIND units, at most 2^31-1.
fn parse_ttl(t: &Token) -> Result<u32, Fail> {
    match parse_duration(t.text) {
        Some(v) if v <= u64::from(MAX_TTL) => Ok(v as u32),
        Some(_) => Err(at(t, format!("TTL {} exceeds {MAX_TTL} (RFC 2181)", t.text))),
        None => Err(at(t, format!("bad TTL {:?}", t.text))),
    }
}

/// An error in an `$INCLUDE`d file without the file's text: a zone can include any file gslbd may
/// read, and its errors travel to logs and to the reply of `POST /reload`, so they must not carry
/// a line of, say, `/etc/shadow`. What remains is the position and the kind of error: every
/// quoted part of the message becomes `"..."`, and so does every word of two characters or more
/// that is part of the token the error points at, or holds it (numbers out of range, unknown
/// directives), unless it is a record type, class or directive name.
fn redact((line, col, msg): Fail, toks: &[Token]) -> Fail {
    const HIDDEN: &str = "...";
    let mut unquoted = String::with_capacity(msg.len());
    let mut rest = msg.as_str();
    while let Some(open) = rest.find('"') {
        unquoted.push_str(&rest[..open]);
        // The end of a `{:?}`-quoted string: the next quote not escaped by a backslash.
        let body = &rest[open + 1..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        unquoted.push('"');
        unquoted.push_str(HIDDEN);
        unquoted.push('"');
        rest = match end {
            Some(i) => &body[i + 1..],
            None => "",
        };
    }
    unquoted.push_str(rest);
    let keyword = |w: &str| {
        rtype::from_mnemonic(w).is_some()
            || class_of(w).is_some()
            || ["$ORIGIN", "$TTL", "$INCLUDE", "$GENERATE"]
                .iter()
                .any(|d| d.eq_ignore_ascii_case(w))
    };
    // Unquoted text in a message comes from the token the error points at (a number out of
    // range, a directive name); other words are the message's own, even when a token elsewhere
    // on the line happens to be the same word.
    let at_error: Vec<&Token> = match toks.iter().find(|t| (t.line, t.col) == (line, col)) {
        Some(t) => vec![t],
        None => toks.iter().collect(),
    };
    let from_file = |w: &str| {
        w.len() >= 2
            && !keyword(w)
            && at_error.iter().any(|t| {
                t.text == w
                        || (t.text.len() >= 2 && w.contains(t.text))
                        // part of it, such as the prefix length of an APL item
                        || (t.text.contains(w) && !w.bytes().all(|b| b.is_ascii_alphabetic()))
            })
    };
    let words: Vec<String> = unquoted
        .split(' ')
        .map(|word| {
            let core = word
                .trim_start_matches(['(', '[', '\''])
                .trim_end_matches([')', ']', ',', ':', ';', '\'']);
            if from_file(core) {
                word.replacen(core, HIDDEN, 1)
            } else {
                word.to_string()
            }
        })
        .collect();
    (line, col, words.join(" "))
}

/// The class number for a class mnemonic (`IN`, `CS`, `CH`, `HS`, `CLASSnnn`).
fn class_of(s: &str) -> Option<u16> {
    const NAMES: [(&str, u16); 4] = [("IN", 1), ("CS", 2), ("CH", 3), ("HS", 4)];
    if let Some(&(_, c)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(c);
    }
    let b = s.as_bytes();
    if b.len() > 5 && b.len() <= 10 && b[..5].eq_ignore_ascii_case(b"CLASS") {
        let d = &b[5..];
        if d.iter().all(u8::is_ascii_digit) {
            let v = d.iter().fold(0u32, |a, &x| a * 10 + u32::from(x - b'0'));
            return u16::try_from(v).ok();
        }
    }
    None
}

impl State<'_> {
    fn push_err(&mut self, file: &str, (line, col, msg): Fail) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ZoneError {
                file: file.to_string(),
                line,
                col,
                msg,
            });
        }
    }

    fn parse_text(&mut self, text: &str, file: Arc<str>, origin: Option<Name>, base: Option<&Path>, depth: usize) {
        let mut cx = FileCtx {
            file,
            origin,
            last_owner: None,
            base,
            depth,
        };
        let mut lx = Lexer::new(text);
        let mut toks: Vec<Token> = Vec::with_capacity(16);
        while let Some(r) = lx.entry(&mut toks) {
            if self.errors.len() >= MAX_ERRORS {
                return;
            }
            let res = match r {
                Ok(blank) => self.entry(&mut cx, &toks, blank),
                Err(f) => Err(f),
            };
            if let Err(f) = res {
                let file = cx.file.clone();
                // An `$INCLUDE` line keeps its path: the nested file's own errors name it anyway.
                let include_line = toks.first().is_some_and(|t| t.text.eq_ignore_ascii_case("$INCLUDE"));
                let f = if cx.depth > 0 && !include_line {
                    redact(f, &toks)
                } else {
                    f
                };
                self.push_err(&file, f);
            }
        }
    }

    fn entry(&mut self, cx: &mut FileCtx, toks: &[Token], blank: bool) -> Result<(), Fail> {
        let first = &toks[0];
        if !first.quoted && first.text.starts_with('$') {
            return self.directive(cx, toks);
        }
        // Owner.
        let mut k = 0;
        let owner = if blank {
            match &cx.last_owner {
                Some(o) => o.clone(),
                None => {
                    return Err(at(
                        first,
                        "no owner name: the first record must not start with whitespace".into(),
                    ))
                }
            }
        } else {
            k = 1;
            let o = if first.text == "@" {
                match &cx.origin {
                    Some(o) => o.to_lowercase(),
                    None => return Err(at(first, "@ used and no $ORIGIN is known".into())),
                }
            } else {
                Name::parse(first.text, cx.origin.as_ref())
                    .map_err(|e| at(first, e.to_string()))?
                    .into_lowercase()
            };
            if cx.last_owner.as_ref() != Some(&o) {
                cx.last_owner = Some(o.clone());
            }
            o
        };
        // TTL and class, in either order.
        let mut ttl = None;
        let mut class_seen = false;
        let tt = loop {
            let Some(t) = toks.get(k) else {
                return Err(after(&toks[toks.len() - 1], "missing record type".into()));
            };
            if let Some(c) = class_of(t.text) {
                if class_seen {
                    return Err(at(t, "class given twice".into()));
                }
                if c != CLASS_IN {
                    return Err(at(t, "only class IN is supported".into()));
                }
                class_seen = true;
            } else if t.text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                if ttl.is_some() {
                    return Err(at(t, "TTL given twice".into()));
                }
                ttl = Some(parse_ttl(t)?);
            } else {
                break t;
            }
            k += 1;
        };
        let rt = rtype::from_mnemonic(tt.text).ok_or_else(|| at(tt, format!("unknown record type {:?}", tt.text)))?;
        if rtype::is_meta(rt) {
            return Err(at(
                tt,
                format!(
                    "{} is a meta or query type and cannot appear in a zone file",
                    rtype::mnemonic(rt)
                ),
            ));
        }
        let ttl = match ttl.or(self.default_ttl).or(self.last_ttl) {
            Some(t) => t,
            None => {
                // Reported once: the records after it would only repeat the same error.
                self.last_ttl = Some(0);
                return Err(at(first, "no TTL: add $TTL or a TTL on the record".into()));
            }
        };
        let rd_toks = &toks[k + 1..];
        let rdata = parse_rdata(rt, rd_toks, cx.origin.as_ref()).map_err(|e| match rd_toks.get(e.token) {
            Some(t) => at(t, e.msg),
            None => after(&toks[toks.len() - 1], e.msg),
        })?;
        self.last_ttl = Some(ttl);
        (self.sink)(Record {
            owner,
            rtype: rt,
            class: CLASS_IN,
            ttl,
            rdata: rdata.into_boxed_slice(),
            line: first.line,
            file: cx.file.clone(),
        });
        Ok(())
    }

    fn directive(&mut self, cx: &mut FileCtx, toks: &[Token]) -> Result<(), Fail> {
        let d = &toks[0];
        let extra = |n: usize| -> Result<(), Fail> {
            match toks.get(n) {
                Some(t) => Err(at(t, format!("unexpected {:?} after {}", t.text, d.text))),
                None => Ok(()),
            }
        };
        if d.text.eq_ignore_ascii_case("$ORIGIN") {
            let t = toks
                .get(1)
                .ok_or_else(|| after(d, "missing name after $ORIGIN".into()))?;
            let n = Name::parse(t.text, cx.origin.as_ref()).map_err(|e| at(t, e.to_string()))?;
            extra(2)?;
            cx.origin = Some(n);
        } else if d.text.eq_ignore_ascii_case("$TTL") {
            let t = toks.get(1).ok_or_else(|| after(d, "missing TTL after $TTL".into()))?;
            let v = parse_ttl(t)?;
            // Set before checking for junk after it, so one bad line is one error.
            self.default_ttl = Some(v);
            extra(2)?;
        } else if d.text.eq_ignore_ascii_case("$INCLUDE") {
            let t = toks
                .get(1)
                .ok_or_else(|| after(d, "missing file name after $INCLUDE".into()))?;
            let inc_origin = match toks.get(2) {
                Some(o) => Some(Name::parse(o.text, cx.origin.as_ref()).map_err(|e| at(o, e.to_string()))?),
                None => cx.origin.clone(),
            };
            extra(3)?;
            let Some(base) = cx.base else {
                return Err(at(d, "$INCLUDE is not allowed here".into()));
            };
            if cx.depth >= MAX_INCLUDE_DEPTH {
                return Err(at(d, format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH} levels")));
            }
            let path = base.join(t.text);
            let shown = path.display().to_string();
            // A regular file only, opened without blocking: a FIFO or a device such as /dev/zero
            // is refused before anything is read.
            let cannot = |e: String| at(t, format!("cannot read $INCLUDE file {shown}: {e}"));
            if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() > self.bytes_left) {
                return Err(cannot(format!(
                    "the zone and its $INCLUDE files would exceed the limit of {MAX_ZONE_BYTES} bytes together"
                )));
            }
            let bytes = crate::fsutil::read_regular(&path, self.bytes_left).map_err(|e| cannot(e.to_string()))?;
            self.bytes_left -= bytes.len() as u64;
            let text = decode_8bit_owned(bytes);
            let canon = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if self.stack.contains(&canon) {
                return Err(at(t, format!("$INCLUDE loop: {shown} is already being read")));
            }
            let inc_base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            self.stack.push(canon);
            self.parse_text(
                &text,
                Arc::from(shown.as_str()),
                inc_origin,
                Some(&inc_base),
                cx.depth + 1,
            );
            self.stack.pop();
        } else if d.text.eq_ignore_ascii_case("$GENERATE") {
            return Err(at(d, "$GENERATE is not supported".into()));
        } else {
            return Err(at(d, format!("unknown directive {}", d.text)));
        }
        Ok(())
    }
}

mod lexer;
#[cfg(test)]
mod perf;
#[cfg(test)]
mod tests;

use lexer::Lexer;
