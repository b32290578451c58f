//! Generates the kechuang.v1 wire code with protox: no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../../proto";
    let files = ["records", "stats", "sync", "operator", "admin"].map(|f| format!("{root}/kechuang/v1/{f}.proto"));
    let fds = protox::compile(&files, [root])?;
    tonic_prost_build::configure()
        .type_attribute(".", "#[allow(clippy::all, clippy::pedantic, missing_docs)]")
        .compile_fds(fds)?;
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    Ok(())
}
