//! The peer benchmark's gslbd configs (benches/peerbench/conf/gslbd-*.yaml, templates filled in
//! by benches/peerbench/driver.sh) pass `gslbd check` with the benchmark zone, as the driver fills
//! them in, so that a config change cannot break the benchmark unnoticed.

mod common;

use common::*;

/// The driver's substitutions: @ZONE@, @DIR@ and @HCPORT@ (the others do not occur in gslbd's).
fn fill(template: &str, dir: &std::path::Path) -> String {
    let zone = repo().join("benches/peerbench/zones/example.test");
    template
        .replace("@ZONE@", zone.to_str().unwrap())
        .replace("@DIR@", dir.to_str().unwrap())
        .replace("@HCPORT@", "5380")
}

#[test]
fn peerbench_gslbd_configs_pass_check() {
    let conf = repo().join("benches/peerbench/conf");
    let zone = std::fs::read_to_string(repo().join("benches/peerbench/zones/example.test")).unwrap();
    for variant in ["gslbd-static", "gslbd-gslb"] {
        let dir = tempfile::tempdir().unwrap();
        // The GSLB variant serves a copy of the zone without the static www A records, as the
        // driver's zone_without_www writes it.
        let without_www: Vec<&str> = zone
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                !(f.len() > 3 && f[0] == "www" && f[1] == "60" && f[2] == "IN" && f[3] == "A")
            })
            .collect();
        assert_eq!(without_www.len() + 2, zone.lines().count(), "two static www A records");
        std::fs::write(dir.path().join("example.test"), without_www.join("\n")).unwrap();
        let template = std::fs::read_to_string(conf.join(format!("{variant}.yaml"))).unwrap();
        let cfg = dir.path().join("gslbd.yaml");
        std::fs::write(&cfg, fill(&template, dir.path())).unwrap();
        let (code, out, err) = run_cli(&["check", "--config", cfg.to_str().unwrap()]);
        assert_eq!(code, 0, "{variant}: {out}{err}");
    }
}
