//! Generates the C header from ffi/src with ffi/cbindgen.toml: shared by the test that
//! checks the checked-in header and by the example that rewrites it (`make header`).
//!
//! cbindgen writes every constant and type first and every function last. The header a
//! reader wants is arranged by concept instead, as wasmtime's C API is: so this file cuts
//! cbindgen's output into items and regroups them, one section per module of ffi/src in
//! the order of `SECTIONS`, each item in the order of its module's source. A section opens
//! with its module's `//!` text: the first line is its title. Every struct is declared
//! first, so that any section may point to a struct that a later one defines.
//!
//! The version macros (`LITECOMMIT_VERSION*`) follow the includes; they come from the
//! crate's version, so a version bump makes the checked-in header stale until `make header`.
//!
//! Generation fails, and with it the header test, when an item's module is not a section,
//! a module's first doc line is not a one-line title, or a function's doc has no
//! "Ownership:" line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The modules of ffi/src that make the header's sections, in header order.
pub const SECTIONS: &[&str] = &[
    "status",
    "committer",
    "error",
    "values",
    "results",
    "snapshot",
    "submit",
    "queue",
    "options",
    "checkpoint",
    "stats",
];

/// What cbindgen writes around the functions (`cpp_compat = true`).
const EXTERN_C_OPEN: &str = "#ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n";
const EXTERN_C_CLOSE: &str = "#ifdef __cplusplus\n}  // extern \"C\"\n#endif  // __cplusplus\n";

/// The crate's directory (ffi/).
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the checked-in header lives.
pub fn checked_in_path() -> PathBuf {
    crate_dir().join("../include/litecommit.h")
}

/// The header as it is generated now.
pub fn generate() -> Result<String, String> {
    let raw = cbindgen_output()?;
    let sources = read_sources(&crate_dir().join("src"))?;
    arrange(&raw, &sources)
}

/// cbindgen's own output: constants and types, then the functions.
fn cbindgen_output() -> Result<String, String> {
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

/// One module of ffi/src: its name, its `//!` lines and where each exported item is defined.
struct Module {
    /// The file's stem, e.g. `committer`.
    name: String,
    /// The `//!` lines, without the marker.
    doc: Vec<String>,
    /// Item name -> line of its definition.
    items: HashMap<String, usize>,
}

fn read_sources(dir: &Path) -> Result<Vec<Module>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut modules = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            modules.push(parse_module(name, &text));
        }
    }
    Ok(modules)
}

fn parse_module(name: String, text: &str) -> Module {
    let doc = text
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l).to_string())
        .collect();
    const DEFINITIONS: [&str; 5] = [
        "pub unsafe extern \"C\" fn ",
        "pub const ",
        "pub struct ",
        "pub enum ",
        "pub type ",
    ];
    let mut items = HashMap::new();
    for (line, code) in text.lines().enumerate() {
        if let Some(rest) = DEFINITIONS.iter().find_map(|d| code.strip_prefix(d)) {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            items.insert(ident, line);
        }
    }
    Module { name, doc, items }
}

/// One item of cbindgen's output: its doc comment and declaration, and the name it declares.
struct Item {
    /// The C name it declares.
    name: String,
    /// Its doc comment and declaration, as cbindgen wrote them.
    text: String,
    /// A function (from cbindgen's extern "C" block), not a constant or a type.
    is_function: bool,
    /// A struct, opaque or not: declared ahead of every section.
    is_struct: bool,
}

fn items_of(region: &str, is_function: bool) -> Result<Vec<Item>, String> {
    region
        .split("\n\n")
        .map(str::trim)
        .filter(|block| !block.is_empty())
        .map(|block| {
            let code = code_of(block);
            Ok(Item {
                name: declared_name(code)
                    .ok_or_else(|| format!("cannot tell what this declares:\n{block}"))?,
                text: block.to_string(),
                is_function,
                is_struct: code.starts_with("typedef struct "),
            })
        })
        .collect()
}

/// A block without its leading doc comment.
fn code_of(block: &str) -> &str {
    match block.strip_prefix("/**") {
        Some(rest) => rest
            .split_once("*/")
            .map_or(rest, |(_, code)| code)
            .trim_start(),
        None => block,
    }
}

/// The name a C declaration declares.
fn declared_name(code: &str) -> Option<String> {
    let first = code.lines().next()?;
    let ident = |s: &str| {
        let s = s.trim_start_matches('*');
        let name: String = s
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then_some(name)
    };
    let words: Vec<&str> = first.split_whitespace().collect();
    match words.as_slice() {
        ["#define", name, ..] | ["enum", name, ..] | ["typedef", "struct", name, ..] => ident(name),
        ["typedef", ..] if first.contains("(*") => ident(first.split_once("(*")?.1),
        ["typedef", .., last] => ident(last),
        _ => ident(first.split_once('(')?.0.split_whitespace().last()?),
    }
}

