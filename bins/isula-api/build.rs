//! Compile proto/isula/v1/*.proto with protox (pure Rust, no protoc) and tonic-prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/isula/v1/images.proto",
        "proto/isula/v1/system.proto",
        "proto/isula/v1/containers.proto",
        "proto/isula/v1/networks.proto",
        "proto/isula/v1/volumes.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}
