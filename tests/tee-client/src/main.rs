//! tee-client: an OP-TEE client guest that speaks the OP-TEE SMC ABI directly (no Linux driver)
//! and checks what a mediator lets through, one `TSD-CHECK <name> <case> PASS|FAIL <detail>`
//! line per case, then `TSD-RESULT`.
//!
//! Boot arguments: `name=` (markers), `mode=optee|stubdom` (which mediator's deliberate
//! differences to expect, default `optee`), `bench=N` (after the cases, N repetitions of each
//! benchmark, reported as `TSD-BENCH <name> <metric> median_ns=.. min_ns=.. p90_ns=.. n=..`),
//! `cases=0` (benchmarks only), `selftests=0` (skip OP-TEE's core self tests, the slowest case).
//! With `bench=N` the fast and the yielding call are also counted in hypervisor entries, from
//! Xen's perf counters (`xenif::perfc`), when Xen has them and FLASK lets us read them.
//!
//! `role=busy` / `role=measure` (with `peer-port=P`, the local port of a static event channel
//! between the two): the long-TA benchmark. `busy` (guest A) computes in OP-TEE for
//! `call-ms=` (default 500) per call (the invoke-tests PTA's AES_PERF command) while `measure`
//! (guest B) times N null yielding calls (`bench=N`), once with A idle and once while A
//! computes; see [`long_ta_busy`].
//!
//! Calls go through `hvc #0` (`/firmware/optee` says `method = "hvc"`), with
//! `xenif::hook::call::smccc_hvc` (x0–x7 in and out; the asm is not `nomem`, because OP-TEE reads
//! and writes the pages whose addresses the registers carry). Memory given to OP-TEE is our own
//! heap, page-aligned; the kernel identity-maps RAM, so an address is its IPA.
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::time::Duration;
use kernel::xenif::abi::PerfcDesc;
use kernel::xenif::hook::call::smccc_hvc;
use kernel::xenif::hypercall::perfc_query;
use kernel::xenif::perfc::Entries;
use kernel::{println, Kernel};
use mediator::abi::{caps, msg, regpair, ret, smc, MsgArg, Param, PAGE_SIZE};
use tee_client::client::{self, ipa, Rpcs, Scatter};
use tee_client::{
    is_unknown, pattern, pta, scaled_reps, teec, w, words_are, Mode, Summary, MISSING_TA_UUID,
    OPTEE_MSG_REVISION, OPTEE_OS_REVISION, OPTEE_OS_UUID, PTA_INVOKE_TESTS_UUID,
};

use kernel::report::Report;

kernel::entry!(main);

use mediator::abi::teec as gp;

/// The honest client: every RPC answered as tee-supplicant would.
type Tee = client::Tee;

fn fast(fid: u32, x1: u64) -> [u64; 8] {
    smccc_hvc([u64::from(fid), x1, 0, 0, 0, 0, 0, 0])
}

