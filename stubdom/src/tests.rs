//! Host tests: the trait implementations and the request loop against a fake Xen built on the
//! core's simulators (guest RAM and OP-TEE's ABI state machine).

use crate::config::{lookup, parse_guests};
use crate::hook::{Hook, HookPlatform};
use crate::memory::pieces;
use crate::secure::{answer_for, failed_resume};
use crate::service::Server;
use crate::shadow::ShadowStore;
use alloc::string::String;
use alloc::vec::Vec;
use mediator::abi::{ret, smc};
use mediator::sim::SimPlatform;
use mediator::{ClientId, Config, DomId, Ipa, PinnedPage, Pinning, SecureWorld};
use std::collections::{BTreeMap, VecDeque};
use xenif::abi::DOMID_SELF;
use xenif::hook::shared::{RingMem, Shared};
use xenif::hook::{req, Request};
use xenif::{XenError, XenResult};

/// The core's name for a domain of the fake Xen (never a reserved ID here).
fn did(domid: u16) -> DomId {
    DomId::new(domid).expect("a domain's ID")
}

/// Xen over the simulators: pins go to `SimMemory`, secure calls to `SimOptee`, "mapped" pages
/// are copies written back at unmap.
struct FakeXen {
    sim: SimPlatform,
    pins: BTreeMap<(u16, u64), Vec<PinnedPage>>,
    own_pins: usize,
    responses: Vec<(u64, u16, [u64; 8])>,
    released: Vec<u16>,
    known: Vec<u64>,
    /// Function IDs and clients of the secure calls made.
    secure_calls: Vec<(u32, u64)>,
    /// The clock (`Hook::now_ms`).
    now_ms: u64,
    /// The vCPU of each answer, in `responses` order.
    vcpus: Vec<u32>,
    /// OP-TEE answers the SHM cache switches EBUSY, as it does while any thread (of any guest)
    /// is in use.
    optee_busy: bool,
    /// Xen refuses every RETURN_FROM_RPC that does not ask for its failed answer.
    refuse_answers: bool,
    /// The RESULT requests of the secure calls vCPUs made on our word (hv-patches 0013), in
    /// the order Xen posts them: [`handle`] feeds them to the server.
    results: VecDeque<Request>,
    /// The secure calls vCPUs made on our word: function ID, domain, x6 (the fake does not take
    /// the straight path for foreign interrupts: it posts every answer as the RESULT).
    executed: Vec<(u32, u16, u64)>,
    /// OP-TEE's answers to the next secure calls vCPUs make, instead of the simulator's (which
    /// cannot read our shadow pages: they are not in its memory).
    script: VecDeque<[u64; 8]>,
    /// `TEE_STUBDOM_OP_pin` / `_unpin` hypercalls of a guest's page (not `DOMID_SELF`).
    single_pins: usize,
    /// Entries into Xen of `pin_list` / `unpin_list`: the command and the entries asked.
    list_calls: Vec<(u32, usize)>,
    /// Xen stops a list after this many entries (as for `hypercall_preempt_check()`).
    preempt_after: Option<usize>,
}

struct FakePage {
    dom: u16,
    gfn: u64,
    data: core::cell::RefCell<[u8; 4096]>,
}

impl FakeXen {
    fn new(guests: &[u16]) -> Self {
        let mut sim = SimPlatform::new(4);
        for g in guests {
            sim.mem.add_guest(did(*g), 0x4000_0000, 64);
        }
        FakeXen {
            sim,
            pins: BTreeMap::new(),
            own_pins: 0,
            responses: Vec::new(),
            released: Vec::new(),
            known: Vec::new(),
            secure_calls: Vec::new(),
            now_ms: 0,
            vcpus: Vec::new(),
            optee_busy: false,
            refuse_answers: false,
            results: VecDeque::new(),
            executed: Vec::new(),
            script: VecDeque::new(),
            single_pins: 0,
            list_calls: Vec::new(),
            preempt_after: None,
        }
    }

    /// `tsd_pin()` of one page.
    fn pin_one(&mut self, domid: u16, gfn: u64) -> XenResult<u64> {
        if domid == DOMID_SELF {
            // Our own page: any address outside the guests' RAM will do for the simulator's
            // "machine" address of a shadow page.
            self.own_pins += 1;
            return Ok(0x8000_0000 + (self.own_pins as u64) * 4096);
        }
        // A frame beyond any guest's IPA space is no page of it (Xen: no p2m entry).
        let ipa = gfn
            .checked_mul(4096)
            .and_then(Ipa::page_aligned)
            .ok_or(XenError::EINVAL)?;
        let p = self
            .sim
            .pin(did(domid), ipa)
            .map_err(|_| XenError::EINVAL)?;
        let pa = p.pa.raw();
        self.pins.entry((domid, gfn)).or_default().push(p);
        Ok(pa)
    }

    /// `tsd_pin()` of one page, unpinning.
    fn unpin_one(&mut self, domid: u16, gfn: u64) -> XenResult<()> {
        let p = self
            .pins
            .get_mut(&(domid, gfn))
            .and_then(|v| v.pop())
            .ok_or(XenError::ENOENT)?;
        self.sim.unpin(did(domid), p);
        Ok(())
    }

