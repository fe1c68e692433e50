//! RPCs (Xen handle_rpc, handle_rpc_func_alloc, handle_rpc_cmd,
//! handle_rpc_cmd_alloc, issue_rpc_cmd_free, handle_xen_rpc_return).

use super::*;
use crate::abi::{regpair, ret, rpc, smc, split, teec};
use crate::sim::{Owner, FN_FOREIGN_INTR, FN_GET_TIME, FN_SHM_RPC};

fn start(w: &mut World, dom: DomId, session: u32, func: u32, params: &[Param]) -> crate::Regs {
    w.write_arg(dom, arg(1), msg::CMD_INVOKE_COMMAND, func, session, params);
    let (hi, lo) = split(arg(1));
    w.call(dom, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0])
}

fn step(w: &mut World, r: &crate::Regs) -> crate::Regs {
    let a = w.answer_rpc(G1, r);
    w.call(G1, a)
}

fn rfr(a1: u64, a2: u64, t: u64, a4: u64, a5: u64) -> crate::Regs {
    [u64::from(smc::RETURN_FROM_RPC), a1, a2, t, a4, a5, 0, 0]
}

#[test]
fn return_from_rpc_unknown_thread_is_eresume() {
    let mut w = world();
    assert_eq!(w.call(G1, rfr(0, 0, 0, 0, 0))[0], ret::ERESUME);
    assert_eq!(w.call(G1, rfr(0, 0, 1 << 40, 0, 0))[0], ret::ERESUME);
    let s = open(&mut w, G1);
    let r = start(&mut w, G1, s, FN_FOREIGN_INTR, &[]);
    assert_eq!(r[0], ret::rpc_val(ret::RPC_FUNC_FOREIGN_INTR));
    assert_eq!(w.call(G1, rfr(0, 0, r[3] + 1, 0, 0))[0], ret::ERESUME);
    // Resuming it works once; a second resume of the same thread is refused.
    assert_eq!(w.call(G1, rfr(0, 0, r[3], 0, 0))[0], ret::OK);
    assert_eq!(w.call(G1, rfr(0, 0, r[3], 0, 0))[0], ret::ERESUME);
    assert_eq!(
        w.m.stats(G1)
            .unwrap()
            .errors_of(crate::GuestError::BadResume),
        4
    );
}

/// The guest's a3 is parsed against OP-TEE's thread count (`ThreadId::parse`): an ID no thread
/// has, even while every thread is suspended in an RPC, is ERESUME, as an ID of no call is.
#[test]
fn return_from_rpc_thread_beyond_the_thread_count_is_eresume() {
    let mut w = world();
    let s = open(&mut w, G1);
    let mut held = Vec::new();
    for _ in 0..4 {
        let r = start(&mut w, G1, s, FN_FOREIGN_INTR, &[]);
        assert_eq!(r[0], ret::rpc_val(ret::RPC_FUNC_FOREIGN_INTR));
        held.push(r[3]);
    }
    held.sort_unstable();
    assert_eq!(held, [0, 1, 2, 3]);
    for t in [4, 5, u64::from(u32::MAX), 1 << 32, (1 << 32) | 1, u64::MAX] {
        assert_eq!(w.call(G1, rfr(0, 0, t, 0, 0))[0], ret::ERESUME, "{t:#x}");
    }
    for t in held {
        assert_eq!(w.call(G1, rfr(0, 0, t, 0, 0))[0], ret::OK);
    }
    assert_eq!(
        w.m.stats(G1)
            .unwrap()
            .errors_of(crate::GuestError::BadResume),
        6
    );
}

#[test]
fn foreign_interrupt_passed_to_guest_and_resumed() {
    let mut w = world();
    let s = open(&mut w, G1);
    let r = start(&mut w, G1, s, FN_FOREIGN_INTR, &[]);
    assert!(ret::is_rpc(r[0]));
    assert_eq!(w.m.suspended_calls(G1), 1);
    let o = w.finish(G1, arg(1), 0, r);
    assert_eq!((o.x0, o.ret, o.rpcs), (0, 0, 1));
    assert_eq!(w.m.suspended_calls(G1), 0);
    assert_clean(&w);
}

