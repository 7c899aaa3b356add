//! Generates the C header from ffi/src with ffi/cbindgen.toml: shared by the test that
//! checks the checked-in header and by the example that rewrites it (`make header`).

use std::path::{Path, PathBuf};

/// The crate's directory (ffi/).
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the checked-in header lives.
pub fn checked_in_path() -> PathBuf {
    crate_dir().join("../include/litecommit.h")
}

/// The header as cbindgen generates it now.
pub fn generate() -> Result<String, String> {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .map_err(|e| format!("reading cbindgen.toml: {e}"))?;
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?
        .write(&mut out);
    String::from_utf8(out).map_err(|e| format!("cbindgen wrote invalid UTF-8: {e}"))
}
