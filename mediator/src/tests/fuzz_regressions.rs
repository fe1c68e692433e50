//! Inputs the fuzz targets (`mediator/fuzz`) found, replayed as tests with
//! their bytes inline. Each test names its target, what went wrong, and
//! what was fixed.

use super::*;
use crate::abi::{ret, teec};

/// `msg_arg`: REGISTER_SHM whose parameter is `ATTR_TYPE_NONE |
/// ATTR_NONCONTIG` with a guest address in `buf_ptr`. The mediator passes a
/// NONE parameter through untranslated, as Xen's `translate_params` does,
/// because OP-TEE dispatches on the type bits and never reads the union of
/// a NONE parameter (`entry_std.c` `register_shm` requires exactly
/// `TMEM_OUTPUT | NONCONTIG`). The simulated OP-TEE only looked at the
/// NONCONTIG bit and walked the guest address as a page list (reported as
/// "memref page not owned by the client's guest"). Fixed in the simulator:
/// REGISTER_SHM needs a TMEM type with NONCONTIG.
#[test]
fn msg_arg_register_shm_with_a_none_noncontig_parameter() {
    #[rustfmt::skip]
    const ARG: [u8; 64] = [
        0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x80, 0x02, 0x40, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let mut w = world();
    w.p.mem.poke(G1, arg(0), &ARG);
    let o = w.run(G1, arg(0), 1);
    assert_eq!(o.x0, ret::OK);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS, "{o:?}");
    // OP-TEE got the parameter as the guest wrote it (nothing to translate).
    let p = w.p.optee.seen.last().expect("reached OP-TEE").params[0];
    assert_eq!((p.attr, p.a), (0x0b00_0000_0200, 0x4002_8000));
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_eq!(w.p.optee.registered(2), 0);
    assert_clean(&w);
}