#[test]
fn rpc_alloc_cmd_shm_alloc_and_free() {
    let mut w = world();
    let s = open(&mut w, G1);
    let r = start(&mut w, G1, s, FN_SHM_RPC, &[]);
    // 1. RPC_FUNC_ALLOC for the RPC argument buffer.
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_ALLOC);
    let r = step(&mut w, &r);
    // 2. RPC_FUNC_CMD SHM_ALLOC, in the guest's buffer (copied from shadow).
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_CMD);
    let cookie = regpair(r[1], r[2]);
    let page = w.drivers[&G1].rpc_pages[&cookie];
    let mut c = [0u8; 4];
    w.p.mem.peek(G1, page, &mut c);
    assert_eq!(u32::from_le_bytes(c), rpc::CMD_SHM_ALLOC);
    assert_eq!(w.p.mem.pins(G1), 1, "RPC buffer page pinned");
    let r = step(&mut w, &r);
    // OP-TEE wrote "hello" into the allocated buffer.
    let (&shm_cookie, &data_ipa) = w.drivers[&G1].shm.iter().next().unwrap();
    let mut hello = [0u8; 5];
    w.p.mem.peek(G1, data_ipa, &mut hello);
    assert_eq!(&hello, b"hello");
    assert_eq!(w.p.mem.pins(G1), 2, "allocated buffer pinned");
    // 3. An interrupt in between; then RPC SHM_FREE: unpinned at once.
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_FOREIGN_INTR);
    let r = step(&mut w, &r);
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_CMD);
    assert_eq!(w.p.mem.pins(G1), 1);
    let r = step(&mut w, &r);
    assert_eq!(w.drivers[&G1].freed, vec![shm_cookie]);
    // 4. RPC_FUNC_FREE of the RPC buffer (no SHM cache).
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_FREE);
    assert_eq!(
        w.p.mem.pins(G1),
        0,
        "released when OP-TEE frees it (Xen 4.17.5)"
    );
    let r = step(&mut w, &r);
    assert_eq!(r[0], ret::OK);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_eq!(w.read_arg(G1, arg(1), 0).ret, 0);
    assert_clean(&w);
}