fn fast_calls(r: &mut Report, mode: Mode) {
    let x = fast(smc::CALLS_COUNT, 0);
    r.check(
        "calls-count",
        x[0] == mode.calls_count(),
        format_args!("x0={} expected={}", x[0], mode.calls_count()),
    );
    let x = fast(smc::CALLS_UID, 0);
    r.check(
        "calls-uid",
        words_are(&x, &mediator::abi::OPTEE_MSG_UID),
        format_args!("{:08x?}", &x[..4]),
    );
    let x = fast(smc::CALLS_REVISION, 0);
    r.check(
        "calls-revision",
        (x[0], x[1]) == OPTEE_MSG_REVISION,
        format_args!("{}.{}", x[0], x[1]),
    );
    let x = fast(smc::GET_OS_UUID, 0);
    r.check(
        "os-uuid",
        words_are(&x, &OPTEE_OS_UUID),
        format_args!("{:08x?}", &x[..4]),
    );
    let x = fast(smc::GET_OS_REVISION, 0);
    r.check(
        "os-revision",
        (x[0], x[1]) == OPTEE_OS_REVISION,
        format_args!("{}.{} a2={:#x}", x[0], x[1], x[2]),
    );
    // Unknown normal-world bits must not reach OP-TEE; what comes back is what the mediator
    // lets the guest see.
    let offered = caps::NSEC_UNIPROCESSOR | 0xF0;
    let x = fast(smc::EXCHANGE_CAPABILITIES, offered);
    let vis = mode.visible_sec_caps();
    r.check(
        "exchange-capabilities",
        x[0] == ret::OK
            && x[1] & !vis == 0
            && x[1] & caps::SEC_DYNAMIC_SHM != 0
            && x[1] & caps::SEC_HAVE_RESERVED_SHM == 0,
        format_args!(
            "x0={:#x} sec_caps={:#x} allowed={vis:#x} (dynamic shm, no reserved shm)",
            x[0], x[1]
        ),
    );
    let x = fast(smc::GET_SHM_CONFIG, 0);
    r.check(
        "get-shm-config-refused",
        x[0] == ret::ENOTAVAIL,
        format_args!("x0={:#x}", x[0]),
    );
    for (case, fid) in [
        ("unknown-fast-function", 0xB200_00F0u32),
        ("unknown-std-function", 0x3200_00F0),
        ("vm-created-refused", smc::VM_CREATED),
        ("vm-destroyed-refused", smc::VM_DESTROYED),
    ] {
        let x = fast(fid, 1);
        r.check(
            case,
            is_unknown(x[0]),
            format_args!("fid={fid:#x} x0={:#x}", x[0]),
        );
    }
    let x = fast(smc::GET_THREAD_COUNT, 0);
    let ok = if mode.forwards_thread_count() {
        x[0] == ret::OK && x[1] >= 1
    } else {
        is_unknown(x[0])
    };
    r.check(
        "get-thread-count",
        ok,
        format_args!("x0={:#x} x1={}", x[0], x[1]),
    );
}

fn bad_args(r: &mut Report, k: &Kernel, t: &mut Tee, mode: Mode) {
    t.prepare(msg::CMD_OPEN_SESSION, 0, 0, &[]);
    let pa = ipa(&*t.arg) + 0x80;
    let x0 = t.call_at(k, pa);
    r.check(
        "call-with-arg-misaligned",
        x0 == ret::EBADADDR,
        format_args!("arg={pa:#x} x0={x0:#x}"),
    );
    // Page-aligned, but no RAM there (GIC/flash region below 0x40000000).
    let x0 = t.call_at(k, 0x1000_0000);
    r.check(
        "call-with-arg-not-ram",
        x0 == ret::EBADADDR,
        format_args!("arg=0x10000000 x0={x0:#x}"),
    );
    // num_params beyond one page.
    t.prepare(msg::CMD_INVOKE_COMMAND, 0, 0, &[]);
    MsgArg::new(&mut t.arg.0, 0).set_num_params(200);
    let a = t.send(k);
    let ok = match mode {
        // Xen leaves x0 holding the function ID (optee.c handle_std_call).
        Mode::Optee => w(a.x0) == smc::CALL_WITH_ARG,
        Mode::Stubdom => a.x0 == ret::OK,
    } && a.ret == gp::ERROR_BAD_PARAMETERS
        && a.origin == gp::ORIGIN_COMMS;
    r.check("num-params-too-large", ok, format_args!("{a}"));
}

fn value_param(ty: u64, a: u64, b: u64) -> Param {
    Param {
        attr: ty,
        a,
        b,
        c: 0,
    }
}

