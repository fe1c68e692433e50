//! A guest cannot use another guest's cookie, session or thread.

use super::*;
use crate::abi::{ret, smc, split, teec};
use crate::sim::{FN_ECHO, FN_FOREIGN_INTR};

#[test]
fn guest_cannot_use_another_guests_session() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    let o = invoke(&mut w, G2, s1, FN_ECHO, &[]);
    assert_ne!(o.ret, 0, "G2 invoking G1's session number");
    w.write_arg(G2, arg(1), msg::CMD_CLOSE_SESSION, 0, s1, &[]);
    assert_ne!(w.run(G2, arg(1), 0).ret, 0);
    assert_eq!(w.p.optee.sessions(2), 1);
}

#[test]
fn guest_cannot_resume_another_guests_thread() {
    let mut w = world();
    let s = open(&mut w, G1);
    w.write_arg(G1, arg(1), msg::CMD_INVOKE_COMMAND, FN_FOREIGN_INTR, s, &[]);
    let (hi, lo) = split(arg(1));
    let r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    assert!(ret::is_rpc(r[0]));
    let rfr = [u64::from(smc::RETURN_FROM_RPC), 0, 0, r[3], 0, 0, 0, 0];
    assert_eq!(w.call(G2, rfr)[0], ret::ERESUME);
    assert_eq!(w.call(G1, rfr)[0], ret::OK);
    assert_clean(&w);
}

#[test]
fn guest_cannot_use_another_guests_cookies() {
    let mut w = world();
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INOUT, list(0), data(0), 4096, 0x42);
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    // G2 unregistering or using G1's cookie.
    let rm = Param {
        attr: msg::ATTR_TYPE_RMEM_INPUT,
        a: 0,
        b: 8,
        c: 0x42,
    };
    w.write_arg(G2, arg(0), msg::CMD_UNREGISTER_SHM, 0, 0, &[rm]);
    assert_ne!(w.run(G2, arg(0), 1).ret, 0);
    let s2 = open(&mut w, G2);
    let o = invoke(&mut w, G2, s2, FN_ECHO, &[rm]);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS);
    // CALL_WITH_REGD_ARG naming G1's cookie.
    w.exchange(G2);
    let r = w.call(
        G2,
        [u64::from(smc::CALL_WITH_REGD_ARG), 0, 0x42, 0, 0, 0, 0, 0],
    );
    assert_eq!(r[0], ret::EBADADDR);
    // G2 may use the same cookie value for its own buffer.
    let p = w.tmem(G2, msg::ATTR_TYPE_TMEM_INOUT, list(0), data(0), 4096, 0x42);
    w.write_arg(G2, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G2, arg(0), 1).ret, 0);
    assert_eq!((w.p.mem.pins(G1), w.p.mem.pins(G2)), (1, 1));
    assert_clean(&w);
}

#[test]
fn guest_cannot_free_another_guests_rpc_buffer() {
    let mut w = world();
    w.fast(G1, smc::ENABLE_SHM_CACHE);
    let s = open(&mut w, G1);
    invoke(&mut w, G1, s, crate::sim::FN_GET_TIME, &[value(2, 0)]);
    assert_eq!(w.p.mem.pins(G1), 1);
    assert_eq!(w.fast(G2, smc::DISABLE_SHM_CACHE)[0], ret::ENOTAVAIL);
    assert_eq!(w.p.mem.pins(G1), 1);
}
