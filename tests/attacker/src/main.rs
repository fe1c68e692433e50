//! attacker: a malicious TEE guest. It runs the attacks of [`attacker::ATTACKS`] against the
//! OP-TEE mediator one after the other and, after each, checks that
//!
//! - the attack got exactly the documented answer,
//! - the mediator still answers (CALLS_REVISION = 2.0, and every fourth attack a real
//!   open/invoke/close session on the invoke-tests pseudo-TA),
//! - Xen holds no pin of ours any more (`TEE_STUBDOM_OP_query` on `DOMID_SELF`).
//!
//! One `TSD-CHECK <name> <attack> PASS|FAIL <detail> | alive=.. pins=..` line per attack, then
//! `TSD-RESULT`. Each attack's doc comment says what it does, what must come back and what
//! defends against it; `tests/attacker/README.md` has the same as a table.
//!
//! Boot arguments: `name=` (markers), `dom0-pa=` (a physical address in dom0's RAM: dom0's RAM is
//! mapped 1:1, so the scenario knows it; default 0x68000000, dom0's device tree in the
//! stub-domain scenarios), `only=` (run the attacks whose names contain this text; development
//! aid).
//!
//! Memory given to OP-TEE is our own heap, page-aligned; the kernel identity-maps RAM, so an
//! address is its IPA. Calls go through `hvc #0` (`xenif::hook::call::smccc_hvc`).
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use attacker::{fid, within, ATTACKS, GUEST_PL011_BASE, OPTEE_STATIC_SHM_PA, SECURE_RAM_PA};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::report::Report;
use kernel::xenif::abi::DOMID_SELF;
use kernel::xenif::hook::call::{smccc_hvc, tee_stubdom_op};
use kernel::xenif::hook::{op, Query};
use kernel::{println, Kernel, SharedPage};
use mediator::abi::teec as gp;
use mediator::abi::{caps, msg, ret, smc, split, MsgArg, Param, PAGE_SIZE};
use tee_client::client::{
    self, ipa, new_page, read_answer, rmem, write_msg, Answer, Hooks, Page, Scatter,
};
use tee_client::{
    is_unknown, pta, teec, MISSING_TA_UUID, OPTEE_MSG_REVISION, PTA_INVOKE_TESTS_UUID,
};

kernel::entry!(main);

/// `TEE_ERROR_SECURITY` (GP TEE Internal Core API): OP-TEE's answer to an RMEM reference
/// outside its registered buffer (`entry_std.c`, `set_rmem_param`).
const TEE_ERROR_SECURITY: u32 = 0xFFFF_000F;

/// How to answer OP-TEE's next RPC of a kind, on purpose wrongly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Twist {
    None,
    /// RPC_FUNC_ALLOC: give this address (and a fresh cookie) instead of a page of ours.
    AllocAt(u64),
    /// RPC_FUNC_ALLOC: give a page of ours with this cookie.
    AllocCookie(u64),
    /// RPC_CMD_SHM_ALLOC: a page list whose first entry is this address.
    ShmAllocEntry(u64),
    /// RPC_CMD_SHM_ALLOC: an old-style contiguous TMEM (no NONCONTIG) at a page of ours.
    ShmAllocOldStyle,
}

/// What the attacker adds to tests/tee-client's protocol side ([`client::Tee`]): the twist for
/// the next RPC and what it needs to see afterwards.
#[derive(Debug)]
struct Twists {
    twist: Twist,
    /// SHM_FREE requests for cookies of twisted SHM_ALLOC answers.
    freed_twisted: u32,
    twisted_cookie: u64,
    /// The last RETURN_FROM_RPC we sent.
    last_resume: [u64; 8],
    /// Cookies OP-TEE freed with RPC_FUNC_FREE (since the last reset).
    freed: Vec<u64>,
}

impl Hooks for Twists {
    /// An oversized SHM_ALLOC gets 64 pages rather than a refusal.
    const CLAMP_SHM_ALLOC: bool = true;

    fn alloc(t: &mut Tee) -> Option<(u64, u64, u64, u64)> {
        match t.hooks.twist {
            Twist::AllocAt(addr) => {
                t.hooks.twist = Twist::None;
                let (h, l) = split(addr);
                let (ch, cl) = split(t.cookie());
                Some((h, l, ch, cl))
            }
            Twist::AllocCookie(c) => {
                t.hooks.twist = Twist::None;
                let page = new_page();
                let (h, l) = split(ipa(&*page));
                t.rpc_args.push((c, page));
                let (ch, cl) = split(c);
                Some((h, l, ch, cl))
            }
            _ => None,
        }
    }

    fn freed(t: &mut Tee, cookie: u64) {
        t.hooks.freed.push(cookie);
    }

    fn shm_alloc(t: &mut Tee, cookie: u64, buf: &mut Scatter, p: &mut Param) {
        match t.hooks.twist {
            Twist::ShmAllocEntry(v) => {
                t.hooks.twist = Twist::None;
                t.hooks.twisted_cookie = cookie;
                buf.set_entry(0, v);
            }
            Twist::ShmAllocOldStyle => {
                t.hooks.twist = Twist::None;
                t.hooks.twisted_cookie = cookie;
                p.attr = msg::ATTR_TYPE_TMEM_OUTPUT;
                p.a = ipa(&buf.pool[0]);
            }
            _ => {}
        }
    }

    fn shm_free(t: &mut Tee, cookie: u64) {
        if cookie == t.hooks.twisted_cookie && cookie != 0 {
            t.hooks.freed_twisted += 1;
        }
    }

    fn resuming(t: &mut Tee, x: &[u64; 8]) {
        t.hooks.last_resume = *x;
    }
}

/// The client's side of the OP-TEE message protocol (tests/tee-client's), plus the twists.
type Tee = client::Tee<Twists>;

fn new_tee(k: &Kernel) -> Tee {
    let twists = Twists {
        twist: Twist::None,
        freed_twisted: 0,
        twisted_cookie: 0,
        last_resume: [0; 8],
        freed: Vec::new(),
    };
    Tee::new(k, 0xa77a_0000, twists)
}

/// Forgets what an attack left on our side (buffers OP-TEE never got, twists not used).
fn reset(t: &mut Tee) {
    t.rpc_args.clear();
    t.rpc_shm.clear();
    t.hooks.twist = Twist::None;
    t.hooks.twisted_cookie = 0;
    t.hooks.freed_twisted = 0;
    t.hooks.freed.clear();
}

fn open_params() -> [Param; 2] {
    client::open_params(&PTA_INVOKE_TESTS_UUID)
}

fn value_inout(a: u64, b: u64) -> Param {
    Param {
        attr: msg::ATTR_TYPE_VALUE_INOUT,
        a,
        b,
        c: 0,
    }
}

/// Serves suspended calls in turn, one RPC each, until all have returned: one may wait in
/// OP-TEE for a lock another holds (an RPC NOTIFICATION wait, which we answer "not supported",
/// so OP-TEE looks at the lock again). The final a0s.
fn finish_all(t: &mut Tee, k: &Kernel, mut rs: Vec<[u64; 8]>) -> Vec<u64> {
    while rs.iter().any(|r| ret::is_rpc(r[0])) {
        for r in rs.iter_mut() {
            if ret::is_rpc(r[0]) {
                *r = t.resume(k, r);
            }
        }
    }
    rs.iter().map(|r| r[0]).collect()
}

/// Serves RPCs other than RPC_FUNC_ALLOC (foreign interrupts) until OP-TEE asks for an
/// argument buffer or returns.
fn until_alloc(t: &mut Tee, k: &Kernel, mut r: [u64; 8]) -> [u64; 8] {
    while ret::is_rpc(r[0]) && ret::rpc_func(r[0]) != ret::RPC_FUNC_ALLOC {
        r = t.resume(k, &r);
    }
    r
}

fn fast(f: u64, x1: u64) -> [u64; 8] {
    smccc_hvc([f, x1, 0, 0, 0, 0, 0, 0])
}

/// Xen's count of pins it holds for us (`TEE_STUBDOM_OP_query`, `DOMID_SELF`).
fn pins() -> Result<u32, kernel::xenif::XenError> {
    let mut q = Query {
        domid: DOMID_SELF,
        ..Query::default()
    };
    tee_stubdom_op(op::QUERY, &mut q).map(|_| q.nr_pinned)
}

/// What an attack saw: whether it got the documented answer, and the details.
struct Outcome {
    ok: bool,
    detail: String,
}

fn outcome(ok: bool, detail: String) -> Outcome {
    Outcome { ok, detail }
}

/// Everything the attacks need.
struct Cx<'k> {
    k: &'k Kernel,
    t: Tee,
    /// Our RAM: [ram.0, ram.0 + ram.1).
    ram: (u64, u64),
    /// A physical address of dom0's RAM (boot argument).
    dom0_pa: u64,
    gic_dist: u64,
    /// The IPA of our grant-table frame (mapped once we granted something).
    grant_frame: Option<u64>,
    /// OP-TEE's thread count (GET_THREAD_COUNT, forwarded by the mediator).
    threads: u64,
    /// An open session on the invoke-tests PTA.
    session: u32,
}

