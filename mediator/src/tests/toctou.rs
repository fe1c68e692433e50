//! A guest changing its argument or page list mid-call cannot change what
//! OP-TEE sees.

use super::*;
use crate::sim::{FN_ECHO, FN_FOREIGN_INTR};

#[test]
fn argument_changed_after_header_read() {
    let mut w = world();
    let s = open(&mut w, G1);
    w.write_arg(
        G1,
        arg(1),
        msg::CMD_INVOKE_COMMAND,
        FN_ECHO,
        s,
        &[value(msg::ATTR_TYPE_VALUE_INOUT, 1)],
    );
    // Right after the mediator has read the argument (header, then
    // parameters), the guest raises num_params and rewrites the parameter
    // as a raw tmem.
    w.p.mem
        .mutate_after_reads(G1, 2, arg(1) + 28, &5u32.to_le_bytes());
    let mut bad = [0u8; 32];
    crate::abi::write_u64(&mut bad, 0, msg::ATTR_TYPE_TMEM_INPUT);
    crate::abi::write_u64(&mut bad, 8, data(0));
    w.p.mem.mutate_after_reads(G1, 2, arg(1) + 32, &bad);
    let (hi, lo) = crate::abi::split(arg(1));
    let r = w.call(
        G1,
        [
            u64::from(crate::abi::smc::CALL_WITH_ARG),
            hi,
            lo,
            0,
            0,
            0,
            0,
            0,
        ],
    );
    assert_eq!(r[0], 0);
    let seen = w.p.optee.seen.last().unwrap();
    // OP-TEE saw the argument as it was read.
    assert_eq!(seen.params, vec![value(msg::ATTR_TYPE_VALUE_INOUT, 1)]);
    assert_clean(&w);
}

#[test]
fn argument_changed_between_reads_is_consistent() {
    let mut w = world();
    let s = open(&mut w, G1);
    w.write_arg(
        G1,
        arg(1),
        msg::CMD_INVOKE_COMMAND,
        FN_ECHO,
        s,
        &[value(msg::ATTR_TYPE_VALUE_INOUT, 1)],
    );
    // Between the header read and the parameter read the guest changes
    // num_params: the mediator acts on the value it read, the parameter it
    // read is what OP-TEE gets.
    w.p.mem
        .mutate_after_reads(G1, 1, arg(1) + 28, &127u32.to_le_bytes());
    w.p.mem
        .mutate_after_reads(G1, 1, arg(1) + 40, &7u64.to_le_bytes());
    let o = w.run(G1, arg(1), 1);
    assert_eq!(o.x0, 0);
    let seen = w.p.optee.seen.last().unwrap();
    assert_eq!(seen.params.len(), 1);
    assert_eq!(seen.params[0].a, 7, "the value as read once");
    assert_clean(&w);
}

#[test]
fn page_list_changed_after_translation() {
    let mut w = world();
    let s = open(&mut w, G1);
    w.p.mem.poke(G1, data(0), b"original");
    w.p.mem.poke(G1, data(30), b"attacker");
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 8, 1);
    w.write_arg(G1, arg(1), msg::CMD_INVOKE_COMMAND, FN_ECHO, s, &[p]);
    // After the mediator read the page list (3rd read), the guest points
    // it elsewhere; OP-TEE walks the shadow list.
    w.p.mem
        .mutate_after_reads(G1, 3, list(0), &data(30).to_le_bytes());
    let o = w.run(G1, arg(1), 1);
    assert_eq!(o.ret, 0);
    assert_eq!(w.p.optee.seen.last().unwrap().input, b"original");
    assert_clean(&w);
}

#[test]
fn argument_changed_during_rpc_does_not_reach_optee() {
    let mut w = world();
    let s = open(&mut w, G1);
    w.write_arg(
        G1,
        arg(1),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s,
        &[value(msg::ATTR_TYPE_VALUE_INPUT, 5)],
    );
    let (hi, lo) = crate::abi::split(arg(1));
    let r = w.call(
        G1,
        [
            u64::from(crate::abi::smc::CALL_WITH_ARG),
            hi,
            lo,
            0,
            0,
            0,
            0,
            0,
        ],
    );
    // While suspended, the guest rewrites its whole argument.
    w.p.mem.poke(G1, arg(1), &[0xEE; 4096]);
    let o = w.finish(G1, arg(1), 1, r);
    assert_eq!(o.ret, 0);
    // Only result fields were written back; the guest's input param (its
    // own garbage now) was left alone.
    assert_eq!(o.params[0].attr, 0xEEEE_EEEE_EEEE_EEEE);
    assert_clean(&w);
}

#[test]
fn aliased_pages_are_pinned_per_reference() {
    let mut w = world();
    let s = open(&mut w, G1);
    w.p.mem.alias(G1, data(0), data(40));
    w.p.mem.poke(G1, data(0), b"same");
    // Two entries naming the same frame through two IPAs.
    let mut p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(0),
        data(39) + 4092,
        8,
        1,
    );
    let _ = &mut p;
    let o = invoke(&mut w, G1, s, FN_ECHO, &[p]);
    assert_eq!(o.ret, 0);
    assert_eq!(&w.p.optee.seen.last().unwrap().input[4..], b"same");
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn argument_unmapped_during_rpc_gives_ebadaddr_and_no_leak() {
    let mut w = world();
    let s = open(&mut w, G1);
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 2 * 4096, 3);
    w.write_arg(
        G1,
        arg(1),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s,
        &[p],
    );
    let (hi, lo) = crate::abi::split(arg(1));
    let r = w.call(
        G1,
        [
            u64::from(crate::abi::smc::CALL_WITH_ARG),
            hi,
            lo,
            0,
            0,
            0,
            0,
            0,
        ],
    );
    assert_eq!(w.p.mem.pins(G1), 2);
    // The guest pulls its argument page away while OP-TEE runs.
    w.p.mem.unmap(G1, arg(1));
    let o = w.finish(G1, arg(1), 1, r);
    assert_eq!(o.x0, crate::abi::ret::EBADADDR);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}