    /// One entry into Xen for `tsd_pin_list()` (hv-patches 0018) over `list`: each entry
    /// pinned (its machine address written over it) or unpinned in order, stopping at the
    /// first that fails or after `preempt_after` entries; the count, or the first one's error.
    fn list_entry(&mut self, cmd: u32, domid: u16, list: &mut [u64]) -> XenResult<usize> {
        self.list_calls.push((cmd, list.len()));
        let mut done = 0;
        for e in list.iter_mut() {
            if done > 0 && self.preempt_after.is_some_and(|n| done >= n) {
                break;
            }
            let r = if cmd == xenif::hook::op::PIN_LIST {
                self.pin_one(domid, *e).map(|maddr| *e = maddr)
            } else {
                self.unpin_one(domid, *e)
            };
            match r {
                Ok(()) => done += 1,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// A list operation as `xenif::hook::call::pin_list` makes it: entries into Xen until done.
    fn list_op(
        &mut self,
        cmd: u32,
        domid: u16,
        gfns: &mut [u64],
    ) -> Result<(), xenif::hook::ListError> {
        xenif::hook::list_entries(gfns.len(), |r| {
            let part = gfns.get_mut(r).unwrap_or_default();
            self.list_entry(cmd, domid, part)
        })
    }
}

impl Hook for FakeXen {
    type Page = FakePage;
    fn now_ms(&self) -> u64 {
        self.now_ms
    }
    fn respond(&mut self, seq: u64, domid: u16, vcpu: u32, x: [u64; 8]) -> XenResult<()> {
        self.responses.push((seq, domid, x));
        self.vcpus.push(vcpu);
        Ok(())
    }
    fn execute(
        &mut self,
        seq: u64,
        domid: u16,
        vcpu: u32,
        x: [u64; 8],
        _direct_intr: bool,
    ) -> XenResult<()> {
        // As Xen does on the vCPU: the caller's client ID, never VM_*.
        let mut x = x;
        x[7] = ClientId::of(did(domid)).raw();
        let fid = x[0] as u32;
        self.executed.push((fid, domid, x[6]));
        let refused =
            self.refuse_answers && fid == smc::RETURN_FROM_RPC && x[6] != xenif::hook::RPC_FAILED;
        let r = if fid == smc::VM_CREATED || fid == smc::VM_DESTROYED {
            Err(XenError::EPERM)
        } else if refused {
            Err(XenError::EINVAL)
        } else if let Some(a) = self.script.pop_front() {
            Ok(a)
        } else {
            self.secure_call(x)
        };
        let mut rq = request(seq, req::RESULT, domid, [0; 8]);
        rq.vcpu = vcpu;
        match r {
            Ok(a) => rq.x[..4].copy_from_slice(&a[..4]),
            Err(e) => rq.status = -e.0,
        }
        self.results.push_back(rq);
        Ok(())
    }
    fn pin(&mut self, domid: u16, gfn: u64) -> XenResult<u64> {
        if domid != DOMID_SELF {
            self.single_pins += 1;
        }
        self.pin_one(domid, gfn)
    }
    fn unpin(&mut self, domid: u16, gfn: u64) -> XenResult<()> {
        self.single_pins += 1;
        self.unpin_one(domid, gfn)
    }
    fn pin_list(&mut self, domid: u16, gfns: &mut [u64]) -> Result<(), xenif::hook::ListError> {
        self.list_op(xenif::hook::op::PIN_LIST, domid, gfns)
    }
    fn unpin_list(&mut self, domid: u16, gfns: &mut [u64]) -> Result<(), xenif::hook::ListError> {
        self.list_op(xenif::hook::op::UNPIN_LIST, domid, gfns)
    }
    fn secure_call(&mut self, x: [u64; 8]) -> XenResult<[u64; 8]> {
        let fid = x[0] as u32;
        self.secure_calls.push((fid, x[7]));
        if self.refuse_answers && fid == smc::RETURN_FROM_RPC && x[6] != xenif::hook::RPC_FAILED {
            return Err(XenError::EINVAL);
        }
        if fid == smc::VM_DESTROYED && x[1] == 0 {
            return Err(XenError::EINVAL);
        }
        if fid == smc::VM_CREATED {
            if self.known.contains(&x[1]) {
                return Err(XenError::EEXIST);
            }
            self.known.push(x[1]);
        }
        if self.optee_busy && (fid == smc::ENABLE_SHM_CACHE || fid == smc::DISABLE_SHM_CACHE) {
            return Ok([ret::EBUSY, 0, 0, 0, 0, 0, 0, 0]);
        }
        Ok(self.sim.smc(x))
    }
    fn release(&mut self, domid: u16) -> XenResult<()> {
        self.released.push(domid);
        Ok(())
    }
    fn pinned(&mut self, domid: u16) -> XenResult<u32> {
        let n: usize = self
            .pins
            .iter()
            .filter(|((d, _), _)| *d == domid)
            .map(|(_, v)| v.len())
            .sum();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
    fn notify(&mut self, domid: u16) -> XenResult<()> {
        // Guest 7 has no notification interrupt (a toolstack-created guest).
        if domid == 7 {
            Err(XenError::ENODEV)
        } else {
            Ok(())
        }
    }
    fn map(&mut self, domid: u16, gfn: u64) -> XenResult<FakePage> {
        let mut data = [0u8; 4096];
        if !self.sim.mem.peek(did(domid), gfn << 12, &mut data) {
            return Err(XenError::EINVAL);
        }
        Ok(FakePage {
            dom: domid,
            gfn,
            data: core::cell::RefCell::new(data),
        })
    }
    fn read_page(&self, page: &FakePage, off: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&page.data.borrow()[off..off + buf.len()]);
    }
    fn write_page(&self, page: &FakePage, off: usize, data: &[u8]) {
        page.data.borrow_mut()[off..off + data.len()].copy_from_slice(data);
    }
    fn unmap(&mut self, page: FakePage) {
        let data = *page.data.borrow();
        self.sim.mem.poke(did(page.dom), page.gfn << 12, &data);
    }
}

fn request(seq: u64, kind: u16, domid: u16, x: [u64; 8]) -> Request {
    Request {
        seq,
        kind,
        domid,
        vcpu: 0,
        flags: 0,
        status: 0,
        x,
    }
}

fn sink() -> impl FnMut(core::fmt::Arguments<'_>) {
    |a| println!("{a}")
}

/// `s.handle(rq)`, then the RESULTs Xen posts for the secure calls the server had vCPUs make,
/// until none is left.
fn handle(
    s: &mut Server,
    xen: &mut FakeXen,
    shadow: &mut ShadowStore,
    rq: &Request,
    out: crate::service::Sink<'_>,
) {
    s.handle(xen, shadow, rq, &mut *out);
    results(s, xen, shadow, out);
}

/// Feeds the server the RESULTs Xen posted, until none is left.
fn results(
    s: &mut Server,
    xen: &mut FakeXen,
    shadow: &mut ShadowStore,
    out: crate::service::Sink<'_>,
) {
    while let Some(rq) = xen.results.pop_front() {
        s.handle(xen, shadow, &rq, &mut *out);
    }
}

/// `s.answer_waiting()`, then the RESULTs as [`handle`] does.
fn answer_waiting(
    s: &mut Server,
    xen: &mut FakeXen,
    shadow: &mut ShadowStore,
    out: crate::service::Sink<'_>,
) {
    s.answer_waiting(xen, shadow, &mut *out);
    results(s, xen, shadow, out);
}

/// A server named "mediator" with the default configuration, probed through `xen`; `guests` as
/// on the command line (`domid:name:label,...`), `notif`: offer async notifications.
fn probe(xen: &mut FakeXen, shadow: &mut ShadowStore, guests: &str, notif: bool) -> Server {
    let mut config = Config::default();
    config.features.async_notif = notif;
    probe_with(xen, shadow, guests, config)
}

/// A server named "mediator" with `config`, probed through `xen`.
fn probe_with(xen: &mut FakeXen, shadow: &mut ShadowStore, guests: &str, config: Config) -> Server {
    Server::probe("mediator", xen, shadow, config, parse_guests(guests)).expect("probe")
}

#[test]
fn pieces_split_at_page_boundaries_and_refuse_wrapping() {
    let v: Vec<_> = pieces(0x4000_0ff0, 0x20).unwrap().collect();
    assert_eq!(v, [(0x40000, 0xff0, 0, 0x10), (0x40001, 0, 0x10, 0x10)]);
    assert_eq!(pieces(0x1000, 0).unwrap().count(), 0);
    assert!(pieces(u64::MAX - 4, 16).is_none());
    let v: Vec<_> = pieces(0x2000, 3 * 4096).unwrap().collect();
    assert_eq!(v.len(), 3);
}

#[test]
fn xen_refusals_become_optee_answers() {
    let created = [u64::from(smc::VM_CREATED), 3, 0, 0, 0, 0, 0, 0];
    assert_eq!(answer_for(&created, XenError::EEXIST)[0], ret::OK);
    assert_eq!(answer_for(&created, XenError::ESRCH)[0], ret::ENOTAVAIL);
    let uid = [u64::from(smc::CALLS_UID), 0, 0, 0, 0, 0, 0, 9];
    assert_eq!(answer_for(&uid, XenError::ESRCH)[0], ret::ENOTAVAIL);
}

#[test]
fn a_refused_rpc_answer_is_resumed_with_xens_failed_answer() {
    let resume = [u64::from(smc::RETURN_FROM_RPC), 0x1, 0x2, 7, 0x4, 0x5, 0, 3];
    assert_eq!(
        failed_resume(&resume),
        [
            u64::from(smc::RETURN_FROM_RPC),
            0,
            0,
            7,
            0,
            0,
            xenif::hook::RPC_FAILED,
            3
        ]
    );
    let mut xen = FakeXen::new(&[3]);
    xen.refuse_answers = true;
    let mut shadow = ShadowStore::new(4);
    let r = HookPlatform {
        hook: &mut xen,
        shadow: &mut shadow,
    }
    .smc(resume);
    // The second resume reached the (simulated) secure world: its answer, not a refusal's.
    assert_eq!(r, xen.sim.smc(failed_resume(&resume)));
    let fids: Vec<_> = xen.secure_calls.iter().map(|c| c.0).collect();
    assert_eq!(fids, [smc::RETURN_FROM_RPC, smc::RETURN_FROM_RPC]);
}

#[test]
fn guests_bootarg() {
    let g = parse_guests("0:dom0:dom0_t,2:domu1:tee_guest_t,x:bad,3:plain");
    assert_eq!(g.len(), 3);
    assert_eq!(
        lookup(&g, 2),
        (String::from("domu1"), String::from("tee_guest_t"))
    );
    assert_eq!(lookup(&g, 3).1, "");
    assert_eq!(lookup(&g, 7).0, "dom7");
}

#[test]
fn ring_page_roundtrip() {
    let mem = RingMem::new();
    let page = Shared(&mem);
    use xenif::hook::RingPage;
    page.store_u32(64, 7);
    page.store_u32(72, (5 << 16) | 1);
    assert_eq!(page.load_u32(64), 7);
    let r = page.read_request(64);
    assert_eq!((r.seq, r.kind, r.domid), (7, 1, 5));
}

#[test]
fn lifecycle_and_fast_calls_through_the_server() {
    let mut xen = FakeXen::new(&[2]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = probe(&mut xen, &mut shadow, "2:domu1:tee_guest_t", false);
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(1, req::CREATED, 2, [0; 8]),
        &mut out,
    );
    assert!(xen.known.contains(&3));
    let uid = [u64::from(smc::CALLS_UID), 0, 0, 0, 0, 0, 0, 0];
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(2, req::CALL, 2, uid),
        &mut out,
    );
    let (seq, dom, x) = xen.responses[0];
    assert_eq!((seq, dom), (2, 2));
    assert_eq!(
        x[0] & 0xFFFF_FFFF,
        u64::from(mediator::abi::OPTEE_MSG_UID[0])
    );
    // Capabilities: ASYNC_NOTIF masked when notifications are off.
    let caps = [u64::from(smc::EXCHANGE_CAPABILITIES), 0, 0, 0, 0, 0, 0, 0];
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(3, req::CALL, 2, caps),
        &mut out,
    );
    let x = xen.responses[1].2;
    assert_eq!(x[0], ret::OK);
    assert_eq!(x[1] & mediator::abi::caps::SEC_ASYNC_NOTIF, 0);
    // A domain the mediator never heard of: unknown function.
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(4, req::CALL, 5, uid),
        &mut out,
    );
    assert_eq!(xen.responses[2].2[0] & 0xFFFF_FFFF, ret::UNKNOWN_FUNCTION);
    assert_eq!(s.mediator().stats(DomId::new(2).unwrap()).unwrap().calls, 2);
    let mut lines = Vec::new();
    s.print_stats(true, &mut |a| lines.push(alloc::format!("{a}")));
    assert_eq!(lines.len(), 1);
    assert!(lines[0]
        .starts_with("TSD-STATS mediator domid=2 name=domu1 label=tee_guest_t client=3 calls=2 "));
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(5, req::DESTROYED, 2, [0; 8]),
        &mut out,
    );
    assert_eq!(xen.released, [2]);
    assert!(!s.mediator().has_guest(DomId::new(2).unwrap()));
    // A replayed CREATED of a client OP-TEE already knows is accepted, and OP-TEE's RPC
    // argument cache of the client is emptied (DISABLE_SHM_CACHE until ENOTAVAIL) and enabled
    // again; a CREATED without TEE_KNOWN makes no such call.
    assert!(!xen
        .secure_calls
        .iter()
        .any(|&(f, _)| f == smc::DISABLE_SHM_CACHE));
    let _ = xen
        .sim
        .smc([u64::from(smc::VM_CREATED), 3, 0, 0, 0, 0, 0, 0]);
    xen.known.push(3);
    let mut replay = request(6, req::CREATED, 2, [0; 8]);
    replay.flags = xenif::hook::F_REPLAY | xenif::hook::F_TEE_KNOWN;
    xen.secure_calls.clear();
    handle(&mut s, &mut xen, &mut shadow, &replay, &mut out);
    assert_eq!(
        xen.secure_calls,
        [
            (smc::VM_CREATED, 0),
            (smc::DISABLE_SHM_CACHE, 3),
            (smc::ENABLE_SHM_CACHE, 3)
        ]
    );
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(7, req::CALL, 2, uid),
        &mut out,
    );
    assert_eq!(
        xen.responses[3].2[0] & 0xFFFF_FFFF,
        u64::from(mediator::abi::OPTEE_MSG_UID[0])
    );
}

