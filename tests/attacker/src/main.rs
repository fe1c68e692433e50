//! attacker: a malicious TEE guest, the image. Its code is the library's `image` module (so
//! that the attacks and the host-tested catalogue live in one crate); see `src/lib.rs`.
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

kernel::entry!(attacker::image::main);
