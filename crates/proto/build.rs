//! Generates the kechuang.v1 wire code with protox: no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../../proto";
    let files =
        ["records", "stats", "search", "sync", "operator", "admin"].map(|f| format!("{root}/kechuang/v1/{f}.proto"));
    let fds = protox::compile(&files, [root])?;
    // The descriptors themselves, for gRPC reflection (grpcurl without proto files).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("kechuang_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        .type_attribute(".", "#[allow(clippy::all, clippy::pedantic, missing_docs)]")
        .compile_fds(fds)?;
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    Ok(())
}