/// Two standard calls of one guest in flight at once, each going through OP-TEE's RPCs (RPC
/// argument allocation, SHM_ALLOC, SHM_FREE, ...), their RPCs answered alternately: what a Linux
/// guest with two vCPUs (or one vCPU and two threads blocked in RPCs) does. Both must complete.
#[test]
fn two_interleaved_calls_with_rpcs_of_one_guest_complete() {
    use mediator::abi::{msg, split};
    use mediator::sim::world::ARG_AREA;
    use mediator::sim::{FN_SHM_RPC, SIM_TA};
    let g = DomId::new(1).unwrap();
    let mut w = mediator::sim::World::new(4, Config::default(), &[g]);
    w.exchange(g);
    let o = w.open(g, ARG_AREA, SIM_TA);
    assert_eq!((o.x0, o.ret), (0, 0), "{o:?}");
    let s = o.session;
    let a = ARG_AREA + 4096;
    let b = ARG_AREA + 2 * 4096;
    w.write_arg(g, a, msg::CMD_INVOKE_COMMAND, FN_SHM_RPC, s, &[]);
    w.write_arg(g, b, msg::CMD_INVOKE_COMMAND, FN_SHM_RPC, s, &[]);
    let start = |w: &mut mediator::sim::World, ipa: u64| {
        let (hi, lo) = split(ipa);
        w.call(g, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0])
    };
    let mut ra = start(&mut w, a);
    let mut rb = start(&mut w, b);
    for _ in 0..50 {
        let mut progressed = false;
        if ret::is_rpc(ra[0]) {
            let n = w.answer_rpc(g, &ra);
            ra = w.call(g, n);
            progressed = true;
        }
        if ret::is_rpc(rb[0]) {
            let n = w.answer_rpc(g, &rb);
            rb = w.call(g, n);
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    assert_eq!(ra[0], ret::OK, "call a: {ra:x?}");
    assert_eq!(rb[0], ret::OK, "call b: {rb:x?}");
    let oa = w.read_arg(g, a, 0);
    let ob = w.read_arg(g, b, 0);
    assert_eq!((oa.ret, ob.ret), (0, 0), "{oa:?} {ob:?}");
}

#[test]
fn async_notif_offered_only_to_guests_with_a_notification_interrupt() {
    let mut xen = FakeXen::new(&[2, 7]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = probe(&mut xen, &mut shadow, "", true);
    let caps = [u64::from(smc::EXCHANGE_CAPABILITIES), 0, 0, 0, 0, 0, 0, 0];
    for (seq, dom) in [(1, 2u16), (2, 7)] {
        handle(
            &mut s,
            &mut xen,
            &mut shadow,
            &request(seq, req::CREATED, dom, [0; 8]),
            &mut out,
        );
        handle(
            &mut s,
            &mut xen,
            &mut shadow,
            &request(seq + 10, req::CALL, dom, caps),
            &mut out,
        );
    }
    let with = xen.responses[0].2;
    let without = xen.responses[1].2;
    assert_eq!((with[0], without[0]), (ret::OK, ret::OK));
    assert_ne!(with[1] & mediator::abi::caps::SEC_ASYNC_NOTIF, 0);
    assert_eq!(without[1] & mediator::abi::caps::SEC_ASYNC_NOTIF, 0);
    assert_eq!(without[2], 0);
}

/// The destroyed line reports the pins Xen still holds for the guest after the teardown (queried
/// before `release`), not a constant: 0 after a clean teardown, 1 with a pin the core never
/// knew of (as a leak would look).
#[test]
fn destroyed_line_reports_xen_pin_count() {
    let mut xen = FakeXen::new(&[2, 3]);
    let mut shadow = ShadowStore::new(64);
    let mut s = probe(
        &mut xen,
        &mut shadow,
        "2:domu1:tee_guest_t,3:domu2:tee_guest_t",
        false,
    );
    let mut lines = Vec::new();
    let mut out = |a: core::fmt::Arguments<'_>| lines.push(alloc::format!("{a}"));
    for (seq, dom) in [(1, 2), (2, 3)] {
        handle(
            &mut s,
            &mut xen,
            &mut shadow,
            &request(seq, req::CREATED, dom, [0; 8]),
            &mut out,
        );
    }
    xen.pin(3, 0x40010).expect("pin");
    for (seq, dom) in [(3, 2), (4, 3)] {
        handle(
            &mut s,
            &mut xen,
            &mut shadow,
            &request(seq, req::DESTROYED, dom, [0; 8]),
            &mut out,
        );
    }
    let destroyed: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("TSD-INFO") && l.contains("destroyed"))
        .collect();
    assert_eq!(destroyed.len(), 2, "{lines:?}");
    assert!(
        destroyed[0].starts_with("TSD-INFO mediator guest dom2 destroyed, pinned=0 xen_pinned=0 ")
    );
    assert!(
        destroyed[1].starts_with("TSD-INFO mediator guest dom3 destroyed, pinned=0 xen_pinned=1 ")
    );
    // The final statistics line of a gone guest carries the same count.
    assert!(lines
        .iter()
        .any(|l| l.starts_with("TSD-STATS mediator domid=3 ")
            && l.contains(" pinned=1 ")
            && l.ends_with("state=destroyed")));
    assert_eq!(xen.released, [2, 3]);
}

/// `shm-cache=0`: a guest's ENABLE_SHM_CACHE is answered OK without reaching OP-TEE, so OP-TEE
/// never caches this mediator's RPC buffers across calls; a replayed CREATED then empties the
/// cache without enabling it again.
#[test]
fn shm_cache_off_keeps_optee_cache_off() {
    let mut xen = FakeXen::new(&[2]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut config = Config::default();
    config.features.async_notif = false;
    config.features.shm_cache = false;
    let mut s = probe_with(&mut xen, &mut shadow, "", config);
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(1, req::CREATED, 2, [0; 8]),
        &mut out,
    );
    xen.secure_calls.clear();
    let enable = [u64::from(smc::ENABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0];
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(2, req::CALL, 2, enable),
        &mut out,
    );
    assert_eq!(xen.responses[0].2[0], ret::OK);
    assert!(xen.secure_calls.is_empty());
    let mut replay = request(3, req::CREATED, 2, [0; 8]);
    replay.flags = xenif::hook::F_REPLAY | xenif::hook::F_TEE_KNOWN;
    handle(&mut s, &mut xen, &mut shadow, &replay, &mut out);
    assert!(xen
        .secure_calls
        .iter()
        .all(|&(f, _)| f != smc::ENABLE_SHM_CACHE));
    assert!(xen.secure_calls.contains(&(smc::DISABLE_SHM_CACHE, 3)));
}

/// A server (no notifications) with `guests` created (CREATED with sequence numbers 1, 2, ...).
/// A request for a reserved domain ID (`DOMID_SELF`, `DOMID_INVALID`…, which Xen's hook never
/// sends) reaches no guest of the core ([`DomId::new`]): a call is answered "unknown function",
/// as for any domain the mediator does not mediate, and a CREATED tells OP-TEE nothing.
#[test]
fn a_reserved_domid_is_no_guest() {
    let mut xen = FakeXen::new(&[2]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = probe(&mut xen, &mut shadow, "", false);
    let calls = xen.secure_calls.len();
    let known = xen.known.clone();
    for (seq, domid) in [(1, DomId::FIRST_RESERVED), (3, 0x7FF4), (5, u16::MAX)] {
        let rq = request(seq, req::CREATED, domid, [0; 8]);
        handle(&mut s, &mut xen, &mut shadow, &rq, &mut out);
        let uid = [u64::from(smc::CALLS_UID), 0, 0, 0, 0, 0, 0, 0];
        let rq = request(seq + 1, req::CALL, domid, uid);
        handle(&mut s, &mut xen, &mut shadow, &rq, &mut out);
        let (rseq, rdom, x) = *xen.responses.last().unwrap();
        assert_eq!((rseq, rdom), (seq + 1, domid));
        assert_eq!(x[0], ret::UNKNOWN_FUNCTION);
        assert_eq!(x[1..], uid[1..]);
    }
    assert_eq!(xen.responses.len(), 3);
    // No VM_CREATED (nor anything else) went to OP-TEE.
    assert_eq!(xen.secure_calls.len(), calls);
    assert_eq!(xen.known, known);
    let mut lines = Vec::new();
    s.print_stats(true, &mut |a| lines.push(alloc::format!("{a}")));
    assert!(lines.is_empty(), "{lines:?}");
}

fn server_with(xen: &mut FakeXen, shadow: &mut ShadowStore, guests: &[u16]) -> Server {
    let mut out = sink();
    let mut s = probe(xen, shadow, "", false);
    for (i, d) in guests.iter().enumerate() {
        let rq = request(i as u64 + 1, req::CREATED, *d, [0; 8]);
        handle(&mut s, xen, shadow, &rq, &mut out);
    }
    s
}

/// Issue 11, cause 1 at the service: a call that needs an OP-TEE thread while other guests hold
/// them all (here: OP-TEE answering the SHM cache switch EBUSY) is not answered EBUSY, which
/// Linux would wait on for a call of its own that does not exist. Its vCPU waits in Xen, other
/// calls go on, and it is answered through `respond` with its own sequence number and vCPU once
/// due (here: at the bound, `Config::thread_wait_ms`, with the event loop's periodic call).
#[test]
fn a_call_waiting_for_a_thread_is_answered_later_with_its_own_seq() {
    let mut xen = FakeXen::new(&[2, 3]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = server_with(&mut xen, &mut shadow, &[2, 3]);
    xen.optee_busy = true;
    let disable = [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0];
    let mut rq = request(3, req::CALL, 2, disable);
    rq.vcpu = 1;
    handle(&mut s, &mut xen, &mut shadow, &rq, &mut out);
    assert!(
        xen.responses.is_empty(),
        "answered EBUSY at once: {:?}",
        xen.responses
    );
    assert_eq!(s.waiting_calls(), 1);
    // Another guest's calls are served meanwhile.
    let uid = [u64::from(smc::CALLS_UID), 0, 0, 0, 0, 0, 0, 0];
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(4, req::CALL, 3, uid),
        &mut out,
    );
    assert_eq!(xen.responses.len(), 1);
    assert_eq!(xen.responses[0].0, 4);
    // The loop's periodic call: nothing due yet, then the bound.
    answer_waiting(&mut s, &mut xen, &mut shadow, &mut out);
    assert_eq!(xen.responses.len(), 1);
    xen.now_ms += mediator::config::DEFAULT_THREAD_WAIT_MS;
    answer_waiting(&mut s, &mut xen, &mut shadow, &mut out);
    assert_eq!(xen.responses.len(), 2);
    let (seq, dom, x) = xen.responses[1];
    assert_eq!((seq, dom, x[0]), (3, 2, ret::ENOTAVAIL));
    assert_eq!(xen.vcpus[1], 1);
    assert_eq!(s.waiting_calls(), 0);
    let st = s.mediator().stats(DomId::new(2).unwrap()).unwrap();
    assert_eq!(st.thread_waits, 1);
    assert_eq!(st.errors_of(mediator::GuestError::NoThread), 1);
}

/// A waiting call is tried again when an OP-TEE thread may have become free (here: another
/// guest's destruction, whose threads VM_DESTROYED gives back) and answered with what OP-TEE then
/// says; a destroyed guest's own waiting call is dropped, never answered.
#[test]
fn waiting_calls_are_retried_when_a_thread_frees_and_dropped_with_their_guest() {
    let mut xen = FakeXen::new(&[2, 3, 4]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = server_with(&mut xen, &mut shadow, &[2, 3, 4]);
    xen.optee_busy = true;
    let disable = [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0];
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(10, req::CALL, 2, disable),
        &mut out,
    );
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(11, req::CALL, 3, disable),
        &mut out,
    );
    assert_eq!(s.waiting_calls(), 2);
    assert!(xen.responses.is_empty());
    // dom3 dies: its waiting call goes with it; its threads are free again.
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(12, req::DESTROYED, 3, [0; 8]),
        &mut out,
    );
    assert_eq!(s.waiting_calls(), 1);
    xen.optee_busy = false;
    answer_waiting(&mut s, &mut xen, &mut shadow, &mut out);
    assert_eq!(s.waiting_calls(), 0);
    assert_eq!(xen.responses.len(), 1);
    let (seq, dom, x) = xen.responses[0];
    assert_eq!((seq, dom, x[0]), (10, 2, ret::ENOTAVAIL));
    let st = s.mediator().stats(DomId::new(2).unwrap()).unwrap();
    assert_eq!(
        (
            st.thread_waits,
            st.errors_of(mediator::GuestError::NoThread)
        ),
        (1, 0)
    );
}

