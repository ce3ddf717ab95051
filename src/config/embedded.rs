//! The shipped example (`config/gslbd.yaml` and its zones), built into the binary so that
//! `gslbd serve` and `gslbd demo` work from any directory.

use std::path::{Component, Path, PathBuf};

/// Path under which the embedded config is reported.
pub const CONFIG_PATH: &str = "config/gslbd.yaml";

const FILES: &[(&str, &str)] = &[
    ("config/gslbd.yaml", include_str!("../../config/gslbd.yaml")),
    ("zones/example.test.zone", include_str!("../../zones/example.test.zone")),
];

/// Reads an embedded file by its repository-relative path (`..` and `.` resolved).
pub fn read(path: &Path) -> std::io::Result<String> {
    let mut norm = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                norm.pop();
            }
            Component::Normal(p) => norm.push(p),
            _ => {}
        }
    }
    FILES
        .iter()
        .find(|(p, _)| Path::new(p) == norm)
        .map(|(_, text)| text.to_string())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not an embedded file", path.display()),
            )
        })
}

/// Every embedded file, for the fixture test.
pub fn files() -> &'static [(&'static str, &'static str)] {
    FILES
}
