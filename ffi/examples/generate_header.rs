//! Rewrites include/litecommit.h from ffi/src (`make header`).

#[path = "../tests/support/header.rs"]
mod generate;

fn main() -> std::process::ExitCode {
    let path = generate::checked_in_path();
    match generate::generate().and_then(|header| {
        std::fs::write(&path, header).map_err(|e| format!("writing {}: {e}", path.display()))
    }) {
        Ok(()) => {
            println!("wrote {}", path.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("generate_header: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
