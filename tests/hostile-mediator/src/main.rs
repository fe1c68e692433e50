//! hostile-mediator: a mediator that tries to escape (scenario `hostile-mediator`, issue 12 item 4).
//!
//! It registers with Xen's OP-TEE forwarder like `tests/hook-mediator`, serves its TEE guest's
//! fast calls, and then tries, one by one, every way it has to make OP-TEE reach memory that is
//! not the TEE guest's: arguments, page lists and RPC answers naming Xen's, the canary guest's,
//! the TEE guest's (as an argument) or a freed page; client IDs it may not use; VM_* of a live
//! guest; function IDs that are not OP-TEE's or carry addresses; re-registration loops with the
//! maximum of pins; pins dropped while OP-TEE holds the pages. Each attack is one
//! `TSD-CHECK hostile <name> PASS|FAIL <details>` line: PASS when Xen refused it with the error
//! `public/tee_stubdom.h` documents and nothing Xen counts changed. Real OP-TEE calls for the TEE
//! guest (a pseudo-TA session) before and after show that OP-TEE still works. At the end it tells
//! the canary (static event channel) to check its page. `README.md` lists the attacks.
//!
//! Command line: `name=hostile tee=DOMID canary=DOMID canary-port=N canary-ref=R
//! xen-page=MADDR cycles=N reregs=N [dom0-wait-ms=MS] [exit-after-ms=MS]` (`dom0-wait-ms`: how
//! long to look for dom0's canary grant, absent or 0: no dom0; `exit-after-ms`: power off that
//! long after the attacks, absent: serve forever).
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
use hostile_mediator::{addr_call, client_id, DENIED_FIDS};
use kernel::report::Report;
use kernel::xenif::abi::{DomId, ShutdownReason, DOMID_SELF};
use kernel::xenif::hook::call::{op as hc, pin, pin_list, secure_call, unpin_list};
use kernel::xenif::hook::shared::{RingMem, Shared};
use kernel::xenif::hook::{
    op, req, BackRing, Canary, Query, Register, Request, Respond, F_TEE_KNOWN, MAX_PINS,
    Q_TEE_KNOWN, RESPOND_EXECUTE,
};
use kernel::xenif::{XenError, XenResult};
use kernel::{println, Kernel};
use mediator::abi::{msg, ret, smc, MsgArg, Param, PAGE_SIZE};

kernel::entry!(main);

/// The ring page shared with Xen.
static RING: RingMem = RingMem::new();
/// Events from the canary.
static CANARY_EVENTS: AtomicU32 = AtomicU32::new(0);

/// `PTA_INVOKE_TESTS_UUID` (`pta_invoke_tests.h`), as tests/tee-client uses it.
const PTA_INVOKE_TESTS: [u8; 16] = [
    0xd9, 0x6a, 0x5b, 0x40, 0xc3, 0xe5, 0x21, 0xe3, 0x87, 0x94, 0x10, 0x02, 0xa5, 0xd5, 0xc6, 0x1b,
];
/// A UUID no TA has: OP-TEE looks for a user TA, through RPCs (tests/tee-client's).
const MISSING_TA: [u8; 16] = [
    0x7e, 0xe5, 0x7e, 0xe5, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00, 0x7e, 0x57, 0xc1, 0x1e, 0x47, 0x00,
];
/// The PTA's parameter-test command (VALUE_INOUT a += b; MEMREF_INOUT byte 0 = byte sum).
const PTA_CMD_PARAMS: u32 = 1;
/// `TEEC_ERROR_ITEM_NOT_FOUND`, our answer to every RPC command.
const ITEM_NOT_FOUND: u32 = 0xFFFF_0008;
/// Our cookie for the RPC argument buffer we give OP-TEE (Xen gives it back with RPC_CMD).
const RPC_COOKIE: u64 = 0xC00C;
/// Bound on the RPCs of one call.
const MAX_RPCS: usize = 64;
/// The first of the TEE guest's pages that `rereg-max-pins` pins, one pin each: its RAM starts at
/// gfn 0x40000 and the scenario gives it the `MAX_PINS` pages from here.
const TEE_PIN_BASE: u64 = 0x40200;

/// One 4 KiB page of ours, page aligned.
#[repr(C, align(4096))]
struct PageBuf([u8; PAGE_SIZE]);

/// A page of our own RAM and its machine address (learnt from a pin, then unpinned: Xen checks
/// ownership at every secure call, not our pins).
struct Own {
    buf: Box<PageBuf>,
    maddr: u64,
}

impl Own {
    fn new() -> XenResult<Own> {
        let buf = Box::new(PageBuf([0; PAGE_SIZE]));
        let gfn = (&*buf as *const PageBuf as usize as u64) >> 12;
        let maddr = pin(op::PIN, DOMID_SELF, gfn)?;
        pin(op::UNPIN, DOMID_SELF, gfn)?;
        Ok(Own { buf, maddr })
    }
    fn gfn(&self) -> u64 {
        (&*self.buf as *const PageBuf as usize as u64) >> 12
    }
    fn msg(&mut self) -> MsgArg<'_> {
        MsgArg::new(&mut self.buf.0, 0)
    }
    fn clear(&mut self) {
        self.buf.0.fill(0);
    }
    fn put64(&mut self, off: usize, v: u64) {
        self.buf.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
}

fn query(domid: DomId) -> (XenResult<u64>, Query) {
    hc(
        op::QUERY,
        Query {
            domid,
            ..Query::default()
        },
    )
}

/// A canary's page, granted to us read-only as `gref` of `domid`: maps it once, reads the machine
/// address Xen reports (`dev_bus_addr`) and whether its first bytes hold the pattern, unmaps it.
fn granted_canary(
    k: &mut Kernel,
    domid: DomId,
    gref: u32,
) -> Result<(u64, bool), kernel::xenif::grant::GrantError> {
    let p = k.map_grant(domid, gref, true)?;
    let m = p.maddr();
    let mut b = [0u8; 16];
    p.read(0, &mut b);
    let _ = k.unmap_foreign(p);
    let ok = b
        .iter()
        .enumerate()
        .all(|(i, v)| *v == hostile_mediator::canary_byte(i));
    Ok((m, ok))
}

/// The highest grant reference of dom0's that [`dom0_canary`] tries (Linux reserves 0–7; the
/// first gntalloc grant of a dom0 with no PV frontends is 8).
const DOM0_MAX_REF: u32 = 63;

/// dom0's canary: polls dom0's grant references 0..=[`DOM0_MAX_REF`] (read-only maps, each
/// unmapped at once) until one maps, serving the ring meanwhile, for at most `wait`. Returns the
/// reference, the page's machine address and whether its first bytes hold the pattern.
fn dom0_canary(k: &mut Kernel, st: &mut State, wait: Duration) -> Option<(u32, u64, bool)> {
    let deadline = k.after(wait);
    loop {
        serve(st);
        for gref in 0..=DOM0_MAX_REF {
            if let Ok((m, ok)) = granted_canary(k, 0, gref) {
                return Some((gref, m, ok));
            }
        }
        if k.now() >= deadline {
            return None;
        }
        let t = core::cmp::min(deadline, k.after(Duration::from_millis(500)));
        k.poll(Some(t));
    }
}

/// Xen's canary page (`TEE_STUBDOM_OP_canary`, test builds of Xen only).
fn xen_canary() -> (XenResult<u64>, Canary) {
    hc(op::CANARY, Canary::default())
}

/// A UUID as OPEN_SESSION's two meta words (octets little-endian, as Linux's export_uuid).
fn uuid_words(u: &[u8; 16]) -> (u64, u64) {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&u[..8]);
    b.copy_from_slice(&u[8..]);
    (u64::from_le_bytes(a), u64::from_le_bytes(b))
}

