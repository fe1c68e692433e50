//! OP-TEE mediator core (placeholder until the mediator issue lands).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
