//! The crate's import rule, checked from the source: every module sits in a layer (declared in
//! `src/lib.rs` and `docs/architecture.md`), imports point only to the same or a lower layer, and
//! no two source files import each other, directly or through others. New cluster, geo and
//! DNSSEC code enters through the health, publisher and snapshot code; this keeps it from
//! knotting those together again.
//!
//! Edges are read from `crate::` paths (in `use` items and inline) and `super::` paths, resolved to
//! the source file that defines the module named. A parent `mod.rs` declaring its children is
//! not an edge (`mod x;` is not an import); a child naming its parent through `super::` is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layer of each module path (the longest matching prefix wins). Keep in step with `src/lib.rs`.
const LAYERS: &[(&str, u8)] = &[
    ("main", 4),
    ("app", 4),
    ("demo", 4),
    ("demo_cluster", 4),
    ("http", 4),
    ("cluster::net", 4),
    ("publisher", 3),
    ("cluster", 3),
    ("snapshot_build", 3),
    ("snapshot_sign", 3),
    ("state_store", 3),
    ("admin", 3),
    ("resign", 3),
    ("xfr", 3),
    ("config", 2),
    ("dns", 2),
    ("health", 2),
    ("metrics", 2),
    ("metrics_dnssec", 2),
    ("history", 2),
    ("snapshot", 1),
    ("fsutil", 0),
    ("logthrottle", 0),
    ("name", 0),
    ("zone", 0),
    ("dnssec", 0),
    ("gslb", 0),
    ("geo", 0),
    ("health::state", 0),
    ("cluster::vote", 0),
    ("health::check", 0),
    ("health::failure", 0),
];

fn layer_of(module: &str) -> u8 {
    LAYERS
        .iter()
        .filter(|(p, _)| module == *p || module.starts_with(&format!("{p}::")))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, l)| *l)
        .unwrap_or_else(|| panic!("module {module} has no layer in tests/layers.rs (add it, and to src/lib.rs)"))
}

/// Source files by module path: `src/dns/handler.rs` is `dns::handler`, `src/dns/mod.rs` is `dns`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut map = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        if parts.last().is_some_and(|l| l == "mod") {
            parts.pop();
        }
        let name = parts.join("::");
        if name == "lib" {
            continue;
        }
        map.insert(name, f);
    }
    map
}

/// Removes comments and string literals, so that doc examples and messages are not read as code.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // a char literal such as '"' or '\n' (lifetimes have no closing quote)
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Every module path named from `code` (in module `me`), as written after `crate::` or resolved
/// from `super::`, with `use` groups expanded one level (`crate::a::{b, c::d}`).
fn named_paths(me: &str, is_mod_rs: bool, code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let (base, skip) = if b[i..].starts_with(b"crate::") && (i == 0 || !ident(b[i - 1])) {
            (Vec::<String>::new(), 7)
        } else if b[i..].starts_with(b"super::") && (i == 0 || !ident(b[i - 1])) {
            let mut parts: Vec<String> = me.split("::").map(str::to_owned).collect();
            // In `a/mod.rs` (module `a`), `super` is `a`'s parent; in `a/b.rs`, it is `a`.
            parts.pop();
            let _ = is_mod_rs;
            let mut j = i + 7;
            while b[j..].starts_with(b"super::") {
                parts.pop();
                j += 7;
            }
            (parts, j - i)
        } else {
            i += 1;
            continue;
        };
        let mut j = i + skip;
        let mut segs = base.clone();
        loop {
            let s = j;
            while j < b.len() && ident(b[j]) {
                j += 1;
            }
            if s == j {
                break;
            }
            segs.push(code[s..j].to_owned());
            if b[j..].starts_with(b"::") {
                j += 2;
            } else {
                break;
            }
        }
        if b.get(j) == Some(&b'{') {
            // a use group: each member extends the prefix
            let end = code[j..].find('}').map(|e| j + e).unwrap_or(b.len());
            for member in code[j + 1..end].split(',') {
                let m = member.trim();
                if m.is_empty() || m == "self" {
                    out.push(segs.join("::"));
                    continue;
                }
                let mut full = segs.clone();
                full.extend(m.split("::").map(|s| s.trim().trim_start_matches('{').to_owned()));
                out.push(full.join("::"));
            }
        } else {
            out.push(segs.join("::"));
        }
        i = j.max(i + 1);
    }
    out
}

