//! docs/configuration.md names every configuration key. The keys come from the config types
//! themselves: a serde `Deserializer` that produces no data of its own walks
//! `config::raw::RawConfig` and records the path of every struct field it is asked for
//! (`server.rrl.slip`, `pools.<name>.members[].provider`). A key added to a raw struct without
//! a line in the reference fails here, and so does a key the reference names that the structs
//! no longer have.
//!
//! Untagged enums (`zones` entries, durations, status codes) deserialise through serde's
//! buffered content, out of the walker's reach. For those the walker offers a map with one
//! unknown key: a struct variant rejects it through `Error::unknown_field`, which serde calls
//! with that struct's field names and the walker's error type, so the names are recorded even
//! though the enum then reports that no variant matched. The next pass offers a string there
//! instead, which every untagged enum of the config accepts, and the walk goes on.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use gslbd::config::raw::RawConfig;

/// The placeholder for a map key chosen by the user (a check, provider or pool name, a zone).
const KEY: &str = "<name>";
const PROBE: &str = "\u{1}probe-unknown-field";

#[derive(Default)]
struct Walk {
    /// Every struct field's path.
    paths: BTreeSet<String>,
    /// Paths of untagged values already probed for struct fields.
    probed: BTreeSet<String>,
    /// Path of the last value handed out by `deserialize_any`, where a struct variant's
    /// `unknown_field` belongs.
    last_any: String,
}

thread_local! {
    static WALK: RefCell<Walk> = RefCell::new(Walk::default());
}

#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        if field == PROBE {
            WALK.with(|w| {
                let mut w = w.borrow_mut();
                let at = w.last_any.clone();
                for f in expected {
                    let p = join(&at, f);
                    w.paths.insert(p);
                }
            });
        }
        Error(format!("unknown field {field}"))
    }
}

fn join(at: &str, field: &str) -> String {
    if at.is_empty() {
        field.to_string()
    } else {
        format!("{at}.{field}")
    }
}

/// Hands out one value at `path`, shaped by what the type asks for.
struct Walker {
    path: String,
}

impl<'de> de::Deserializer<'de> for Walker {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let first = WALK.with(|w| {
            let mut w = w.borrow_mut();
            w.last_any = self.path.clone();
            w.probed.insert(self.path.clone())
        });
        if first {
            v.visit_map(Entries {
                keys: vec![PROBE.to_string()],
                path: self.path,
                value_segment: None,
            })
        } else {
            v.visit_str("")
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bool(false)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i8(0)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i16(0)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i32(0)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(0)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u8(0)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u16(0)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u32(0)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(0)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f32(0.0)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f64(0.0)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_char('x')
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str("")
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_string(String::new())
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bytes(&[])
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_byte_buf(Vec::new())
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_some(self)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_seq(One {
            path: Some(format!("{}[]", self.path)),
        })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_map(Entries {
            keys: vec![KEY.to_string()],
            path: self.path,
            value_segment: Some(KEY),
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        WALK.with(|w| {
            let mut w = w.borrow_mut();
            for f in fields {
                let p = join(&self.path, f);
                w.paths.insert(p);
            }
        });
        v.visit_map(Entries {
            keys: fields.iter().rev().map(|f| f.to_string()).collect(),
            path: self.path,
            value_segment: None,
        })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Error> {
        Err(Error(format!(
            "{}: externally tagged enum {name}: teach tests/config_reference.rs to walk it",
            self.path
        )))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str("")
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

/// The entries of a struct (its fields, each at `path.field`), of a map (one entry `<name>`
/// at `path.<name>`), or of a probe (one unknown key).
struct Entries {
    /// Remaining keys, last first.
    keys: Vec<String>,
    path: String,
    /// `Some(segment)` for a map: the value's path ends in this segment, not in the key.
    value_segment: Option<&'static str>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.keys.last() {
            None => Ok(None),
            Some(k) => seed.deserialize(k.clone().into_deserializer()).map(Some),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let key = self.keys.pop().expect("a value follows its key");
        if key == PROBE {
            return seed.deserialize(().into_deserializer());
        }
        let path = join(&self.path, self.value_segment.unwrap_or(&key));
        seed.deserialize(Walker { path })
    }
}

/// A sequence of one element.
struct One {
    path: Option<String>,
}

impl<'de> SeqAccess<'de> for One {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.path.take() {
            None => Ok(None),
            Some(path) => seed.deserialize(Walker { path }).map(Some),
        }
    }
}

/// Every key path of the configuration file, from the raw config types.
fn key_paths() -> BTreeSet<String> {
    WALK.with(|w| *w.borrow_mut() = Walk::default());
    // Each pass probes at most one more untagged place and stops there; a pass that meets no
    // new one walks the whole tree.
    let mut passes = 0;
    loop {
        passes += 1;
        assert!(passes < 200, "the walk does not finish");
        let before = WALK.with(|w| w.borrow().probed.len());
        match RawConfig::deserialize(Walker { path: String::new() }) {
            Ok(_) => break,
            Err(e) => {
                let after = WALK.with(|w| w.borrow().probed.len());
                assert!(after > before, "walking the config types failed: {e}");
            }
        }
    }
    // A struct inside an untagged variant's field is beyond the probe (the variant never
    // deserialises): such structs are walked on their own at their place.
    let mut nested = 0;
    while gslbd::config::raw::RawDnssec::deserialize(Walker {
        path: "zones[].dnssec".into(),
    })
    .is_err()
    {
        nested += 1;
        assert!(nested < 50, "walking zones[].dnssec does not finish");
    }
    WALK.with(|w| w.borrow().paths.clone())
}

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `code span` of the text.
fn code_spans(text: &str) -> BTreeSet<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

#[test]
fn the_walk_finds_the_config_shape() {
    let paths = key_paths();
    // A few paths of each kind (struct field, map entry, list entry, untagged struct variant,
    // renamed field), so that a walker that finds nothing cannot pass the test below.
    for p in [
        "version",
        "server.tcp_max_connections",
        "server.rrl.exempt",
        "zones",
        "zones[].file",
        "zones[].origin",
        "checks.<name>.type",
        "pools.<name>.members[].provider",
        "transfers.<name>.secondaries[].key",
        "tsig_keys.<name>.secret_file",
    ] {
        assert!(paths.contains(p), "{p} not found; the walk found {paths:#?}");
    }
    assert!(paths.len() > 60, "{paths:#?}");
}

#[test]
fn the_reference_names_every_key() {
    let spans = code_spans(&reference());
    let missing: Vec<String> = key_paths().into_iter().filter(|p| !spans.contains(p)).collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name these keys (write each as `path` with its type, default and meaning):\n{}",
        missing.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_reference_names_no_key_that_does_not_exist() {
    let paths = key_paths();
    let tops: BTreeSet<&str> = paths
        .iter()
        .filter(|p| !p.contains(['.', '[']))
        .map(String::as_str)
        .collect();
    let stale: Vec<String> = code_spans(&reference())
        .into_iter()
        .filter(|s| {
            let top = s.split(['.', '[']).next().unwrap_or("");
            tops.contains(top)
                && s.len() > top.len()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "._[]<>".contains(c))
                && !paths.contains(s)
                // a list's entries, as in a heading: `pools.<name>.members[]`
                && !s.strip_suffix("[]").is_some_and(|list| paths.contains(list))
        })
        .collect();
    assert!(
        stale.is_empty(),
        "docs/configuration.md names keys the config does not have: {stale:?}"
    );
}
