//! Xen guest interface (placeholder until the unikernel issue lands).
#![no_std]