impl Cx<'_> {
    /// An address outside our RAM (as the attack expects), or the attack is meaningless.
    fn outside_ram(&self, a: u64) -> bool {
        !within(a, self.ram.0, self.ram.1)
    }

    /// CALL_WITH_ARG with an argument at `pa` (no RPC expected); x0.
    fn call_at(&mut self, pa: u64) -> u64 {
        self.t.call_at(self.k, pa)
    }

    /// INVOKE of PTA command PARAMS on our session.
    fn invoke(&mut self, p: &[Param]) -> Answer {
        let s = self.session;
        self.t.invoke(self.k, s, pta::CMD_PARAMS, p)
    }
}

/// Attacks that hold several OP-TEE threads at once: only in the first pass (see README, "OP-TEE
/// threads are shared").
const HOLDS_THREADS: &[&str] = &["thread-exhaustion", "rpc-alloc-duplicate-cookie"];

/// An attack: its name (as in [`ATTACKS`]) and code.
struct Attack {
    name: &'static str,
    run: fn(&mut Cx<'_>) -> Outcome,
}

macro_rules! attacks {
    ($($name:literal => $f:ident),* $(,)?) => {
        &[$(Attack { name: $name, run: $f }),*]
    };
}

const TABLE: &[Attack] = attacks![
    "thread-exhaustion" => thread_exhaustion,
    "rpc-alloc-duplicate-cookie" => rpc_alloc_duplicate_cookie,
    "return-from-rpc-unowned-thread" => return_from_rpc_unowned_thread,
    "return-from-rpc-replayed" => return_from_rpc_replayed,
    "vm-created-from-guest" => vm_created_from_guest,
    "vm-destroyed-from-guest" => vm_destroyed_from_guest,
    "trusted-os-owner-51" => trusted_os_owner_51,
    "trusted-os-end-unknown" => trusted_os_end_unknown,
    "trusted-app-owner-48" => trusted_app_owner_48,
    "smc64-fast-call" => smc64_fast_call,
    "smc64-std-call" => smc64_std_call,
    "fid-upper-bits-set" => fid_upper_bits_set,
    "get-shm-config" => get_shm_config,
    "exchange-caps-all-bits" => exchange_caps_all_bits,
    "arg-misaligned" => arg_misaligned,
    "rpc-arg-misaligned" => rpc_arg_misaligned,
    "arg-beyond-ram" => arg_beyond_ram,
    "arg-huge-ipa" => arg_huge_ipa,
    "arg-gic-mmio" => arg_gic_mmio,
    "arg-vpl011-mmio" => arg_vpl011_mmio,
    "arg-dom0-ram" => arg_dom0_ram,
    "arg-secure-ram" => arg_secure_ram,
    "arg-optee-static-shm" => arg_optee_static_shm,
    "num-params-128" => num_params_128,
    "num-params-u32-max" => num_params_u32_max,
    "unknown-command" => unknown_command,
    "tmem-old-style-dom0-pa" => tmem_old_style_dom0_pa,
    "pagelist-entry-dom0-ram" => pagelist_entry_dom0_ram,
    "pagelist-entry-gic-mmio" => pagelist_entry_gic_mmio,
    "pagelist-entry-secure-ram" => pagelist_entry_secure_ram,
    "pagelist-in-mmio" => pagelist_in_mmio,
    "pagelist-entry-grant-frame" => pagelist_entry_grant_frame,
    "pagelist-loop-within-limit" => pagelist_loop_within_limit,
    "pagelist-loop-overlong" => pagelist_loop_overlong,
    "memref-size-offset-overflow" => memref_size_offset_overflow,
    "memref-size-huge" => memref_size_huge,
    "unknown-param-type" => unknown_param_type,
    "second-param-bad-frees-first" => second_param_bad_frees_first,
    "register-duplicate-cookie" => register_duplicate_cookie,
    "tmem-reuses-registered-cookie" => tmem_reuses_registered_cookie,
    "rmem-forged-cookie" => rmem_forged_cookie,
    "unregister-twice" => unregister_twice,
    "unregister-forged-cookie" => unregister_forged_cookie,
    "regd-arg-forged-cookie" => regd_arg_forged_cookie,
    "rmem-offset-overflow" => rmem_offset_overflow,
    "rpc-alloc-answer-dom0-pa" => rpc_alloc_answer_dom0_pa,
    "rpc-alloc-answer-unaligned" => rpc_alloc_answer_unaligned,
    "rpc-shm-alloc-bad-list" => rpc_shm_alloc_bad_list,
    "rpc-shm-alloc-old-style" => rpc_shm_alloc_old_style,
    "invoke-forged-session" => invoke_forged_session,
    "pinned-pages-exhaustion" => pinned_pages_exhaustion,
    "arg-changed-by-other-vcpu" => arg_changed_by_other_vcpu,
    "flood-all-vcpus" => flood_all_vcpus,
];

// ---------------------------------------------------------------------------------------------
// Threads and RPC resumption
// ---------------------------------------------------------------------------------------------

/// Starts OPEN_SESSION of a TA nobody has in `page`; OP-TEE suspends the call in its first RPC
/// (RPC_FUNC_ALLOC of an argument buffer). The first answer.
fn start_missing_open(page: &mut Page) -> [u64; 8] {
    write_msg(
        page,
        msg::CMD_OPEN_SESSION,
        0,
        0,
        &client::open_params(&MISSING_TA_UUID),
    );
    let (hi, lo) = split(ipa(page));
    smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0])
}

/// **thread-exhaustion**: holds every OP-TEE thread (GET_THREAD_COUNT of them) by leaving as
/// many calls suspended in an RPC, then starts one more, then resumes all.
///
/// Expected: each held call returns an RPC (`OPTEE_SMC_RETURN_RPC_ALLOC`); the extra call gets
/// `OPTEE_SMC_RETURN_ETHREAD_LIMIT` (1) from the mediator, which bounds a guest's calls by the
/// thread count (Xen `allocate_std_call`); after resumption every held call ends with x0 = OK,
/// `TEEC_ERROR_ITEM_NOT_FOUND` with origin TEE (no such TA). Defence: per-guest call bound in `call::start`.
/// Limit: OP-TEE's threads are shared by all guests (see README).
fn thread_exhaustion(cx: &mut Cx<'_>) -> Outcome {
    let n = cx.threads.clamp(1, 8) as usize;
    let mut held: Vec<(Box<Page>, [u64; 8])> = Vec::new();
    for _ in 0..n {
        let mut page = new_page();
        let r = start_missing_open(&mut page);
        held.push((page, r));
    }
    let all_rpc = held.iter().all(|(_, r)| ret::is_rpc(r[0]));
    let mut extra = new_page();
    let x = start_missing_open(&mut extra);
    let extra_x0 = x[0];
    let limited = extra_x0 == ret::ETHREAD_LIMIT;
    if ret::is_rpc(extra_x0) {
        // Not refused after all: finish it so that nothing stays held.
        cx.t.finish(cx.k, x);
    }
    let x0s = finish_all(&mut cx.t, cx.k, held.iter().map(|(_, r)| *r).collect());
    let ends: Vec<Answer> = held
        .iter_mut()
        .zip(x0s)
        .map(|((page, _), x0)| read_answer(page, x0))
        .collect();
    let all_done = ends
        .iter()
        .all(|a| a.is(gp::ERROR_ITEM_NOT_FOUND, gp::ORIGIN_TEE));
    outcome(
        all_rpc && limited && all_done,
        format!(
            "threads={n} held_rpc={all_rpc} extra_x0={extra_x0:#x} ends={:?}",
            ends.iter()
                .map(|a| (a.x0, a.ret, a.origin))
                .collect::<Vec<_>>()
        ),
    )
}

/// **rpc-alloc-duplicate-cookie**: two calls suspended in RPC_FUNC_ALLOC; the first gets a page
/// with cookie C, the second a different page with the same cookie C.
///
/// Expected: the mediator refuses the duplicate (Xen `handle_rpc_func_alloc`) and resumes the
/// second call with a null buffer; OP-TEE fails that allocation (`thread_rpc_alloc_arg`) and the
/// second call ends with x0 = OK; the first call, whose buffer C is legitimate, is unaffected and
/// ends with `TEEC_ERROR_ITEM_NOT_FOUND`, origin TEE. Defence: `call::rpc::rpc_alloc`.
///
/// Found by this attack and fixed in ef00994 (see README): the null answer used to carry the
/// guest's cookie C in a4/a5 (Xen still does); OP-TEE answers a failed allocation with
/// RPC_FUNC_FREE of that cookie, and the mediator then freed the *first* call's buffer C while
/// OP-TEE's thread still used it. The mediator now resumes a refused allocation with cookie 0, so
/// OP-TEE frees C exactly once (`optee_freed_cookie_times=1`, when the first call completes).
fn rpc_alloc_duplicate_cookie(cx: &mut Cx<'_>) -> Outcome {
    if cx.threads < 2 {
        return outcome(
            false,
            format!("needs 2 OP-TEE threads, have {}", cx.threads),
        );
    }
    let mut p1 = new_page();
    let mut p2 = new_page();
    let r1 = start_missing_open(&mut p1);
    let r2 = start_missing_open(&mut p2);
    // Foreign interrupts may come first: serve them until both wait in ALLOC.
    let r1 = until_alloc(&mut cx.t, cx.k, r1);
    let r2 = until_alloc(&mut cx.t, cx.k, r2);
    let in_alloc = |r: &[u64; 8]| ret::is_rpc(r[0]) && ret::rpc_func(r[0]) == ret::RPC_FUNC_ALLOC;
    if !(in_alloc(&r1) && in_alloc(&r2)) {
        let x = finish_all(&mut cx.t, cx.k, alloc::vec![r1, r2]);
        let (x1, x2) = (x[0], x[1]);
        return outcome(
            false,
            format!(
                "not both in ALLOC: {:#x} {:#x} (ends {x1:#x} {x2:#x})",
                r1[0], r2[0]
            ),
        );
    }
    // First call: an ordinary answer; remember its cookie.
    let r1 = cx.t.resume(cx.k, &r1);
    let c1 = cx.t.rpc_args.last().map(|(c, _)| *c).unwrap_or(0);
    cx.t.hooks.twist = Twist::AllocCookie(c1);
    let r2 = cx.t.resume(cx.k, &r2);
    let x = finish_all(&mut cx.t, cx.k, alloc::vec![r1, r2]);
    let (x1, x2) = (x[0], x[1]);
    let a2 = read_answer(&mut p2, x2);
    let a1 = read_answer(&mut p1, x1);
    let freed_c1 = cx.t.hooks.freed.iter().filter(|&&c| c == c1).count();
    outcome(
        a1.is(gp::ERROR_ITEM_NOT_FOUND, gp::ORIGIN_TEE) && a2.x0 == ret::OK,
        format!("cookie={c1:#x} first: {a1} second: {a2} optee_freed_cookie_times={freed_c1}"),
    )
}

