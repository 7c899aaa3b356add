//! The checked-in `include/litecommit.h` must be exactly what cbindgen generates now.

use std::path::Path;

#[test]
fn header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("reading cbindgen.toml: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fresh = dir.path().join("litecommit.h");
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen: {e}"))
        .write_to_file(&fresh);
    let fresh = std::fs::read_to_string(&fresh).unwrap_or_else(|e| panic!("{e}"));
    let header = crate_dir.join("../include/litecommit.h");
    if std::env::var_os("LITECOMMIT_UPDATE_HEADER").is_some() {
        std::fs::write(&header, &fresh).unwrap_or_else(|e| panic!("writing the header: {e}"));
    }
    let checked_in = std::fs::read_to_string(&header).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/litecommit.h is out of date: run `make header` and commit it"
    );
}
