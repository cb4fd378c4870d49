//! Embeds the customer portal's built files (`portal/dist`, made by
//! `scripts/build-portal.sh`, which `scripts/build-worker.sh` runs first) in
//! the worker, so that `/portal/` needs no static-assets layer in front of
//! every request. The worker for wasm32 cannot be built without them; a host
//! build (unit tests, lints) gets an empty table when they are missing.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../portal/dist");
    println!("cargo::rerun-if-changed={}", dist.display());
    let for_wasm = std::env::var("TARGET").is_ok_and(|t| t.starts_with("wasm32"));
    let mut files: Vec<_> = match std::fs::read_dir(&dist) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dist.display())),
        Err(_) if !for_wasm => Vec::new(),
        Err(e) => panic!(
            "{}: {e}; run scripts/build-portal.sh (scripts/build-worker.sh does) first",
            dist.display()
        ),
    };
    files.retain(|p| p.is_file());
    files.sort();
    let mut table = String::from("&[\n");
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_else(|| panic!("{} has no UTF-8 name", path.display()));
        let _ = writeln!(
            table,
            "    ({name:?}, {:?}, include_bytes!({:?})),",
            content_type(name),
            path.canonicalize()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        );
    }
    table.push(']');
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|e| panic!("OUT_DIR: {e}"));
    let out = Path::new(&out_dir).join("portal_files.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}
