//! A test world: a mediator, a simulated platform, and guests that behave
//! like a (minimal) Linux OP-TEE driver, with helpers to build arguments,
//! page lists and RPC answers in guest memory. Used by the unit tests, the
//! property tests, the fuzz target and the benchmark.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::SimPlatform;
use crate::abi::{caps, msg, regpair, ret, rpc, smc, split, MsgArg, Param, PAGE_SIZE};
use crate::config::Config;
use crate::mediator::{Mediator, Reply, Step};
use crate::platform::SecureWorld;
use crate::types::{ClientId, DomId, Regs, TaUuid};

/// Guest RAM base (IPA) in every simulated guest.
pub const RAM: u64 = 0x4000_0000;
/// Pages of RAM per guest.
pub const RAM_PAGES: u64 = 1024;
/// Argument pages live in the first 16 pages.
pub const ARG_AREA: u64 = RAM;
/// Page lists live in pages 16..64.
pub const LIST_AREA: u64 = RAM + 16 * 4096;
/// Data buffers live in pages 64..512.
pub const DATA_AREA: u64 = RAM + 64 * 4096;
/// RPC buffers and driver allocations from page 512 on.
pub const DRIVER_AREA: u64 = RAM + 512 * 4096;

/// A guest's driver-side state.
#[derive(Debug, Default)]
pub struct GuestDriver {
    /// Next page the driver hands out (RPC buffers, SHM_ALLOC).
    pub next_page: u64,
    next_cookie: u64,
    /// RPC argument buffers by cookie (guest IPA).
    pub rpc_pages: BTreeMap<u64, u64>,
    /// SHM_ALLOC buffers by cookie (data IPA).
    pub shm: BTreeMap<u64, u64>,
    /// SHM_FREE requests received (cookies).
    pub freed: Vec<u64>,
    /// RPC commands received, in order.
    pub cmds: Vec<u32>,
    /// Time answered to GET_TIME.
    pub time: (u64, u64),
}

/// Mediator + platform + guest drivers.
#[derive(Debug)]
pub struct World {
    /// The mediator under test.
    pub m: Mediator,
    /// The simulated platform.
    pub p: SimPlatform,
    /// Guest drivers.
    pub drivers: BTreeMap<DomId, GuestDriver>,
    /// The clock [`Mediator::submit`] and [`Mediator::next_answer`] get, in
    /// milliseconds (tests move it).
    pub now_ms: u64,
    /// Drive calls through the step API ([`Mediator::start`],
    /// [`Mediator::result`], [`Mediator::next_step`]) as the stub domain
    /// does, with the checks of [`World::drive`], instead of
    /// [`Mediator::submit`] and [`Mediator::next_answer`].
    pub steps: bool,
}

/// A guest's view of a completed call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// x0 of the final answer.
    pub x0: u64,
    /// `ret` read back from the guest's argument.
    pub ret: u32,
    /// `ret_origin`.
    pub origin: u32,
    /// `session`.
    pub session: u32,
    /// Parameters read back.
    pub params: Vec<Param>,
    /// RPCs the guest handled on the way.
    pub rpcs: u32,
}

impl World {
    /// An OP-TEE with `threads` threads, the guests created with label
    /// "default", and the mediator probed.
    pub fn new(threads: usize, config: Config, guests: &[DomId]) -> World {
        let mut p = SimPlatform::new(threads);
        for g in guests {
            p.mem.add_guest(*g, RAM, RAM_PAGES);
        }
        let m = match Mediator::probe(config, &mut p) {
            Ok(m) => m,
            Err(_) => Mediator::new(Config::default(), threads),
        };
        let mut w = World {
            m,
            p,
            drivers: BTreeMap::new(),
            now_ms: 0,
            steps: false,
        };
        for g in guests {
            w.add(*g, "default");
        }
        w
    }

    /// Creates guest `dom` in the mediator and its driver (memory must
    /// exist).
    pub fn add(&mut self, dom: DomId, label: &str) -> bool {
        self.add_as(dom, label, None)
    }

