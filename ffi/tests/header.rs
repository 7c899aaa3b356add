//! The checked-in `include/litecommit.h` must be exactly what `support/header.rs` generates
//! now from ffi/src (`make header` rewrites it).

#[path = "support/header.rs"]
mod generate;

#[test]
fn header_is_current() {
    let fresh = generate::generate().unwrap_or_else(|e| panic!("{e}"));
    let path = generate::checked_in_path();
    let checked_in = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        checked_in == fresh,
        "include/litecommit.h is out of date: run `make header` and commit it"
    );
}
