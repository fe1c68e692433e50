//! OP-TEE mediator core of tee-stubdom.
//!
//! Everything Xen's in-hypervisor mediator (`xen/arch/arm/tee/optee.c`,
//! Xen 4.17) does for a guest, as a library that knows nothing about Xen or
//! the hardware. Its host, the mediator domain (`stubdom`), feeds it trapped guest SMCs
//! ([`Mediator::submit`], answers of waiting calls from
//! [`Mediator::next_answer`]) and lifecycle events
//! ([`Mediator::guest_created`], [`Mediator::guest_destroying`]) and gives
//! it a [`Platform`]: guest memory by IPA, page pinning and translation,
//! the real SMC, and shadow pages of its own memory.
//!
//! The same calls can be driven as [`Step`]s ([`Mediator::start`],
//! [`Mediator::result`], [`Mediator::next_step`]): the mediator then makes
//! no secure call for a guest itself but hands each one to its caller
//! ([`Step::Execute`]), which makes it (on Xen, on the guest's own vCPU) and
//! gives OP-TEE's answer back later. The synchronous entry points drive
//! these steps, making each secure call at once.
//!
//! Invariants:
//! - OP-TEE never reads guest memory the guest can still change through an
//!   address the mediator gave it, except the data pages of shared buffers
//!   (which is their purpose): arguments, RPC arguments and page lists are
//!   shadowed.
//! - Every guest value is parsed once into a validated type ([`Ipa`],
//!   [`PageList`], [`ShmCookie`], [`ThreadId`], ...) whose checked
//!   constructor is the only way to make one (the fields are private);
//!   arithmetic on guest values is checked.
//! - Every pinned page is released exactly once: on completion, on
//!   UNREGISTER_SHM / SHM_FREE / RPC free, or at teardown.
//! - A misbehaving guest gets an error answer and a counter increment, never
//!   a panic and never a log line.
//!
//! ABI references: Arm SMCCC (DEN 0028), OP-TEE `optee_smc.h`,
//! `optee_msg.h`, `optee_rpc_cmd.h`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(clippy::arithmetic_side_effects)]
#![warn(missing_docs)]

extern crate alloc;

pub mod abi;
pub mod access;
mod call;
pub mod config;
pub mod error;
mod guest;
mod mediator;
pub mod platform;
pub mod stats;
pub mod types;

#[cfg(any(test, feature = "sim"))]
pub mod sim;

#[cfg(test)]
mod tests;

pub use access::{SecurityServer, Sid, TaAccess, Verdict};
pub use config::{Config, Features, LabelPolicy, Limits};
pub use error::{Answer, GuestError, LifecycleError, ProbeError};
pub use mediator::{Mediator, Progress, Reply, Step, Suspended, MEDIATOR_SMC_COUNT};
pub use platform::{
    GuestMemory, GuestNotification, MemFault, NoShadowPage, PinFault, PinnedPage, Pinning,
    Platform, SecureWorld, ShadowPage, ShadowPages,
};
pub use stats::GuestStats;
pub use types::{
    ClientId, DomId, FunctionId, Ipa, Pa, PageList, Regs, ShmCookie, TaUuid, ThreadId,
};
