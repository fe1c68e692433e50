//! Passes the linker script to the image binaries (only when building for the bare-metal target)
//! and exports its path to dependent image crates as `DEP_TSD_KERNEL_LINKER_SCRIPT`.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let script = format!("{dir}/link.ld");
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:linker_script={script}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{script}");
    }
}
