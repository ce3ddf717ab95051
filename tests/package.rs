//! Installing gslbd like a DNS server: the Debian package `cargo deb` builds (its files,
//! conffiles, unit, man pages and completions, lintian, and the packaged binary's `check` on the
//! packaged config), the generated files committed under contrib/, and `gslbd --version`.
//!
//! Needs cargo-deb, dpkg-deb, lintian and git; tests/run.sh installs what is missing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run {shown}: {e} (tests/run.sh installs the tools this test needs)"),
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every regular file under `dir`, by path relative to it.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_files(want: &BTreeMap<PathBuf, Vec<u8>>, got: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: different files");
    for (name, bytes) in want {
        assert!(
            got[name] == *bytes,
            "{what}: {} differs; regenerate with `cargo run -- package-files contrib`",
            name.display()
        );
    }
}

/// The man pages and completions `gslbd package-files` writes, from the binary at `bin`.
fn generated_by(bin: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    run_ok(Command::new(bin).arg("package-files").arg(dir.path()));
    files_under(dir.path())
}

/// contrib/man and contrib/completions, keyed as `package-files` lays them out.
fn committed() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    for sub in ["man", "completions"] {
        for (name, bytes) in files_under(&repo().join("contrib").join(sub)) {
            all.insert(Path::new(sub).join(name), bytes);
        }
    }
    all
}

#[test]
fn committed_man_pages_and_completions_are_what_the_cli_generates() {
    let generated = generated_by(Path::new(bin()));
    let names: Vec<String> = generated.keys().map(|p| p.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "completions/_gslbd",
            "completions/gslbd.bash",
            "completions/gslbd.fish",
            "man/gslbd-check.1",
            "man/gslbd-demo.1",
            "man/gslbd-explain.1",
            "man/gslbd-keygen.1",
            "man/gslbd-serve.1",
            "man/gslbd.1"
        ]
    );
    // The pages and completions document what users run: every subcommand and flag, the closing
    // sections, and not the packaging subcommand itself.
    let text = |name: &str| String::from_utf8(generated[Path::new(name)].clone()).unwrap();
    let serve = text("man/gslbd-serve.1");
    for flag in ["config", "zone", "dns\\-listen", "http\\-listen", "rrl", "log\\-format"] {
        assert!(
            serve.contains(&format!("\\-\\-{flag}")),
            "--{flag} missing from gslbd-serve.1:\n{serve}"
        );
    }
    let top = text("man/gslbd.1");
    for section in ["EXIT STATUS", "SIGNALS", "ENVIRONMENT", "FILES", "gslbd\\-serve(1)"] {
        assert!(top.contains(section), "{section} missing from gslbd.1:\n{top}");
    }
    for (name, bytes) in &generated {
        let t = String::from_utf8_lossy(bytes);
        assert!(
            !t.contains("package-files") && !t.contains("package\\-files"),
            "{}",
            name.display()
        );
        if name.starts_with("completions") {
            assert!(
                t.contains("http-listen") && t.contains("serve"),
                "{}:\n{t}",
                name.display()
            );
        }
    }
    assert_same_files(&generated, &committed(), "contrib/ against `gslbd package-files`");

    // bash completes the subcommands and their flags with the committed script.
    let complete = |words: &str| {
        let script = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _gslbd gslbd \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            repo().join("contrib/completions/gslbd.bash").display()
        );
        run_ok(Command::new("bash").arg("-c").arg(script))
    };
    assert_eq!(complete("gslbd ser"), "serve\n");
    assert_eq!(complete("gslbd serve --http"), "--http-listen\n");
    assert_eq!(complete("gslbd check --con"), "--config\n");
}