/// Opens the invoke-tests PTA; the session (0 on failure).
fn session_cases(r: &mut Report, k: &Kernel, t: &mut Tee, mode: Mode, selftests: bool) -> u32 {
    let a = t.open(k, &PTA_INVOKE_TESTS_UUID);
    r.check(
        "open-session-pta",
        a.ok() && a.origin == teec::ORIGIN_TRUSTED_APP,
        format_args!(
            "{a} session={:#x} uuid=d96a5b40-c3e5-21e3-8794-1002a5d5c61b",
            a.session
        ),
    );
    if !a.ok() {
        return 0;
    }
    let s = a.session;
    let a = t.invoke(k, s, pta::CMD_TRACE, &[]);
    r.check("invoke-trace", a.ok(), format_args!("{a}"));

    let p = value_param(msg::ATTR_TYPE_VALUE_INOUT, 0x1234_0000, 0x5678);
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    r.check(
        "invoke-value-inout",
        a.ok() && a.p[0].a == 0x1234_5678 && a.p[0].b == 0x5678,
        format_args!("{a} a={:#x} b={:#x}", a.p[0].a, a.p[0].b),
    );

    // A TMEM NONCONTIG memref over 5 scattered pages, starting mid-page, so that the mediator
    // walks and translates a page list and OP-TEE maps every page.
    let mut buf = Scatter::new(5);
    let (off, len) = (0x123, 4 * PAGE_SIZE + 0x200);
    let sum = buf.fill(off, len);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, off, len, 0x7e5_0001);
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    let rest_ok = (off + 1..off + len).all(|i| buf.byte(i) == pattern(i));
    r.check(
        "invoke-tmem-noncontig",
        a.ok() && buf.byte(off) == sum && rest_ok && buf.scattered() && a.p[0].b == len as u64,
        format_args!(
            "{a} pages=5 offset={off:#x} size={len} sum={:#04x} expected={sum:#04x} untouched={rest_ok}",
            buf.byte(off)
        ),
    );

    // Old-style (physically contiguous) TMEM: mediators refuse it.
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_INOUT,
        a: ipa(&buf.pool[0]),
        b: 64,
        c: 0x7e5_0002,
    };
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    r.check(
        "old-style-tmem-refused",
        a.x0 == ret::OK && a.ret == gp::ERROR_BAD_PARAMETERS && a.origin == gp::ORIGIN_COMMS,
        format_args!("{a}"),
    );

    // More pages than the mediator allows in one buffer (Xen: MAX_SHM_BUFFER_PG 129).
    let big = Scatter::new(130);
    let p = big.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 130 * PAGE_SIZE, 0x7e5_0003);
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    r.check(
        "tmem-over-page-limit-refused",
        a.x0 == ret::OK && a.ret == gp::ERROR_OUT_OF_MEMORY && a.origin == gp::ORIGIN_COMMS,
        format_args!("{a} pages=130"),
    );
    drop(big);

    // Exactly at the limit: accepted, and all 129 pages reach OP-TEE.
    let mut big = Scatter::new(129);
    let len = 129 * PAGE_SIZE;
    let sum = big.fill(0, len);
    let p = big.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, len, 0x7e5_0004);
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    r.check(
        "tmem-at-page-limit",
        a.ok() && big.byte(0) == sum,
        format_args!("{a} pages=129 sum={:#04x} expected={sum:#04x}", big.byte(0)),
    );
    drop(big);

    // NULL memref of size 0 (old-style TMEM with buf_ptr 0 is allowed: OP-TEE's MEMREF_NULL).
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_INOUT,
        a: 0,
        b: 0,
        c: 0,
    };
    let a = t.invoke(k, s, pta::CMD_MEMREF_NULL, &[p]);
    r.check("memref-null", a.ok(), format_args!("{a}"));

    // A page-list entry that is not page-aligned (deliberate difference, see README).
    let mut buf = Scatter::new(3);
    let len = 3 * PAGE_SIZE;
    let sum = buf.fill(0, len);
    let e1 = buf.page_ipa(1) | 0x10;
    buf.set_entry(1, e1);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, len, 0x7e5_0005);
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    let ok = if mode.accepts_unaligned_list_entry() {
        a.ok() && buf.byte(0) == sum
    } else {
        a.x0 == ret::OK && a.ret == gp::ERROR_BAD_PARAMETERS && a.origin == gp::ORIGIN_COMMS
    };
    r.check(
        "page-list-entry-unaligned",
        ok,
        format_args!("{a} entry={e1:#x} mode={}", mode.name()),
    );

    // A page-list entry outside our RAM: the mediator cannot pin it.
    let mut buf = Scatter::new(2);
    buf.set_entry(1, 0x1000_0000);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 2 * PAGE_SIZE, 0x7e5_0006);
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    r.check(
        "page-list-entry-not-ram-refused",
        a.x0 == ret::OK && a.ret == gp::ERROR_BAD_PARAMETERS && a.origin == gp::ORIGIN_COMMS,
        format_args!("{a} entry=0x10000000"),
    );

    shm_cases(r, k, t, s);

    if selftests {
        let before = t.rpcs;
        let t0 = k.now();
        let a = t.invoke(k, s, pta::CMD_SELF_TESTS, &[]);
        r.check(
            "invoke-core-self-tests",
            a.ok(),
            format_args!(
                "{a} ms={} foreign_intr={}",
                k.since(t0).as_millis(),
                t.rpcs.foreign_intr - before.foreign_intr
            ),
        );
    }
    s
}