/// hv-patches 0013: a guest's forwarded call is made by its own vCPU (an EXECUTE, whose RESULT
/// the server passes to the core), never by our secure call, unless `execute=0`; the guest gets
/// the same answer both ways, on the vCPU that called.
#[test]
fn guest_calls_are_made_by_their_own_vcpu_unless_execute_is_off() {
    let mut answers = Vec::new();
    for execute in [true, false] {
        let mut xen = FakeXen::new(&[2]);
        let mut shadow = ShadowStore::new(64);
        let mut out = sink();
        let mut s = server_with(&mut xen, &mut shadow, &[2]);
        s.set_execute(execute);
        xen.secure_calls.clear();
        let mut rq = request(
            2,
            req::CALL,
            2,
            [u64::from(smc::EXCHANGE_CAPABILITIES), 0, 0, 0, 0, 0, 0, 0],
        );
        rq.vcpu = 1;
        handle(&mut s, &mut xen, &mut shadow, &rq, &mut out);
        let made: &[(u32, u16, u64)] = if execute {
            &[(smc::EXCHANGE_CAPABILITIES, 2, 0)]
        } else {
            &[]
        };
        assert_eq!(xen.executed, made, "execute={execute}");
        // Either way OP-TEE saw the call once, with the guest's client ID.
        assert_eq!(xen.secure_calls, [(smc::EXCHANGE_CAPABILITIES, 3)]);
        assert_eq!((xen.responses.len(), xen.vcpus.as_slice()), (1, &[1][..]));
        assert_eq!(xen.responses[0].0, 2);
        answers.push(xen.responses[0].2);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][0], ret::OK);
    assert_eq!(answers[0][1] & mediator::abi::caps::SEC_ASYNC_NOTIF, 0);
}

