//! Records which commit the binary was built from, for `gslbd --version`.
//!
//! `GSLBD_COMMIT` is set to the abbreviated commit of the git checkout the crate is built in.
//! A build outside a git checkout of this crate (a source tarball, the crates.io package, a
//! `COPY` into a container) must still succeed and must not borrow the commit of an enclosing
//! repository, so it says "unknown: not built from a git checkout" instead. Packagers who
//! build from a tarball can pass the commit they built through `GSLBD_BUILD_COMMIT`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GSLBD_BUILD_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let commit = match std::env::var("GSLBD_BUILD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git_commit(&dir).unwrap_or_else(|| "unknown: not built from a git checkout".to_string()),
    };
    println!("cargo:rustc-env=GSLBD_COMMIT={commit}");
}

/// The checkout's HEAD commit, when `dir` is the top of a git work tree. Asks cargo to run this
/// again when HEAD moves (a commit, a checkout), not on every source edit: the commit names what
/// was committed, so a build with uncommitted edits reports the commit it started from.
fn git_commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    // HEAD itself (a checkout), the branch it points to (a commit), and packed-refs (where
    // `git gc` moves branch tips). In a linked worktree HEAD lives in the worktree's git dir
    // and the branches in the common one.
    let git_dir = dir.join(git(dir, &["rev-parse", "--git-dir"])?);
    let common_dir = dir.join(git(dir, &["rev-parse", "--git-common-dir"])?);
    // Only paths that exist: cargo reruns a build script on every build while a watched path
    // is missing.
    let mut watch = vec![git_dir.join("HEAD"), common_dir.join("packed-refs")];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(common_dir.join(branch));
    }
    for p in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    Some(commit)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}