/// **return-from-rpc-unowned-thread**: RETURN_FROM_RPC naming OP-TEE threads 0–3, 0xffffffff and
/// 2^32 while no call of ours is suspended (another guest's thread, or none).
///
/// Expected: `OPTEE_SMC_RETURN_ERESUME` (3) for each; nothing reaches OP-TEE (Xen `get_std_call`:
/// a thread ID is looked up among the caller's own suspended calls). Defence:
/// `call::rpc::return_from_rpc`.
fn return_from_rpc_unowned_thread(_cx: &mut Cx<'_>) -> Outcome {
    let mut got = Vec::new();
    for t in [0u64, 1, 2, 3, 0xFFFF_FFFF, 1 << 32] {
        let r = smccc_hvc([u64::from(smc::RETURN_FROM_RPC), 0, 0, t, 0, 0, 0, 0]);
        got.push(r[0]);
    }
    outcome(
        got.iter().all(|&x| x == ret::ERESUME),
        format!("x0s={got:x?}"),
    )
}

/// **return-from-rpc-replayed**: completes a call that went through RPCs, then sends its last
/// RETURN_FROM_RPC again (same thread ID, same registers).
///
/// Expected: `OPTEE_SMC_RETURN_ERESUME` (3): the call is gone, the thread may already serve
/// someone else. Defence: `call::rpc::return_from_rpc` (thread forgotten when resumed).
fn return_from_rpc_replayed(cx: &mut Cx<'_>) -> Outcome {
    let before = cx.t.rpcs.alloc;
    let a = cx.t.open(cx.k, &MISSING_TA_UUID);
    let replay = cx.t.hooks.last_resume;
    let r = smccc_hvc(replay);
    outcome(
        a.ret == gp::ERROR_ITEM_NOT_FOUND && cx.t.rpcs.alloc > before && r[0] == ret::ERESUME,
        format!("call: {a} replayed thread={:#x} x0={:#x}", replay[3], r[0]),
    )
}

// ---------------------------------------------------------------------------------------------
// Function identifiers
// ---------------------------------------------------------------------------------------------

fn unknown_fid(f: u64, x1: u64) -> Outcome {
    let r = fast(f, x1);
    outcome(is_unknown(r[0]), format!("fid={f:#x} x0={:#x}", r[0]))
}

/// **vm-created-from-guest**: OPTEE_SMC_VM_CREATED (0xb200000d) for client 1 (dom0's).
///
/// Expected: SMCCC unknown function (-1): only the hypervisor (client ID 0) may create OP-TEE
/// partitions; the mediator never forwards it, and Xen's secure-call hypercall refuses it to
/// anyone but the mediator. Defence: `Mediator::handle_call`, hv-patches 0005 `tsd_secure_call`.
fn vm_created_from_guest(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(smc::VM_CREATED), 1)
}

/// **vm-destroyed-from-guest**: OPTEE_SMC_VM_DESTROYED (0xb200000e) for client 1 (dom0's,
/// which is running xtest meanwhile).
///
/// Expected: SMCCC unknown function (-1), and dom0's xtest still passes. Defence: as above.
fn vm_destroyed_from_guest(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(smc::VM_DESTROYED), 1)
}

/// **trusted-os-owner-51**: fast SMC32 call 0 of owner 51 (0xb3000000), a Trusted OS owner that
/// is not OP-TEE's (50).
///
/// Expected: SMCCC unknown function (-1). Defence: the mediator's function table.
fn trusted_os_owner_51(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, false, 51, 0)), 0)
}

/// **trusted-os-end-unknown**: 0xbf00ff10, an unassigned function of the Trusted OS end owner
/// (63, where CALLS_COUNT/UID/REVISION live).
///
/// Expected: SMCCC unknown function (-1).
fn trusted_os_end_unknown(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, false, 63, 0xFF10)), 0)
}

/// **trusted-app-owner-48**: 0xb0000000 (Trusted Application owner 48, which Xen forwards to
/// the TEE mediator like 49–63).
///
/// Expected: SMCCC unknown function (-1).
fn trusted_app_owner_48(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, false, 48, 0)), 0)
}

/// **smc64-fast-call**: GET_OS_REVISION with the SMC64 bit (0xf2000001).
///
/// Expected: SMCCC unknown function (-1): OP-TEE's ABI is SMC32 only, the mediator matches the
/// full identifier. Defence: `Mediator::handle_call`.
fn smc64_fast_call(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, true, 50, 1)), 0)
}

/// **smc64-std-call**: CALL_WITH_ARG with the SMC64 bit (0x72000004) and a valid INVOKE in the
/// argument page.
///
/// Expected: SMCCC unknown function (-1), and the argument page is not touched (its `ret`
/// field keeps our marker 0x5a5a5a5a).
fn smc64_std_call(cx: &mut Cx<'_>) -> Outcome {
    let s = cx.session;
    write_msg(
        &mut cx.t.arg,
        msg::CMD_INVOKE_COMMAND,
        pta::CMD_PARAMS,
        s,
        &[value_inout(1, 2)],
    );
    MsgArg::new(&mut cx.t.arg.0, 0).set_ret(0x5a5a_5a5a);
    let (hi, lo) = split(ipa(&*cx.t.arg));
    let r = smccc_hvc([u64::from(fid(false, true, 50, 4)), hi, lo, 0, 0, 0, 0, 0]);
    let a = read_answer(&mut cx.t.arg, r[0]);
    outcome(
        is_unknown(r[0]) && a.ret == 0x5a5a_5a5a && a.p[0].a == 1,
        format!("x0={:#x} ret={:#x} value.a={}", r[0], a.ret, a.p[0].a),
    )
}

/// **fid-upper-bits-set**: GET_OS_REVISION with garbage in x0's upper half
/// (0xffffffff_b2000001).
///
/// Expected: SMCCC unknown function (-1): the mediator matches all 64 bits of x0, as Xen's
/// `optee_handle_call` does (`switch (get_user_reg(regs, 0))`).
fn fid_upper_bits_set(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(0xFFFF_FFFF_0000_0000 | u64::from(smc::GET_OS_REVISION), 0)
}

/// **get-shm-config**: GET_SHM_CONFIG asks where OP-TEE's static shared memory is (a physically
/// contiguous pool every client would share).
///
/// Expected: `OPTEE_SMC_RETURN_ENOTAVAIL` (7). Defence: `Mediator::handle_call` (Xen does the
/// same).
fn get_shm_config(_cx: &mut Cx<'_>) -> Outcome {
    let r = fast(u64::from(smc::GET_SHM_CONFIG), 0);
    outcome(
        r[0] == ret::ENOTAVAIL,
        format!("x0={:#x} a1={:#x}", r[0], r[1]),
    )
}

/// **exchange-caps-all-bits**: EXCHANGE_CAPABILITIES offering every normal-world bit
/// (x1 = 0xffffffffffffffff).
///
/// Expected: x0 = OK; the secure capabilities shown are a subset of what the mediator mediates
/// (`caps::SUPPORTED_SEC`), with DYNAMIC_SHM and without HAVE_RESERVED_SHM. Defence:
/// `mediator::exchange_caps` (both directions masked).
fn exchange_caps_all_bits(_cx: &mut Cx<'_>) -> Outcome {
    let r = fast(u64::from(smc::EXCHANGE_CAPABILITIES), u64::MAX);
    outcome(
        r[0] == ret::OK
            && r[1] & !caps::SUPPORTED_SEC == 0
            && r[1] & caps::SEC_DYNAMIC_SHM != 0
            && r[1] & caps::SEC_HAVE_RESERVED_SHM == 0,
        format!("x0={:#x} sec_caps={:#x}", r[0], r[1]),
    )
}

// ---------------------------------------------------------------------------------------------
// The argument's address
// ---------------------------------------------------------------------------------------------

