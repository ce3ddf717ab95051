//! Writes the small MaxMind-format test database (`gslbd::geo::mmdb_writer::sample_database`,
//! networks listed in `SAMPLE_NETWORKS`) to the path given:
//! `cargo run --example geo_testdb -- geo/sample.mmdb`.

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: geo_testdb OUTPUT.mmdb");
        return std::process::ExitCode::from(64);
    };
    match std::fs::write(&path, gslbd::geo::mmdb_writer::sample_database()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", std::path::Path::new(&path).display());
            std::process::ExitCode::FAILURE
        }
    }
}