/// `git rev-parse --short=12 HEAD` of this checkout, or None when the crate is not one.
fn checkout_commit() -> Option<String> {
    let git = |args: &[&str]| {
        let out = run(Command::new("git").arg("-C").arg(repo()).args(args));
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    (std::fs::canonicalize(top).unwrap() == std::fs::canonicalize(repo()).unwrap())
        .then(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .flatten()
}

#[test]
fn version_names_the_release_and_the_commit() {
    let (code, out, err) = run_cli(&["--version"]);
    assert_eq!(code, 0, "{err}");
    let commit = checkout_commit().unwrap_or_else(|| "unknown: not built from a git checkout".into());
    assert_eq!(
        out.trim(),
        format!("gslbd {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
    let (code, short, _) = run_cli(&["-V"]);
    assert_eq!((code, short), (0, out));
}

/// build.rs, compiled on its own and run as cargo would run it, in `manifest_dir`.
fn build_script_output(script: &Path, manifest_dir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(script);
    cmd.env("CARGO_MANIFEST_DIR", manifest_dir)
        .env_remove("GSLBD_BUILD_COMMIT");
    cmd.envs(env.iter().copied());
    run_ok(&mut cmd)
}

#[test]
fn build_script_says_when_it_has_no_commit() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("build-script");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    run_ok(
        Command::new(rustc)
            .args(["--edition", "2021", "-o"])
            .arg(&script)
            .arg(repo().join("build.rs")),
    );
    let env_line = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("cargo:rustc-env=GSLBD_COMMIT="))
            .unwrap_or_else(|| panic!("no GSLBD_COMMIT in:\n{out}"))
            .to_string()
    };
    let unknown = "unknown: not built from a git checkout";
    // A source tarball: no git metadata at all.
    let tarball = dir.path().join("gslbd-0.1.0");
    std::fs::create_dir(&tarball).unwrap();
    assert_eq!(env_line(&build_script_output(&script, &tarball, &[])), unknown);
    // Unpacked inside somebody else's git checkout: that repository's commit is not ours.
    let outer = dir.path().join("outer");
    std::fs::create_dir_all(outer.join("vendor/gslbd")).unwrap();
    run_ok(Command::new("git").arg("init").arg("-q").arg(&outer));
    let out = build_script_output(&script, &outer.join("vendor/gslbd"), &[]);
    assert_eq!(env_line(&out), unknown);
    // A packager names the commit the tarball came from.
    let out = build_script_output(&script, &tarball, &[("GSLBD_BUILD_COMMIT", "0123456789ab")]);
    assert_eq!(env_line(&out), "0123456789ab");
    // This checkout: its HEAD, and cargo is told to look again when HEAD moves.
    if let Some(commit) = checkout_commit() {
        let out = build_script_output(&script, &repo(), &[]);
        assert_eq!(env_line(&out), commit);
        assert!(
            out.lines()
                .any(|l| l.starts_with("cargo:rerun-if-changed=") && l.ends_with("HEAD")),
            "{out}"
        );
    }
}

/// `dpkg-deb -c`: path (without the leading `.`) to mode string, e.g. "/usr/bin/gslbd" ->
/// "-rwxr-xr-x".
fn package_listing(deb: &Path) -> BTreeMap<String, String> {
    let out = run_ok(Command::new("dpkg-deb").arg("-c").arg(deb));
    out.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let path = fields.get(5)?.strip_prefix('.')?;
            Some((path.trim_end_matches('/').to_string(), fields[0].to_string()))
        })
        .collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