/// A RESULT no call waits for (a sequence number never executed, another domain's, or one
/// answered already) changes nothing: no answer goes to any vCPU, and the core keeps its calls.
#[test]
fn a_result_nobody_waits_for_is_ignored() {
    let mut xen = FakeXen::new(&[2, 3]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = server_with(&mut xen, &mut shadow, &[2, 3]);
    let caps = [u64::from(smc::EXCHANGE_CAPABILITIES), 0, 0, 0, 0, 0, 0, 0];
    // The call's vCPU executes; hold its RESULT back.
    s.handle(
        &mut xen,
        &mut shadow,
        &request(10, req::CALL, 2, caps),
        &mut out,
    );
    let real = xen.results.pop_front().expect("a RESULT");
    for (seq, dom) in [(11, 2), (10, 3)] {
        let mut forged = real;
        forged.seq = seq;
        forged.domid = dom;
        s.handle(&mut xen, &mut shadow, &forged, &mut out);
    }
    assert!(xen.responses.is_empty());
    s.handle(&mut xen, &mut shadow, &real, &mut out);
    s.handle(&mut xen, &mut shadow, &real, &mut out);
    assert_eq!(xen.responses.len(), 1);
    assert_eq!((xen.responses[0].0, xen.responses[0].2[0]), (10, ret::OK));
}

/// Xen refuses an EXECUTE of a RETURN_FROM_RPC (say, the mediator's answer names a page Xen will
/// not lend): a refused resume would leave OP-TEE's thread suspended for good, so the vCPU is
/// asked to resume it again, with Xen's failed answer (x6 = RPC_FAILED), as our own secure call
/// does ([`crate::secure`]), and the guest's call goes on from OP-TEE's answer to that.
#[test]
fn a_refused_resume_is_executed_again_with_xens_failed_answer() {
    let mut xen = FakeXen::new(&[2]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = server_with(&mut xen, &mut shadow, &[2]);
    let call = invoke_in_guest_ram(&mut xen, 2);
    // OP-TEE (scripted): a foreign interrupt on thread 1, then, after the failed resume, done.
    let foreign = ret::rpc_val(ret::RPC_FUNC_FOREIGN_INTR);
    xen.script.extend([
        [foreign, 0, 0, 1, 0, 0, 0, 0],
        [ret::OK, 0, 0, 0, 0, 0, 0, 0],
    ]);
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(20, req::CALL, 2, call),
        &mut out,
    );
    assert_eq!(
        xen.responses.last().map(|r| (r.0, r.2[0], r.2[3])),
        Some((20, foreign, 1))
    );
    xen.refuse_answers = true;
    xen.executed.clear();
    let resume = [u64::from(smc::RETURN_FROM_RPC), 0, 0, 1, 0, 0, 0, 0];
    handle(
        &mut s,
        &mut xen,
        &mut shadow,
        &request(21, req::CALL, 2, resume),
        &mut out,
    );
    assert_eq!(
        xen.executed,
        [
            (smc::RETURN_FROM_RPC, 2, 0),
            (smc::RETURN_FROM_RPC, 2, xenif::hook::RPC_FAILED)
        ]
    );
    // One answer for the guest's RETURN_FROM_RPC: OP-TEE's to the failed resume.
    assert_eq!(
        xen.responses.last().map(|r| (r.0, r.2[0])),
        Some((21, ret::OK))
    );
    assert_eq!(xen.responses.len(), 2);
    assert_eq!(s.mediator().suspended_calls(DomId::new(2).unwrap()), 0);
}

/// hv-patches 0015: after a foreign interrupt Xen gave the guest itself, Xen resumes the thread
/// on the guest's RETURN_FROM_RPC, from any vCPU; refused (`F_DIRECT`, the thread in x3), that
/// thread is still suspended, so the server has the resuming vCPU make the failed resume, not
/// whatever it executed last (here: the call's CALL_WITH_ARG).
#[test]
fn a_refused_direct_resume_is_made_again_with_xens_failed_answer_on_the_resuming_vcpu() {
    let mut xen = FakeXen::new(&[2]);
    let mut shadow = ShadowStore::new(64);
    let mut out = sink();
    let mut s = server_with(&mut xen, &mut shadow, &[2]);
    let call = invoke_in_guest_ram(&mut xen, 2);
    s.handle(
        &mut xen,
        &mut shadow,
        &request(30, req::CALL, 2, call),
        &mut out,
    );
    // Xen gave the guest a foreign interrupt itself and refused its own resume on vCPU 1.
    let mut refused = xen.results.pop_front().expect("the RESULT of the call");
    refused.flags = xenif::hook::F_DIRECT;
    refused.status = -XenError::EBUSY.0;
    refused.vcpu = 1;
    refused.x = [0, 0, 0, 1, 0, 0, 0, 0];
    xen.executed.clear();
    xen.script.push_back([ret::OK, 0, 0, 0, 0, 0, 0, 0]);
    handle(&mut s, &mut xen, &mut shadow, &refused, &mut out);
    assert_eq!(
        xen.executed,
        [(smc::RETURN_FROM_RPC, 2, xenif::hook::RPC_FAILED)]
    );
    assert_eq!(
        xen.responses.last().map(|r| (r.0, r.2[0])),
        Some((30, ret::OK))
    );
    assert_eq!(xen.vcpus.last(), Some(&1));
}

/// An INVOKE_COMMAND argument without parameters at the start of guest `dom`'s RAM, and the
/// CALL_WITH_ARG that names it.
fn invoke_in_guest_ram(xen: &mut FakeXen, dom: u16) -> [u64; 8] {
    use mediator::abi::{msg, split, MsgArg};
    let arg = 0x4000_0000u64;
    let mut page = [0u8; 4096];
    MsgArg::new(&mut page, 0).set_cmd(msg::CMD_INVOKE_COMMAND);
    xen.sim
        .mem
        .poke(did(dom), arg, &page[..msg::arg_size(0).unwrap()]);
    let (hi, lo) = split(arg);
    [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]
}

/// A TMEM buffer of `pages` pages of guest `dom` (from the 17th page of its RAM, page list in
/// the second) registered with REGISTER_SHM as cookie 0x77 (`cmd` = `CMD_REGISTER_SHM`), or
/// the cookie unregistered (`CMD_UNREGISTER_SHM`): the CALL_WITH_ARG that names the argument
/// at the start of its RAM, OP-TEE's answer (the fake's script: the simulator cannot read our
/// shadow pages) queued as OK.
fn shm_call_in_guest_ram(xen: &mut FakeXen, dom: u16, cmd: u32, pages: u64) -> [u64; 8] {
    use mediator::abi::{msg, split, MsgArg, Param};
    let (arg, list, data) = (0x4000_0000u64, 0x4000_1000u64, 0x4001_0000u64);
    let param = if cmd == msg::CMD_REGISTER_SHM {
        let mut page = [0u8; 4096];
        for i in 0..pages as usize {
            page[i * 8..i * 8 + 8].copy_from_slice(&(data + i as u64 * 4096).to_le_bytes());
        }
        xen.sim.mem.poke(did(dom), list, &page);
        Param {
            attr: msg::ATTR_TYPE_TMEM_INOUT | msg::ATTR_NONCONTIG,
            a: list,
            b: pages * 4096,
            c: 0x77,
        }
    } else {
        Param {
            attr: msg::ATTR_TYPE_RMEM_INPUT,
            a: 0,
            b: 0,
            c: 0x77,
        }
    };
    let mut page = [0u8; 4096];
    let mut m = MsgArg::new(&mut page, 0);
    m.set_cmd(cmd);
    m.set_num_params(1);
    m.set_param(0, param);
    xen.sim
        .mem
        .poke(did(dom), arg, &page[..msg::arg_size(1).unwrap()]);
    xen.script.push_back([ret::OK, 0, 0, 0, 0, 0, 0, 0]);
    let (hi, lo) = split(arg);
    [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]
}

/// Issue 13 item 3: a 16-page REGISTER_SHM and its UNREGISTER_SHM cost one `pin_list` and one
/// `unpin_list` hypercall (hv-patches 0018), no single pin or unpin; with Xen stopping every 5
/// entries (preemption) the list is resumed where Xen stopped, and still nothing is pinned
/// singly.
#[test]
fn a_16_page_registration_and_unregistration_make_two_list_hypercalls() {
    use mediator::abi::msg;
    use xenif::hook::op;
    for (preempt, pin_calls) in [
        (None, vec![(op::PIN_LIST, 16)]),
        (
            Some(5),
            vec![
                (op::PIN_LIST, 16),
                (op::PIN_LIST, 11),
                (op::PIN_LIST, 6),
                (op::PIN_LIST, 1),
            ],
        ),
    ] {
        let mut xen = FakeXen::new(&[2]);
        let mut shadow = ShadowStore::new(64);
        let mut out = sink();
        let mut s = server_with(&mut xen, &mut shadow, &[2]);
        xen.preempt_after = preempt;
        xen.single_pins = 0;
        xen.list_calls.clear();
        let reg = shm_call_in_guest_ram(&mut xen, 2, msg::CMD_REGISTER_SHM, 16);
        handle(
            &mut s,
            &mut xen,
            &mut shadow,
            &request(2, req::CALL, 2, reg),
            &mut out,
        );
        assert_eq!(
            xen.responses.last().map(|r| (r.0, r.2[0])),
            Some((2, ret::OK))
        );
        assert_eq!(xen.pinned(2), Ok(16));
        assert_eq!(
            s.mediator()
                .stats(DomId::new(2).unwrap())
                .unwrap()
                .pinned_pages,
            16
        );
        assert_eq!(xen.list_calls, pin_calls, "preempt {preempt:?}");
        xen.list_calls.clear();
        let unreg = shm_call_in_guest_ram(&mut xen, 2, msg::CMD_UNREGISTER_SHM, 16);
        handle(
            &mut s,
            &mut xen,
            &mut shadow,
            &request(3, req::CALL, 2, unreg),
            &mut out,
        );
        assert_eq!(
            xen.responses.last().map(|r| (r.0, r.2[0])),
            Some((3, ret::OK))
        );
        assert_eq!(xen.pinned(2), Ok(0));
        let unpins = xen
            .list_calls
            .iter()
            .filter(|c| c.0 == op::UNPIN_LIST)
            .count();
        assert_eq!(unpins, if preempt.is_some() { 4 } else { 1 });
        assert!(xen.list_calls.iter().all(|c| c.0 == op::UNPIN_LIST));
        assert_eq!(xen.single_pins, 0, "single pins or unpins");
    }
}

/// A page of the 16 that Xen refuses to pin: the pages before it are pinned in the first entry
/// into Xen, the refusal is learnt by the next, those pages are unpinned in one `unpin_list`,
/// each once, OP-TEE never sees the registration and Xen holds nothing for the guest.
#[test]
fn a_page_xen_refuses_in_a_pin_list_unpins_the_pages_before_it_once() {
    use mediator::abi::msg;
    use xenif::hook::op;
    for k in [0u64, 1, 9, 15] {
        let mut xen = FakeXen::new(&[2]);
        let mut shadow = ShadowStore::new(64);
        let mut out = sink();
        let mut s = server_with(&mut xen, &mut shadow, &[2]);
        xen.sim
            .mem
            .inject_pin_failure(DomId::new(2).unwrap(), 0x4001_0000 + k * 4096);
        xen.single_pins = 0;
        xen.list_calls.clear();
        xen.executed.clear();
        let reg = shm_call_in_guest_ram(&mut xen, 2, msg::CMD_REGISTER_SHM, 16);
        handle(
            &mut s,
            &mut xen,
            &mut shadow,
            &request(2, req::CALL, 2, reg),
            &mut out,
        );
        let k = k as usize;
        let mut want = vec![(op::PIN_LIST, 16)];
        if k > 0 {
            want.extend([(op::PIN_LIST, 16 - k), (op::UNPIN_LIST, k)]);
        }
        assert_eq!(xen.list_calls, want, "page {k}");
        assert_eq!(xen.pinned(2), Ok(0), "page {k}");
        assert_eq!(xen.sim.mem.bad_unpins, 0);
        assert_eq!(xen.single_pins, 0);
        assert!(xen.executed.is_empty(), "OP-TEE saw {:?}", xen.executed);
        assert_eq!(
            s.mediator()
                .stats(DomId::new(2).unwrap())
                .unwrap()
                .pinned_pages,
            0
        );
    }
}

/// Xen's security server as the stub domain reaches it ([`crate::flask::FlaskOps`]): contexts
/// and their SIDs, `tee open_session` rules between SIDs, the policy's sequence number, and the
/// queries made. Clones share one state, as the core's server and the labels do.
#[derive(Clone, Default)]
struct FakeFlask(std::sync::Arc<std::sync::Mutex<FlaskState>>);

#[derive(Default)]
struct FlaskState {
    /// SID - 1 → context.
    contexts: Vec<String>,
    /// (source SID, target SID) allowed `open_session`.
    open: std::collections::BTreeSet<(u32, u32)>,
    seqno: u32,
    /// `FLASK_ACCESS` queries.
    av_queries: usize,
}

impl FakeFlask {
    /// The product's shape: TEE guests open every TA the policy does not name (`tee_ta_t`),
    /// the invoke-tests PTA has a type of its own that only `tee_test_guest_t` opens.
    fn product() -> FakeFlask {
        let f = FakeFlask::default();
        {
            let mut s = f.0.lock().unwrap();
            s.seqno = 1;
            for c in [
                "system_u:system_r:tee_guest_t",
                "system_u:system_r:tee_test_guest_t",
                mediator::access::TA_DEFAULT_CONTEXT,
                "system_u:object_r:tee_invoke_tests_pta_t",
            ] {
                s.contexts.push(c.into());
            }
            s.open.extend([(1, 3), (2, 3), (2, 4)]);
        }
        f
    }
    fn allow(&self, source: u32, target: u32) {
        let mut s = self.0.lock().unwrap();
        s.open.insert((source, target));
        // A policy load: a new sequence number.
        s.seqno += 1;
    }
    fn av_queries(&self) -> usize {
        self.0.lock().unwrap().av_queries
    }
}

impl crate::flask::FlaskOps for FakeFlask {
    fn context_to_sid(&mut self, context: &str) -> XenResult<u32> {
        let s = self.0.lock().unwrap();
        // The invoke-tests PTA by its alias (tee_ta() in xsm-policy/product/tee_ta.if).
        let alias = alloc::format!(
            "system_u:object_r:{}",
            mediator::access::ta_type_name(&INVOKE_TESTS).as_str()
        );
        let context = if context == alias {
            "system_u:object_r:tee_invoke_tests_pta_t"
        } else {
            context
        };
        let i = s.contexts.iter().position(|c| c == context);
        i.map(|i| i as u32 + 1).ok_or(XenError::EINVAL)
    }
    fn sid_to_context<'b>(&mut self, sid: u32, buf: &'b mut [u8]) -> XenResult<&'b str> {
        let s = self.0.lock().unwrap();
        let c = s
            .contexts
            .get((sid as usize).wrapping_sub(1))
            .ok_or(XenError::EINVAL)?;
        let b = buf.get_mut(..c.len()).ok_or(XenError::ERANGE)?;
        b.copy_from_slice(c.as_bytes());
        Ok(core::str::from_utf8(b).unwrap())
    }
    fn access(
        &mut self,
        ssid: u32,
        tsid: u32,
        tclass: u16,
        _req: u32,
    ) -> XenResult<mediator::access::AccessVector> {
        let mut s = self.0.lock().unwrap();
        s.av_queries += 1;
        assert_eq!(tclass, mediator::access::SECCLASS_TEE);
        let n = s.contexts.len() as u32;
        if ssid == 0 || ssid > n || tsid == 0 || tsid > n {
            return Err(XenError::EINVAL);
        }
        let allowed = if s.open.contains(&(ssid, tsid)) {
            mediator::access::TEE__OPEN_SESSION
        } else {
            0
        };
        Ok(mediator::access::AccessVector {
            allowed,
            seqno: s.seqno,
        })
    }
    fn getenforce(&mut self) -> XenResult<bool> {
        Ok(true)
    }
}