fn shm_cases(r: &mut Report, k: &Kernel, t: &mut Tee, s: u32) {
    let mut buf = Scatter::new(4);
    let (off, len) = (0x40, 3 * PAGE_SIZE + 0x100);
    let cookie = 0x5e6_0001;
    let a = t.register(k, buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, off, len, cookie));
    r.check(
        "register-shm-noncontig",
        a.ok() && buf.scattered(),
        format_args!("{a} pages=4 offset={off:#x} size={len}"),
    );
    let sum = buf.fill(off, len);
    // A registered-memory reference into it: offset 0 of the registration is `off` in the
    // first page.
    let p = Param {
        attr: msg::ATTR_TYPE_RMEM_INOUT,
        a: 0,
        b: len as u64,
        c: cookie,
    };
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    r.check(
        "invoke-rmem-registered",
        a.ok() && buf.byte(off) == sum,
        format_args!("{a} sum={:#04x} expected={sum:#04x}", buf.byte(off)),
    );
    let a = t.unregister(k, cookie);
    r.check("unregister-shm", a.ok(), format_args!("{a}"));
    let a = t.unregister(k, cookie);
    r.check(
        "unregister-shm-twice-refused",
        a.x0 == ret::OK && a.ret != teec::SUCCESS,
        format_args!("{a}"),
    );
    let a = t.invoke(k, s, pta::CMD_PARAMS, &[p]);
    r.check(
        "rmem-after-unregister-refused",
        a.x0 == ret::OK && a.ret != teec::SUCCESS,
        format_args!("{a}"),
    );
}

/// The per-guest count of shared buffers (Xen: MAX_SHM_BUFFER_COUNT 16; ours: the same default).
fn shm_count_limit(r: &mut Report, k: &Kernel, t: &mut Tee) {
    let bufs: Vec<Scatter> = (0..17).map(|_| Scatter::new(1)).collect();
    let mut registered = Vec::new();
    let mut refused = None;
    for (i, b) in bufs.iter().enumerate() {
        let cookie = 0xc0_0000 + i as u64;
        let a = t.register(
            k,
            b.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, PAGE_SIZE, cookie),
        );
        if a.ok() {
            registered.push(cookie);
        } else {
            refused = Some((i, a));
            break;
        }
    }
    let mut unreg_ok = true;
    for c in &registered {
        unreg_ok &= t.unregister(k, *c).ok();
    }
    let again = t.register(
        k,
        bufs[0].memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, PAGE_SIZE, 0xc1_0000),
    );
    let again_ok = again.ok() && t.unregister(k, 0xc1_0000).ok();
    r.check(
        "register-shm-count-limit",
        matches!(refused, Some((16, a)) if a.x0 == ret::OK
            && a.ret == gp::ERROR_OUT_OF_MEMORY && a.origin == gp::ORIGIN_COMMS)
            && unreg_ok
            && again_ok,
        format_args!(
            "registered={} refused={:?} unregistered_all={unreg_ok} register_after={again_ok}",
            registered.len(),
            refused.map(|(i, a)| (i, a.ret, a.origin))
        ),
    );
}

/// ENABLE_SHM_CACHE: OP-TEE keeps the RPC argument buffers it allocated; DISABLE_SHM_CACHE
/// hands them back one cookie at a time, then says ENOTAVAIL.
fn shm_cache(r: &mut Report, k: &Kernel, t: &mut Tee) {
    let x = fast(smc::ENABLE_SHM_CACHE, 0);
    let enabled = x[0] == ret::OK;
    let before = t.rpcs;
    let a = t.open(k, &MISSING_TA_UUID);
    let (alloc, free) = (t.rpcs.alloc - before.alloc, t.rpcs.free - before.free);
    let kept = t.rpc_args.len();
    let mut returned = 0;
    let mut matched = 0;
    let mut last = 0;
    for _ in 0..64 {
        let x = fast(smc::DISABLE_SHM_CACHE, 0);
        last = x[0];
        if x[0] != ret::OK {
            break;
        }
        returned += 1;
        let cookie = regpair(x[1], x[2]);
        let n = t.rpc_args.len();
        t.rpc_args.retain(|(c, _)| *c != cookie);
        if t.rpc_args.len() < n {
            matched += 1;
        }
    }
    r.check(
        "shm-cache-enable-disable",
        enabled
            && a.ret == gp::ERROR_ITEM_NOT_FOUND
            && alloc >= 1
            && free == 0
            && kept == alloc as usize
            && returned == matched
            && matched == kept
            && last == ret::ENOTAVAIL
            && t.rpc_args.is_empty(),
        format_args!(
            "enable_x0={:#x} alloc={alloc} free_rpcs={free} cached={kept} returned={returned} \
             matched={matched} last_x0={last:#x}",
            x[0]
        ),
    );
}