fn ebadaddr_at(cx: &mut Cx<'_>, pa: u64) -> Outcome {
    let x0 = cx.call_at(pa);
    outcome(x0 == ret::EBADADDR, format!("arg={pa:#x} x0={x0:#x}"))
}

fn ebadaddr_outside(cx: &mut Cx<'_>, pa: u64) -> Outcome {
    if !cx.outside_ram(pa) {
        return outcome(false, format!("{pa:#x} is inside our RAM {:#x?}", cx.ram));
    }
    ebadaddr_at(cx, pa)
}

/// **arg-misaligned**: CALL_WITH_ARG at a valid page + 0x80.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4) (the argument starts on a page boundary; Xen
/// `copy_std_request`). Defence: `Ipa::page_aligned` in `call::arg::locate`.
fn arg_misaligned(cx: &mut Cx<'_>) -> Outcome {
    let s = cx.session;
    write_msg(
        &mut cx.t.arg,
        msg::CMD_INVOKE_COMMAND,
        pta::CMD_PARAMS,
        s,
        &[],
    );
    let pa = ipa(&*cx.t.arg) + 0x80;
    ebadaddr_at(cx, pa)
}

/// **rpc-arg-misaligned**: CALL_WITH_RPC_ARG at page + 4 (the ABI wants 8-byte alignment).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4). Defence: `call::arg::locate` (RpcArg variant).
fn rpc_arg_misaligned(cx: &mut Cx<'_>) -> Outcome {
    let (hi, lo) = split(ipa(&*cx.t.arg) + 4);
    let r = smccc_hvc([u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0]);
    outcome(r[0] == ret::EBADADDR, format!("x0={:#x}", r[0]))
}

/// **arg-beyond-ram**: CALL_WITH_ARG at the first page after our RAM.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4): the mediator cannot map it (no p2m entry).
/// Defence: the mediator reads guest memory only through Xen's foreign mapping of the guest's
/// own p2m (`stubdom::memory`).
fn arg_beyond_ram(cx: &mut Cx<'_>) -> Outcome {
    let end = cx.ram.0 + cx.ram.1;
    ebadaddr_outside(cx, end)
}

/// **arg-huge-ipa**: CALL_WITH_ARG at 0xfffffffffffff000 (a1 = a2 = 0xffffffff-ish: beyond any
/// IPA size).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4).
fn arg_huge_ipa(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, 0xFFFF_FFFF_FFFF_F000)
}

/// **arg-gic-mmio**: CALL_WITH_ARG at our GIC distributor (emulated MMIO, from our DT).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4): MMIO is not RAM, Xen refuses to map it.
fn arg_gic_mmio(cx: &mut Cx<'_>) -> Outcome {
    let g = cx.gic_dist;
    ebadaddr_outside(cx, g)
}

/// **arg-vpl011-mmio**: CALL_WITH_ARG at our vPL011 UART (0x22000000, emulated MMIO).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4).
fn arg_vpl011_mmio(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, GUEST_PL011_BASE)
}

/// **arg-dom0-ram**: CALL_WITH_ARG at a physical address of dom0's RAM (dom0 is mapped 1:1;
/// `dom0-pa=`, dom0's device tree), named as if it were our IPA.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4): an IPA is translated through our p2m only, where
/// that address is a hole; dom0's memory is never read. Defence: IPA → machine translation
/// only by Xen for the calling domain (`stubdom::memory`, hv-patches 0005 `tsd_pin`).
fn arg_dom0_ram(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.dom0_pa;
    ebadaddr_outside(cx, a)
}

/// **arg-secure-ram**: CALL_WITH_ARG at 0x0e100000 (OP-TEE's own secure RAM on QEMU virt).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4).
fn arg_secure_ram(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, SECURE_RAM_PA)
}

/// **arg-optee-static-shm**: CALL_WITH_ARG at 0x42000000 (OP-TEE's static SHM pool, physical).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4) (with 32 MiB of RAM at 0x40000000 that IPA is past
/// our RAM).
fn arg_optee_static_shm(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, OPTEE_STATIC_SHM_PA)
}

fn num_params_over(cx: &mut Cx<'_>, n: u32) -> Outcome {
    write_msg(
        &mut cx.t.arg,
        msg::CMD_INVOKE_COMMAND,
        pta::CMD_PARAMS,
        cx.session,
        &[],
    );
    MsgArg::new(&mut cx.t.arg.0, 0).set_num_params(n);
    let a = cx.t.send(cx.k);
    outcome(
        a.comms(gp::ERROR_BAD_PARAMETERS) && a.num_params == n,
        format!("num_params={n} {a} num_params_back={}", a.num_params),
    )
}

/// **num-params-128**: an INVOKE claiming 128 parameters (32 + 128 × 32 bytes > one page; 127
/// fit).
///
/// Expected: x0 = OK, `TEEC_ERROR_BAD_PARAMETERS` in arg.ret with origin COMMS; num_params in
/// our page unchanged (only ret, ret_origin and session are copied back, as in Xen
/// `handle_std_call`; x0 = OK is our deviation, see mediator/README.md). Nothing reaches
/// OP-TEE. Defence: `call::arg::prepare` size check.
fn num_params_128(cx: &mut Cx<'_>) -> Outcome {
    num_params_over(cx, 128)
}

/// **num-params-u32-max**: num_params = 0xffffffff (the size computation would overflow 32 bits).
///
/// Expected: as num-params-128. Defence: `msg::arg_size` is checked arithmetic.
fn num_params_u32_max(cx: &mut Cx<'_>) -> Outcome {
    num_params_over(cx, u32::MAX)
}

/// **unknown-command**: a message with cmd 0x1234.
///
/// Expected: `OPTEE_SMC_RETURN_EBADCMD` (5), nothing reaches OP-TEE (Xen: the command switch).
fn unknown_command(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.t.msg(cx.k, 0x1234, 0, 0, &[]);
    outcome(a.x0 == ret::EBADCMD, format!("{a}"))
}

// ---------------------------------------------------------------------------------------------
// Memory references
// ---------------------------------------------------------------------------------------------

fn refused(cx: &mut Cx<'_>, p: Param, r: u32, what: String) -> Outcome {
    let a = cx.invoke(&[p]);
    outcome(a.comms(r), format!("{what} {a}"))
}

/// **tmem-old-style-dom0-pa**: a TMEM_INOUT without NONCONTIG whose buf_ptr is a physical
/// address of dom0's RAM (old-style contiguous memory: OP-TEE would use it as a physical
/// address).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS` in arg.ret with origin COMMS (only NULL is allowed).
/// Defence: `call::params::translate_params` (Xen the same).
fn tmem_old_style_dom0_pa(cx: &mut Cx<'_>) -> Outcome {
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_INOUT,
        a: cx.dom0_pa,
        b: 4096,
        c: 0x7a_0001,
    };
    let what = format!("buf_ptr={:#x}", cx.dom0_pa);
    refused(cx, p, gp::ERROR_BAD_PARAMETERS, what)
}

fn bad_entry(cx: &mut Cx<'_>, entry: u64) -> Outcome {
    if !cx.outside_ram(entry) {
        return outcome(false, format!("{entry:#x} is inside our RAM"));
    }
    let mut buf = Scatter::new(3);
    buf.set_entry(1, entry);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 3 * PAGE_SIZE, 0x7a_0002);
    refused(
        cx,
        p,
        gp::ERROR_BAD_PARAMETERS,
        format!("entry1={entry:#x}"),
    )
}

/// **pagelist-entry-dom0-ram**: a 3-page NONCONTIG memref whose second entry is a physical
/// address in dom0's RAM.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS: Xen refuses to pin a gfn that is not our
/// RAM (`tsd_pin`: p2m_ram_rw only); the first page's pin is dropped again. Defence:
/// `call::params::fill` + Xen's p2m type check.
fn pagelist_entry_dom0_ram(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.dom0_pa;
    bad_entry(cx, a)
}

/// **pagelist-entry-gic-mmio**: page-list entry = our GIC distributor.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS.
fn pagelist_entry_gic_mmio(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.gic_dist;
    bad_entry(cx, a)
}

/// **pagelist-entry-secure-ram**: page-list entry = 0x0e100000 (OP-TEE's secure RAM).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS.
fn pagelist_entry_secure_ram(cx: &mut Cx<'_>) -> Outcome {
    bad_entry(cx, SECURE_RAM_PA)
}

/// **pagelist-in-mmio**: a NONCONTIG memref whose page list itself (buf_ptr) is our GIC
/// distributor.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS (the list cannot be read).
fn pagelist_in_mmio(cx: &mut Cx<'_>) -> Outcome {
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_INOUT | msg::ATTR_NONCONTIG,
        a: cx.gic_dist,
        b: 4096,
        c: 0x7a_0003,
    };
    let what = format!("list={:#x}", cx.gic_dist);
    refused(cx, p, gp::ERROR_BAD_PARAMETERS, what)
}