/// Xen without FLASK: `FLASK_GETENFORCE` is `ENOSYS`, and so is everything else.
#[derive(Clone)]
struct NoFlask;

impl crate::flask::FlaskOps for NoFlask {
    fn context_to_sid(&mut self, _context: &str) -> XenResult<u32> {
        Err(XenError::ENOSYS)
    }
    fn sid_to_context<'b>(&mut self, _sid: u32, _buf: &'b mut [u8]) -> XenResult<&'b str> {
        Err(XenError::ENOSYS)
    }
    fn access(
        &mut self,
        _: u32,
        _: u32,
        _: u16,
        _: u32,
    ) -> XenResult<mediator::access::AccessVector> {
        Err(XenError::ENOSYS)
    }
    fn getenforce(&mut self) -> XenResult<bool> {
        Err(XenError::ENOSYS)
    }
}

/// OP-TEE's invoke-tests PTA, d96a5b40-c3e5-21e3-8794-1002a5d5c61b (`pta_invoke_tests.h`).
const INVOKE_TESTS: mediator::TaUuid = mediator::TaUuid([
    0xd9, 0x6a, 0x5b, 0x40, 0xc3, 0xe5, 0x21, 0xe3, 0x87, 0x94, 0x10, 0x02, 0xa5, 0xd5, 0xc6, 0x1b,
]);

