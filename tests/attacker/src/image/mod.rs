//! The image's code (feature `image`, aarch64 only): a malicious TEE guest. It runs the attacks
//! of [`crate::ATTACKS`] against the
//! OP-TEE mediator one after the other and, after each, checks that
//!
//! - the attack got exactly the documented answer,
//! - the mediator still answers (CALLS_REVISION = 2.0, and every fourth attack a real
//!   open/invoke/close session on the invoke-tests pseudo-TA),
//! - Xen holds no pin of ours any more (`TEE_STUBDOM_OP_query` on `DOMID_SELF`).
//!
//! One `TSD-CHECK <name> <attack> PASS|FAIL <detail> | alive=.. pins=..` line per attack, then
//! `TSD-RESULT`. Each attack's doc comment says what it does, what must come back and what
//! defends against it; its row in [`crate::ATTACKS`] (and so in `tests/attacker/README.md`) says
//! the same in short.
//!
//! Boot arguments: `name=` (markers), `dom0-pa=` (a physical address in dom0's RAM: dom0's RAM is
//! mapped 1:1, so the scenario knows it; default 0x68000000, dom0's device tree in the
//! stub-domain scenarios), `only=` (run the attacks whose names contain this text; development
//! aid).
//!
//! Memory given to OP-TEE is our own heap, page-aligned; the kernel identity-maps RAM, so an
//! address is its IPA. Calls go through `hvc #0` (`xenif::hook::call::smccc_hvc`).
//!
//! One module per attack family, in run order: `threads`, `fids`, `arg`, `memref`, `cookies`,
//! `rpc`, `shared`, `vcpus` ([`crate::Family`]); `cx` is what they all use, `run` the loop.

pub(crate) mod arg;
pub(crate) mod cookies;
mod cx;
pub(crate) mod fids;
pub(crate) mod memref;
pub(crate) mod rpc;
mod run;
pub(crate) mod shared;
pub(crate) mod threads;
pub(crate) mod vcpus;

pub(crate) use cx::{Cx, Outcome};
pub use run::main;
