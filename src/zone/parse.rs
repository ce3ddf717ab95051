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

/// Byte-based tokenizer yielding one logical entry (a line, or several joined by parentheses)
/// at a time, without allocating per token.
struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Lexer<'a> {
        // A byte-order mark is not part of the first line.
        let pos = if s.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            s,
            pos,
            line: 1,
            line_start: pos,
        }
    }

    fn col(&self, pos: usize) -> usize {
        pos - self.line_start + 1
    }

    fn newline(&mut self, after: usize) {
        self.line += 1;
        self.line_start = after;
    }

    /// Skips to the end of the current line after an error (the newline itself is kept).
    fn recover(&mut self, toks: &mut Vec<Token<'a>>) {
        let b = self.s.as_bytes();
        while self.pos < b.len() && b[self.pos] != b'\n' {
            self.pos += 1;
        }
        toks.clear();
    }

    /// The next entry's tokens into `toks`; `Ok(true)` when the entry started with whitespace
    /// (blank owner). `None` at the end of the text.
    fn entry(&mut self, toks: &mut Vec<Token<'a>>) -> Option<Result<bool, Fail>> {
        let b = self.s.as_bytes();
        toks.clear();
        let mut paren: Option<(usize, usize)> = None;
        let mut blank = false;
        loop {
            if self.pos == self.line_start && toks.is_empty() && paren.is_none() {
                blank = matches!(b.get(self.pos), Some(b' ' | b'\t'));
            }
            let Some(&c) = b.get(self.pos) else {
                if let Some((l, c)) = paren {
                    toks.clear();
                    return Some(Err((l, c, "unclosed parenthesis".into())));
                }
                return if toks.is_empty() { None } else { Some(Ok(blank)) };
            };
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.newline(self.pos);
                    if paren.is_none() && !toks.is_empty() {
                        return Some(Ok(blank));
                    }
                }
                b';' => {
                    while self.pos < b.len() && b[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'(' => {
                    if paren.is_some() {
                        let e = (self.line, self.col(self.pos), "nested parentheses".into());
                        self.recover(toks);
                        return Some(Err(e));
                    }
                    paren = Some((self.line, self.col(self.pos)));
                    self.pos += 1;
                }
                b')' => {
                    if paren.is_none() {
                        let e = (self.line, self.col(self.pos), "')' without '('".into());
                        self.recover(toks);
                        return Some(Err(e));
                    }
                    paren = None;
                    self.pos += 1;
                }
                b'"' => {
                    let (line, col) = (self.line, self.col(self.pos));
                    let start = self.pos + 1;
                    match self.skip_quoted() {
                        Some(end) => {
                            toks.push(Token {
                                text: &self.s[start..end],
                                quoted: true,
                                line,
                                col,
                            });
                            self.pos = end + 1;
                        }
                        None => {
                            self.pos = start;
                            self.recover(toks);
                            return Some(Err((line, col, "unterminated quoted string".into())));
                        }
                    }
                }
                _ => {
                    let (line, col) = (self.line, self.col(self.pos));
                    let start = self.pos;
                    while let Some(&c) = b.get(self.pos) {
                        match c {
                            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' => break,
                            b'\\' => {
                                if b.get(self.pos + 1) == Some(&b'\n') {
                                    self.newline(self.pos + 2);
                                }
                                self.pos = (self.pos + 2).min(b.len());
                            }
                            b'"' => match self.skip_quoted() {
                                // A quoted part inside a token (`key="a b"` in SVCB).
                                Some(end) => self.pos = end + 1,
                                None => {
                                    let e = (self.line, self.col(self.pos), "unterminated quoted string".into());
                                    self.pos += 1;
                                    self.recover(toks);
                                    return Some(Err(e));
                                }
                            },
                            _ => self.pos += 1,
                        }
                    }
                    toks.push(Token {
                        text: &self.s[start..self.pos],
                        quoted: false,
                        line,
                        col,
                    });
                }
            }
        }
    }

    /// With `pos` on an opening quote, finds the closing quote's index. Quoted strings do not
    /// span lines, except through an escaped newline.
    fn skip_quoted(&mut self) -> Option<usize> {
        let b = self.s.as_bytes();
        let mut i = self.pos + 1;
        while i < b.len() {
            match b[i] {
                b'"' => return Some(i),
                b'\n' => return None,
                b'\\' => {
                    if b.get(i + 1) == Some(&b'\n') {
                        self.newline(i + 2);
                    }
                    i += 2;
                }
                _ => i += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
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
        let r = zone(
            "$TTL 1\na TYPE65280 \\# 3 ( 01\n 02 03 )\nb TYPE65281 \\# 0\nc SVCB 1 . alpn=\"h2,h3\" ( port=443 )\n",
        );
        assert_eq!(&*r[0].rdata, [1, 2, 3]);
        assert_eq!(r[0].rtype, 65280);
        assert!(r[1].rdata.is_empty());
        assert_eq!(
            &*r[2].rdata,
            b"\x00\x01\x00\x00\x01\x00\x06\x02h2\x02h3\x00\x03\x00\x02\x01\xbb"
        );
    }
}

#[cfg(test)]
mod perf {
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
}
