//! Positions of YAML nodes by key path, so that validation errors found after deserialising can
//! still name `file:line:col`. A second, marker-keeping pass over the text with yaml-rust2.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Key path of a node: `pools."www.example.test.".members[1].provider`.
pub fn join(path: &str, key: &str) -> String {
    let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if simple { key.to_string() } else { format!("{key:?}") };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// Key path of a sequence item.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Positions (1-based line and column) of every value node in a YAML document. The scan runs
/// at the first [`find`](Locations::find), so a valid configuration (10,000 pools and more) never
/// pays for a second parse or keeps a map of every node.
#[derive(Debug, Default, Clone)]
pub struct Locations {
    text: std::sync::Arc<str>,
    map: std::sync::OnceLock<HashMap<String, (usize, usize)>>,
}

impl Locations {
    /// Keeps the text for a later scan. A document that does not parse gives no positions
    /// (serde_yaml reports that error with its own position).
    pub fn scan(text: &str) -> Locations {
        Locations {
            text: text.into(),
            map: std::sync::OnceLock::new(),
        }
    }

    fn map(&self) -> &HashMap<String, (usize, usize)> {
        self.map.get_or_init(|| {
            let mut rx = Receiver::default();
            let mut parser = Parser::new_from_str(&self.text);
            if parser.load(&mut rx, false).is_err() {
                return HashMap::new();
            }
            rx.map
        })
    }

    /// The position of the node at `path`, or of its nearest located ancestor.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let map = self.map();
        let mut p = path;
        loop {
            if let Some(&pos) = map.get(p) {
                return Some(pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Receiver {
    stack: Vec<Frame>,
    map: HashMap<String, (usize, usize)>,
}

impl Receiver {
    /// Path of the value about to be read in the current container.
    fn child_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Map { path, key }) => join(path, key.as_deref().unwrap_or("")),
            Some(Frame::Seq { path, index: i }) => index(path, *i),
        }
    }

    /// A value finished in the current container.
    fn advance(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = (mark.line(), mark.col() + 1);
        match ev {
            Event::Scalar(value, ..) => {
                if self.expecting_key() {
                    if let Some(Frame::Map { key, path }) = self.stack.last_mut() {
                        // A mapping is located at its first key (its start mark can lie elsewhere).
                        self.map.entry(path.clone()).or_insert(pos);
                        *key = Some(value);
                    }
                } else {
                    let path = self.child_path();
                    self.map.insert(path, pos);
                    self.advance();
                }
            }
            Event::MappingStart(..) => {
                let path = self.child_path();
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.child_path();
                self.map.entry(path.clone()).or_insert(pos);
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.advance();
            }
            _ => {}
        }
    }
}

/// A mapping key given twice in the same mapping: the key path of the mapping, the key, and the
/// positions (1-based line and column) of the repeat and of the first occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    pub mapping: String,
    pub key: String,
    pub at: (usize, usize),
    pub first: (usize, usize),
}

/// Every key that appears twice in one mapping, anywhere in the document, in file order. It
/// keeps only the keys of the mappings open at the moment, not the whole document. A document
/// that does not parse has no duplicates here (its syntax error is reported elsewhere).
pub fn duplicate_keys(text: &str) -> Vec<DuplicateKey> {
    let mut rx = DupReceiver::default();
    let mut parser = Parser::new_from_str(text);
    if parser.load(&mut rx, true).is_err() {
        return Vec::new();
    }
    rx.found
}

enum DupFrame {
    /// `key` is `Some` between a key and the end of its value.
    Map {
        path: String,
        key: Option<String>,
        seen: HashMap<String, (usize, usize)>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

#[derive(Default)]
struct DupReceiver {
    stack: Vec<DupFrame>,
    found: Vec<DuplicateKey>,
}

impl DupReceiver {
    /// Path of the node starting now.
    fn child_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(DupFrame::Map { path, key, .. }) => join(path, key.as_deref().unwrap_or("")),
            Some(DupFrame::Seq { path, index: i }) => index(path, *i),
        }
    }

    /// A whole node (scalar, alias or container) has been read in the current container. In a
    /// mapping that is its key or its value in turn; a key that is not a scalar (a YAML complex
    /// key) cannot be compared and takes the placeholder `?`.
    fn node_done(&mut self, scalar_key: Option<(String, (usize, usize))>) {
        match self.stack.last_mut() {
            Some(DupFrame::Map { path, key, seen }) => match key {
                None => {
                    let (text, pos) = scalar_key.unwrap_or_else(|| ("?".into(), (0, 0)));
                    if pos != (0, 0) {
                        if let Some(&first) = seen.get(&text) {
                            self.found.push(DuplicateKey {
                                mapping: path.clone(),
                                key: text.clone(),
                                at: pos,
                                first,
                            });
                        } else {
                            seen.insert(text.clone(), pos);
                        }
                    }
                    *key = Some(text);
                }
                Some(_) => *key = None,
            },
            Some(DupFrame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for DupReceiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                let pos = (mark.line(), mark.col() + 1);
                self.node_done(Some((value, pos)));
            }
            Event::Alias(..) => self.node_done(None),
            Event::MappingStart(..) => {
                let path = self.child_path();
                self.stack.push(DupFrame::Map {
                    path,
                    key: None,
                    seen: HashMap::new(),
                });
            }
            Event::SequenceStart(..) => {
                let path = self.child_path();
                self.stack.push(DupFrame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.node_done(None);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_block_and_flow_nodes() {
        let text = "version: 1\npools:\n  www.example.test.:\n    members:\n      - { provider: aws, address: 192.0.2.1 }\n      - provider: azure\n        address: 192.0.2.2\n";
        let loc = Locations::scan(text);
        assert_eq!(loc.find("version"), Some((1, 10)));
        assert_eq!(
            loc.find("pools.\"www.example.test.\".members[0].provider"),
            Some((5, 21))
        );
        assert_eq!(
            loc.find("pools.\"www.example.test.\".members[1].provider"),
            Some((6, 19))
        );
        assert_eq!(loc.find("pools.\"www.example.test.\".members[1].weight"), Some((6, 9)));
    }

    #[test]
    fn duplicate_keys_anywhere_are_found_with_both_positions() {
        let text = "version: 1
checks:
  aws: { type: tcp, port: 80 }
  aws: { type: tcp, port: 81, port: 82 }
pools:
  www.t.:
    members:
      - { provider: aws, provider: gcp }
  \"www.t.\": { members: [] }
  ? [complex, key]
  : 1
  ? [complex, key]
  : 2
version: 1
";
        let d = duplicate_keys(text);
        type Pos = (usize, usize);
        let got: Vec<(&str, &str, Pos, Pos)> = d
            .iter()
            .map(|d| (d.mapping.as_str(), d.key.as_str(), d.at, d.first))
            .collect();
        assert_eq!(
            got,
            [
                ("checks", "aws", (4, 3), (3, 3)),
                ("checks.aws", "port", (4, 31), (4, 21)),
                ("pools.\"www.t.\".members[0]", "provider", (8, 26), (8, 11)),
                ("pools", "www.t.", (9, 3), (6, 3)),
                ("", "version", (14, 1), (1, 1)),
            ]
        );
        assert!(duplicate_keys("a: 1\nb: {a: 1}\nc: [{a: 1}, {a: 2}]\n").is_empty());
        assert!(
            duplicate_keys("a: [\n").is_empty(),
            "a syntax error is reported elsewhere"
        );
    }
}
