//! Embeds the browser assets (GraphiQL's, and the members console's) in the
//! binary: each folder's MANIFEST lists the files, and this writes the table
//! of them that `src/transport/assets.rs` serves.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut table = String::new();
    for (name, folder) in [("GRAPHIQL", "assets/graphiql"), ("CONSOLE", "console")] {
        let manifest = root.join(folder).join("MANIFEST");
        println!("cargo:rerun-if-changed={}", manifest.display());
        let listed = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        writeln!(table, "pub static {name}: &[Asset] = &[").unwrap();
        for path in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let file = root.join(folder).join(path);
            assert!(
                file.is_file(),
                "{} lists {path}, which is missing",
                manifest.display()
            );
            println!("cargo:rerun-if-changed={}", file.display());
            writeln!(
                table,
                "    Asset {{ path: {path:?}, bytes: include_bytes!({:?}) }},",
                file.display().to_string()
            )
            .unwrap();
        }
        writeln!(table, "];").unwrap();
    }
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    std::fs::write(out, table).unwrap();
}
