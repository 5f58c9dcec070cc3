//! Writes `spdk-proto/src/methods/` from `spdk-proto/rpc-methods.json`.
//!
//! `cargo run -p spdk-codegen` reads and writes the files beside this
//! crate; `cargo run -p spdk-codegen -- SCHEMA OUT_DIR` names others. Files
//! in the output directory that an earlier run generated and this one does
//! not are removed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spdk-codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args_os().skip(1);
    let schema = args
        .next()
        .map_or_else(|| here.join("../rpc-methods.json"), PathBuf::from);
    let out_dir = args
        .next()
        .map_or_else(|| here.join("../src/methods"), PathBuf::from);
    let json = std::fs::read_to_string(&schema)
        .map_err(|e| format!("cannot read {}: {e}", schema.display()))?;
    let files = spdk_codegen::generate(&json)?;
    std::fs::create_dir_all(&out_dir)?;
    remove_stale(&out_dir, &files)?;
    for (name, contents) in &files {
        std::fs::write(out_dir.join(name), contents)?;
    }
    println!(
        "spdk-codegen: wrote {} files to {}",
        files.len(),
        out_dir.display()
    );
    Ok(())
}

/// Removes generated files that this run does not write (a family that left
/// the schema), leaving hand-written files alone.
fn remove_stale(dir: &Path, files: &[spdk_codegen::File]) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let written = files.iter().any(|(file, _)| file == name);
        if written || !name.ends_with(".rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        if text.starts_with(spdk_codegen::GENERATED_MARKER) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
