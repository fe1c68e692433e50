//! What every attack works with: the context ([`Cx`]), the client side of the OP-TEE protocol
//! with its twists (answers to OP-TEE's RPCs that are wrong on purpose), and the outcome.

use crate::within;
use alloc::string::String;
use alloc::vec::Vec;
use kernel::xenif::abi::DOMID_SELF;
use kernel::xenif::hook::call::{smccc_hvc, tee_stubdom_op};
use kernel::xenif::hook::{op, Query};
use kernel::Kernel;
use mediator::abi::{msg, ret, split, Param};
use tee_client::client::{self, ipa, new_page, Answer, Hooks, Scatter};
use tee_client::{pta, PTA_INVOKE_TESTS_UUID};

/// How to answer OP-TEE's next RPC of a kind, on purpose wrongly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Twist {
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
pub(crate) struct Twists {
    pub(crate) twist: Twist,
    /// SHM_FREE requests for cookies of twisted SHM_ALLOC answers.
    pub(crate) freed_twisted: u32,
    pub(crate) twisted_cookie: u64,
    /// The last RETURN_FROM_RPC we sent.
    pub(crate) last_resume: [u64; 8],
    /// Cookies OP-TEE freed with RPC_FUNC_FREE (since the last reset).
    pub(crate) freed: Vec<u64>,
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
pub(crate) type Tee = client::Tee<Twists>;

pub(crate) fn new_tee(k: &Kernel) -> Tee {
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
pub(crate) fn reset(t: &mut Tee) {
    t.rpc_args.clear();
    t.rpc_shm.clear();
    t.hooks.twist = Twist::None;
    t.hooks.twisted_cookie = 0;
    t.hooks.freed_twisted = 0;
    t.hooks.freed.clear();
}

pub(crate) fn open_params() -> [Param; 2] {
    client::open_params(&PTA_INVOKE_TESTS_UUID)
}

pub(crate) fn value_inout(a: u64, b: u64) -> Param {
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
pub(crate) fn finish_all(t: &mut Tee, k: &Kernel, mut rs: Vec<[u64; 8]>) -> Vec<u64> {
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
pub(crate) fn until_alloc(t: &mut Tee, k: &Kernel, mut r: [u64; 8]) -> [u64; 8] {
    while ret::is_rpc(r[0]) && ret::rpc_func(r[0]) != ret::RPC_FUNC_ALLOC {
        r = t.resume(k, &r);
    }
    r
}

pub(crate) fn fast(f: u64, x1: u64) -> [u64; 8] {
    smccc_hvc([f, x1, 0, 0, 0, 0, 0, 0])
}

/// Xen's count of pins it holds for us (`TEE_STUBDOM_OP_query`, `DOMID_SELF`).
pub(crate) fn pins() -> Result<u32, kernel::xenif::XenError> {
    let mut q = Query {
        domid: DOMID_SELF,
        ..Query::default()
    };
    tee_stubdom_op(op::QUERY, &mut q).map(|_| q.nr_pinned)
}

/// What an attack saw: whether it got the documented answer, and the details.
pub(crate) struct Outcome {
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

pub(crate) fn outcome(ok: bool, detail: String) -> Outcome {
    Outcome { ok, detail }
}

/// Everything the attacks need.
pub(crate) struct Cx<'k> {
    pub(crate) k: &'k Kernel,
    pub(crate) t: Tee,
    /// Our RAM: [ram.0, ram.0 + ram.1).
    pub(crate) ram: (u64, u64),
    /// A physical address of dom0's RAM (boot argument).
    pub(crate) dom0_pa: u64,
    pub(crate) gic_dist: u64,
    /// The IPA of our grant-table frame (mapped once we granted something).
    pub(crate) grant_frame: Option<u64>,
    /// OP-TEE's thread count (GET_THREAD_COUNT, forwarded by the mediator).
    pub(crate) threads: u64,
    /// An open session on the invoke-tests PTA.
    pub(crate) session: u32,
}

impl Cx<'_> {
    /// An address outside our RAM (as the attack expects), or the attack is meaningless.
    pub(crate) fn outside_ram(&self, a: u64) -> bool {
        !within(a, self.ram.0, self.ram.1)
    }

    /// CALL_WITH_ARG with an argument at `pa` (no RPC expected); x0.
    pub(crate) fn call_at(&mut self, pa: u64) -> u64 {
        self.t.call_at(self.k, pa)
    }

    /// INVOKE of PTA command PARAMS on our session.
    pub(crate) fn invoke(&mut self, p: &[Param]) -> Answer {
        let s = self.session;
        self.t.invoke(self.k, s, pta::CMD_PARAMS, p)
    }
}
