//! Passes the kernel's linker script to the image binary (bare-metal target only).
fn main() {
    let script = std::env::var("DEP_TSD_KERNEL_LINKER_SCRIPT").expect("kernel linker script");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{script}");
    }
}