fn rpc_cases(r: &mut Report, k: &Kernel, t: &mut Tee) {
    let before = t.rpcs;
    let a = t.open(k, &MISSING_TA_UUID);
    let d = Rpcs {
        alloc: t.rpcs.alloc - before.alloc,
        free: t.rpcs.free - before.free,
        load_ta: t.rpcs.load_ta - before.load_ta,
        shm_alloc: t.rpcs.shm_alloc - before.shm_alloc,
        shm_free: t.rpcs.shm_free - before.shm_free,
        get_time: t.rpcs.get_time - before.get_time,
        fs: t.rpcs.fs - before.fs,
        other_cmd: t.rpcs.other_cmd - before.other_cmd,
        foreign_intr: t.rpcs.foreign_intr - before.foreign_intr,
        unknown: t.rpcs.unknown - before.unknown,
    };
    r.check(
        "rpc-load-ta-missing",
        a.x0 == ret::OK && a.ret == gp::ERROR_ITEM_NOT_FOUND && d.load_ta >= 1 && d.alloc >= 1,
        format_args!("{a} rpcs={d:?}"),
    );
    r.check(
        "rpc-buffers-freed",
        t.rpc_args.is_empty() && t.rpc_shm.is_empty() && d.unknown == 0,
        format_args!(
            "alloc={} free={} rpc_args_left={} shm_left={}",
            d.alloc,
            d.free,
            t.rpc_args.len(),
            t.rpc_shm.len()
        ),
    );
}

fn bench_one(k: &Kernel, n: usize, mut f: impl FnMut() -> bool) -> (Summary, bool) {
    let mut v = Vec::with_capacity(n);
    let mut ok = true;
    for _ in 0..n.div_ceil(10).min(20) {
        ok &= f();
    }
    for _ in 0..n {
        let t0 = k.now();
        ok &= f();
        let t1 = k.now();
        v.push(k.freq().duration(t1.0.saturating_sub(t0.0)).as_nanos() as u64);
    }
    (Summary::of(&mut v), ok)
}

/// Xen's perf counters, read into buffers allocated once (none inside a measured window).
struct Perfc {
    desc: Vec<PerfcDesc>,
    vals: Vec<u32>,
}

impl Perfc {
    fn new() -> Perfc {
        // Xen 4.17 has about 140 counters on Arm; values: one per CPU each, 64 for hypercalls.
        Perfc {
            desc: vec![PerfcDesc::default(); 512],
            vals: vec![0; 16384],
        }
    }

    fn read(&mut self) -> Result<Entries, kernel::xenif::XenError> {
        let (nc, nv) = perfc_query(&mut self.desc, &mut self.vals)?;
        let desc = self.desc.get(..nc).unwrap_or(&self.desc);
        Ok(Entries::from_query(
            desc,
            self.vals.get(..nv).unwrap_or(&self.vals),
        ))
    }

    /// The hypervisor entries of `n` calls of `f`, all CPUs (system-wide counters: what the
    /// calls cause in the mediator domain and in Xen counts too; nothing else runs meanwhile).
    fn count(
        &mut self,
        n: usize,
        mut f: impl FnMut() -> bool,
    ) -> Result<(Entries, bool), kernel::xenif::XenError> {
        let before = self.read()?;
        let mut ok = true;
        for _ in 0..n {
            ok &= f();
        }
        let after = self.read()?;
        Ok((after.since(&before).without_query(), ok))
    }
}