/// **pagelist-entry-grant-frame**: a 16-byte TMEM_INOUT at offset 0x800 of our own grant-table
/// frame (Xen maps it into our IPA space at the `/hypervisor` region; its p2m type is
/// p2m_ram_rw, `xenmem_add_to_physmap_one`).
///
/// Expected: refused, x0 = ENOTAVAIL. The mediator pins and translates the frame (it is ours and
/// `p2m_ram_rw`), but the frame is a Xen page shared with us, not our RAM, and Xen's check of
/// what OP-TEE gets (hv-patches 0009) refuses the secure call; the mediator answers a refused
/// secure call with ENOTAVAIL. Xen's own mediator accepts it (OP-TEE writes into the frame). The
/// pin is dropped after the call.
fn pagelist_entry_grant_frame(cx: &mut Cx<'_>) -> Outcome {
    let Some(g) = cx.grant_frame else {
        return outcome(false, String::from("no grant-table frame mapped"));
    };
    let mut buf = Scatter::new(1);
    buf.set_entry(0, g);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0x800, 16, 0x7a_0004);
    let a = cx.invoke(&[p]);
    outcome(a.x0 == ret::ENOTAVAIL, format!("frame={g:#x} {a}"))
}

/// **pagelist-loop-within-limit**: a 129-page memref (the most a buffer may have) whose list
/// page's "next" pointer points back at itself.
///
/// Expected: accepted, correct byte sum: 129 entries fit in one list page, so the next pointer
/// is never followed. Defence: the walk is driven by the page count from the size, never by the
/// list (`call::params::fill`).
fn pagelist_loop_within_limit(cx: &mut Cx<'_>) -> Outcome {
    let mut buf = Scatter::new(129);
    let len = 129 * PAGE_SIZE;
    let sum = buf.fill(0, len);
    let me = ipa(&*buf.lists[0]);
    buf.set_next(me);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, len, 0x7a_0005);
    let a = cx.invoke(&[p]);
    outcome(
        a.ok() && buf.byte(0) == sum,
        format!("{a} sum={:#04x} expected={sum:#04x}", buf.byte(0)),
    )
}

/// **pagelist-loop-overlong**: a memref claiming 1000 pages (two list pages) whose list loops
/// to itself.
///
/// Expected: `TEEC_ERROR_OUT_OF_MEMORY`, origin COMMS, before any list page is read (129 pages
/// per buffer, Xen's MAX_SHM_BUFFER_PG). Defence: `PageList::new`.
fn pagelist_loop_overlong(cx: &mut Cx<'_>) -> Outcome {
    let mut buf = Scatter::new(1);
    let me = ipa(&*buf.lists[0]);
    buf.set_next(me);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 1000 * PAGE_SIZE, 0x7a_0006);
    refused(cx, p, gp::ERROR_OUT_OF_MEMORY, String::from("pages=1000"))
}

/// **memref-size-offset-overflow**: NONCONTIG memref at offset 0xfff with size
/// 0xffffffffffffff00 (offset + size overflows 64 bits).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS. Defence: `PageList::new` (checked_add).
fn memref_size_offset_overflow(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(1);
    let mut p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0xFFF, 0, 0x7a_0007);
    p.b = 0xFFFF_FFFF_FFFF_FF00;
    refused(
        cx,
        p,
        gp::ERROR_BAD_PARAMETERS,
        String::from("offset=0xfff size=0xffffffffffffff00"),
    )
}

/// **memref-size-huge**: NONCONTIG memref of 2^40 bytes.
///
/// Expected: `TEEC_ERROR_OUT_OF_MEMORY`, origin COMMS (page limit).
fn memref_size_huge(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(1);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 0, 0x7a_0008);
    let p = Param { b: 1 << 40, ..p };
    refused(cx, p, gp::ERROR_OUT_OF_MEMORY, String::from("size=2^40"))
}

/// **unknown-param-type**: a parameter of the reserved type 0x4 (between VALUE and RMEM).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS (our deviation: Xen lets unknown types
/// through). Defence: `call::params::translate_params`.
fn unknown_param_type(cx: &mut Cx<'_>) -> Outcome {
    let p = Param {
        attr: 0x4,
        a: cx.dom0_pa,
        b: 4096,
        c: 0,
    };
    refused(cx, p, gp::ERROR_BAD_PARAMETERS, String::from("attr=0x4"))
}

/// **second-param-bad-frees-first**: parameter 0 a valid 4-page memref, parameter 1 a memref with
/// a dom0 address in its list.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS, and no pin left (the pins made for
/// parameter 0 are dropped at once; Xen would keep them until the guest dies). Defence:
/// `call::params::translate_params` → `free_call_bufs`.
fn second_param_bad_frees_first(cx: &mut Cx<'_>) -> Outcome {
    let good = Scatter::new(4);
    let mut bad = Scatter::new(2);
    bad.set_entry(1, cx.dom0_pa);
    let p0 = good.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 4 * PAGE_SIZE, 0x7a_0009);
    let p1 = bad.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 2 * PAGE_SIZE, 0x7a_000a);
    let a = cx.invoke(&[p0, p1]);
    outcome(a.comms(gp::ERROR_BAD_PARAMETERS), format!("{a}"))
}

// ---------------------------------------------------------------------------------------------
// Cookies
// ---------------------------------------------------------------------------------------------

/// **register-duplicate-cookie**: REGISTER_SHM of buffer A with cookie C, then of buffer B with
/// the same C; then uses and unregisters A.
///
/// Expected: the second registration gets `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS (a cookie
/// names one buffer per guest); A still works (RMEM invoke OK) and unregisters OK. Defence:
/// `call::params::translate_noncontig` (`find_buf`).
fn register_duplicate_cookie(cx: &mut Cx<'_>) -> Outcome {
    let mut a_buf = Scatter::new(2);
    let b_buf = Scatter::new(2);
    let c = 0x7a_1001;
    let len = 2 * PAGE_SIZE;
    let ra =
        cx.t.register(cx.k, a_buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, len, c));
    let rb =
        cx.t.register(cx.k, b_buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, len, c));
    let sum = a_buf.fill(0, len);
    let use_a = cx.invoke(&[rmem(msg::ATTR_TYPE_RMEM_INOUT, 0, len as u64, c)]);
    let used = use_a.ok() && a_buf.byte(0) == sum;
    let un = cx.t.unregister(cx.k, c);
    outcome(
        ra.ok() && rb.comms(gp::ERROR_BAD_PARAMETERS) && used && un.ok(),
        format!("first: {ra} second: {rb} use_first={used} unregister: {un}"),
    )
}

/// **tmem-reuses-registered-cookie**: a temporary NONCONTIG memref carrying the cookie of a
/// buffer registered before.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS; the registered buffer is unaffected and
/// unregisters OK.
fn tmem_reuses_registered_cookie(cx: &mut Cx<'_>) -> Outcome {
    let reg = Scatter::new(1);
    let tmp = Scatter::new(1);
    let c = 0x7a_1002;
    let r = cx.t.register(
        cx.k,
        reg.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, PAGE_SIZE, c),
    );
    let a = cx.invoke(&[tmp.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 64, c)]);
    let un = cx.t.unregister(cx.k, c);
    outcome(
        r.ok() && a.comms(gp::ERROR_BAD_PARAMETERS) && un.ok(),
        format!("register: {r} tmem: {a} unregister: {un}"),
    )
}

/// **rmem-forged-cookie**: RMEM_INOUT naming cookie 0xdeadbeef, never registered (another
/// guest's cookie would look the same: OP-TEE keeps cookies per guest partition).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS` with origin COMMS: the mediator passes an RMEM only if
/// its cookie names a buffer it tracks for this guest, so OP-TEE never sees it (Xen passes it
/// through and OP-TEE answers BAD_PARAMETERS, origin TEE, `set_rmem_param`). Defence:
/// `call::params::translate_params` (it also keeps registrations made through a dead mediator, whose
/// pages are no longer pinned, out of reach), OP-TEE's per-partition cookie lookup behind it.
fn rmem_forged_cookie(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.invoke(&[rmem(msg::ATTR_TYPE_RMEM_INOUT, 0, 64, 0xdead_beef)]);
    outcome(a.comms(gp::ERROR_BAD_PARAMETERS), format!("{a}"))
}

/// **unregister-twice**: REGISTER_SHM, UNREGISTER_SHM, UNREGISTER_SHM of the same cookie.
///
/// Expected: the second UNREGISTER gets x0 = OK with `TEEC_ERROR_BAD_PARAMETERS`: the cookie is
/// no longer tracked, so the mediator refuses its RMEM parameter (Xen: OP-TEE answers, from
/// `mobj_reg_shm_release_by_cookie`); the pins were released at the first one. Defence:
/// `call::complete` (unpin only on OP-TEE's success), the RMEM cookie check.
fn unregister_twice(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(2);
    let c = 0x7a_1003;
    let r = cx.t.register(
        cx.k,
        buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, 2 * PAGE_SIZE, c),
    );
    let u1 = cx.t.unregister(cx.k, c);
    let u2 = cx.t.unregister(cx.k, c);
    outcome(
        r.ok() && u1.ok() && u2.x0 == ret::OK && u2.ret == gp::ERROR_BAD_PARAMETERS,
        format!("register: {r} first: {u1} second: {u2}"),
    )
}

/// **unregister-forged-cookie**: UNREGISTER_SHM of cookie 0x1 that we never registered.
///
/// Expected: x0 = OK, `TEEC_ERROR_BAD_PARAMETERS` (origin COMMS: the mediator's RMEM cookie
/// check); no pin changes.
fn unregister_forged_cookie(cx: &mut Cx<'_>) -> Outcome {
    let u = cx.t.unregister(cx.k, 1);
    outcome(
        u.x0 == ret::OK && u.ret == gp::ERROR_BAD_PARAMETERS,
        format!("{u}"),
    )
}