    /// [`World::add`] for a guest announced with its FLASK SID.
    pub fn add_as(&mut self, dom: DomId, label: &str, sid: Option<crate::Sid>) -> bool {
        self.drivers.insert(
            dom,
            GuestDriver {
                next_page: DRIVER_AREA,
                next_cookie: 0x1000 * (u64::from(dom.raw()) + 1),
                ..GuestDriver::default()
            },
        );
        self.m
            .guest_created_with_sid(&mut self.p, dom, label, sid)
            .is_ok()
    }

    /// One trapped call, answered at once (as the product does it, through
    /// [`Mediator::submit`]). Panics if the mediator keeps it waiting for an
    /// OP-TEE thread: tests of that use [`World::submit`].
    pub fn call(&mut self, dom: DomId, regs: Regs) -> Regs {
        match self.submit(dom, 0, regs) {
            Reply::Now(r) => r,
            Reply::Held => panic!("the call of {dom:?} waits for an OP-TEE thread"),
        }
    }

    /// One trapped call with the vCPU tag `tag`, which may be kept waiting.
    pub fn submit(&mut self, dom: DomId, tag: u64, regs: Regs) -> Reply {
        if self.steps {
            let step = self.m.start(&mut self.p, dom, tag, regs, self.now_ms);
            return self.drive(dom, tag, step);
        }
        self.m.submit(&mut self.p, dom, tag, regs, self.now_ms)
    }

    /// The answers of waiting calls that are due now ([`Mediator::next_answer`]).
    pub fn answers(&mut self) -> Vec<(DomId, u64, Regs)> {
        let mut v = Vec::new();
        if self.steps {
            while let Some((dom, tag, step)) = self.m.next_step(&mut self.p, self.now_ms) {
                if let Reply::Now(x) = self.drive(dom, tag, step) {
                    v.push((dom, tag, x));
                }
            }
            return v;
        }
        while let Some(a) = self.m.next_answer(&mut self.p, self.now_ms) {
            v.push(a);
        }
        v
    }

    /// Drives `dom`'s call `tag` from `step` as the stub domain and Xen do:
    /// each [`Step::Execute`] made as a secure call with the guest's client
    /// ID, x4-x7 of OP-TEE's answer dropped (Xen passes x0-x3), and given to
    /// [`Mediator::result`]. Before each secure call, results with a wrong
    /// tag or for another guest are offered and must be refused.
    pub fn drive(&mut self, dom: DomId, tag: u64, mut step: Step) -> Reply {
        loop {
            let r = match step {
                Step::Return(x) => return Reply::Now(x),
                Step::Held => return Reply::Held,
                Step::Execute(r) => r,
            };
            assert_eq!(
                r[7],
                ClientId::of(dom).raw(),
                "a secure call without the guest's ID"
            );
            assert!(self.m.executing_calls_of(dom) > 0);
            // Another domain (none after the last one).
            let other = DomId::new(dom.raw().wrapping_add(1));
            for (d, t) in [(Some(dom), tag.wrapping_add(1)), (other, tag)] {
                let Some(d) = d else { continue };
                let forged = self.m.result(&mut self.p, d, t, [0; 8], self.now_ms);
                assert_eq!(forged, None, "a forged result was taken");
            }
            let res = self.p.smc(r);
            let res = [res[0], res[1], res[2], res[3], 0, 0, 0, 0];
            let Some(next) = self.m.result(&mut self.p, dom, tag, res, self.now_ms) else {
                panic!("the result of {dom:?}'s call {tag} was refused");
            };
            step = next;
        }
    }

    /// A fast call with only a0.
    pub fn fast(&mut self, dom: DomId, fid: u32) -> Regs {
        self.call(dom, [u64::from(fid), 0, 0, 0, 0, 0, 0, 0])
    }