fn print_entries(name: &str, metric: &str, e: &Entries, n: usize, ok: bool) {
    println!(
        "TSD-BENCH {name} {metric}-entries entries={} hvc={} smc={} other_traps={} irqs={} ipis={} \
         hypercalls={} kicks={} n={n} ok={}",
        e.total(),
        e.hvc,
        e.smc,
        e.other_traps,
        e.irqs,
        e.ipis,
        e.hypercalls,
        e.kicks,
        if ok { 1 } else { 0 }
    );
}

/// A static event channel's received-event count, the two long-TA roles' only way to talk.
///
/// Xen leaves one event pending on a static channel's binding end from the domain's build
/// (`evtchn_bind_interdomain` notifies the local port "conservatively"): it is dispatched here
/// and not counted, before the peer can send anything (see [`long_ta_measure`]'s start delay).
fn peer_channel(k: &mut Kernel, name: &str) -> Option<(u32, Rc<Cell<u32>>)> {
    let Some(port) = k.bootargs().get_u64("peer-port").map(|p| p as u32) else {
        println!("TSD-INFO {name} long-ta: no peer-port=");
        return None;
    };
    let got = Rc::new(Cell::new(0u32));
    let g = got.clone();
    if let Err(e) = k.on_event(port, move |_, _| g.set(g.get() + 1)) {
        println!("TSD-INFO {name} long-ta: port {port}: {e:?}");
        return None;
    }
    k.sleep(Duration::from_millis(5));
    if got.replace(0) > 0 {
        println!("TSD-INFO {name} long-ta: the channel's boot-time event dropped");
    }
    Some((port, got))
}

/// Waits (the event loop runs, so the event arrives) until `got` reaches `n`, at most `secs`.
fn wait_events(k: &mut Kernel, got: &Rc<Cell<u32>>, n: u32, secs: u64) -> bool {
    let g = got.clone();
    let deadline = k.after(Duration::from_secs(secs));
    k.run_until(deadline, move |_| g.get() >= n)
}

/// One AES_PERF call of `reps` repetitions over a page; (ok, ns).
fn aes_call(k: &Kernel, t: &mut Tee, s: u32, bufs: &(Scatter, Scatter), reps: u64) -> (bool, u64) {
    let p = [
        value_param(msg::ATTR_TYPE_VALUE_INPUT, 128, pta::AES_ECB),
        value_param(msg::ATTR_TYPE_VALUE_INPUT, reps, PAGE_SIZE as u64),
        bufs.0
            .memref(msg::ATTR_TYPE_TMEM_INOUT, 0, PAGE_SIZE, 0xae5_0001),
        bufs.1
            .memref(msg::ATTR_TYPE_TMEM_INOUT, 0, PAGE_SIZE, 0xae5_0002),
    ];
    let t0 = k.now();
    let a = t.invoke(k, s, pta::CMD_AES_PERF, &p);
    (a.ok(), k.since(t0).as_nanos() as u64)
}

/// Guest A of the long-TA benchmark. The protocol on the channel, each side sending only after
/// it received the other's previous event (so none coalesce): B waits `start-ms=` (default
/// 1000) after its boot, long after A calibrated its call, measures idle and sends "go"; A
/// sends "started" and computes, call after call, until B's "stop" is pending; B measures
/// while A computes, then sends "stop". A's gap between two calls is one turn of the event loop.
fn long_ta_busy(k: &mut Kernel, t: &mut Tee, name: &str) -> bool {
    let Some((port, got)) = peer_channel(k, name) else {
        return false;
    };
    let call_ms = k.bootargs().get_u64("call-ms").unwrap_or(500);
    let a = t.open(k, &PTA_INVOKE_TESTS_UUID);
    if !a.ok() {
        println!("TSD-INFO {name} long-ta: open session failed: {a}");
        return false;
    }
    let s = a.session;
    let bufs = (Scatter::new(1), Scatter::new(1));
    // Twice: the first call also pays for QEMU's translation of OP-TEE's AES code (TCG), which
    // would make the calls shorter than asked by several times.
    let (ok0, _) = aes_call(k, t, s, &bufs, 16);
    let (ok, took) = aes_call(k, t, s, &bufs, 64);
    if !ok0 || !ok {
        println!("TSD-INFO {name} long-ta: AES_PERF refused");
        return false;
    }
    let reps = scaled_reps(64, took, call_ms * 1_000_000);
    println!("TSD-INFO {name} long-ta: {reps} AES repetitions per call (64 took {took} ns)");
    if !wait_events(k, &got, 1, 600) {
        println!("TSD-INFO {name} long-ta: no go from the measuring guest");
        return false;
    }
    let _ = k.evtchn_send(port);
    let mut v = Vec::new();
    let mut ok = true;
    while got.get() < 2 && v.len() < 1000 {
        let (o, ns) = aes_call(k, t, s, &bufs, reps);
        ok &= o;
        v.push(ns);
        // Lets the pending event in (IRQs open only in the loop's wait).
        let g = got.clone();
        let soon = k.after(Duration::from_micros(100));
        k.run_until(soon, move |_| g.get() >= 2);
    }
    let _ = t.close(k, s);
    let n = v.len();
    let sm = Summary::of(&mut v);
    println!(
        "TSD-BENCH {name} long-ta-call median_ns={} min_ns={} p90_ns={} n={n} ok={} reps={reps}",
        sm.median,
        sm.min,
        sm.p90,
        if ok { 1 } else { 0 }
    );
    ok && got.get() >= 2
}