/// The longest known module that `path` starts with (an item path names its module).
fn resolve(path: &str, modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len())
        .rev()
        .map(|n| segs[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, file) in &mods {
        let code = strip(&std::fs::read_to_string(file).unwrap());
        // `#[cfg(test)] mod tests` blocks may reach anywhere; they are not part of the layering.
        let code = match code.find("#[cfg(test)]\nmod tests") {
            Some(at) => code[..at].to_owned(),
            None => code,
        };
        let is_mod_rs = file.file_name().is_some_and(|f| f == "mod.rs");
        let deps = g.entry(name.clone()).or_default();
        for p in named_paths(name, is_mod_rs, &code) {
            if let Some(to) = resolve(&p, &mods) {
                if &to != name && !to.starts_with(&format!("{name}::")) {
                    deps.insert(to);
                }
            }
        }
    }
    g
}

#[test]
fn imports_point_to_the_same_or_a_lower_layer() {
    let g = graph();
    assert!(g.len() > 30, "the source walk found too few modules: {:?}", g.keys());
    let mut bad = Vec::new();
    for (from, tos) in &g {
        for to in tos {
            if layer_of(to) > layer_of(from) {
                bad.push(format!("{from} (L{}) imports {to} (L{})", layer_of(from), layer_of(to)));
            }
        }
    }
    assert!(bad.is_empty(), "upward imports:\n  {}", bad.join("\n  "));
}

/// Every strongly connected component of two or more nodes (Tarjan), as `a <-> b <-> c`.
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    struct T<'g> {
        g: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        next: usize,
        comps: Vec<Vec<&'g str>>,
    }
    impl<'g> T<'g> {
        fn visit(&mut self, v: &'g str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(lw));
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(iw));
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.comps.push(comp);
                }
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        comps: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.comps.iter().map(|c| c.join(" <-> ")).collect()
}

#[test]
fn no_import_cycles_between_source_files() {
    let shown = cycles(&graph());
    assert!(shown.is_empty(), "import cycles:\n  {}", shown.join("\n  "));
}

/// The layer unit a module belongs to: the longest prefix listed in [`LAYERS`].
fn unit_of(module: &str) -> &'static str {
    LAYERS
        .iter()
        .filter(|(p, _)| module == *p || module.starts_with(&format!("{p}::")))
        .max_by_key(|(p, _)| p.len())
        .map(|(p, _)| *p)
        .unwrap_or_else(|| panic!("module {module} has no layer in tests/layers.rs"))
}

#[test]
fn no_import_cycles_between_modules() {
    // A parent and its children may name each other (a `mod.rs` facade and its parts), but two
    // units of the table above (e.g. `config` and `health`) must not depend on each other.
    let mut units: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph() {
        let u = unit_of(&from).to_owned();
        let deps = units.entry(u.clone()).or_default();
        for to in tos {
            let v = unit_of(&to).to_owned();
            if v != u {
                deps.insert(v);
            }
        }
    }
    let shown = cycles(&units);
    assert!(
        shown.is_empty(),
        "import cycles between modules:\n  {}",
        shown.join("\n  ")
    );
}

#[test]
fn the_checker_sees_a_planted_violation() {
    // The rule must be able to fail: a cycle and an upward import written the way real code
    // writes them are both found.
    let code = strip("use crate::dns::{handler::Outcome, wire};\nfn f() { super::x::y(); }\n");
    let paths = named_paths("dns::cache", false, &code);
    assert!(paths.contains(&"dns::handler::Outcome".to_owned()), "{paths:?}");
    assert!(paths.contains(&"dns::wire".to_owned()), "{paths:?}");
    assert!(paths.contains(&"dns::x::y".to_owned()), "{paths:?}");
    assert!(layer_of("publisher") > layer_of("snapshot"));
    assert_eq!(layer_of("health::state"), 0);
    assert_eq!(layer_of("health::check"), 0);
    assert_eq!(layer_of("health::probe::tcp"), 2);
    assert_eq!(layer_of("health::runner"), 2);
}