/// Regroups cbindgen's output into sections (see the module's documentation).
fn arrange(raw: &str, modules: &[Module]) -> Result<String, String> {
    let (head, rest) = raw
        .split_once(EXTERN_C_OPEN)
        .ok_or("cbindgen's output has no extern \"C\" block")?;
    let (functions, tail) = rest
        .split_once(EXTERN_C_CLOSE)
        .ok_or("cbindgen's output has no end of its extern \"C\" block")?;
    // The prologue (preamble, include guard, includes) ends with the last #include.
    let last_include = head
        .rfind("\n#include ")
        .ok_or("no #include in cbindgen's output")?;
    let prologue_end = head[last_include + 1..]
        .find('\n')
        .map(|i| last_include + 1 + i + 1)
        .ok_or("cbindgen's output ends after an #include")?;
    let (prologue, types) = head.split_at(prologue_end);
    let mut items = items_of(types, false)?;
    items.extend(items_of(functions, true)?);

    let mut sections: Vec<Vec<(usize, &Item)>> = vec![Vec::new(); SECTIONS.len()];
    for item in &items {
        let (module, line) = modules
            .iter()
            .find_map(|m| m.items.get(&item.name).map(|line| (m, *line)))
            .ok_or_else(|| format!("{} is not defined in any file of ffi/src", item.name))?;
        let section = SECTIONS
            .iter()
            .position(|s| *s == module.name)
            .ok_or_else(|| {
                format!(
                    "{} is defined in ffi/src/{}.rs, which is not a header section: add the \
                 module to SECTIONS in ffi/tests/support/header.rs",
                    item.name, module.name
                )
            })?;
        if item.is_function && !item.text.contains("Ownership:") {
            return Err(format!(
                "{}'s doc comment needs an \"Ownership:\" line saying who owns what",
                item.name
            ));
        }
        sections[section].push((line, item));
    }

    let mut out = String::from(prologue);
    out.push_str(&version_macros());
    out.push_str("\n/*\n * Contents, one section per concept:\n");
    for name in SECTIONS {
        let title = modules
            .iter()
            .find(|m| m.name == *name)
            .and_then(|m| m.doc.first())
            .ok_or_else(|| format!("ffi/src/{name}.rs is missing or has no //! title"))?;
        out.push_str(&format!(" *   {name:<11} {title}\n"));
    }
    out.push_str(" */\n");
    out.push_str(
        "\n/* Every struct, declared here so that any section may point to any of them. */\n",
    );
    for (_, item) in sections.iter().flatten().filter(|(_, i)| i.is_struct) {
        out.push_str(&format!("struct {};\n", item.name));
    }
    out.push('\n');
    out.push_str(EXTERN_C_OPEN);
    for (name, section) in SECTIONS.iter().zip(&mut sections) {
        let module = modules
            .iter()
            .find(|m| m.name == *name)
            .ok_or_else(|| format!("SECTIONS names ffi/src/{name}.rs, which does not exist"))?;
        out.push('\n');
        out.push_str(&section_opening(module)?);
        section.sort_by_key(|(line, _)| *line);
        for (_, item) in section.iter() {
            out.push('\n');
            out.push_str(&item.text);
            out.push('\n');
        }
        out.push_str("\n/** @} */\n");
    }
    out.push('\n');
    out.push_str(EXTERN_C_CLOSE);
    out.push_str(tail);
    Ok(out)
}

/// The `LITECOMMIT_VERSION*` macros: this crate's version, which `litecommit_version()`
/// returns at run time.
fn version_macros() -> String {
    format!(
        "\n/**\n * The version of this header, \"major.minor.patch\": compare with\n \
         * litecommit_version(), the version of the library linked at run time. The shared\n \
         * library's SONAME is liblitecommit.so.<major>.\n \
         */\n\
         #define LITECOMMIT_VERSION_MAJOR {}\n\
         #define LITECOMMIT_VERSION_MINOR {}\n\
         #define LITECOMMIT_VERSION_PATCH {}\n\
         #define LITECOMMIT_VERSION \"{}\"\n",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

/// `@defgroup <module> <title>`, the module's introduction and `@{`.
fn section_opening(module: &Module) -> Result<String, String> {
    let (title, intro) = match module.doc.as_slice() {
        [title] => (title, &[][..]),
        [title, blank, intro @ ..] if blank.is_empty() => (title, intro),
        _ => {
            return Err(format!(
                "ffi/src/{}.rs must open with a one-line //! title, then a blank //! line",
                module.name
            ))
        }
    };
    let mut out = format!("/**\n * @defgroup {} {title}\n", module.name);
    if !intro.is_empty() {
        out.push_str(" *\n");
    }
    for line in intro {
        out.push_str(&format!(
            " *{}{line}\n",
            if line.is_empty() { "" } else { " " }
        ));
    }
    out.push_str(" * @{\n */\n");
    Ok(out)
}
