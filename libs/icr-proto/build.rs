//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and hands the
//! descriptor set to tonic's code generator.

use std::path::{Path, PathBuf};

/// Directory of the `icr.consent.v1` package, relative to `proto/`.
const PACKAGE_DIR: &str = "icr/consent/v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = package_files(&root.join(PACKAGE_DIR))?;
    let descriptors = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("icr_consent_v1_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}

/// Every `.proto` file of the package, in name order. Listing the directory
/// rather than naming files means a file added to the package is compiled
/// (and its services served and reflected) without an edit here, even when
/// no other file imports it.
fn package_files(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(format!("no .proto files in {}", dir.display()).into());
    }
    files.sort();
    Ok(files)
}
