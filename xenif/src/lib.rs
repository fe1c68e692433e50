//! Xen guest interface for tee-stubdom (Xen 4.17, arm64).
//!
//! Layers, from the bottom:
//! - [`abi`]: `#[repr(C)]` mirrors of the Xen public headers (`xen/include/public/`), checked field by
//!   field against the real headers by `tests/abi_layout.rs` (which compiles them with the aarch64 C
//!   compiler). No `unsafe`.
//! - [`error`]: Xen's public errno values (`public/errno.h`) as a typed error.
//! - [`evtchn`]: the 2-level event-channel bit logic (`public/xen.h`, "Event channel endpoints") over
//!   atomics, host-testable.
//! - [`foreign`]: request building and per-page error decoding for `XENMEM_add_to_physmap_batch` with
//!   `XENMAPSPACE_gmfn_foreign`.
//! - [`grant`]: grant-table v1 entry states and `GNTST_*` statuses as a typed error.
//! - [`perfc`]: Xen's software performance counters (`XEN_SYSCTL_perfc_op`) read as hypervisor
//!   entries (traps, interrupts), summed over all CPUs.
//! - [`hook`]: the ABI of our Xen hook (`public/tee_stubdom.h`, hv-patches): its ops and structures,
//!   the ring the mediator serves as back end, checked against the patched header by
//!   `tests/hook_layout.rs`. No `unsafe`.
//! - `hypercall` (aarch64 only): the only module with `unsafe`: `hvc #0xEA1` with the register
//!   contract of a debug Xen, and typed safe wrappers, also those of the hook ABI (`hook::call`
//!   re-exports `tee_stubdom_op` and the guest's SMCCC `hvc #0`, `smccc_hvc`).
//!
//! Invariant: everything except `hypercall` builds and tests on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
// STYLE.md rule 1: `hypercall` is xenif's one place for `unsafe` (the allow below).
#![deny(unsafe_code)]

pub mod abi;
pub mod error;
pub mod evtchn;
pub mod foreign;
pub mod grant;
pub mod hook;
#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)] // STYLE.md rule 1: the hypercalls (`hvc`)
pub mod hypercall;
pub mod perfc;

pub use error::{XenError, XenResult};