/// An OPEN_SESSION of `uuid` (public login) at the start of guest `dom`'s RAM, and the
/// CALL_WITH_ARG that names it; OP-TEE's answer, if the call reaches it, queued as OK.
fn open_in_guest_ram(xen: &mut FakeXen, dom: u16, uuid: &mediator::TaUuid) -> [u64; 8] {
    use mediator::abi::{msg, split, MsgArg, Param};
    let arg = 0x4000_0000u64;
    let (a, b) = uuid.to_words();
    let meta = msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META;
    let mut page = [0u8; 4096];
    let mut m = MsgArg::new(&mut page, 0);
    m.set_cmd(msg::CMD_OPEN_SESSION);
    m.set_num_params(2);
    m.set_param(
        0,
        Param {
            attr: meta,
            a,
            b,
            c: 0,
        },
    );
    m.set_param(
        1,
        Param {
            attr: meta,
            a: 0,
            b: 0,
            c: 0,
        },
    );
    xen.sim.mem.poke(
        DomId::new(dom).unwrap(),
        arg,
        &page[..msg::arg_size(2).unwrap()],
    );
    xen.script.clear();
    xen.script.push_back([ret::OK, 0, 0, 0, 0, 0, 0, 0]);
    let (hi, lo) = split(arg);
    [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]
}

/// Guest `dom` opens `uuid` as call `seq`: whether the call reached OP-TEE (a vCPU executed
/// it), and the answer's x0, `ret` and `ret_origin` as the guest reads them.
fn open_session(
    s: &mut Server,
    xen: &mut FakeXen,
    shadow: &mut ShadowStore,
    dom: u16,
    seq: u64,
    uuid: &mediator::TaUuid,
) -> (bool, u64, u32, u32) {
    use mediator::abi::MsgArg;
    let x = open_in_guest_ram(xen, dom, uuid);
    let executed = xen.executed.len();
    handle(
        s,
        xen,
        shadow,
        &request(seq, req::CALL, dom, x),
        &mut sink(),
    );
    let reached = xen.executed.len() > executed;
    let (_, d, answer) = *xen.responses.last().unwrap();
    assert_eq!(d, dom);
    let mut page = [0u8; 4096];
    assert!(xen
        .sim
        .mem
        .peek(DomId::new(dom).unwrap(), 0x4000_0000, &mut page));
    let m = MsgArg::new(&mut page, 0);
    (reached, answer[0], m.ret(), m.ret_origin())
}

