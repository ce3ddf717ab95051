//! File access that an operator's mistake or a planted file cannot turn into a hang, unbounded
//! memory or a write through a symlink. Every file gslbd reads (config, zones, `$INCLUDE`s, the
//! state file, the serials file) and every file it writes (state and serials files) goes through
//! here. L0: imports nothing from the crate.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

/// Reads a whole regular file, refusing anything larger than `max_bytes`.
///
/// The file is opened with `O_NONBLOCK`, so that opening a FIFO with no writer returns at once
/// instead of waiting for one; then anything that is not a regular file (FIFO, device such as
/// `/dev/zero`, directory, socket) is refused before a single byte is read. The size is checked
/// twice: from `fstat`, and while reading, so that a file that grows under us cannot exceed the cap
/// either.
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", describe(&meta)),
        ));
    }
    if meta.len() > max_bytes {
        return Err(too_large(max_bytes));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(buf)
}

/// [`read_regular`] for text: bytes that are not UTF-8 are an error.
pub fn read_regular_string(path: &Path, max_bytes: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, max_bytes)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("file is larger than the limit of {max} bytes"),
    )
}

fn describe(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

/// Replaces `path` with `bytes` atomically: a new temp file beside it, fsync, rename, fsync of the
/// directory. On any error the previous file is untouched and the temp file is removed.
///
/// The temp file's name carries a random suffix and is created with `O_CREAT|O_EXCL|O_NOFOLLOW`:
/// a file or symlink planted at a predictable name cannot redirect the write to another file.
/// Mode 0600: state files name operators and their reasons.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", random_suffix()?));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(&tmp)?;
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Keeps a copy of a file that could not be read back (corrupt, wrong shape) before it is
/// overwritten, as `<path>.corrupt-<unix seconds>`. Returns the copy's path.
pub fn keep_copy(path: &Path, unix_seconds: u64) -> io::Result<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".corrupt-{unix_seconds}"));
    let copy = PathBuf::from(name);
    let bytes = read_regular(path, u64::MAX)?;
    write_atomic(&copy, &bytes)?;
    Ok(copy)
}

fn random_suffix() -> io::Result<String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| io::Error::other("no randomness for a temp file name"))?;
    Ok(data_encoding::HEXLOWER.encode(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_regular(&p, 5).unwrap(), b"12345");
        let e = read_regular(&p, 4).unwrap_err();
        assert!(e.to_string().contains("larger than the limit of 4 bytes"), "{e}");
    }

    #[test]
    fn refuses_devices_directories_and_fifos_without_blocking() {
        let e = read_regular(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular(dir.path(), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        // No writer: a blocking open would never return.
        let e = read_regular(&fifo, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn atomic_write_does_not_follow_planted_links() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.json");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        // Plant symlinks at the predictable names an attacker would guess.
        std::os::unix::fs::symlink(&victim, dir.path().join(".state.json.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("state.json.tmp")).unwrap();
        write_atomic(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temp file left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp") && e.path().exists())
            .filter(|e| !e.file_type().unwrap().is_symlink())
            .collect();
        assert!(left.is_empty());
    }

    #[test]
    fn keep_copy_preserves_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        std::fs::write(&p, b"{not json").unwrap();
        let c = keep_copy(&p, 42).unwrap();
        assert!(c.to_string_lossy().ends_with("state.json.corrupt-42"));
        assert_eq!(std::fs::read(c).unwrap(), b"{not json");
    }
}