    /// EXCHANGE_CAPABILITIES as Linux does it.
    pub fn exchange(&mut self, dom: DomId) -> Regs {
        self.call(
            dom,
            [
                u64::from(smc::EXCHANGE_CAPABILITIES),
                caps::NSEC_UNIPROCESSOR,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
        )
    }

    /// Writes a `struct optee_msg_arg` at `ipa` of `dom`.
    pub fn write_arg(
        &mut self,
        dom: DomId,
        ipa: u64,
        cmd: u32,
        func: u32,
        session: u32,
        params: &[Param],
    ) {
        let mut page = [0u8; PAGE_SIZE];
        let n = params.len().min(127);
        {
            let mut m = MsgArg::new(&mut page, 0);
            m.set_cmd(cmd);
            m.set_session(session);
            m.set_num_params(n as u32);
            for (i, p) in params.iter().take(n).enumerate() {
                m.set_param(i, *p);
            }
        }
        crate::abi::write_u32(&mut page, 4, func);
        let size = msg::arg_size(n as u32).unwrap_or(32);
        self.p.mem.poke(dom, ipa, &page[..size]);
    }

    /// Reads back the result fields of the argument at `ipa`.
    pub fn read_arg(&mut self, dom: DomId, ipa: u64, n: usize) -> Outcome {
        let mut page = [0u8; PAGE_SIZE];
        let size = msg::arg_size(n as u32).unwrap_or(32).min(PAGE_SIZE);
        self.p.mem.peek(dom, ipa, &mut page[..size]);
        let m = MsgArg::new(&mut page, 0);
        Outcome {
            x0: 0,
            ret: m.ret(),
            origin: m.ret_origin(),
            session: m.session(),
            params: (0..n).map(|i| m.param(i)).collect(),
            rpcs: 0,
        }
    }

    /// Writes a page list at `list` describing `pages` consecutive pages
    /// from `data` (page aligned), chaining list pages as needed; returns
    /// the number of list pages used.
    pub fn write_page_list(&mut self, dom: DomId, list: u64, data: u64, pages: u64) -> u64 {
        let mut left = pages;
        let mut lp = list;
        let mut d = data;
        let mut used = 0;
        loop {
            used += 1;
            let mut page = [0u8; PAGE_SIZE];
            let n = left.min(msg::PAGELIST_ENTRIES as u64);
            for j in 0..n as usize {
                crate::abi::write_u64(&mut page, j * 8, d);
                d += 4096;
            }
            left -= n;
            let next = lp + 4096;
            if left > 0 {
                crate::abi::write_u64(&mut page, msg::PAGELIST_ENTRIES * 8, next);
            }
            self.p.mem.poke(dom, lp, &page);
            if left == 0 {
                return used;
            }
            lp = next;
        }
    }

    /// A TMEM NONCONTIG parameter for `size` bytes at `data` (any offset in
    /// its page), writing its page list at `list`.
    pub fn tmem(
        &mut self,
        dom: DomId,
        ty: u64,
        list: u64,
        data: u64,
        size: u64,
        cookie: u64,
    ) -> Param {
        let offset = data & 0xfff;
        let data = data & !0xfff;
        let pages = (size + offset).div_ceil(4096);
        self.write_page_list(dom, list, data, pages);
        Param {
            attr: ty | msg::ATTR_NONCONTIG,
            a: list + offset,
            b: size,
            c: cookie,
        }
    }

    /// The META parameters of OPEN_SESSION for `uuid`.
    pub fn open_params(uuid: TaUuid) -> [Param; 2] {
        let (a, b) = uuid.to_words();
        [
            Param {
                attr: msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META,
                a,
                b,
                c: 0,
            },
            Param {
                attr: msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META,
                a: 0,
                b: 0,
                c: 0,
            },
        ]
    }

    /// Starts CALL_WITH_ARG for the argument at `ipa` and drives it to
    /// completion like a guest driver (answering every RPC).
    pub fn run(&mut self, dom: DomId, ipa: u64, n: usize) -> Outcome {
        let (hi, lo) = split(ipa);
        let r = self.call(dom, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
        self.finish(dom, ipa, n, r)
    }

    /// Drives a call whose last answer was `r` to completion.
    pub fn finish(&mut self, dom: DomId, ipa: u64, n: usize, mut r: Regs) -> Outcome {
        let mut rpcs = 0;
        while ret::is_rpc(r[0]) && rpcs < 100 {
            rpcs += 1;
            let next = self.answer_rpc(dom, &r);
            r = self.call(dom, next);
        }
        let mut o = self.read_arg(dom, ipa, n);
        o.x0 = r[0];
        o.rpcs = rpcs;
        o
    }

    /// The guest driver's RETURN_FROM_RPC for the RPC in `r`.
    pub fn answer_rpc(&mut self, dom: DomId, r: &Regs) -> Regs {
        let rfr = u64::from(smc::RETURN_FROM_RPC);
        let drv = self.drivers.entry(dom).or_default();
        match ret::rpc_func(r[0]) {
            ret::RPC_FUNC_ALLOC => {
                let page = drv.next_page;
                drv.next_page += 4096;
                drv.next_cookie += 1;
                let cookie = drv.next_cookie;
                drv.rpc_pages.insert(cookie, page);
                let (hi, lo) = split(page);
                let (chi, clo) = split(cookie);
                [rfr, hi, lo, r[3], chi, clo, 0, 0]
            }
            ret::RPC_FUNC_FREE => {
                drv.rpc_pages.remove(&regpair(r[1], r[2]));
                [rfr, 0, 0, r[3], 0, 0, 0, 0]
            }
            ret::RPC_FUNC_CMD => {
                let page = drv.rpc_pages.get(&regpair(r[1], r[2])).copied();
                if let Some(page) = page {
                    self.answer_rpc_cmd(dom, page);
                }
                [rfr, 0, 0, r[3], 0, 0, 0, 0]
            }
            _ => [rfr, 0, 0, r[3], 0, 0, 0, 0],
        }
    }

    /// Answers the RPC command in the guest's RPC argument at `page`.
    pub fn answer_rpc_cmd(&mut self, dom: DomId, page: u64) {
        let mut buf = [0u8; PAGE_SIZE];
        self.p.mem.peek(dom, page, &mut buf[..96]);
        let cmd = crate::abi::read_u32(&buf, 0);
        let p0 = MsgArg::new(&mut buf, 0).param(0);
        let mut ans = [0u8; 64];
        ans.copy_from_slice(&buf[..64]);
        crate::abi::write_u32(&mut ans, 20, 0);
        let Some(drv) = self.drivers.get_mut(&dom) else {
            return;
        };
        drv.cmds.push(cmd);
        match cmd {
            rpc::CMD_SHM_ALLOC => {
                let data = drv.next_page;
                let list = data + 4096;
                drv.next_page += 2 * 4096;
                drv.next_cookie += 1;
                let cookie = drv.next_cookie;
                drv.shm.insert(cookie, data);
                let mut l = [0u8; 8];
                l.copy_from_slice(&data.to_le_bytes());
                self.p.mem.poke(dom, list, &l);
                crate::abi::write_u64(
                    &mut ans,
                    32,
                    msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
                );
                crate::abi::write_u64(&mut ans, 40, list);
                crate::abi::write_u64(&mut ans, 48, p0.b.max(1));
                crate::abi::write_u64(&mut ans, 56, cookie);
            }
            rpc::CMD_SHM_FREE => {
                drv.shm.remove(&p0.b);
                drv.freed.push(p0.b);
            }
            rpc::CMD_GET_TIME => {
                drv.time = (1_700_000_000, 42);
                crate::abi::write_u64(&mut ans, 40, drv.time.0);
                crate::abi::write_u64(&mut ans, 48, drv.time.1);
            }
            _ => {}
        }
        self.p.mem.poke(dom, page, &ans);
    }

    /// Opens a session to `uuid` with the argument at `ipa`; returns the
    /// outcome.
    pub fn open(&mut self, dom: DomId, ipa: u64, uuid: TaUuid) -> Outcome {
        let p = Self::open_params(uuid);
        self.write_arg(dom, ipa, msg::CMD_OPEN_SESSION, 0, 0, &p);
        self.run(dom, ipa, 2)
    }

    /// Destroys `dom` with teardown steps of `budget`; returns the number
    /// of steps. Panics if it takes more than [`Mediator::teardown_steps`].
    pub fn destroy(&mut self, dom: DomId, budget: usize) -> usize {
        let bound = self.m.teardown_steps(dom, budget);
        let mut steps = 0;
        while self.m.guest_destroying(&mut self.p, dom, budget) == crate::Progress::Pending {
            steps += 1;
            assert!(steps < bound, "teardown of {dom:?} beyond {bound} steps");
        }
        self.drivers.remove(&dom);
        steps + 1
    }
}