const DENIED: (bool, u64, u32, u32) = (
    false,
    ret::OK,
    mediator::abi::teec::ERROR_ACCESS_DENIED,
    mediator::abi::teec::ORIGIN_COMMS,
);
const OPENED: (bool, u64, u32, u32) = (true, ret::OK, 0, 0);

/// Issue 14: guests announced with their FLASK SIDs (CREATED's x[0], hv-patches 0019) are
/// labelled with their context's type, whatever `guests=` says, and their OPEN_SESSIONs are
/// decided by the policy: the invoke-tests PTA denied to `tee_guest_t` (ACCESS_DENIED, origin
/// COMMS, no secure call; `err_denied=` in its statistics) and opened by `tee_test_guest_t`.
/// A policy load that allows it reaches the cached decision through the periodic probe.
#[test]
fn flask_decides_ta_access_by_the_sid_xen_announces() {
    let mut xen = FakeXen::new(&[2, 3]);
    let mut shadow = ShadowStore::new(64);
    let mut lines: Vec<String> = Vec::new();
    // guests= claims the test label for dom2: Xen's label wins.
    let mut s = probe(
        &mut xen,
        &mut shadow,
        "2:domu1:tee_test_guest_t,3:domu2",
        false,
    );
    let flask = FakeFlask::product();
    assert_eq!(s.enable_flask(flask.clone()), Ok(Some(1)));
    for (seq, dom, sid) in [(1, 2, 1), (2, 3, 2)] {
        let rq = request(seq, req::CREATED, dom, [sid, 0, 0, 0, 0, 0, 0, 0]);
        handle(&mut s, &mut xen, &mut shadow, &rq, &mut |a| {
            lines.push(alloc::format!("{a}"))
        });
    }
    let mismatch: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("guests= says"))
        .collect();
    assert_eq!(mismatch.len(), 1, "{lines:?}");
    assert!(
        mismatch[0]
            .contains("dom2 guests= says label tee_test_guest_t, Xen's SID 1 says tee_guest_t"),
        "{lines:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l.ends_with("guest dom2 (domu1, tee_guest_t) created: Ok(()) (FLASK SID 1)")));
    assert!(
        lines
            .iter()
            .any(|l| l
                .ends_with("guest dom3 (domu2, tee_test_guest_t) created: Ok(()) (FLASK SID 2)"))
    );

    // Denied to tee_guest_t without a secure call; opened by tee_test_guest_t.
    let o = open_session(&mut s, &mut xen, &mut shadow, 2, 10, &INVOKE_TESTS);
    assert_eq!(o, DENIED);
    let o = open_session(&mut s, &mut xen, &mut shadow, 3, 11, &INVOKE_TESTS);
    assert_eq!(o, OPENED);
    // A TA the policy does not name (tee_ta_t): opened by both.
    let other = mediator::TaUuid([7; 16]);
    let o = open_session(&mut s, &mut xen, &mut shadow, 2, 12, &other);
    assert_eq!(o, OPENED);

    // The statistics: Xen's label, the denial counted.
    let mut stats = Vec::new();
    s.print_stats(true, &mut |a| stats.push(alloc::format!("{a}")));
    let dom2 = stats.iter().find(|l| l.contains(" domid=2 ")).unwrap();
    assert!(dom2.contains(" name=domu1 label=tee_guest_t "), "{dom2}");
    assert!(dom2.contains(" ta_permissive=0 "), "{dom2}");
    assert!(dom2.ends_with(" err_denied=1"), "{dom2}");
    let dom3 = stats.iter().find(|l| l.contains(" domid=3 ")).unwrap();
    assert!(dom3.contains(" label=tee_test_guest_t "), "{dom3}");
    assert!(!dom3.contains("err_denied"), "{dom3}");

    // A policy load allows it: the cached denial stands until the probe sees the new number.
    flask.allow(1, 4);
    let q = flask.av_queries();
    assert_eq!(
        open_session(&mut s, &mut xen, &mut shadow, 2, 13, &INVOKE_TESTS),
        DENIED
    );
    assert_eq!(flask.av_queries(), q, "answered from the cache");
    assert_eq!(s.probe_policy(), Some(2));
    assert_eq!(
        open_session(&mut s, &mut xen, &mut shadow, 2, 14, &INVOKE_TESTS),
        OPENED
    );
    assert_eq!(
        s.mediator()
            .stats(DomId::new(2).unwrap())
            .unwrap()
            .errors_of(mediator::GuestError::AccessDenied),
        2
    );
    let mut access = Vec::new();
    s.print_access_stats(&mut |a| access.push(alloc::format!("{a}")));
    assert_eq!(access.len(), 1);
    assert!(
        access[0].starts_with("TSD-INFO mediator flask decisions=5 "),
        "{access:?}"
    );
    // Unchanged counters: no second line.
    s.print_access_stats(&mut |a| access.push(alloc::format!("{a}")));
    assert_eq!(access.len(), 1);
}

/// Without FLASK (`FLASK_GETENFORCE` is `ENOSYS`, Xen announces SID 0) nothing changes: no
/// security server, `guests=`' labels, every OPEN_SESSION forwarded. With FLASK, a guest
/// announced without a usable SID (0, or a value wider than 32 bits: a Xen without hv-patches
/// 0019, or a bad announcement) is not asked of the policy and opens nothing (fail closed).
#[test]
fn without_flask_guests_behave_as_before_and_without_a_sid_under_flask_open_nothing() {
    let mut xen = FakeXen::new(&[2, 3]);
    let mut shadow = ShadowStore::new(64);
    let mut s = probe(&mut xen, &mut shadow, "2:domu1:tee_guest_t", false);
    assert_eq!(s.enable_flask(NoFlask), Err(XenError::ENOSYS));
    assert!(!s.flask_enabled());
    let mut lines: Vec<String> = Vec::new();
    // Even a stray x[0] is not read without FLASK.
    let rq = request(1, req::CREATED, 2, [5, 0, 0, 0, 0, 0, 0, 0]);
    handle(&mut s, &mut xen, &mut shadow, &rq, &mut |a| {
        lines.push(alloc::format!("{a}"))
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with("guest dom2 (domu1, tee_guest_t) created: Ok(())"));
    assert_eq!(
        open_session(&mut s, &mut xen, &mut shadow, 2, 2, &INVOKE_TESTS),
        OPENED
    );
    assert_eq!(s.mediator().access_stats(), None);

    // FLASK, but CREATED without a SID: as before, said once.
    let mut xen = FakeXen::new(&[2, 3]);
    let mut s = probe(&mut xen, &mut shadow, "2:domu1:tee_guest_t", false);
    let flask = FakeFlask::product();
    assert!(s.enable_flask(flask.clone()).is_ok());
    let mut lines: Vec<String> = Vec::new();
    for (seq, dom, x0) in [(1, 2, 0), (2, 3, (1u64 << 32) | 1)] {
        let rq = request(seq, req::CREATED, dom, [x0, 0, 0, 0, 0, 0, 0, 0]);
        handle(&mut s, &mut xen, &mut shadow, &rq, &mut |a| {
            lines.push(alloc::format!("{a}"))
        });
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("announced without a FLASK SID"))
            .count(),
        2,
        "{lines:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l.ends_with("guest dom2 (domu1, tee_guest_t) created: Ok(())")));
    let q = flask.av_queries();
    for (dom, seq) in [(2, 3), (3, 4)] {
        assert_eq!(
            open_session(&mut s, &mut xen, &mut shadow, dom, seq, &INVOKE_TESTS),
            DENIED
        );
    }
    assert_eq!(flask.av_queries(), q, "no query for guests without a SID");
}