/// **regd-arg-forged-cookie**: CALL_WITH_REGD_ARG naming cookie 0x1234 (no such registered
/// buffer) as the place of the argument.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4). Defence: `call::arg::locate` (Regd: the cookie must be
/// one of the guest's registered buffers).
fn regd_arg_forged_cookie(_cx: &mut Cx<'_>) -> Outcome {
    let r = smccc_hvc([u64::from(smc::CALL_WITH_REGD_ARG), 0, 0x1234, 0, 0, 0, 0, 0]);
    outcome(r[0] == ret::EBADADDR, format!("x0={:#x}", r[0]))
}

/// **rmem-offset-overflow**: registers one page, then an RMEM reference into it at offset
/// 0xfffffffffffffff8 with size 16 (offset + size overflows).
///
/// Expected: OP-TEE answers `TEE_ERROR_SECURITY` (0xffff000f) with origin TEE
/// (`set_rmem_param`: ADD_OVERFLOW); nothing was pinned for it. The buffer unregisters OK.
fn rmem_offset_overflow(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(1);
    let c = 0x7a_1004;
    let r = cx.t.register(
        cx.k,
        buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, PAGE_SIZE, c),
    );
    let a = cx.invoke(&[rmem(
        msg::ATTR_TYPE_RMEM_INOUT,
        0xFFFF_FFFF_FFFF_FFF8,
        16,
        c,
    )]);
    let un = cx.t.unregister(cx.k, c);
    outcome(
        r.ok() && a.is(TEE_ERROR_SECURITY, gp::ORIGIN_TEE) && un.ok(),
        format!("register: {r} rmem: {a} unregister: {un}"),
    )
}

// ---------------------------------------------------------------------------------------------
// RPC answers
// ---------------------------------------------------------------------------------------------

/// Opens the missing TA with `twist` armed; the answer.
fn twisted_open(cx: &mut Cx<'_>, twist: Twist) -> Answer {
    cx.t.hooks.twist = twist;
    cx.t.open(cx.k, &MISSING_TA_UUID)
}

/// **rpc-alloc-answer-dom0-pa**: answers OP-TEE's RPC_FUNC_ALLOC (argument buffer for its RPCs)
/// with a physical address of dom0's RAM.
///
/// Expected: the mediator cannot pin it and resumes OP-TEE with a null buffer (Xen
/// `handle_rpc_func_alloc`); OP-TEE gives up on that RPC and the open ends with x0 = OK and an
/// error in arg.ret (not SUCCESS). dom0's memory is never handed to OP-TEE.
fn rpc_alloc_answer_dom0_pa(cx: &mut Cx<'_>) -> Outcome {
    let a = twisted_open(cx, Twist::AllocAt(cx.dom0_pa));
    outcome(
        a.x0 == ret::OK && a.ret != teec::SUCCESS && cx.t.hooks.twist == Twist::None,
        format!("alloc_answer={:#x} {a}", cx.dom0_pa),
    )
}

/// **rpc-alloc-answer-unaligned**: answers RPC_FUNC_ALLOC with a page of ours + 0x10.
///
/// Expected: as rpc-alloc-answer-dom0-pa (the buffer must be page-aligned).
fn rpc_alloc_answer_unaligned(cx: &mut Cx<'_>) -> Outcome {
    let page = new_page();
    let at = ipa(&*page) + 0x10;
    let a = twisted_open(cx, Twist::AllocAt(at));
    outcome(
        a.x0 == ret::OK && a.ret != teec::SUCCESS && cx.t.hooks.twist == Twist::None,
        format!("alloc_answer={at:#x} {a}"),
    )
}

/// **rpc-shm-alloc-bad-list**: answers OP-TEE's RPC command SHM_ALLOC with a NONCONTIG buffer
/// whose page list names dom0's RAM.
///
/// Expected: the mediator cannot translate it, asks us to free our buffer (an RPC SHM_FREE of
/// our own cookie, Xen `issue_rpc_cmd_free`), then tells OP-TEE the allocation failed; the open
/// ends with x0 = OK and ret ≠ SUCCESS. Defence: `call::rpc::rpc_shm_alloc`.
fn rpc_shm_alloc_bad_list(cx: &mut Cx<'_>) -> Outcome {
    let before = cx.t.rpcs.shm_alloc;
    let a = twisted_open(cx, Twist::ShmAllocEntry(cx.dom0_pa));
    let asked = cx.t.rpcs.shm_alloc > before;
    let freed = cx.t.hooks.freed_twisted;
    outcome(
        asked && freed == 1 && a.x0 == ret::OK && a.ret != teec::SUCCESS,
        format!("shm_alloc_asked={asked} our_cookie_freed={freed} {a}"),
    )
}

/// **rpc-shm-alloc-old-style**: answers SHM_ALLOC with an old-style contiguous TMEM_OUTPUT (a raw
/// address, no NONCONTIG).
///
/// Expected: OP-TEE gets `TEEC_ERROR_GENERIC` with no parameters (fail closed; our deviation:
/// Xen passes the raw address through); the open ends with x0 = OK, ret ≠ SUCCESS.
fn rpc_shm_alloc_old_style(cx: &mut Cx<'_>) -> Outcome {
    let before = cx.t.rpcs.shm_alloc;
    let a = twisted_open(cx, Twist::ShmAllocOldStyle);
    let asked = cx.t.rpcs.shm_alloc > before;
    outcome(
        asked && a.x0 == ret::OK && a.ret != teec::SUCCESS,
        format!("shm_alloc_asked={asked} {a}"),
    )
}

/// **invoke-forged-session**: INVOKE on session 0xdeadbeef (never opened by us; OP-TEE's session
/// IDs of another guest live in its partition).
///
/// Expected: x0 = OK, `TEEC_ERROR_BAD_PARAMETERS` with origin TEE (`entry_invoke_command`:
/// `tee_ta_get_session` fails).
fn invoke_forged_session(cx: &mut Cx<'_>) -> Outcome {
    let a =
        cx.t.invoke(cx.k, 0xdead_beef, pta::CMD_PARAMS, &[value_inout(1, 2)]);
    outcome(
        a.is(gp::ERROR_BAD_PARAMETERS, gp::ORIGIN_TEE),
        format!("{a}"),
    )
}