/// Build an OP-TEE message in `page`.
fn build(page: &mut Own, cmd: u32, func: u32, session: u32, params: &[Param]) {
    page.clear();
    let mut m = page.msg();
    m.set_cmd(cmd);
    m.set_session(session);
    m.set_num_params(params.len() as u32);
    for (i, p) in params.iter().enumerate() {
        m.set_param(i, *p);
    }
    // `func` is at offset 4 (optee_msg_arg).
    page.buf.0[4..8].copy_from_slice(&func.to_le_bytes());
}

fn open_params(uuid: &[u8; 16]) -> [Param; 2] {
    let (a, b) = uuid_words(uuid);
    let meta = msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META;
    [
        Param {
            attr: meta,
            a,
            b,
            c: 0,
        },
        Param {
            attr: meta,
            a: 0,
            b: 0,
            c: 0,
        },
    ]
}

fn noncontig(list_maddr: u64, size: u64) -> Param {
    Param {
        attr: msg::ATTR_TYPE_TMEM_INOUT | msg::ATTR_NONCONTIG,
        a: list_maddr,
        b: size,
        c: 0x0A77_AC4E,
    }
}

fn fmt_x(r: &XenResult<[u64; 8]>) -> String {
    match r {
        Ok(a) => format!("accepted x0={:#x} x1={:#x}", a[0], a[1]),
        Err(e) => format!("{e:?}"),
    }
}

struct State {
    name: &'static str,
    ring: BackRing,
    page: Shared<'static>,
    tee: DomId,
    /// Guests OP-TEE knows (VM_CREATED issued or replayed as known).
    known: Vec<DomId>,
    /// Registrations Xen deferred (EAGAIN: it was still ending, in OP-TEE, the calls and
    /// registrations of our previous registration), in all.
    deferred: u32,
    /// Keep the TEE guest's calls after its first unanswered (`vehicle`), for the attacks
    /// through EXECUTE (until they are done).
    hold: bool,
    /// The TEE guest's calls answered.
    answered: u32,
    /// The TEE guest's call waiting for our answer while `hold`: (seq, vCPU).
    vehicle: Option<(u64, u32)>,
    /// RESULT requests not looked at yet: (seq, status, x0-x3).
    results: Vec<(u64, i32, [u64; 8])>,
}

fn serve(st: &mut State) {
    loop {
        while let Some(rq) = st.ring.next_request(&st.page) {
            handle(st, &rq);
        }
        st.ring.push_responses(&st.page);
        if !st.ring.final_check(&st.page) {
            return;
        }
    }
}

fn handle(st: &mut State, rq: &Request) {
    match rq.kind {
        req::CREATED => {
            if rq.flags & F_TEE_KNOWN == 0 {
                let r = secure_call([
                    u64::from(smc::VM_CREATED),
                    client_id(rq.domid),
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ]);
                println!(
                    "TSD-INFO {} VM_CREATED dom{}: {}",
                    st.name,
                    rq.domid,
                    fmt_x(&r)
                );
            }
            if !st.known.contains(&rq.domid) {
                st.known.push(rq.domid);
            }
        }
        req::DESTROYED => {}
        req::RESULT => st.results.push((rq.seq, rq.status, rq.x)),
        req::CALL if st.hold && st.answered > 0 && rq.domid == st.tee && st.vehicle.is_none() => {
            st.vehicle = Some((rq.seq, rq.vcpu));
        }
        req::CALL => {
            // Only the TEE guest's fast calls, forwarded (tests/hook-guest role=bench).
            let fid = rq.x[0] as u32;
            let answer =
                if fid & (1 << 31) != 0 && fid != smc::VM_CREATED && fid != smc::VM_DESTROYED {
                    let mut f = [0; 8];
                    f[0] = u64::from(fid);
                    f[1..7].copy_from_slice(&rq.x[1..7]);
                    f[7] = client_id(rq.domid);
                    secure_call(f).unwrap_or([ret::ENOTAVAIL, 0, 0, 0, 0, 0, 0, 0])
                } else {
                    [ret::UNKNOWN_FUNCTION, 0, 0, 0, 0, 0, 0, 0]
                };
            let _ = hc(
                op::RESPOND,
                Respond {
                    seq: rq.seq,
                    domid: rq.domid,
                    flags: 0,
                    vcpu: rq.vcpu,
                    x: answer,
                },
            );
            if rq.domid == st.tee {
                st.answered += 1;
            }
        }
        _ => {}
    }
}

/// Answers the held call of the TEE guest as an honest mediator would (OP-TEE's CALLS_UID
/// for it: the guest's calls are CALLS_UID, tests/hook-guest role=bench).
fn release_vehicle(st: &mut State) {
    if let Some((seq, vcpu)) = st.vehicle.take() {
        let f = [
            u64::from(smc::CALLS_UID),
            0,
            0,
            0,
            0,
            0,
            0,
            client_id(st.tee),
        ];
        let x = secure_call(f).unwrap_or([ret::ENOTAVAIL, 0, 0, 0, 0, 0, 0, 0]);
        let _ = hc(
            op::RESPOND,
            Respond {
                seq,
                domid: st.tee,
                flags: 0,
                vcpu,
                x,
            },
        );
    }
}

/// A secure call made through EXECUTE (hv-patches 0013) instead of our own secure call: the
/// TEE guest's waiting call is answered with "make `x`", and Xen's answer comes back as its
/// RESULT (status < 0: Xen refused it, nothing was issued). The guest's call is then answered.
/// `Err(ETIMEDOUT)`: no call of the guest came, or no RESULT, within 5 s.
fn exec_call(k: &mut Kernel, st: &mut State, x: [u64; 8]) -> XenResult<[u64; 8]> {
    k.run_until(k.after(Duration::from_secs(5)), |_| {
        serve(st);
        st.vehicle.is_some()
    });
    let Some((seq, vcpu)) = st.vehicle else {
        return Err(XenError::ETIMEDOUT);
    };
    hc(
        op::RESPOND,
        Respond {
            seq,
            domid: st.tee,
            flags: RESPOND_EXECUTE,
            vcpu,
            x,
        },
    )
    .0?;
    let got = k.run_until(k.after(Duration::from_secs(5)), |_| {
        serve(st);
        st.results.iter().any(|r| r.0 == seq)
    });
    let res = st
        .results
        .iter()
        .position(|r| r.0 == seq)
        .map(|i| st.results.remove(i));
    // The RESULT is the guest's call waiting again: answer it.
    release_vehicle(st);
    match res {
        Some((_, status, _)) if status < 0 => Err(XenError(-status)),
        Some((_, _, a)) if got => Ok(a),
        _ => Err(XenError::ETIMEDOUT),
    }
}

/// Register (again): a fresh ring and event channel each time. A re-registration orphans our
/// calls and registrations in OP-TEE, which Xen ends itself first: EAGAIN until then (bounded
/// by Xen's resume limit), retried here for up to 30 s.
fn register(k: &mut Kernel, st: &mut State) -> XenResult<Register> {
    let ask = || {
        hc(
            op::REGISTER,
            Register {
                ring_gfn: RING.gfn(),
                ..Register::default()
            },
        )
    };
    let start = k.now();
    let (mut res, mut reg) = ask();
    while res == Err(XenError::EAGAIN) && k.since(start) < Duration::from_secs(30) {
        st.deferred += 1;
        k.sleep(Duration::from_millis(5));
        (res, reg) = ask();
    }
    res?;
    st.ring = BackRing::new();
    let local = k.evtchn_bind_interdomain(DOMID_SELF, reg.port)?;
    let _ = k.on_event(local, |_, _| {});
    serve(st);
    Ok(reg)
}

/// The addresses the attacks aim at.
struct Targets {
    /// A page of Xen's text.
    xen: u64,
    /// Xen's canary page, a page of its heap (test builds: `TEE_STUBDOM_OP_canary`); 0 if unknown.
    xen_heap: u64,
    /// The canary guest's page (an ordinary domU), from its grant; 0 if unknown.
    canary: u64,
    /// dom0's canary page (no TEE client), from its grant; 0 if unknown or no dom0.
    dom0: u64,
    /// A page of the TEE guest (pinned once for its address).
    tee: u64,
    /// A page of ours that we gave back to Xen (XENMEM_decrease_reservation); 0 if that failed.
    freed: u64,
}

