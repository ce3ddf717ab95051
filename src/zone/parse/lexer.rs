//! The zone file tokenizer: one logical entry (a line, or several joined by parentheses) at a
//! time, tokens borrowed from the text.

use super::*;

/// Byte-based tokenizer yielding one logical entry (a line, or several joined by parentheses)
/// at a time, without allocating per token.
pub(super) struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(s: &'a str) -> Lexer<'a> {
        // A byte-order mark is not part of the first line.
        let pos = if s.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            s,
            pos,
            line: 1,
            line_start: pos,
        }
    }

    pub(super) fn col(&self, pos: usize) -> usize {
        pos - self.line_start + 1
    }

    pub(super) fn newline(&mut self, after: usize) {
        self.line += 1;
        self.line_start = after;
    }

    /// Skips to the end of the current line after an error (the newline itself is kept).
    pub(super) fn recover(&mut self, toks: &mut Vec<Token<'a>>) {
        let b = self.s.as_bytes();
        while self.pos < b.len() && b[self.pos] != b'\n' {
            self.pos += 1;
        }
        toks.clear();
    }

    /// The next entry's tokens into `toks`; `Ok(true)` when the entry started with whitespace
    /// (blank owner). `None` at the end of the text.
    pub(super) fn entry(&mut self, toks: &mut Vec<Token<'a>>) -> Option<Result<bool, Fail>> {
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
    pub(super) fn skip_quoted(&mut self) -> Option<usize> {
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