/// **pinned-pages-exhaustion**: REGISTER_SHM of 129-page buffers (the most per buffer) until
/// refused, reading Xen's pin count for us at the peak, then unregisters them all.
///
/// Expected: 16 registrations succeed (16 × 129 = 2064 pins, as Xen's query confirms); the 17th
/// gets `TEEC_ERROR_OUT_OF_MEMORY`, origin COMMS (MAX_SHM_BUFFER_COUNT 16 is reached before the
/// 16384-page cap, as in Xen); all unregister OK; then pins are 0. Defence: `Limits`
/// (`call::params::translate_noncontig`), Xen's per-domain pin cap behind it.
fn pinned_pages_exhaustion(cx: &mut Cx<'_>) -> Outcome {
    // One pool, registered again and again: the pins count per registration.
    let buf = Scatter::new(129);
    let mut done = Vec::new();
    let mut refused = None;
    for i in 0..40u64 {
        let c = 0x7a_2000 + i;
        let a = cx.t.register(
            cx.k,
            buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, 129 * PAGE_SIZE, c),
        );
        if a.ok() {
            done.push(c);
        } else {
            refused = Some((i, a));
            break;
        }
    }
    let peak = pins();
    let mut unreg = true;
    for c in &done {
        unreg &= cx.t.unregister(cx.k, *c).ok();
    }
    let ok = done.len() == 16
        && matches!(refused, Some((16, a)) if a.comms(gp::ERROR_OUT_OF_MEMORY))
        && peak == Ok(16 * 129)
        && unreg;
    outcome(
        ok,
        format!(
            "registered={} refused={:?} peak_pins={peak:?} unregistered_all={unreg}",
            done.len(),
            refused.map(|(i, a)| (i, a.x0, a.ret, a.origin))
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Two vCPUs (kernel::smp)
// ---------------------------------------------------------------------------------------------

/// An argument page both vCPUs write at once: only atomics (the other vCPU, the mediator and
/// Xen all touch it while we do). 512 words of 64 bits.
#[repr(C, align(4096))]
struct SharedArg([AtomicU64; 512]);

static RACE_ARG: SharedArg = SharedArg([const { AtomicU64::new(0) }; 512]);
/// Tells the second vCPU to stop.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by the second vCPU when its function is done.
static DONE: AtomicBool = AtomicBool::new(false);
/// Rewrites of the argument page done by the second vCPU.
static REWRITES: AtomicU64 = AtomicU64::new(0);
/// Calls by the second vCPU, and those with an unexpected answer.
static FLOOD_CALLS: AtomicU64 = AtomicU64::new(0);
static FLOOD_BAD: AtomicU64 = AtomicU64::new(0);
/// dom0's address for the second vCPU (it has no Kernel object).
static DOM0_PA: AtomicU64 = AtomicU64::new(0);

/// Word 0 of `struct optee_msg_arg`: cmd (low half) and func (high half).
const fn word0(cmd: u32, func: u32) -> u64 {
    (cmd as u64) | ((func as u64) << 32)
}

/// Second vCPU: rewrites the command and parameter 0 of [`RACE_ARG`] between three versions
/// until told to stop: a valid INVOKE with a VALUE_INOUT, an old-style TMEM naming dom0's
/// RAM, and an unknown command. Words 1–3 (session, ret, ret_origin, num_params) and the
/// value's b are left alone, so that the main vCPU can read the answer.
fn rewriter(_: usize) {
    let w = &RACE_ARG.0;
    let dom0 = DOM0_PA.load(Ordering::Relaxed);
    let mut i = 0u64;
    while !STOP.load(Ordering::Acquire) {
        match i % 3 {
            0 => {
                w[0].store(
                    word0(msg::CMD_INVOKE_COMMAND, pta::CMD_PARAMS),
                    Ordering::Relaxed,
                );
                w[4].store(msg::ATTR_TYPE_VALUE_INOUT, Ordering::Relaxed);
                w[5].store(40, Ordering::Relaxed);
            }
            1 => {
                // dom0's address + 0x11: the mediator copies the page with plain byte copies,
                // so it may read a mix of this word and 40 (0x28); with a non-zero low byte in
                // both, no mix is 0, the NULL memref that the invoke-tests PTA cannot take (see
                // README, "OP-TEE panics on a NULL memref").
                w[4].store(msg::ATTR_TYPE_TMEM_INOUT, Ordering::Relaxed);
                w[5].store(dom0 | 0x11, Ordering::Relaxed);
            }
            _ => {
                w[0].store(word0(0x1234, pta::CMD_PARAMS), Ordering::Relaxed);
            }
        }
        i += 1;
        REWRITES.store(i, Ordering::Relaxed);
    }
    DONE.store(true, Ordering::Release);
}

/// Starts `f` on vCPU 1; false if there is none.
fn start_second(f: fn(usize)) -> Result<(), kernel::smp::SmpError> {
    STOP.store(false, Ordering::Release);
    DONE.store(false, Ordering::Release);
    kernel::smp::spawn(1, f, 0)
}

/// Stops the second vCPU's function and waits (up to 5 s) until it is done.
fn stop_second(k: &Kernel) -> bool {
    STOP.store(true, Ordering::Release);
    let t = k.now();
    while !DONE.load(Ordering::Acquire) {
        if k.since(t).as_secs() >= 5 {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// **arg-changed-by-other-vcpu**: while vCPU 0 sends 60 INVOKEs from one argument page, vCPU 1
/// keeps rewriting that page between a valid INVOKE (VALUE_INOUT 40 + 2), an old-style TMEM whose
/// address is in dom0's RAM (0x68000011), and an unknown command — before, during and after the mediator reads
/// it (time-of-check to time-of-use).
///
/// Expected: every call ends in exactly one of x0 = OK with ret = SUCCESS (OP-TEE ran a valid
/// INVOKE), x0 = OK with `TEEC_ERROR_BAD_PARAMETERS` origin COMMS (the mediator's copy had the
/// old-style TMEM), or `OPTEE_SMC_RETURN_EBADCMD` (its copy had the unknown command); no
/// other answer, no pin left, the mediator alive, dom0's xtest unaffected. OP-TEE only ever
/// reads the mediator's shadow copy, validated after copying, so the rewrites cannot slip a
/// dom0 address past the checks. Defence: `call::arg::prepare` (shadow copy, header read once).
fn arg_changed_by_other_vcpu(cx: &mut Cx<'_>) -> Outcome {
    let w = &RACE_ARG.0;
    for x in w.iter() {
        x.store(0, Ordering::Relaxed);
    }
    w[0].store(
        word0(msg::CMD_INVOKE_COMMAND, pta::CMD_PARAMS),
        Ordering::Relaxed,
    );
    w[1].store(u64::from(cx.session), Ordering::Relaxed);
    w[3].store(1 << 32, Ordering::Relaxed); // ret_origin 0, num_params 1
    w[4].store(msg::ATTR_TYPE_VALUE_INOUT, Ordering::Relaxed);
    w[5].store(40, Ordering::Relaxed);
    w[6].store(2, Ordering::Relaxed);
    DOM0_PA.store(cx.dom0_pa, Ordering::Relaxed);
    REWRITES.store(0, Ordering::Relaxed);
    if let Err(e) = start_second(rewriter) {
        return outcome(
            false,
            format!("vCPU 1: {e} (cpus={})", kernel::smp::cpu_count()),
        );
    }
    let (mut good, mut badpar, mut badcmd, mut other) = (0u32, 0u32, 0u32, Vec::new());
    let (hi, lo) = split(ipa(&RACE_ARG));
    for _ in 0..60 {
        w[2].store(0, Ordering::Relaxed); // ret
        w[3].store(1 << 32, Ordering::Relaxed);
        let mut r = smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
        r[0] = cx.t.finish(cx.k, r);
        let ret_ = (w[2].load(Ordering::Relaxed) >> 32) as u32;
        let origin = w[3].load(Ordering::Relaxed) as u32;
        match (r[0], ret_, origin) {
            (ret::OK, teec::SUCCESS, _) => good += 1,
            (ret::OK, gp::ERROR_BAD_PARAMETERS, gp::ORIGIN_COMMS) => badpar += 1,
            (ret::EBADCMD, _, _) => badcmd += 1,
            x => other.push(x),
        }
    }
    let stopped = stop_second(cx.k);
    let rewrites = REWRITES.load(Ordering::Relaxed);
    outcome(
        other.is_empty() && stopped && rewrites > 0,
        format!(
            "calls=60 ok={good} bad_parameters_comms={badpar} ebadcmd={badcmd} other={other:x?} rewrites={rewrites} vcpu1_stopped={stopped}"
        ),
    )
}

/// One round of the flood: a fast call that reaches OP-TEE (GET_OS_REVISION = 4.10), a std call
/// the mediator refuses without reading memory (misaligned: EBADADDR), one it refuses after
/// reading the argument (unknown command: EBADCMD) and a RETURN_FROM_RPC for no call (ERESUME).
/// The number of unexpected answers.
fn flood_round(page: u64) -> u64 {
    let mut bad = 0;
    let r = fast(u64::from(smc::GET_OS_REVISION), 0);
    bad += u64::from((r[0], r[1]) != tee_client::OPTEE_OS_REVISION);
    let (hi, lo) = split(page + 0x80);
    let r = smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    bad += u64::from(r[0] != ret::EBADADDR);
    let (hi, lo) = split(page);
    let r = smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    bad += u64::from(r[0] != ret::EBADCMD);
    let r = smccc_hvc([u64::from(smc::RETURN_FROM_RPC), 0, 0, 7, 0, 0, 0, 0]);
    bad += u64::from(r[0] != ret::ERESUME);
    bad
}

/// A page holding an unknown command, for the flood (both vCPUs only read it).
#[repr(C, align(4096))]
struct FloodPage([AtomicU64; 512]);
static FLOOD_PAGE: FloodPage = FloodPage([const { AtomicU64::new(0) }; 512]);

/// Rounds per vCPU in flood-all-vcpus.
const FLOOD_ROUNDS: u64 = 150;

fn flooder(_: usize) {
    let page = ipa(&FLOOD_PAGE);
    for _ in 0..FLOOD_ROUNDS {
        if STOP.load(Ordering::Acquire) {
            break;
        }
        FLOOD_BAD.fetch_add(flood_round(page), Ordering::Relaxed);
        FLOOD_CALLS.fetch_add(4, Ordering::Relaxed);
    }
    DONE.store(true, Ordering::Release);
}

/// **flood-all-vcpus**: both vCPUs send calls back to back, 150 rounds each of GET_OS_REVISION
/// (reaches OP-TEE), a misaligned CALL_WITH_ARG, a CALL_WITH_ARG with an unknown command and a
/// RETURN_FROM_RPC for no call.
///
/// Expected: every answer exact (4.10, EBADADDR, EBADCMD, ERESUME: 1200 calls, 0 unexpected),
/// no pin, the mediator alive and dom0's xtest unaffected (the mediator serves calls one at a
/// time from its ring; Xen pauses each calling vCPU until answered, so a guest has at most one
/// call per vCPU outstanding). Calls that would hold an OP-TEE thread are left out on purpose, so
/// that the other guest never meets ETHREAD_LIMIT because of us: see README, "OP-TEE threads are
/// shared". Defence: the forwarder's per-vCPU call slot and
/// ring, the mediator's per-call work bound.
fn flood_all_vcpus(cx: &mut Cx<'_>) -> Outcome {
    let w = &FLOOD_PAGE.0;
    w[0].store(word0(0x1234, 0), Ordering::Relaxed);
    FLOOD_CALLS.store(0, Ordering::Relaxed);
    FLOOD_BAD.store(0, Ordering::Relaxed);
    if let Err(e) = start_second(flooder) {
        return outcome(
            false,
            format!("vCPU 1: {e} (cpus={})", kernel::smp::cpu_count()),
        );
    }
    let t = cx.k.now();
    let page = ipa(&FLOOD_PAGE);
    let mut bad0 = 0;
    for _ in 0..FLOOD_ROUNDS {
        bad0 += flood_round(page);
    }
    // The second vCPU finishes its own rounds (stop_second also sets STOP, which only cuts it
    // short if it is still running after ours plus 5 s).
    let t1 = cx.k.now();
    while !DONE.load(Ordering::Acquire) && cx.k.since(t1).as_secs() < 5 {
        core::hint::spin_loop();
    }
    let stopped = stop_second(cx.k);
    let ms = cx.k.since(t).as_millis().max(1);
    let calls1 = FLOOD_CALLS.load(Ordering::Relaxed);
    let bad1 = FLOOD_BAD.load(Ordering::Relaxed);
    let total = 4 * FLOOD_ROUNDS + calls1;
    outcome(
        stopped && bad0 == 0 && bad1 == 0 && calls1 == 4 * FLOOD_ROUNDS,
        format!(
            "vcpu0: calls={} bad={bad0} vcpu1: calls={calls1} bad={bad1} total={total} in {ms} ms ({} calls/s)",
            4 * FLOOD_ROUNDS,
            u128::from(total) * 1000 / ms
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/// The mediator answers a fast call that reaches OP-TEE.
fn alive() -> bool {
    let r = fast(u64::from(smc::CALLS_REVISION), 0);
    (r[0], r[1]) == OPTEE_MSG_REVISION
}

/// A real session: open the invoke-tests PTA, INVOKE with a value, close.
fn real_session(cx: &mut Cx<'_>) -> bool {
    let a = cx.t.msg(cx.k, msg::CMD_OPEN_SESSION, 0, 0, &open_params());
    if !a.ok() {
        return false;
    }
    let s = a.session;
    let b = cx.t.invoke(cx.k, s, pta::CMD_PARAMS, &[value_inout(40, 2)]);
    let c = cx.t.msg(cx.k, msg::CMD_CLOSE_SESSION, 0, s, &[]);
    b.ok() && b.p[0].a == 42 && c.ok()
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let mut r = Report::new(name);
    let names: Vec<&str> = TABLE.iter().map(|a| a.name).collect();
    if names != ATTACKS {
        println!("TSD-RESULT {name} passed=0 failed=1 status=FAIL reason=attack-table-out-of-step");
        return;
    }
    let dom0_pa = args.get_u64("dom0-pa").unwrap_or(0x6800_0000);
    let only = args.get("only");
    // Probe (development; never in the scenario): a NULL TMEM_INOUT to the invoke-tests PTA's
    // PARAMS command, which writes the byte sum into memref 0's buffer without a NULL check.
    // Probe (development; never in the scenario): after D seconds, hold every OP-TEE thread for
    // H seconds (`probe-hold-threads=D:H`), then let the calls finish; shows what another guest
    // does when it gets ETHREAD_LIMIT meanwhile.
    if let Some((d, h)) = args
        .get("probe-hold-threads")
        .and_then(|v| v.split_once(':'))
        .and_then(|(d, h)| Some((d.parse::<u64>().ok()?, h.parse::<u64>().ok()?)))
    {
        k.sleep(core::time::Duration::from_secs(d));
        let k2: &Kernel = k;
        let mut t = new_tee(k2);
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut page = new_page();
            let r = start_missing_open(&mut page);
            held.push((page, r));
        }
        println!(
            "TSD-INFO {name} probe-hold-threads: holding {:x?} for {h} s",
            held.iter().map(|(_, r)| r[0]).collect::<Vec<_>>()
        );
        let t0 = k2.now();
        while k2.since(t0).as_secs() < h {
            core::hint::spin_loop();
        }
        let x = finish_all(&mut t, k2, held.iter().map(|(_, r)| *r).collect());
        println!("TSD-INFO {name} probe-hold-threads: released, ends {x:x?}");
    }
    if args.get("probe-null-memref") == Some("1") {
        let k2: &Kernel = k;
        let mut t = new_tee(k2);
        let a = t.msg(k2, msg::CMD_OPEN_SESSION, 0, 0, &open_params());
        let p = Param {
            attr: msg::ATTR_TYPE_TMEM_INOUT,
            a: 0,
            b: 0,
            c: 0,
        };
        println!(
            "TSD-INFO {name} probe-null-memref: open {a}; invoking PARAMS with a NULL TMEM_INOUT"
        );
        let b = t.invoke(k2, a.session, pta::CMD_PARAMS, &[p]);
        println!("TSD-INFO {name} probe-null-memref: answer {b}");
    }
    // Development aid: report failures as TSD-INFO so that one run shows every attack.
    let dev = args.get("dev") == Some("1");
    // Attacks that fail because of a known, reported bug (comma-separated names): their failure
    // is printed as `TSD-INFO <name> KNOWN-FAIL <check line>` and counted as known_failures in
    // TSD-RESULT, not as failed; a known attack that passes is a normal PASS.
    let known: Vec<&str> = args
        .get("known")
        .map_or(Vec::new(), |v| v.split(',').collect());
    let mut known_failures = 0u32;
    // After the first pass, repeat the attacks (all but those holding OP-TEE threads) until this
    // many seconds since the start, so that they overlap the other guest's xtest.
    let repeat_s = args.get_u64("repeat-s").unwrap_or(0);
    let ram = k.dt().memory.first().map_or((0, 0), |m| (m.base, m.size));
    let gic_dist = k.dt().gic_dist.base;
    // Granting a page (read-only, to dom0) makes the kernel map our grant-table frame.
    let grant_frame = SharedPage::new().and_then(|p| {
        let g = k.grant_access(0, &p, true).ok()?;
        let _ = k.end_access(g);
        k.dt().xen_regions.first().map(|r| r.base)
    });
    let k: &Kernel = k;
    let tc = fast(u64::from(smc::GET_THREAD_COUNT), 0);
    let threads = if tc[0] == ret::OK { tc[1] } else { 0 };
    let mut cx = Cx {
        k,
        t: new_tee(k),
        ram,
        dom0_pa,
        gic_dist,
        grant_frame,
        threads,
        session: 0,
    };
    println!(
        "TSD-INFO {name} ram={:#x}+{:#x} dom0_pa={dom0_pa:#x} gic={gic_dist:#x} grant_frame={grant_frame:#x?} optee_threads={threads} attacks={}",
        ram.0,
        ram.1,
        ATTACKS.len()
    );
    let t0 = cx.k.now();
    let a = cx.t.msg(cx.k, msg::CMD_OPEN_SESSION, 0, 0, &open_params());
    // The session must not exist yet for the first attacks (they need every OP-TEE thread
    // free, and an open session holds none, so order does not matter; opened here once).
    cx.session = if a.ok() { a.session } else { 0 };
    r.check(
        "setup",
        a.ok() && pins() == Ok(0) && threads >= 1,
        format_args!("open: {a} pins={:?} threads={threads}", pins()),
    );
    let mut ran = 0;
    let mut pass = 1u32;
    loop {
        // Pass 1 prints one line per attack; later passes (repeat-s=) print failures and one
        // summary line per pass.
        let (mut pass_ran, mut pass_failed) = (0u32, Vec::new());
        for (i, at) in TABLE.iter().enumerate() {
            if only.is_some_and(|o| !o.split(',').any(|x| at.name.contains(x))) {
                continue;
            }
            if pass > 1 && HOLDS_THREADS.contains(&at.name) {
                continue;
            }
            ran += 1;
            pass_ran += 1;
            let ta = cx.k.now();
            let o = (at.run)(&mut cx);
            reset(&mut cx.t);
            let up = alive();
            let sess = if i % 4 == 3 {
                Some(real_session(&mut cx))
            } else {
                None
            };
            let p = pins();
            let ok = o.ok && up && sess != Some(false) && p == Ok(0);
            let detail = format!(
                "{} | expected={} alive={up} session={} pins={p:?} ms={} pass={pass}",
                o.detail,
                if o.ok { "yes" } else { "NO" },
                match sess {
                    None => "-",
                    Some(true) => "ok",
                    Some(false) => "FAILED",
                },
                cx.k.since(ta).as_millis()
            );
            if !ok && known.contains(&at.name) {
                known_failures += 1;
                let mut scratch = Report::new(name);
                println!(
                    "TSD-INFO {name} KNOWN-FAIL {}",
                    scratch.record(at.name, ok, format_args!("{detail}"))
                );
                continue;
            }
            if !ok {
                pass_failed.push(at.name);
            }
            if pass > 1 && ok {
                continue;
            }
            let prefix = if dev && !ok { "TSD-INFO DEV-FAIL " } else { "" };
            println!(
                "{prefix}{}",
                r.record(at.name, ok, format_args!("{detail}"))
            );
        }
        if pass > 1 {
            r.check(
                "repeat-pass",
                pass_failed.is_empty(),
                format_args!(
                    "pass={pass} attacks={pass_ran} failed={pass_failed:?} t={} s",
                    cx.k.since(t0).as_secs()
                ),
            );
        }
        if cx.k.since(t0).as_secs() >= repeat_s || pass_ran == 0 {
            break;
        }
        pass += 1;
    }
    let s = cx.session;
    let c = cx.t.msg(cx.k, msg::CMD_CLOSE_SESSION, 0, s, &[]);
    let fin = real_session(&mut cx);
    let p = pins();
    r.check(
        "final",
        c.ok() && fin && p == Ok(0) && alive(),
        format_args!("close: {c} session={fin} pins={p:?} rpcs={:?}", cx.t.rpcs),
    );
    println!(
        "TSD-RESULT {name} passed={} failed={} known_failures={known_failures} attacks_run={ran} passes={pass} ms={} pins={p:?} status={}",
        r.passed,
        r.failed,
        cx.k.since(t0).as_millis(),
        r.status()
    );
}
