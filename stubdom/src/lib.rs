//! The tee-stubdom mediator domain: the mediator core ([`mediator`]) on Xen's OP-TEE forwarder
//! (`tee=stubdom`, `hv-patches/0005`, ABI in [`xenif::hook`]).
//!
//! The core owns five consumer-side traits; this crate provides them on the hook, one module
//! each:
//!
//! | core trait | module | how |
//! |---|---|---|
//! | [`mediator::GuestMemory`] | [`memory`] | the guest's page mapped into the kernel's foreign window (`XENMEM_add_to_physmap_batch`, XSM `mmu {map_read map_write}` on TEE guests only) and kept there in an LRU cache ([`mapcache`]) until evicted or the domain goes, then copied |
//! | [`mediator::Pinning`] | [`pinning`] | `TEE_STUBDOM_OP_pin` / `unpin`, the batches `pin_list` / `unpin_list` (hv-patches 0018; Xen holds the reference and its accounting) |
//! | [`mediator::SecureWorld`] | [`secure`] | `TEE_STUBDOM_OP_secure_call` (Trusted OS IDs only; x7 the client) |
//! | [`mediator::ShadowPages`] | [`shadow`] | page-aligned heap pages of our own, pinned with `DOMID_SELF` for their machine address |
//! | [`mediator::GuestNotification`] | [`notification`] | `TEE_STUBDOM_OP_notify` tried once per guest (`ENODEV`: no notification interrupt) |
//!
//! Everything that touches Xen goes through the [`Hook`] trait ([`hook`]): the image implements
//! it with hypercalls, the host tests with a fake over the core's simulators. [`service`] is the
//! request loop's logic (ring requests → core → respond), [`stats`] the `TSD-STATS` lines,
//! [`mapcache`] the cache of foreign mappings, [`config`] the command line, [`flask`] TA access by Xen's FLASK policy (the core's security server, guests' labels from their SIDs), [`testfault`] the test-only crash trigger. No `unsafe` here: the kernel and xenif APIs are safe.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod config;
pub mod flask;
pub mod hook;
pub mod mapcache;
pub mod memory;
pub mod notification;
pub mod pinning;
pub mod profile;
pub mod secure;
pub mod service;
pub mod shadow;
pub mod stats;
pub mod testfault;

#[cfg(test)]
mod tests;

pub use hook::{Hook, HookPlatform};
pub use service::Server;
pub use shadow::ShadowStore;
