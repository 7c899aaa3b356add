//! The README's C section shows `bindings/c/example.c` verbatim (the C tests build and run
//! that file under valgrind).

#[test]
fn readme_shows_the_c_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| {
        std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("reading {p}: {e}"))
    };
    let readme = read("README.md");
    let example = read("bindings/c/example.c");
    let start = readme
        .find("<!-- section:c -->")
        .expect("README has a C section");
    let end = readme
        .find("<!-- /section:c -->")
        .expect("README's C section ends");
    assert!(
        readme[start..end].contains(&format!("```c\n{example}```")),
        "README.md's C section must contain bindings/c/example.c verbatim"
    );
}
