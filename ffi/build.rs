//! Gives the shared library its SONAME, `liblitecommit.so.<major>`, on ELF platforms: what
//! `make install` (mk/dist-c.mk) installs it as, so that programs linked against it find it
//! by that name at run time and a release that breaks the ABI bumps the major version.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let elf = family.split(',').any(|f| f == "unix")
        && !matches!(
            os.as_str(),
            "macos" | "ios" | "tvos" | "watchos" | "visionos"
        );
    if elf {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liblitecommit.so.{major}");
    }
}