/// Guest B of the long-TA benchmark (protocol at [`long_ta_busy`]): `n` null yielding calls
/// with A idle (`long-ta-idle`) and while A computes (`long-ta-busy`).
fn long_ta_measure(k: &mut Kernel, t: &mut Tee, name: &str, n: usize) -> bool {
    let Some((port, got)) = peer_channel(k, name) else {
        return false;
    };
    // A calibrates meanwhile (tens of ms); it computes only after our "go".
    let start = k.bootargs().get_u64("start-ms").unwrap_or(1000);
    k.sleep(Duration::from_millis(start));
    let a = t.open(k, &PTA_INVOKE_TESTS_UUID);
    if !a.ok() {
        println!("TSD-INFO {name} long-ta: open session failed: {a}");
        return false;
    }
    let sess = a.session;
    let yield_call = |k: &Kernel, t: &mut Tee| {
        let p = value_param(msg::ATTR_TYPE_VALUE_INOUT, 1, 2);
        let a = t.invoke(k, sess, pta::CMD_PARAMS, &[p]);
        a.ok() && a.p[0].a == 3
    };
    let (idle, ok1) = bench_one(k, n, || yield_call(k, t));
    let _ = k.evtchn_send(port);
    let started = wait_events(k, &got, 1, 120);
    // A's first call has begun: it computes for call-ms, we measure inside that.
    k.sleep(Duration::from_millis(20));
    let (busy, ok2) = bench_one(k, n, || yield_call(k, t));
    let _ = k.evtchn_send(port);
    let _ = t.close(k, sess);
    for (metric, sm, ok) in [("long-ta-idle", idle, ok1), ("long-ta-busy", busy, ok2)] {
        println!(
            "TSD-BENCH {name} {metric} median_ns={} min_ns={} p90_ns={} n={} ok={}",
            sm.median,
            sm.min,
            sm.p90,
            sm.n,
            if ok { 1 } else { 0 }
        );
    }
    ok1 && ok2 && started
}