#[ignore = "needs cargo-deb, dpkg-deb, lintian and readelf; tests/run.sh runs it"]
fn debian_package_installs_like_a_dns_server() {
    let out_dir = tempfile::tempdir().unwrap();
    // The package-test profile (Cargo.toml says why); the packaging is the release one's.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = run(Command::new(&cargo)
        .current_dir(repo())
        .args(["deb", "--locked", "--profile", "package-test", "--output"])
        .arg(out_dir.path()));
    assert!(
        built.status.success(),
        "cargo deb failed (tests/run.sh installs cargo-deb):\n{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let with_ext = |ext: &str| -> Vec<PathBuf> {
        std::fs::read_dir(out_dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect()
    };
    let (debs, ddebs) = (with_ext("deb"), with_ext("ddeb"));
    assert_eq!((debs.len(), ddebs.len()), (1, 1), "{debs:?} {ddebs:?}");
    let deb = &debs[0];

    // Control data: name, version, dependencies, conffiles, maintainer scripts.
    let info = run_ok(Command::new("dpkg-deb").arg("-I").arg(deb));
    assert!(info.contains(" Package: gslbd\n"), "{info}");
    assert!(
        info.contains(&format!(" Version: {}", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );
    assert!(info.contains(" Section: net\n"), "{info}");
    let changelog = std::fs::read_to_string(repo().join("contrib/deb/changelog")).unwrap();
    assert!(
        changelog.starts_with(&format!("gslbd ({}-1) ", env!("CARGO_PKG_VERSION"))),
        "contrib/deb/changelog needs an entry for this version:\n{changelog}"
    );
    assert!(
        info.lines().any(|l| l.starts_with(" Depends:") && l.contains("libc6")),
        "{info}"
    );
    let conffiles = run_ok(Command::new("dpkg-deb").arg("-I").arg(deb).arg("conffiles"));
    let mut conffiles: Vec<&str> = conffiles.lines().collect();
    conffiles.sort();
    assert_eq!(
        conffiles,
        ["/etc/gslbd/gslbd.yaml", "/etc/gslbd/zones/example.test.zone"]
    );
    // The unit is registered with systemd on install but neither enabled nor started: enabling
    // happens only for a unit the operator had enabled before (an upgrade), and only a running
    // one is restarted.
    let postinst = run_ok(Command::new("dpkg-deb").arg("-I").arg(deb).arg("postinst"));
    assert!(
        postinst.contains("if deb-systemd-helper debian-installed gslbd.service; then"),
        "{postinst}"
    );
    assert!(
        postinst.contains("deb-systemd-invoke try-restart gslbd.service"),
        "{postinst}"
    );
    assert!(!postinst.contains("deb-systemd-invoke start"), "{postinst}");

    // Files and modes.
    let listing = package_listing(deb);
    let unit_path = [
        "/usr/lib/systemd/system/gslbd.service",
        "/lib/systemd/system/gslbd.service",
    ]
    .into_iter()
    .find(|p| listing.contains_key(*p))
    .unwrap_or_else(|| panic!("no systemd unit in {listing:#?}"));
    let expect = [
        ("/usr/bin/gslbd", "-rwxr-xr-x"),
        (unit_path, "-rw-r--r--"),
        ("/etc/gslbd/gslbd.yaml", "-rw-r--r--"),
        ("/etc/gslbd/zones/example.test.zone", "-rw-r--r--"),
        ("/usr/share/man/man1/gslbd.1.gz", "-rw-r--r--"),
        ("/usr/share/man/man1/gslbd-serve.1.gz", "-rw-r--r--"),
        ("/usr/share/man/man1/gslbd-check.1.gz", "-rw-r--r--"),
        ("/usr/share/man/man1/gslbd-demo.1.gz", "-rw-r--r--"),
        ("/usr/share/man/man1/gslbd-explain.1.gz", "-rw-r--r--"),
        ("/usr/share/man/man1/gslbd-keygen.1.gz", "-rw-r--r--"),
        ("/usr/share/bash-completion/completions/gslbd", "-rw-r--r--"),
        ("/usr/share/zsh/vendor-completions/_gslbd", "-rw-r--r--"),
        ("/usr/share/fish/vendor_completions.d/gslbd.fish", "-rw-r--r--"),
        ("/usr/share/doc/gslbd/copyright", "-rw-r--r--"),
    ];
    for (path, mode) in expect {
        assert_eq!(
            listing.get(path).map(String::as_str),
            Some(mode),
            "{path} in {listing:#?}"
        );
    }

    // lintian on the package users install: no errors (warnings and notes are printed for the
    // record). The debug-symbol .ddeb cargo-deb writes beside it is not linted: it has no
    // changelog or copyright of its own, as debhelper would give it.
    let lint = run(Command::new("lintian")
        .args(["--fail-on", "error", "--tag-display-limit", "0"])
        .arg(deb));
    let lint_out = format!(
        "{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    println!("lintian:\n{lint_out}");
    assert!(
        lint.status.success() && !lint_out.lines().any(|l| l.starts_with("E: ")),
        "lintian reports errors ({}):\n{lint_out}",
        lint.status
    );

    // The packaged binary, unpacked as it is, checks the packaged config as it is.
    let root = tempfile::tempdir().unwrap();
    run_ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(root.path()));
    let packaged_bin = root.path().join("usr/bin/gslbd");
    let config = root.path().join("etc/gslbd/gslbd.yaml");
    let checked = run_ok(Command::new(&packaged_bin).arg("check").arg("--config").arg(&config));
    assert!(
        checked.contains(": ok (1 zones,") && checked.contains("1 pools"),
        "{checked}"
    );
    // Stripped, with its symbols in the dbgsym package under its build id.
    let sections = run_ok(Command::new("readelf").arg("-S").arg(&packaged_bin));
    assert!(
        !sections.contains(".debug_info"),
        "packaged binary not stripped:\n{sections}"
    );
    let notes = run_ok(Command::new("readelf").arg("-n").arg(&packaged_bin));
    let build_id = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("no build id:\n{notes}"))
        .to_string();
    let symbols = format!("/usr/lib/debug/.build-id/{}/{}.debug", &build_id[..2], &build_id[2..]);
    let dbg_listing = package_listing(&ddebs[0]);
    assert!(dbg_listing.contains_key(&symbols), "{symbols} not in {dbg_listing:#?}");
    let version = run_ok(Command::new(&packaged_bin).arg("--version"));
    let (_, ours, _) = run_cli(&["--version"]);
    assert_eq!(version, ours);

    // The default config probes only loopback addresses, and keeps state where the unit lets
    // the service write.
    let yaml: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let checks = yaml["checks"].as_mapping().expect("checks in the default config");
    assert!(!checks.is_empty());
    for (name, check) in checks {
        let addr: std::net::IpAddr = check["address"]
            .as_str()
            .unwrap_or_else(|| panic!("check {name:?} must probe an explicit address"))
            .parse()
            .unwrap();
        assert!(
            matches!(addr, std::net::IpAddr::V4(a) if a.octets()[..3] == [127, 0, 0]),
            "check {name:?} probes {addr}"
        );
    }
    assert!(
        yaml["server"]["state_file"]
            .as_str()
            .unwrap()
            .starts_with("/var/lib/gslbd/"),
        "{yaml:?}"
    );

    // The unit runs the packaged binary on the packaged config and keeps its hardening.
    let unit = std::fs::read_to_string(root.path().join(unit_path.trim_start_matches('/'))).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert!(
        exec.starts_with("/usr/bin/gslbd serve --config /etc/gslbd/gslbd.yaml"),
        "{exec}"
    );
    for line in [
        "DynamicUser=yes",
        "StateDirectory=gslbd",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "MemoryDenyWriteExecute=yes",
        "SystemCallFilter=@system-service",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing from the unit:\n{unit}");
    }

    // Man pages and completions in the package are the committed ones, which are what the
    // packaged binary generates.
    let share = root.path().join("usr/share");
    let mut packaged = BTreeMap::new();
    for (name, bytes) in files_under(&share.join("man/man1")) {
        let plain = name.to_str().unwrap().strip_suffix(".gz").unwrap().to_string();
        packaged.insert(Path::new("man").join(plain), gunzip(&bytes));
    }
    for (from, to) in [
        ("bash-completion/completions/gslbd", "gslbd.bash"),
        ("zsh/vendor-completions/_gslbd", "_gslbd"),
        ("fish/vendor_completions.d/gslbd.fish", "gslbd.fish"),
    ] {
        packaged.insert(
            Path::new("completions").join(to),
            std::fs::read(share.join(from)).unwrap(),
        );
    }
    assert_same_files(&committed(), &packaged, "the package against contrib/");
    assert_same_files(
        &generated_by(&packaged_bin),
        &packaged,
        "the package against its binary",
    );
}