#[test]
fn rpc_alloc_unaligned_or_duplicate_cookie_gives_null_buffer() {
    let mut w = world();
    let s = open(&mut w, G1);
    let r = start(
        &mut w,
        G1,
        s,
        FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_ALLOC);
    let (hi, lo) = split(crate::sim::world::DRIVER_AREA + 8);
    let r = w.call(G1, rfr(hi, lo, r[3], 0, 5));
    // OP-TEE got a null buffer and failed the call.
    assert_eq!(r[0], ret::OK);
    assert_eq!(w.read_arg(G1, arg(1), 1).ret, teec::ERROR_OUT_OF_MEMORY);
    assert_eq!(w.p.mem.pins(G1), 0);
    // Duplicate cookie: two concurrent calls each need an RPC buffer.
    let ra = start(
        &mut w,
        G1,
        s,
        FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    w.write_arg(
        G1,
        arg(2),
        msg::CMD_INVOKE_COMMAND,
        FN_GET_TIME,
        s,
        &[value(2, 0)],
    );
    let (hi, lo) = split(arg(2));
    let rb = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    let page = |i: u64| split(crate::sim::world::DRIVER_AREA + i * 4096);
    let (h0, l0) = page(0);
    let ra = w.call(G1, rfr(h0, l0, ra[3], 0, 99));
    assert_eq!(ret::rpc_func(ra[0]), ret::RPC_FUNC_CMD);
    let (h1, l1) = page(1);
    let rb = w.call(G1, rfr(h1, l1, rb[3], 0, 99));
    assert_eq!(rb[0], ret::OK, "duplicate cookie: null buffer, call failed");
    assert_eq!(w.read_arg(G1, arg(2), 1).ret, teec::ERROR_OUT_OF_MEMORY);
    assert_eq!(w.p.mem.pins(G1), 1);
    // Finish the first call.
    w.drivers
        .get_mut(&G1)
        .unwrap()
        .rpc_pages
        .insert(99, crate::sim::world::DRIVER_AREA);
    let o = w.finish(G1, arg(1), 1, ra);
    assert_eq!(o.ret, 0);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn get_time_passed_through() {
    let mut w = world();
    let s = open(&mut w, G1);
    let o = invoke(
        &mut w,
        G1,
        s,
        FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!((o.params[0].a, o.params[0].b), (1_700_000_000, 42));
    assert_clean(&w);
}

#[test]
fn rpc_free_releases_rpc_buffer() {
    let mut w = world();
    let s = open(&mut w, G1);
    let o = invoke(
        &mut w,
        G1,
        s,
        FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    assert_eq!(o.rpcs, 3, "ALLOC, CMD, FREE");
    assert!(w.drivers[&G1].rpc_pages.is_empty());
    assert_eq!(w.p.mem.pins(G1), 0);
}

fn to_shm_alloc(w: &mut World) -> (crate::Regs, u64) {
    let s = open(w, G1);
    let r = start(w, G1, s, FN_SHM_RPC, &[]);
    let r = step(w, &r);
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_CMD);
    let page = w.drivers[&G1].rpc_pages[&regpair(r[1], r[2])];
    (r, page)
}

fn answer_alloc(w: &mut World, page: u64, attr: u64, list_ipa: u64, cookie: u64) {
    let mut a = [0u8; 64];
    w.p.mem.peek(G1, page, &mut a);
    crate::abi::write_u32(&mut a, 20, 0);
    crate::abi::write_u64(&mut a, 32, attr);
    crate::abi::write_u64(&mut a, 40, list_ipa);
    crate::abi::write_u64(&mut a, 48, 4096);
    crate::abi::write_u64(&mut a, 56, cookie);
    w.p.mem.poke(G1, page, &a);
}

#[test]
fn shm_alloc_translation_failure_asks_guest_to_free() {
    let mut w = world();
    let (r, page) = to_shm_alloc(&mut w);
    // The guest's page list points at something that is not its RAM.
    w.p.mem.poke(G1, list(5), &0x10_0000_0000u64.to_le_bytes());
    answer_alloc(
        &mut w,
        page,
        msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
        list(5),
        0x55,
    );
    let r2 = w.call(G1, rfr(0, 0, r[3], 0, 0));
    // The mediator's own SHM_FREE RPC, in the same RPC buffer.
    assert_eq!(r2[0], ret::rpc_val(ret::RPC_FUNC_CMD));
    assert_eq!((r2[1], r2[2], r2[3]), (r[1], r[2], r[3]));
    let mut m = [0u8; 64];
    w.p.mem.peek(G1, page, &mut m);
    assert_eq!(crate::abi::read_u32(&m, 0), rpc::CMD_SHM_FREE);
    assert_eq!(crate::abi::read_u64(&m, 48), 0x55);
    // After the guest frees it, OP-TEE hears of the failure.
    let r3 = w.call(G1, rfr(0, 0, r[3], 0, 0));
    assert_eq!(ret::rpc_func(r3[0]), ret::RPC_FUNC_FREE, "OP-TEE gave up");
    assert!(w.drivers[&G1].shm.is_empty());
    let o = w.finish(G1, arg(1), 0, r3);
    assert_eq!(o.ret, teec::ERROR_OUT_OF_MEMORY);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn shm_alloc_reply_must_be_noncontig() {
    let mut w = world();
    let (r, page) = to_shm_alloc(&mut w);
    // A contiguous reply would hand OP-TEE a raw guest address.
    answer_alloc(
        &mut w,
        page,
        msg::ATTR_TYPE_TMEM_OUTPUT,
        crate::sim::world::DATA_AREA,
        0x56,
    );
    let r2 = w.call(G1, rfr(0, 0, r[3], 0, 0));
    let o = w.finish(G1, arg(1), 0, r2);
    assert_eq!(o.ret, teec::ERROR_OUT_OF_MEMORY);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn rpc_answer_num_params_bounded() {
    let mut w = world();
    let (r, page) = to_shm_alloc(&mut w);
    w.p.mem.poke(G1, page + 28, &4000u32.to_le_bytes());
    let r2 = w.call(G1, rfr(0, 0, r[3], 0, 0));
    let o = w.finish(G1, arg(1), 0, r2);
    assert_eq!(o.ret, teec::ERROR_OUT_OF_MEMORY);
    assert_clean(&w);
}

#[test]
fn rpc_buffer_unwritable_resumes_optee_with_error() {
    let mut w = world();
    let s = open(&mut w, G1);
    let r = start(
        &mut w,
        G1,
        s,
        FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    let page = crate::sim::world::DRIVER_AREA + 100 * 4096;
    let (hi, lo) = split(page);
    w.p.mem.inject_fault(G1, page);
    // Pinning a faulting page fails: OP-TEE gets a null buffer.
    let r = w.call(G1, rfr(hi, lo, r[3], 0, 1));
    assert_eq!(r[0], ret::OK);
    assert_eq!(w.read_arg(G1, arg(1), 1).ret, teec::ERROR_OUT_OF_MEMORY);
    assert_clean(&w);
}

#[test]
fn shm_rpc_buffer_is_shadowed() {
    let mut w = world();
    let (r, _page) = to_shm_alloc(&mut w);
    // OP-TEE's view of the RPC buffer is mediator memory (checked by the
    // simulator on every RPC write), not the guest page.
    assert!(w.p.optee.violations.is_empty());
    let o = w.finish(G1, arg(1), 0, r);
    assert_eq!(o.ret, 0);
    assert_eq!(
        w.p.mem.owner_of(w.p.mem.pa_of(G1, arg(1)).unwrap()),
        Some(Owner::Guest(G1))
    );
    assert_clean(&w);
}

#[test]
fn rpc_cmd_that_cannot_reach_the_guest_resumes_optee() {
    let mut w = world();
    let s = open(&mut w, G1);
    let r = start(
        &mut w,
        G1,
        s,
        FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_ALLOC);
    // The RPC page can be pinned but not written: OP-TEE's RPC_CMD cannot
    // be copied out, so the mediator resumes OP-TEE with GENERIC at once.
    let page = crate::sim::world::DRIVER_AREA + 7 * 4096;
    w.p.mem.inject_write_fault(G1, page);
    let (hi, lo) = split(page);
    let r = w.call(G1, rfr(hi, lo, r[3], 0, 0x31));
    assert_eq!(
        ret::rpc_func(r[0]),
        ret::RPC_FUNC_FREE,
        "GET_TIME failed inside"
    );
    let r = w.call(G1, rfr(r[1], r[2], r[3], 0, 0));
    assert_eq!(r[0], ret::OK);
    assert_eq!(
        w.read_arg(G1, arg(1), 1).params[0].a,
        0,
        "no time reached OP-TEE"
    );
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn rpc_answer_unreadable_gives_optee_generic() {
    let mut w = world();
    let s = open(&mut w, G1);
    let r = start(
        &mut w,
        G1,
        s,
        FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    let page = crate::sim::world::DRIVER_AREA + 8 * 4096;
    let (hi, lo) = split(page);
    let r = w.call(G1, rfr(hi, lo, r[3], 0, 0x32));
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_CMD);
    w.p.mem.inject_fault(G1, page);
    let r = w.call(G1, rfr(0, 0, r[3], 0, 0));
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_FREE);
    let r = w.call(G1, rfr(r[1], r[2], r[3], 0, 0));
    assert_eq!(r[0], ret::OK);
    assert_eq!(w.read_arg(G1, arg(1), 1).params[0].a, 0);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn notification_suspend_and_other_rpcs_passed_through() {
    let mut w = world();
    let s = open(&mut w, G1);
    let o = invoke(&mut w, G1, s, crate::sim::FN_RPC_CMDS, &[]);
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(
        w.drivers[&G1].cmds,
        vec![rpc::CMD_NOTIFICATION, rpc::CMD_SUSPEND]
    );
    assert_eq!(
        w.p.optee.rpc_answers,
        vec![(rpc::CMD_NOTIFICATION, 0), (rpc::CMD_SUSPEND, 0)],
        "OP-TEE got the guest's answers"
    );
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn shm_alloc_page_list_kept_across_foreign_interrupt() {
    // OP-TEE can take a foreign interrupt after being resumed with the
    // SHM_ALLOC answer and before reading its page list; the list must still
    // be there when it is resumed again (Xen frees it at the next RPC command
    // or completion). Found on QEMU: "RPC allocation failed" under load.
    let mut w = world();
    w.p.optee.interrupt_before_shm_alloc_read = true;
    let s = open(&mut w, G1);
    let r = start(&mut w, G1, s, FN_SHM_RPC, &[]);
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_ALLOC);
    let r = step(&mut w, &r);
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_CMD);
    // The guest answers SHM_ALLOC; OP-TEE is interrupted before reading it.
    let r = step(&mut w, &r);
    assert_eq!(ret::rpc_func(r[0]), ret::RPC_FUNC_FOREIGN_INTR);
    // Meanwhile another call of the guest takes shadow pages (a freed list
    // page would be reused and overwritten here).
    w.p.optee.interrupt_before_shm_alloc_read = false;
    w.write_arg(
        G1,
        arg(2),
        msg::CMD_INVOKE_COMMAND,
        crate::sim::FN_NOP,
        s,
        &[value(msg::ATTR_TYPE_VALUE_INPUT, 7)],
    );
    let o = w.run(G1, arg(2), 1);
    assert_eq!((o.x0, o.ret), (ret::OK, 0), "{o:?}");
    let r = step(&mut w, &r);
    // Now OP-TEE read the list and wrote "hello" into the buffer.
    let (_, &data_ipa) = w.drivers[&G1].shm.iter().next().unwrap();
    let mut hello = [0u8; 5];
    w.p.mem.peek(G1, data_ipa, &mut hello);
    assert_eq!(&hello, b"hello");
    assert!(
        w.p.optee.violations.is_empty(),
        "{:?}",
        w.p.optee.violations
    );
    let o = w.finish(G1, arg(1), 0, r);
    assert_eq!((o.x0, o.ret), (ret::OK, 0), "{o:?}");
    assert_clean(&w);
}

/// Regression (attacker `rpc-alloc-duplicate-cookie`): a refused RPC_ALLOC
/// answer must not let OP-TEE free another call's live RPC buffer. OP-TEE
/// frees the cookie it is resumed with after a null buffer
/// (thread_rpc_alloc_arg → thread_rpc_free_arg); the mediator resumes a
/// refused allocation with cookie 0, so the first call's buffer stays
/// pinned, owned and usable.
#[test]
fn refused_rpc_alloc_cannot_free_another_calls_rpc_buffer() {
    let mut w = world();
    let s = open(&mut w, G1);
    let out = [value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)];
    // Call A: its RPC argument buffer is allocated, then A waits in GET_TIME.
    let ra = start(&mut w, G1, s, FN_GET_TIME, &out);
    assert_eq!(ret::rpc_func(ra[0]), ret::RPC_FUNC_ALLOC);
    let ra = step(&mut w, &ra);
    assert_eq!(ret::rpc_func(ra[0]), ret::RPC_FUNC_CMD);
    let cookie_a = regpair(ra[1], ra[2]);
    assert_eq!(w.p.mem.pins(G1), 1);
    // Call B needs an RPC buffer too: the guest answers with A's cookie and
    // a refused (unaligned) address.
    w.write_arg(G1, arg(2), msg::CMD_INVOKE_COMMAND, FN_GET_TIME, s, &out);
    let (hi, lo) = split(arg(2));
    let rb = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    assert_eq!(ret::rpc_func(rb[0]), ret::RPC_FUNC_ALLOC);
    let (hi, lo) = split(crate::sim::world::DRIVER_AREA + 0x10_0008);
    let (chi, clo) = split(cookie_a);
    let mut rb = w.call(G1, rfr(hi, lo, rb[3], chi, clo));
    // OP-TEE got a null buffer and no cookie: it frees nothing, B fails.
    // (Were it given A's cookie, it would free it: answer that as a driver.)
    let mut frees = 0;
    while ret::is_rpc(rb[0]) && frees < 4 {
        assert_eq!(ret::rpc_func(rb[0]), ret::RPC_FUNC_FREE);
        frees += 1;
        rb = w.call(G1, rfr(0, 0, rb[3], 0, 0));
    }
    assert_eq!(rb[0], ret::OK);
    assert_eq!(w.read_arg(G1, arg(2), 1).ret, teec::ERROR_OUT_OF_MEMORY);
    assert_eq!(w.p.mem.pins(G1), 1, "A's RPC buffer is still pinned");
    assert_eq!(frees, 0, "OP-TEE was given a cookie to free");
    // A completes normally through its own buffer, which is then released.
    let o = w.finish(G1, arg(1), 1, ra);
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!((o.params[0].a, o.params[0].b), (1_700_000_000, 42));
    assert_eq!(w.p.mem.pins(G1), 0);
    assert!(w.drivers[&G1].rpc_pages.is_empty());
    assert_clean(&w);
}