fn bench(k: &Kernel, t: &mut Tee, name: &str, n: usize) -> bool {
    let print = |metric: &str, s: Summary, ok: bool| {
        println!(
            "TSD-BENCH {name} {metric} median_ns={} min_ns={} p90_ns={} n={} ok={}",
            s.median,
            s.min,
            s.p90,
            s.n,
            if ok { 1 } else { 0 }
        );
    };
    // CALLS_COUNT never reaches OP-TEE: the mediator answers it, so this is the cost of the
    // trap and of reaching the mediator (Xen itself, or the stub domain through Xen).
    let (s, ok0) = bench_one(k, n, || fast(smc::CALLS_COUNT, 0)[0] >= 11);
    print("local-call", s, ok0);
    let (s, ok1) = bench_one(k, n, || {
        let x = fast(smc::GET_OS_REVISION, 0);
        x[0] == OPTEE_OS_REVISION.0
    });
    print("fast-call", s, ok1);
    let mut perfc = Perfc::new();
    let fast_entries = perfc.count(n, || {
        fast(smc::GET_OS_REVISION, 0)[0] == OPTEE_OS_REVISION.0
    });
    match fast_entries {
        Ok((e, ok)) => print_entries(name, "fast-call", &e, n, ok),
        Err(e) => println!("TSD-INFO {name} bench: no perf counters ({e:?}): no entries counted"),
    }

    let a = t.open(k, &PTA_INVOKE_TESTS_UUID);
    if !a.ok() {
        println!("TSD-INFO {name} bench: open session failed: {a}");
        return false;
    }
    let sess = a.session;
    let (s, ok2) = bench_one(k, n, || {
        let p = value_param(msg::ATTR_TYPE_VALUE_INOUT, 1, 2);
        let a = t.invoke(k, sess, pta::CMD_PARAMS, &[p]);
        a.ok() && a.p[0].a == 3
    });
    print("yield-call", s, ok2);
    if fast_entries.is_ok() {
        let r = perfc.count(n, || {
            let p = value_param(msg::ATTR_TYPE_VALUE_INOUT, 1, 2);
            let a = t.invoke(k, sess, pta::CMD_PARAMS, &[p]);
            a.ok() && a.p[0].a == 3
        });
        if let Ok((e, ok)) = r {
            print_entries(name, "yield-call", &e, n, ok);
        }
    }

    let buf = Scatter::new(16);
    let (s, ok3) = bench_one(k, n, || {
        let c = 0xbe_0001;
        let a = t.register(
            k,
            buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, 16 * PAGE_SIZE, c),
        );
        let b = t.unregister(k, c);
        a.ok() && b.ok()
    });
    print("shm-16p", s, ok3);
    let _ = t.close(k, sess);
    ok0 && ok1 && ok2 && ok3
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let mode = match args.get("mode").map(Mode::parse) {
        None => Mode::Optee,
        Some(Some(m)) => m,
        Some(None) => {
            println!("TSD-RESULT {name} passed=0 failed=1 status=FAIL bad mode= argument");
            return;
        }
    };
    let n = args.get_u64("bench").unwrap_or(0) as usize;
    let cases = args.get("cases") != Some("0");
    let selftests = args.get("selftests") != Some("0");
    let mut r = Report {
        name,
        passed: 0,
        failed: 0,
    };
    let mut t = Tee::new(k, 0x7ee0_0000, ());
    println!("TSD-INFO {name} mode={} bench={n}", mode.name());
    let t0 = k.now();
    if cases {
        fast_calls(&mut r, mode);
        bad_args(&mut r, k, &mut t, mode);
        let s = session_cases(&mut r, k, &mut t, mode, selftests);
        if s != 0 {
            // CANCEL with nothing to cancel: passed through, OP-TEE completes it.
            let a = t.msg(k, msg::CMD_CANCEL, 0, s, &[]);
            r.check("cancel-passed-through", a.ok(), format_args!("{a}"));
            let a = t.close(k, s);
            r.check("close-session", a.ok(), format_args!("{a}"));
            let a = t.invoke(k, s, pta::CMD_TRACE, &[]);
            r.check(
                "invoke-after-close-refused",
                a.x0 == ret::OK && a.ret != teec::SUCCESS,
                format_args!("{a}"),
            );
        }
        rpc_cases(&mut r, k, &mut t);
        shm_count_limit(&mut r, k, &mut t);
        shm_cache(&mut r, k, &mut t);
        println!(
            "TSD-INFO {name} cases took {} ms, rpcs {:?}",
            k.since(t0).as_millis(),
            t.rpcs
        );
    }
    match args.get("role") {
        Some("busy") => {
            let ok = long_ta_busy(k, &mut t, name);
            r.check("long-ta-busy", ok, format_args!("role=busy"));
        }
        Some("measure") => {
            let ok = long_ta_measure(k, &mut t, name, n.max(1));
            r.check("long-ta-measure", ok, format_args!("role=measure n={n}"));
        }
        _ if n > 0 => {
            let ok = bench(k, &mut t, name, n);
            r.check("bench", ok, format_args!("n={n}"));
        }
        _ => {}
    }
    println!(
        "TSD-RESULT {name} passed={} failed={} mode={} status={}",
        r.passed,
        r.failed,
        mode.name(),
        if r.failed == 0 { "PASS" } else { "FAIL" }
    );
}