struct Hostile<'a> {
    r: Report,
    /// The last shm_ref we gave in a failed SHM_ALLOC answer.
    shm_ref: u64,
    client: u64,
    arg: Own,
    list: Own,
    rpc: Own,
    t: &'a Targets,
}

impl Hostile<'_> {
    fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) {
        self.r.check(name, ok, detail);
    }

    /// A standard call to completion, answering RPCs as a careful mediator that has no buffers
    /// to give: ALLOC gets none, CMD gets ITEM_NOT_FOUND with no parameters, FREE and foreign
    /// interrupts are resumed.
    fn run_std(&mut self, first: [u64; 8]) -> XenResult<[u64; 8]> {
        let mut a = secure_call(first)?;
        for _ in 0..MAX_RPCS {
            if !ret::is_rpc(a[0]) {
                return Ok(a);
            }
            self.shm_ref += 1;
            let x = self.resume_plain(&a, self.shm_ref);
            a = secure_call(x)?;
        }
        Ok(a)
    }

    /// The answer to OP-TEE's RPC `a`. A failed SHM_ALLOC answer still names `shm_ref` in its
    /// parameter 0: Xen keys a record of every accepted SHM_ALLOC answer by it (README, "Found").
    fn resume_plain(&mut self, a: &[u64; 8], shm_ref: u64) -> [u64; 8] {
        let func = ret::rpc_func(a[0]);
        let mut x = [
            u64::from(smc::RETURN_FROM_RPC),
            0,
            0,
            a[3],
            0,
            0,
            0,
            self.client,
        ];
        if func == ret::RPC_FUNC_FREE {
            x[1] = a[1];
            x[2] = a[2];
        }
        if func == ret::RPC_FUNC_CMD {
            // Our copy of OP-TEE's request: in our RPC page (a buffer we gave) or after the
            // argument. Answer "not found" with every parameter cleared.
            // Only RPC buffers we gave (cookie RPC_COOKIE) are used: a CALL_WITH_ARG has no RPC
            // area after its argument.
            let cookie = (a[1] << 32) | (a[2] & 0xFFFF_FFFF);
            if cookie != RPC_COOKIE {
                return x;
            }
            let page = &mut self.rpc;
            let n = {
                let m = MsgArg::new(&mut page.buf.0, 0);
                m.num_params().min(4) as usize
            };
            let mut m = MsgArg::new(&mut page.buf.0, 0);
            m.set_ret(ITEM_NOT_FOUND);
            m.set_ret_origin(mediator::abi::teec::ORIGIN_COMMS);
            for i in 0..n {
                m.set_param(i, Param::default());
            }
            if m.cmd() == mediator::abi::rpc::CMD_SHM_ALLOC && n >= 1 {
                m.set_param(
                    0,
                    Param {
                        c: shm_ref,
                        ..Param::default()
                    },
                );
            }
        }
        x
    }

    /// CALL_WITH_ARG of the message in our argument page.
    fn call_arg(&mut self) -> XenResult<[u64; 8]> {
        let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, self.client);
        self.run_std(x)
    }

    /// A pseudo-TA session: open, two invokes (a value, a page-list memref over a TEE guest
    /// page), close. Real OP-TEE work for the guest we mediate.
    fn pta_session(&mut self, when: &str) {
        build(
            &mut self.arg,
            msg::CMD_OPEN_SESSION,
            0,
            0,
            &open_params(&PTA_INVOKE_TESTS),
        );
        let a = self.call_arg();
        let (ret_, session) = {
            let m = self.arg.msg();
            (m.ret(), m.session())
        };
        let opened = matches!(a, Ok(x) if x[0] == ret::OK) && ret_ == 0;
        self.check(
            &format!("pta-open-{when}"),
            opened,
            format_args!("{} ret={ret_:#x} session={session}", fmt_x(&a)),
        );
        if !opened {
            return;
        }
        let p = Param {
            attr: msg::ATTR_TYPE_VALUE_INOUT,
            a: 0x1234_0000,
            b: 0x5678,
            c: 0,
        };
        build(
            &mut self.arg,
            msg::CMD_INVOKE_COMMAND,
            PTA_CMD_PARAMS,
            session,
            &[p],
        );
        let a = self.call_arg();
        let (ret_, v) = {
            let m = self.arg.msg();
            (m.ret(), m.param(0).a)
        };
        self.check(
            &format!("pta-invoke-value-{when}"),
            matches!(a, Ok(x) if x[0] == ret::OK) && ret_ == 0 && v == 0x1234_5678,
            format_args!("{} ret={ret_:#x} a={v:#x}", fmt_x(&a)),
        );
        // A correct page-list memref over one TEE guest page: OP-TEE writes its byte sum into
        // byte 0 of that page, which the mediator may let it do (positive control of the
        // page-list path the attacks below use).
        self.list.clear();
        let tee = self.t.tee;
        self.list.put64(0, tee);
        let lm = self.list.maddr;
        build(
            &mut self.arg,
            msg::CMD_INVOKE_COMMAND,
            PTA_CMD_PARAMS,
            session,
            &[noncontig(lm, 64)],
        );
        let a = self.call_arg();
        let ret_ = self.arg.msg().ret();
        self.check(
            &format!("pta-invoke-tmem-{when}"),
            matches!(a, Ok(x) if x[0] == ret::OK) && ret_ == 0,
            format_args!(
                "{} ret={ret_:#x} (page list: TEE guest page {tee:#x})",
                fmt_x(&a)
            ),
        );
        build(&mut self.arg, msg::CMD_CLOSE_SESSION, 0, session, &[]);
        let a = self.call_arg();
        let ret_ = self.arg.msg().ret();
        self.check(
            &format!("pta-close-{when}"),
            matches!(a, Ok(x) if x[0] == ret::OK) && ret_ == 0,
            format_args!("{} ret={ret_:#x}", fmt_x(&a)),
        );
    }

    /// Expect exactly `want` from a secure call.
    fn expect(&mut self, name: &str, x: [u64; 8], want: &[XenError], what: &str) {
        let r = secure_call(x);
        self.judge(name, r, want, what);
    }

    /// Check that `r`, Xen's answer to an attack, is one of `want`.
    fn judge(&mut self, name: &str, r: XenResult<[u64; 8]>, want: &[XenError], what: &str) {
        let ok = matches!(r, Err(e) if want.contains(&e));
        // A call Xen wrongly accepted may leave an OP-TEE thread suspended: finish it.
        if let Ok(a) = r {
            if ret::is_rpc(a[0]) {
                self.shm_ref += 1;
                let x = self.resume_plain(&a, self.shm_ref);
                let _ = self.run_std(x);
            }
        }
        self.check(
            name,
            ok,
            format_args!("{what}: {} (want {want:?})", fmt_x(&r)),
        );
    }

    /// What the argument-address attacks aim at, and Xen's refusal of each.
    fn arg_targets(&self) -> Vec<(&'static str, u64, XenError)> {
        let t = self.t;
        let mut targets: Vec<(&'static str, u64, XenError)> = alloc::vec![
            ("xen-text", t.xen, XenError::EPERM),
            ("xen-heap", t.xen_heap, XenError::EPERM),
            ("ordinary-domu", t.canary, XenError::EPERM),
            ("dom0", t.dom0, XenError::EPERM),
            ("tee-guest-page", t.tee, XenError::EPERM),
            ("freed-page", t.freed, XenError::EPERM),
            (
                "unaligned-own-page",
                self.arg.maddr + 0x18,
                XenError::EINVAL
            ),
            ("mmio-gicd", 0x0800_0000, XenError::EPERM),
            ("secure-ram", 0x0e10_0000, XenError::EPERM),
        ];
        targets.retain(|(_, a, _)| *a != 0);
        targets
    }

    /// The argument-address attacks through our own secure call, or with `exec` each as an
    /// EXECUTE answer to a call of the TEE guest (hv-patches 0013, checks `exec-*`): the guest's
    /// vCPU would make the secure call, so Xen must refuse the same addresses there, with the
    /// same errors, before any SMC. An EXECUTE's x7 is Xen's to set: a foreign one changes
    /// nothing.
    fn arg_addresses(&mut self, mut exec: Option<(&mut Kernel, &mut State)>) {
        let targets = self.arg_targets();
        // A valid OPEN_SESSION of the PTA in our page, so that only the address is wrong.
        build(
            &mut self.arg,
            msg::CMD_OPEN_SESSION,
            0,
            0,
            &open_params(&PTA_INVOKE_TESTS),
        );
        let (prefix, client) = if exec.is_some() {
            ("exec-", 0x7fff)
        } else {
            ("", self.client)
        };
        for (fid, fname) in [
            (smc::CALL_WITH_ARG, "call-with-arg"),
            (smc::CALL_WITH_RPC_ARG, "call-with-rpc-arg"),
        ] {
            for (tname, addr, want) in &targets {
                let x = addr_call(fid, *addr, 0, client);
                let r = match exec.as_mut() {
                    Some((k, st)) => exec_call(k, st, x),
                    None => secure_call(x),
                };
                self.judge(
                    &format!("{prefix}{fname}-{tname}"),
                    r,
                    &[*want],
                    &format!("x1:x2={addr:#x}"),
                );
            }
        }
        if let Some((_, st)) = exec {
            st.hold = false;
            release_vehicle(st);
        }
    }

    /// An INVOKE of the PTA's parameter test whose memref names `list` (a page list at that
    /// machine address) — or, with `entry`, our own list page holding that one entry. Accepted,
    /// OP-TEE would write the byte sum into byte 0 of the page (the canary would see it).
    fn page_lists(&mut self, session: u32) {
        let t = self.t;
        let own = self.rpc.maddr;
        let entries: Vec<(&str, u64)> = alloc::vec![
            ("xen-text", t.xen),
            ("xen-heap", t.xen_heap),
            ("ordinary-domu", t.canary),
            ("dom0", t.dom0),
            ("mediator-own", own),
            ("freed-page", t.freed),
        ];
        for (tname, e) in entries.into_iter().filter(|(_, e)| *e != 0) {
            self.list.clear();
            self.list.put64(0, e);
            let lm = self.list.maddr;
            build(
                &mut self.arg,
                msg::CMD_INVOKE_COMMAND,
                PTA_CMD_PARAMS,
                session,
                &[noncontig(lm, 64)],
            );
            let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, self.client);
            self.expect(
                &format!("page-list-entry-{tname}"),
                x,
                &[XenError::EPERM],
                &format!("entry {e:#x} in our list page"),
            );
        }
        // The page list itself outside our pages (Xen would read it there).
        for (tname, l) in [
            ("tee-guest-page", t.tee),
            ("ordinary-domu", t.canary),
            ("dom0", t.dom0),
            ("xen-text", t.xen),
            ("xen-heap", t.xen_heap),
        ] {
            if l == 0 {
                continue;
            }
            build(
                &mut self.arg,
                msg::CMD_INVOKE_COMMAND,
                PTA_CMD_PARAMS,
                session,
                &[noncontig(l, 64)],
            );
            let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, self.client);
            self.expect(
                &format!("page-list-in-{tname}"),
                x,
                &[XenError::EPERM],
                &format!("buf_ptr={l:#x}"),
            );
        }
        // A second-level list pointer outside our pages: 512 entries need two list pages.
        self.list.clear();
        for i in 0..511 {
            self.list.put64(i * 8, t.tee);
        }
        self.list.put64(511 * 8, t.canary);
        let lm = self.list.maddr;
        build(
            &mut self.arg,
            msg::CMD_INVOKE_COMMAND,
            PTA_CMD_PARAMS,
            session,
            &[noncontig(lm, 512 * 4096)],
        );
        let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, self.client);
        self.expect(
            "page-list-next-in-ordinary-domu",
            x,
            &[XenError::EPERM],
            &format!("511 TEE guest entries, next pointer {:#x}", t.canary),
        );
        // Raw contiguous TMEM (no NONCONTIG): a physical address OP-TEE would map.
        for (tname, a) in [
            ("tee-guest-page", t.tee),
            ("ordinary-domu", t.canary),
            ("dom0", t.dom0),
        ] {
            if a == 0 {
                continue;
            }
            let p = Param {
                attr: msg::ATTR_TYPE_TMEM_INOUT,
                a,
                b: 64,
                c: 0,
            };
            build(
                &mut self.arg,
                msg::CMD_INVOKE_COMMAND,
                PTA_CMD_PARAMS,
                session,
                &[p],
            );
            let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, self.client);
            self.expect(
                &format!("raw-tmem-{tname}"),
                x,
                &[XenError::EINVAL],
                &format!("contiguous TMEM buf_ptr={a:#x}"),
            );
        }
        // Unknown attribute bits, on a value and on a correct page-list memref.
        let bad = [
            Param {
                attr: msg::ATTR_TYPE_VALUE_INOUT | (1 << 20),
                a: 1,
                b: 2,
                c: 0,
            },
            {
                self.list.clear();
                self.list.put64(0, t.tee);
                let mut p = noncontig(self.list.maddr, 64);
                p.attr |= 1 << 40;
                p
            },
            Param {
                attr: 0x4, // type 4 is not defined
                a: t.canary,
                b: 64,
                c: 0,
            },
        ];
        for (i, p) in bad.iter().enumerate() {
            build(
                &mut self.arg,
                msg::CMD_INVOKE_COMMAND,
                PTA_CMD_PARAMS,
                session,
                &[*p],
            );
            let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, self.client);
            self.expect(
                &format!("unknown-attr-{i}"),
                x,
                &[XenError::EINVAL],
                &format!("attr={:#x}", p.attr),
            );
        }
    }

    /// RETURN_FROM_RPC of threads no call holds.
    fn stray_resumes(&mut self) {
        for th in [0u64, 1, 2, 7, 0xFFFF_FFFF, 1 << 32] {
            let x = [
                u64::from(smc::RETURN_FROM_RPC),
                0,
                0,
                th,
                0,
                0,
                0,
                self.client,
            ];
            self.expect(
                &format!("return-from-rpc-no-thread-{th:#x}"),
                x,
                &[XenError::ESRCH],
                "no call of this client holds it",
            );
        }
    }

    /// An OPEN_SESSION of a TA that does not exist: OP-TEE asks for an RPC argument buffer
    /// (RPC_ALLOC) before its first RPC command. Answer with foreign pages first, then with our
    /// own; then answer its first RPC command with page lists naming foreign pages.
    fn rpc_answers(&mut self) {
        let t = self.t;
        build(
            &mut self.arg,
            msg::CMD_OPEN_SESSION,
            0,
            0,
            &open_params(&MISSING_TA),
        );
        let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, self.client);
        let mut a = match secure_call(x) {
            Ok(a) => a,
            Err(e) => {
                self.check("rpc-open-missing-ta", false, format_args!("{e:?}"));
                return;
            }
        };
        let mut alloc_seen = false;
        let mut failed_answers_kept = false;
        let mut cmd_seen = false;
        let mut log: Vec<String> = Vec::new();
        for _ in 0..MAX_RPCS {
            if !ret::is_rpc(a[0]) {
                break;
            }
            let func = ret::rpc_func(a[0]);
            let th = a[3];
            if func == ret::RPC_FUNC_ALLOC && !alloc_seen {
                alloc_seen = true;
                for (tname, p) in [
                    ("ordinary-domu", t.canary),
                    ("xen-text", t.xen),
                    ("xen-heap", t.xen_heap),
                    ("dom0", t.dom0),
                    ("tee-guest-page", t.tee),
                    ("freed-page", t.freed),
                ] {
                    if p == 0 {
                        continue;
                    }
                    let mut x = addr_call(smc::RETURN_FROM_RPC, p, th, self.client);
                    x[4] = 0;
                    x[5] = RPC_COOKIE;
                    let r = secure_call(x);
                    self.check(
                        &format!("rpc-alloc-{tname}"),
                        r == Err(XenError::EPERM),
                        format_args!("size={} thread={th}: buffer {p:#x}: {}", a[1], fmt_x(&r)),
                    );
                }
                // Now a correct answer: our own page, cookie 0xC00C.
                self.rpc.clear();
                let mut x = addr_call(smc::RETURN_FROM_RPC, self.rpc.maddr, th, self.client);
                x[5] = RPC_COOKIE;
                match secure_call(x) {
                    Ok(n) => a = n,
                    Err(e) => {
                        self.check("rpc-alloc-own-page", false, format_args!("{e:?}"));
                        return;
                    }
                }
                continue;
            }
            if func == ret::RPC_FUNC_CMD && !cmd_seen && (a[1] << 32 | a[2]) == RPC_COOKIE {
                cmd_seen = true;
                let (cmd, n) = {
                    let m = MsgArg::new(&mut self.rpc.buf.0, 0);
                    (m.cmd(), m.num_params())
                };
                log.push(format!("RPC_CMD cmd={cmd} params={n}"));
                if n >= 1 {
                    let saved = self.rpc.buf.0[..32 + 32 * 4].to_vec();
                    for (tname, e, list_at) in [
                        ("entry-ordinary-domu", t.canary, 0),
                        ("entry-xen-text", t.xen, 0),
                        ("entry-xen-heap", t.xen_heap, 0),
                        ("entry-dom0", t.dom0, 0),
                        ("list-in-tee-guest-page", 0, t.tee),
                    ] {
                        if e == 0 && list_at == 0 {
                            continue;
                        }
                        self.list.clear();
                        self.list.put64(0, e);
                        let l = if list_at != 0 {
                            list_at
                        } else {
                            self.list.maddr
                        };
                        {
                            let mut m = MsgArg::new(&mut self.rpc.buf.0, 0);
                            m.set_ret(0);
                            m.set_param(
                                0,
                                Param {
                                    attr: msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
                                    a: l,
                                    b: 4096,
                                    c: 0x5A11,
                                },
                            );
                        }
                        let x = [
                            u64::from(smc::RETURN_FROM_RPC),
                            a[1],
                            a[2],
                            th,
                            0,
                            0,
                            0,
                            self.client,
                        ];
                        let r = secure_call(x);
                        self.check(
                            &format!("rpc-cmd-answer-{tname}"),
                            matches!(r, Err(XenError::EPERM)),
                            format_args!(
                                "cmd={cmd} param 0 TMEM NONCONTIG list {l:#x} entry {e:#x}: {}",
                                fmt_x(&r)
                            ),
                        );
                        self.rpc.buf.0[..saved.len()].copy_from_slice(&saved);
                    }
                } else {
                    log.push("no parameter to forge".into());
                }
            }
            log.push(format!("rpc func={func}"));
            // A failed SHM_ALLOC answer with shm_ref 0, as a mediator with nothing to give sends
            // it: Xen keeps no record of it, so the same answer to the next SHM_ALLOC is
            // accepted too (it was refused with EEXIST before the fix; README, "Found").
            let mut r = secure_call(self.resume_plain(&a, 0));
            if r == Err(XenError::EEXIST) {
                failed_answers_kept = true;
                self.shm_ref += 1;
                r = secure_call(self.resume_plain(&a, self.shm_ref));
            }
            a = match r {
                Ok(n) => n,
                Err(e) => {
                    self.check(
                        "rpc-missing-ta-completes",
                        false,
                        format_args!("resume: {e:?} ({log:?})"),
                    );
                    return;
                }
            };
        }
        self.check(
            "failed-shm-alloc-answers-not-kept",
            !failed_answers_kept,
            format_args!(
                "a second failed SHM_ALLOC answer with shm_ref 0 got EEXIST: {failed_answers_kept}"
            ),
        );
        let ret_ = self.arg.msg().ret();
        self.check(
            "rpc-missing-ta-completes",
            !ret::is_rpc(a[0]) && a[0] == ret::OK && ret_ != 0,
            format_args!(
                "x0={:#x} ret={ret_:#x} (the TA does not exist); alloc reached={alloc_seen} cmd reached={cmd_seen}; {log:?}",
                a[0]
            ),
        );
        if !alloc_seen {
            self.check(
                "rpc-alloc-reached",
                false,
                format_args!("OP-TEE asked for no RPC_ALLOC: {log:?}"),
            );
        }
    }

    fn client_ids(&mut self, canary: DomId, mediator: DomId) {
        let uid = u64::from(smc::CALLS_UID);
        // dom0 is there (it granted its canary) but no TEE client: FLASK gives us no tee_mediate.
        let dom0: (&str, &[XenError]) = if self.t.dom0 != 0 {
            ("x7-dom0", &[XenError::EACCES, XenError::EPERM])
        } else {
            ("x7-dom0-absent", &[XenError::ESRCH])
        };
        let cases: [(&str, u64, &[XenError]); 6] = [
            (
                "x7-ordinary-domu",
                client_id(canary),
                &[XenError::EACCES, XenError::EPERM],
            ),
            (dom0.0, client_id(0), dom0.1),
            (
                "x7-nonexistent-domid",
                client_id(0x7000),
                &[XenError::ESRCH],
            ),
            (
                "x7-reserved-domid",
                0x7FF2,
                &[XenError::ESRCH, XenError::EINVAL],
            ),
            ("x7-beyond-domids", 0x1_0000, &[XenError::EINVAL]),
            (
                "x7-mediator-itself",
                client_id(mediator),
                &[XenError::ESRCH, XenError::EACCES, XenError::EPERM],
            ),
        ];
        for (name, x7, want) in cases {
            self.expect(
                name,
                [uid, 0, 0, 0, 0, 0, 0, x7],
                want,
                &format!("CALLS_UID x7={x7:#x}"),
            );
            build(
                &mut self.arg,
                msg::CMD_OPEN_SESSION,
                0,
                0,
                &open_params(&PTA_INVOKE_TESTS),
            );
            let x = addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, x7);
            self.expect(
                &format!("{name}-std"),
                x,
                want,
                &format!("CALL_WITH_ARG x7={x7:#x}"),
            );
        }
        // The hypervisor client (x7 = 0) may only identify OP-TEE.
        build(
            &mut self.arg,
            msg::CMD_OPEN_SESSION,
            0,
            0,
            &open_params(&PTA_INVOKE_TESTS),
        );
        for (name, x) in [
            (
                "x7-zero-call-with-arg",
                addr_call(smc::CALL_WITH_ARG, self.arg.maddr, 0, 0),
            ),
            (
                "x7-zero-return-from-rpc",
                [u64::from(smc::RETURN_FROM_RPC), 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                "x7-zero-exchange-capabilities",
                [u64::from(smc::EXCHANGE_CAPABILITIES), 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                "x7-zero-enable-async-notif",
                [u64::from(smc::ENABLE_ASYNC_NOTIF), 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                "x7-zero-disable-shm-cache",
                [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                "x7-zero-get-async-notif-value",
                [u64::from(smc::GET_ASYNC_NOTIF_VALUE), 0, 0, 0, 0, 0, 0, 0],
            ),
        ] {
            self.expect(name, x, &[XenError::EPERM], "hypervisor client");
        }
        let r = secure_call([uid, 0, 0, 0, 0, 0, 0, 0]);
        self.check(
            "x7-zero-calls-uid-allowed",
            matches!(r, Ok(a) if a[0] as u32 == mediator::abi::OPTEE_MSG_UID[0]),
            format_args!("control: {}", fmt_x(&r)),
        );
    }

    fn vm_ops(&mut self, tee: DomId, canary: DomId) {
        let created = u64::from(smc::VM_CREATED);
        let destroyed = u64::from(smc::VM_DESTROYED);
        let cases: [(&str, [u64; 8], &[XenError]); 9] = [
            (
                "vm-destroyed-live-tee-guest",
                [destroyed, client_id(tee), 0, 0, 0, 0, 0, 0],
                &[XenError::EPERM],
            ),
            (
                "vm-created-twice",
                [created, client_id(tee), 0, 0, 0, 0, 0, 0],
                &[XenError::EEXIST],
            ),
            (
                "vm-destroyed-ordinary-domu",
                [destroyed, client_id(canary), 0, 0, 0, 0, 0, 0],
                &[XenError::EACCES, XenError::EPERM],
            ),
            (
                "vm-created-ordinary-domu",
                [created, client_id(canary), 0, 0, 0, 0, 0, 0],
                &[XenError::EACCES, XenError::EPERM],
            ),
            (
                "vm-destroyed-dom0",
                [destroyed, client_id(0), 0, 0, 0, 0, 0, 0],
                &[XenError::EACCES, XenError::EPERM, XenError::ESRCH],
            ),
            (
                "vm-created-dom0",
                [created, client_id(0), 0, 0, 0, 0, 0, 0],
                &[XenError::EACCES, XenError::EPERM, XenError::ESRCH],
            ),
            (
                "vm-destroyed-nonexistent",
                [destroyed, client_id(0x7000), 0, 0, 0, 0, 0, 0],
                &[XenError::ESRCH],
            ),
            (
                "vm-destroyed-hypervisor-client",
                [destroyed, 0, 0, 0, 0, 0, 0, 0],
                &[XenError::EINVAL],
            ),
            (
                "vm-destroyed-x7-set",
                [destroyed, client_id(tee), 0, 0, 0, 0, 0, client_id(tee)],
                &[XenError::EINVAL],
            ),
        ];
        for (name, x, want) in cases {
            self.expect(name, x, want, &format!("x1={:#x} x7={:#x}", x[1], x[7]));
        }
        let (q, qv) = query(tee);
        self.check(
            "vm-ops-tee-guest-still-known",
            q.is_ok() && qv.flags & Q_TEE_KNOWN != 0,
            format_args!("flags={:#x} {q:?}", qv.flags),
        );
    }

    fn function_ids(&mut self) {
        for (name, fid) in DENIED_FIDS {
            let x = [
                *fid,
                self.t.tee >> 32,
                self.t.tee & 0xFFFF_FFFF,
                0,
                0,
                0,
                0,
                self.client,
            ];
            self.expect(
                &format!("fid-{name}"),
                x,
                &[XenError::EPERM],
                &format!("x0={fid:#x}"),
            );
        }
    }
}

/// Pin `gfn` of `domid` until Xen says no; the number of pins taken and the refusal.
fn pin_to_max(domid: DomId, gfn: u64) -> (u32, Option<XenError>) {
    let mut n = 0;
    while n <= MAX_PINS {
        match pin(op::PIN, domid, gfn) {
            Ok(_) => n += 1,
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// Pins consecutive pages of `domid` from `gfn` on, one pin each, until Xen refuses: the most
/// pin records a teardown can meet (one per page, where [`pin_to_max`] makes one record).
fn pin_pages_to_max(domid: DomId, gfn: u64) -> (u32, Option<XenError>) {
    let mut n = 0;
    while n <= MAX_PINS {
        match pin(op::PIN, domid, gfn + u64::from(n)) {
            Ok(_) => n += 1,
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let tee = args.get_u64("tee").unwrap_or(3) as DomId;
    let canary = args.get_u64("canary").unwrap_or(2) as DomId;
    let canary_port = args.get_u64("canary-port").map(|p| p as u32);
    let canary_ref = args.get_u64("canary-ref").unwrap_or(8) as u32;
    let xen_page = args.get_u64("xen-page").unwrap_or(0x4800_0000);
    let cycles = args.get_u64("cycles").unwrap_or(3);
    let reregs = args.get_u64("reregs").unwrap_or(50);
    let mediator_domid = args.get_u64("self").unwrap_or(1) as DomId;
    // dom0's canary: wait this long for its grant (dom0 boots Linux and its toolstack); 0: no dom0.
    let dom0_wait = Duration::from_millis(args.get_u64("dom0-wait-ms").unwrap_or(0));
    // Power off this long after the attacks, so that dom0 can start the product mediator (a
    // dom0less domain has no toolstack entries for `xl destroy`); absent: serve forever.
    let exit_after = args.get_u64("exit-after-ms").map(Duration::from_millis);
    let mut r = Report::new(name);
    let t0 = k.now();

    if let Some(p) = canary_port {
        let _ = k.on_event(p, |_, _| {
            CANARY_EVENTS.fetch_add(1, Ordering::Relaxed);
        });
    }
    let mut st = State {
        name,
        ring: BackRing::new(),
        page: Shared(&RING),
        tee,
        known: Vec::new(),
        deferred: 0,
        hold: true,
        answered: 0,
        vehicle: None,
        results: Vec::new(),
    };
    let reg = register(k, &mut st);
    r.check("register", reg.is_ok(), format_args!("{reg:?}"));
    // Wait until the TEE guest is known to OP-TEE (its CREATED, served above or soon).
    let known = k.run_until(k.after(Duration::from_secs(5)), |_| {
        serve(&mut st);
        st.known.contains(&st.tee)
    });
    r.check("tee-guest-created", known, format_args!("dom{tee}"));
    let client = client_id(tee);
    // OP-TEE's capabilities for our client: Xen learns the RPC argument size from the answer.
    let caps = secure_call([
        u64::from(smc::EXCHANGE_CAPABILITIES),
        0,
        0,
        0,
        0,
        0,
        0,
        client,
    ]);
    r.check(
        "exchange-capabilities",
        matches!(caps, Ok(a) if a[0] == ret::OK && a[1] & mediator::abi::caps::SEC_RPC_ARG != 0),
        format_args!("{caps:x?}"),
    );

    // The canary's page: its machine address from the grant map (dev_bus_addr).
    let ready = k.run_until(k.after(Duration::from_secs(5)), |_| {
        CANARY_EVENTS.load(Ordering::Relaxed) > 0
    });
    let canary_maddr = match granted_canary(k, canary, canary_ref) {
        Ok((m, ok)) => {
            r.check(
                "canary-address",
                ready && m != 0 && m & 0xfff == 0 && ok,
                format_args!("dom{canary} ref {canary_ref}: maddr={m:#x} pattern={ok}"),
            );
            m
        }
        Err(e) => {
            r.check("canary-address", false, format_args!("map_grant: {e}"));
            0
        }
    };

    // dom0's page: its grant (tsdtee canary, gntalloc) has a reference we look for.
    let dom0_maddr = if dom0_wait.is_zero() {
        0
    } else {
        let found = dom0_canary(k, &mut st, dom0_wait);
        let (gref, m, ok) = found.unwrap_or((0, 0, false));
        r.check(
            "dom0-canary-address",
            found.is_some() && m != 0 && m & 0xfff == 0 && ok,
            format_args!(
                "dom0 ref {gref}: maddr={m:#x} pattern={ok} (looked {} ms at most)",
                dom0_wait.as_millis()
            ),
        );
        m
    };

    // Addresses: a TEE guest page; a page of ours we give back.
    let tee_gfn = 0x40100;
    let tee_maddr = pin(op::PIN, tee, tee_gfn);
    let _ = pin(op::UNPIN, tee, tee_gfn);
    let freed = Own::new().ok().and_then(|p| {
        let gfn = p.gfn();
        let Own { buf, maddr: m } = p;
        // The page leaves our RAM (leaked, not freed to the heap).
        let d = kernel::arch::rawmem::give_back(buf);
        println!("TSD-INFO {name} gave back gfn {gfn:#x} (maddr {m:#x}): {d:?}");
        (d == Ok(1)).then_some(m)
    });
    // Xen's canary page (a test build's heap page): its address, and that it starts intact.
    let (xc, canary0) = xen_canary();
    r.check(
        "xen-canary-address",
        xc.is_ok() && canary0.maddr != 0 && canary0.maddr & 0xfff == 0 && canary0.intact == 1,
        format_args!(
            "TEE_STUBDOM_OP_canary {xc:?}: maddr={:#x} intact={}",
            canary0.maddr, canary0.intact
        ),
    );
    r.check(
        "targets",
        tee_maddr.is_ok() && freed.is_some(),
        format_args!(
            "xen-text={xen_page:#x} xen-heap={:#x} canary={canary_maddr:#x} dom0={dom0_maddr:#x} tee-guest={tee_maddr:x?} freed={freed:x?}",
            canary0.maddr
        ),
    );
    let targets = Targets {
        xen: xen_page,
        xen_heap: canary0.maddr,
        canary: canary_maddr,
        dom0: dom0_maddr,
        tee: tee_maddr.unwrap_or(0),
        freed: freed.unwrap_or(0),
    };
    let (Ok(arg), Ok(list), Ok(rpc)) = (Own::new(), Own::new(), Own::new()) else {
        r.check("own-pages", false, format_args!("no pinnable heap pages"));
        return finish(&r);
    };
    let mut h = Hostile {
        r,
        shm_ref: 0x5000_0000,
        client,
        arg,
        list,
        rpc,
        t: &targets,
    };
    let (_, q0) = query(tee);
    let version0 = kernel::xenif::hypercall::xen_version();

    // OP-TEE works before.
    h.pta_session("before");

    h.arg_addresses(None);
    h.arg_addresses(Some((k, &mut st)));
    // Page lists and attribute attacks inside a real session.
    build(
        &mut h.arg,
        msg::CMD_OPEN_SESSION,
        0,
        0,
        &open_params(&PTA_INVOKE_TESTS),
    );
    let a = h.call_arg();
    let session = h.arg.msg().session();
    if matches!(a, Ok(x) if x[0] == ret::OK) && h.arg.msg().ret() == 0 {
        h.page_lists(session);
        build(&mut h.arg, msg::CMD_CLOSE_SESSION, 0, session, &[]);
        let _ = h.call_arg();
    } else {
        h.check("page-list-session", false, format_args!("{}", fmt_x(&a)));
    }
    h.stray_resumes();
    h.rpc_answers();
    h.client_ids(canary, mediator_domid);
    h.vm_ops(tee, canary);
    h.function_ids();

    // Pin lists (hv-patches 0018): each entry is a pin, with its checks and its cap.
    pin_lists(&mut h, tee, canary);

    // Pins dropped while OP-TEE holds the pages.
    held_across_unpin(&mut h, tee, &mut st, k);

    // Re-registration loops while holding the maximum of pins.
    rereg_loops(&mut h, k, &mut st, tee, cycles, reregs);

    // Nothing Xen counts changed, OP-TEE still works.
    let (q, q1) = query(tee);
    h.check(
        "tee-guest-accounting-unchanged",
        q.is_ok() && q1.nr_held == q0.nr_held && q1.nr_pinned == 0 && q1.flags & Q_TEE_KNOWN != 0,
        format_args!(
            "nr_held {} -> {}, nr_pinned {} -> {}, flags {:#x}",
            q0.nr_held, q1.nr_held, q0.nr_pinned, q1.nr_pinned, q1.flags
        ),
    );
    let version1 = kernel::xenif::hypercall::xen_version();
    h.check(
        "xen-alive",
        version0.is_ok() && version0 == version1,
        format_args!("xen_version {version0:x?} -> {version1:x?}; Xen text at {xen_page:#x} was a target throughout"),
    );
    let (xc, canary1) = xen_canary();
    h.check(
        "xen-canary-unchanged",
        xc.is_ok() && canary1.maddr == canary0.maddr && canary1.intact == 1,
        format_args!(
            "Xen's canary page {:#x} after every attack: {xc:?} intact={}",
            canary1.maddr, canary1.intact
        ),
    );
    h.pta_session("after");

    // Tell the canary to look.
    let told = canary_port.map(|p| k.evtchn_send(p));
    println!(
        "TSD-INFO {name} attacks done in {} ms; canary told: {told:?}",
        k.since(t0).as_millis()
    );
    finish(&h.r);
    let end = exit_after.map(|d| k.after(d));
    loop {
        serve(&mut st);
        if end.is_some_and(|e| k.now() >= e) {
            println!("TSD-INFO {name} powers off, as exit-after-ms= asks");
            k.shutdown(ShutdownReason::Poweroff);
        }
        let t = k.after(Duration::from_millis(100));
        k.poll(Some(t));
    }
}

/// `TEE_STUBDOM_OP_pin_list` / `unpin_list` (hv-patches 0018) as a hostile mediator would use
/// them: a list of an ordinary guest's pages, a list with a bad entry in the middle (Xen stops
/// there and says how far it got; nothing after it is pinned), unpinning what was never pinned,
/// and lists of one page to the pin cap. Xen's pin count is back where it was afterwards.
fn pin_lists(h: &mut Hostile<'_>, tee: DomId, canary: DomId) {
    let base = query(tee).1.nr_pinned;
    let r = pin_list(canary, &mut [0x40000]);
    h.check(
        "pin-list-ordinary-guest",
        matches!(r, Err(e) if e.done == 0
            && [XenError::EACCES, XenError::EPERM, XenError::ESRCH].contains(&e.error)),
        format_args!("dom{canary}: {r:?}"),
    );
    let mut list = [0x40120, 0x40121, 0xfff_ffff, 0x40122];
    let r = pin_list(tee, &mut list);
    let pinned_two = query(tee).1.nr_pinned;
    let addresses = list[..2].iter().all(|m| *m != 0 && m & 0xfff == 0) && list[3] == 0x40122;
    let u = unpin_list(tee, &mut [0x40120, 0x40121]);
    h.check(
        "pin-list-stops-at-bad-entry",
        matches!(r, Err(e) if e.done == 2 && e.error == XenError::EINVAL)
            && addresses
            && pinned_two == base + 2
            && u.is_ok(),
        format_args!("{r:?}, list {list:x?}, nr_pinned {base} -> {pinned_two}, unpinned {u:?}"),
    );
    let r = unpin_list(tee, &mut [0x40130]);
    h.check(
        "unpin-list-not-pinned",
        matches!(r, Err(e) if e.done == 0 && e.error == XenError::ENOENT),
        format_args!("{r:?}"),
    );
    // One page, pinned over and over: each entry counts against the cap.
    let (mut n, mut stop) = (0u32, None);
    while n <= MAX_PINS && stop.is_none() {
        let mut list = [0x40140u64; 512];
        match pin_list(tee, &mut list) {
            Ok(()) => n += 512,
            Err(e) => {
                n += e.done as u32;
                stop = Some(e.error);
            }
        }
    }
    let at_cap = query(tee).1.nr_pinned;
    let mut left = n;
    let mut unpinned = true;
    while left > 0 {
        let k = left.min(512);
        unpinned &= unpin_list(tee, &mut [0x40140u64; 512][..k as usize]).is_ok();
        left -= k;
    }
    let after = query(tee).1.nr_pinned;
    h.check(
        "pin-list-cap",
        n == MAX_PINS - base
            && stop == Some(XenError::ENOSPC)
            && at_cap == MAX_PINS
            && unpinned
            && after == base,
        format_args!(
            "{n} pins by lists then {stop:?}, nr_pinned {at_cap} (cap {MAX_PINS}), after unpinning {after} (was {base})"
        ),
    );
}

/// REGISTER_SHM of TEE guest pages, then the mediator's pins go (unpin): Xen must keep its own
/// references for OP-TEE until OP-TEE accepts UNREGISTER_SHM. Then one left behind by a
/// re-registration: Xen unregisters it in OP-TEE itself, and only then drops its references.
fn held_across_unpin(h: &mut Hostile<'_>, tee: DomId, st: &mut State, k: &mut Kernel) {
    let gfns = [0x40110u64, 0x40111, 0x40112, 0x40113];
    let mut maddrs = Vec::new();
    for g in gfns {
        match pin(op::PIN, tee, g) {
            Ok(m) => maddrs.push(m),
            Err(e) => {
                h.check(
                    "held-across-unpin",
                    false,
                    format_args!("pin {g:#x}: {e:?}"),
                );
                return;
            }
        }
    }
    let (_, q0) = query(tee);
    h.list.clear();
    for (i, m) in maddrs.iter().enumerate() {
        h.list.put64(i * 8, *m);
    }
    let cookie = 0x5EC0_0001;
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
        a: h.list.maddr,
        b: 4 * 4096,
        c: cookie,
    };
    build(&mut h.arg, msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    let a = h.call_arg();
    let ret_ = h.arg.msg().ret();
    let (_, q1) = query(tee);
    let registered = matches!(a, Ok(x) if x[0] == ret::OK) && ret_ == 0;
    h.check(
        "register-shm-held",
        registered && q1.nr_held == q0.nr_held + 4,
        format_args!(
            "{} ret={ret_:#x} nr_held {} -> {} nr_pinned {}",
            fmt_x(&a),
            q0.nr_held,
            q1.nr_held,
            q1.nr_pinned
        ),
    );
    for g in gfns {
        let _ = pin(op::UNPIN, tee, g);
    }
    let (_, q2) = query(tee);
    h.check(
        "unpinned-still-held",
        q2.nr_pinned + 4 == q1.nr_pinned && q2.nr_held == q1.nr_held && q2.nr_held > 0,
        format_args!(
            "after unpin: nr_pinned {} nr_held {}",
            q2.nr_pinned, q2.nr_held
        ),
    );
    let p = Param {
        attr: msg::ATTR_TYPE_RMEM_INPUT,
        a: 0,
        b: 0,
        c: cookie,
    };
    build(&mut h.arg, msg::CMD_UNREGISTER_SHM, 0, 0, &[p]);
    let a = h.call_arg();
    let ret_ = h.arg.msg().ret();
    let (_, q3) = query(tee);
    h.check(
        "unregister-shm-releases",
        matches!(a, Ok(x) if x[0] == ret::OK) && ret_ == 0 && q3.nr_held == q0.nr_held,
        format_args!(
            "{} ret={ret_:#x} nr_held {} (before registration {})",
            fmt_x(&a),
            q3.nr_held,
            q0.nr_held
        ),
    );

    // A registration our re-registration leaves behind: no mediator tracks it any more (a
    // restarted one knows nothing of it), so Xen unregisters it in OP-TEE itself before it
    // accepts the registration, and its cookie can be registered again (Linux reuses them).
    let cookie = 0x5EC0_0002;
    let held = register_pages(h, tee, &gfns, cookie);
    let deferred = st.deferred;
    let rr = register(k, st);
    let (_, q4) = query(tee);
    h.check(
        "reregistered-xen-unregisters",
        held == Some(q0.nr_held + 4)
            && rr.is_ok()
            && q4.nr_pinned == 0
            && q4.nr_held == q0.nr_held,
        format_args!(
            "held {held:?} before; re-register {:?} after {} EAGAIN: nr_pinned {} nr_held {} (before registration {})",
            rr.map(|_| ()),
            st.deferred - deferred,
            q4.nr_pinned,
            q4.nr_held,
            q0.nr_held
        ),
    );
    let again = register_pages(h, tee, &gfns, cookie);
    build(
        &mut h.arg,
        msg::CMD_UNREGISTER_SHM,
        0,
        0,
        &[Param {
            attr: msg::ATTR_TYPE_RMEM_INPUT,
            a: 0,
            b: 0,
            c: cookie,
        }],
    );
    let a = h.call_arg();
    let ret_ = h.arg.msg().ret();
    let (_, q5) = query(tee);
    h.check(
        "cookie-reusable-after-reregister",
        again == Some(q0.nr_held + 4)
            && matches!(a, Ok(x) if x[0] == ret::OK)
            && ret_ == 0
            && q5.nr_held == q0.nr_held,
        format_args!(
            "REGISTER_SHM of cookie {cookie:#x} again: held {again:?}; its UNREGISTER_SHM {} ret={ret_:#x}, nr_held {}",
            fmt_x(&a),
            q5.nr_held
        ),
    );
}

/// Pins `gfns` of `tee`, registers them with OP-TEE as one NONCONTIG buffer under `cookie` and
/// unpins them: Xen's references for OP-TEE remain. Returns the guest's `nr_held` after, or
/// `None` if a step failed.
fn register_pages(h: &mut Hostile<'_>, tee: DomId, gfns: &[u64], cookie: u64) -> Option<u32> {
    h.list.clear();
    for (i, g) in gfns.iter().enumerate() {
        h.list.put64(i * 8, pin(op::PIN, tee, *g).ok()?);
    }
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
        a: h.list.maddr,
        b: gfns.len() as u64 * 4096,
        c: cookie,
    };
    build(&mut h.arg, msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    let a = h.call_arg();
    let ok = matches!(a, Ok(x) if x[0] == ret::OK) && h.arg.msg().ret() == 0;
    for g in gfns {
        let _ = pin(op::UNPIN, tee, *g);
    }
    let (_, q) = query(tee);
    ok.then_some(q.nr_held)
}

fn rereg_loops(
    h: &mut Hostile<'_>,
    k: &mut Kernel,
    st: &mut State,
    tee: DomId,
    cycles: u64,
    reregs: u64,
) {
    let own = Own::new();
    let Ok(own) = own else {
        h.check("rereg-max-pins", false, format_args!("no own page"));
        return;
    };
    let mut worst = Duration::ZERO;
    for c in 0..cycles {
        let (n_tee, e_tee) = pin_pages_to_max(tee, TEE_PIN_BASE);
        let (n_own, e_own) = pin_to_max(DOMID_SELF, own.gfn());
        let (_, q) = query(tee);
        let t = k.now();
        let rr = register(k, st);
        let took = k.since(t);
        worst = worst.max(took);
        let (_, q2) = query(tee);
        // Our own pins are gone too: a new pin of the page starts from 1.
        let again = pin(op::PIN, DOMID_SELF, own.gfn());
        let (n_own2, _) = pin_to_max(DOMID_SELF, own.gfn());
        let t2 = k.now();
        let rr2 = register(k, st);
        worst = worst.max(k.since(t2));
        h.check(
            &format!("rereg-max-pins-{c}"),
            n_tee == MAX_PINS
                && e_tee == Some(XenError::ENOSPC)
                && n_own == MAX_PINS
                && e_own == Some(XenError::ENOSPC)
                && q.nr_pinned == MAX_PINS
                && rr.is_ok()
                && q2.nr_pinned == 0
                && again.is_ok()
                && n_own2 == MAX_PINS - 1
                && rr2.is_ok(),
            format_args!(
                "tee pins {n_tee} (one per page) then {e_tee:?}, own pins {n_own} then {e_own:?}, nr_pinned {} -> {} after register ({} ms, {:?}); own re-pin {} more",
                q.nr_pinned,
                q2.nr_pinned,
                took.as_millis(),
                rr.map(|_| ()),
                n_own2
            ),
        );
    }
    let mut fails = 0;
    for _ in 0..reregs {
        let t = k.now();
        if register(k, st).is_err() {
            fails += 1;
        }
        worst = worst.max(k.since(t));
    }
    let (q, qv) = query(tee);
    let v = kernel::xenif::hypercall::xen_version();
    h.check(
        "rereg-loop",
        fails == 0 && q.is_ok() && qv.nr_pinned == 0 && qv.flags & Q_TEE_KNOWN != 0 && v.is_ok() && worst < Duration::from_secs(1),
        format_args!(
            "{reregs} more re-registrations, {fails} failed; slowest register {} ms; nr_pinned {} flags {:#x} mediator {}",
            worst.as_millis(),
            qv.nr_pinned,
            qv.flags,
            qv.mediator
        ),
    );
}

fn finish(r: &Report) {
    println!(
        "TSD-RESULT {} passed={} failed={} status={}",
        r.name,
        r.passed,
        r.failed,
        r.status()
    );
}
