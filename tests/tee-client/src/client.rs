//! The normal-world side of the OP-TEE message protocol, shared by the conformance client
//! (`tests/tee-client`) and the malicious guest (`tests/attacker`): our pages and their IPAs,
//! scattered buffers with their non-contiguous page lists, messages and their answers, and (on
//! aarch64, where the `hvc` conduit exists) [`Tee`], which sends std calls and serves OP-TEE's
//! RPCs like a small tee-supplicant. [`Hooks`] lets a caller answer some RPCs differently (the
//! attacker does so wrongly on purpose) without a second copy of the protocol.
//!
//! References: `optee_smc.h` (CALL_WITH_ARG, RETURN_FROM_RPC, OPTEE_SMC_RPC_FUNC_*),
//! `optee_msg.h` (`struct optee_msg_arg`, OPTEE_MSG_ATTR_NONCONTIG), `optee_rpc_cmd.h`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use mediator::abi::{msg, ret, MsgArg, Param, PAGE_SIZE};

use crate::{byte_sum, fill_page_list, list_pages, page_list_chain, pattern, teec};
use mediator::abi::teec as gp;

/// One page of our RAM, page-aligned.
#[derive(Debug)]
#[repr(C, align(4096))]
pub struct Page(pub [u8; PAGE_SIZE]);

/// A zeroed page on the heap.
pub fn new_page() -> Box<Page> {
    Box::new(Page([0; PAGE_SIZE]))
}

/// The IPA of a value in our RAM (identity map). The cast exposes the pointer's provenance, so
/// the compiler assumes the SMC asm may read and write it.
pub fn ipa<T>(v: &T) -> u64 {
    v as *const T as usize as u64
}

/// A buffer of `n` ≥ 1 pages that are deliberately not consecutive in guest RAM (every other
/// page of a pool, in descending order), described by an OP-TEE non-contiguous page list
/// (`OPTEE_MSG_ATTR_NONCONTIG`; one list page per 511 entries, chained).
#[derive(Debug)]
pub struct Scatter {
    /// The pool: the buffer's pages and the gaps between them.
    pub pool: Vec<Page>,
    /// The pool index of each buffer page, in list order.
    pub order: Vec<usize>,
    /// The page-list pages.
    pub lists: Vec<Box<Page>>,
}

impl Scatter {
    /// A buffer of `n` pages with its page list.
    pub fn new(n: usize) -> Scatter {
        let mut pool = Vec::with_capacity(2 * n);
        for _ in 0..2 * n {
            pool.push(Page([0; PAGE_SIZE]));
        }
        let order: Vec<usize> = (0..n).map(|i| 2 * (n - 1 - i) + 1).collect();
        let mut lists: Vec<Box<Page>> = (0..list_pages(n)).map(|_| new_page()).collect();
        let addrs: Vec<u64> = order.iter().map(|&i| ipa(&pool[i])).collect();
        let list_addrs: Vec<u64> = lists.iter().map(|l| ipa(&**l)).collect();
        for (li, chunk, next) in page_list_chain(&addrs, &list_addrs) {
            fill_page_list(&mut lists[li].0, chunk, next);
        }
        Scatter { pool, order, lists }
    }

    /// `buf_ptr` of a NONCONTIG memref starting `off` bytes into the first page.
    pub fn buf_ptr(&self, off: usize) -> u64 {
        ipa(&*self.lists[0]) | off as u64
    }

    /// A NONCONTIG memref of type `ty` (TMEM_*) over `len` bytes from `off`.
    pub fn memref(&self, ty: u64, off: usize, len: usize, cookie: u64) -> Param {
        Param {
            attr: ty | msg::ATTR_NONCONTIG,
            a: self.buf_ptr(off),
            b: len as u64,
            c: cookie,
        }
    }

    /// The buffer's pages, in list order.
    pub fn pages(&self) -> impl Iterator<Item = &[u8; PAGE_SIZE]> {
        self.order.iter().map(|&i| &self.pool[i].0)
    }

    /// Byte `i` of the buffer (in list order).
    pub fn byte(&self, i: usize) -> u8 {
        self.pool[self.order[i / PAGE_SIZE]].0[i % PAGE_SIZE]
    }

    /// Fills `len` bytes from `off` with the pattern; returns their sum.
    pub fn fill(&mut self, off: usize, len: usize) -> u8 {
        for i in off..off + len {
            let p = self.order[i / PAGE_SIZE];
            self.pool[p].0[i % PAGE_SIZE] = pattern(i);
        }
        let bytes: Vec<u8> = (off..off + len).map(|i| self.byte(i)).collect();
        byte_sum([&bytes[..]])
    }

    /// Overwrites entry `i` of the first page-list page.
    pub fn set_entry(&mut self, i: usize, v: u64) {
        self.lists[0].0[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// The first list page's "next list page" slot.
    pub fn set_next(&mut self, v: u64) {
        self.set_entry(msg::PAGELIST_ENTRIES, v);
    }

    /// The IPA of the buffer's page `i`.
    pub fn page_ipa(&self, i: usize) -> u64 {
        ipa(&self.pool[self.order[i]])
    }

    /// The pages' IPAs are pairwise non-adjacent.
    pub fn scattered(&self) -> bool {
        let a: Vec<u64> = self.pages().map(ipa).collect();
        a.windows(2)
            .all(|p| p[1].abs_diff(p[0]) != PAGE_SIZE as u64)
    }
}

/// RPCs seen (OP-TEE → normal world), by kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rpcs {
    pub alloc: u32,
    pub free: u32,
    pub foreign_intr: u32,
    pub load_ta: u32,
    pub shm_alloc: u32,
    pub shm_free: u32,
    pub get_time: u32,
    pub fs: u32,
    /// RPC_FUNC_CMD with a command we do not serve.
    pub other_cmd: u32,
    /// An unknown RPC function, or RPC_FUNC_CMD in a buffer we never gave.
    pub unknown: u32,
}

/// What a std call returned.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    /// a0 of the final return.
    pub x0: u64,
    pub ret: u32,
    pub origin: u32,
    pub session: u32,
    pub p: [Param; 4],
    pub num_params: u32,
}

impl Answer {
    /// x0 = OK and TEEC_SUCCESS.
    pub fn ok(&self) -> bool {
        self.x0 == ret::OK && self.ret == teec::SUCCESS
    }

    /// x0 = OK and the message says `r` with origin `o`.
    pub fn is(&self, r: u32, o: u32) -> bool {
        self.x0 == ret::OK && self.ret == r && self.origin == o
    }

    /// The mediator refused in the message: `r`, origin COMMS.
    pub fn comms(&self, r: u32) -> bool {
        self.is(r, gp::ORIGIN_COMMS)
    }
}

impl core::fmt::Display for Answer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "x0={:#x} ret={:#x} origin={}",
            self.x0, self.ret, self.origin
        )
    }
}

/// Writes a message into `page` (`struct optee_msg_arg`; `func` is the second word).
pub fn write_msg(page: &mut Page, cmd: u32, func: u32, session: u32, params: &[Param]) {
    page.0.fill(0);
    page.0[4..8].copy_from_slice(&func.to_le_bytes());
    let mut m = MsgArg::new(&mut page.0, 0);
    m.set_cmd(cmd);
    m.set_session(session);
    m.set_num_params(params.len() as u32);
    for (i, p) in params.iter().enumerate() {
        m.set_param(i, *p);
    }
}

/// The answer in `page` after a call that returned `x0`.
pub fn read_answer(page: &mut Page, x0: u64) -> Answer {
    let m = MsgArg::new(&mut page.0, 0);
    Answer {
        x0,
        ret: m.ret(),
        origin: m.ret_origin(),
        session: m.session(),
        p: [m.param(0), m.param(1), m.param(2), m.param(3)],
        num_params: m.num_params(),
    }
}

/// The two meta parameters of OPEN_SESSION: the TA's UUID and a public login.
pub fn open_params(uuid: &[u8; 16]) -> [Param; 2] {
    let (a, b) = crate::uuid_words(uuid);
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
            c: crate::LOGIN_PUBLIC,
        },
    ]
}

/// An RMEM parameter (a registered buffer by cookie).
pub fn rmem(ty: u64, offs: u64, size: u64, cookie: u64) -> Param {
    Param {
        attr: ty,
        a: offs,
        b: size,
        c: cookie,
    }
}

/// SHM_ALLOC asks for at most this many pages of us (a scattered buffer is 2 × that in RAM).
pub const SHM_ALLOC_MAX_PAGES: usize = 64;

#[cfg(target_arch = "aarch64")]
pub use self::tee::{Hooks, Tee};

#[cfg(target_arch = "aarch64")]
mod tee {
    use super::*;
    use kernel::time::Instant;
    use kernel::xenif::hook::call::smccc_hvc;
    use kernel::Kernel;
    use mediator::abi::{regpair, rpc, smc, split};

    /// Where a [`Tee`]'s user answers RPCs its own way. Each default is the honest answer; the
    /// functions get the whole [`Tee`], so they can use its cookies and buffers.
    pub trait Hooks: Sized {
        /// SHM_ALLOC of more than [`SHM_ALLOC_MAX_PAGES`] pages: `true` serves that many
        /// (the size in the answer stays the requested one), `false` refuses OUT_OF_MEMORY.
        const CLAMP_SHM_ALLOC: bool = false;

        /// RPC_FUNC_ALLOC, before the honest answer: `Some` replaces it (a1, a2, a4, a5).
        fn alloc(_t: &mut Tee<Self>) -> Option<(u64, u64, u64, u64)> {
            None
        }
        /// RPC_FUNC_FREE of `cookie` (after we dropped the buffer).
        fn freed(_t: &mut Tee<Self>, _cookie: u64) {}
        /// RPC_CMD_SHM_ALLOC: the buffer and the parameter about to be answered, changeable.
        fn shm_alloc(_t: &mut Tee<Self>, _cookie: u64, _buf: &mut Scatter, _p: &mut Param) {}
        /// RPC_CMD_SHM_FREE of `cookie`, before we look for it.
        fn shm_free(_t: &mut Tee<Self>, _cookie: u64) {}
        /// The RETURN_FROM_RPC about to be sent.
        fn resuming(_t: &mut Tee<Self>, _x: &[u64; 8]) {}
    }

    /// The honest client.
    impl Hooks for () {}

    /// The client's side of the OP-TEE message protocol: one argument page, the RPC buffers
    /// OP-TEE asked for (by cookie), the shared memory it allocated through RPC (by cookie).
    #[derive(Debug)]
    pub struct Tee<H: Hooks = ()> {
        pub arg: Box<Page>,
        pub rpc_args: Vec<(u64, Box<Page>)>,
        pub rpc_shm: Vec<(u64, Scatter)>,
        pub next_cookie: u64,
        pub rpcs: Rpcs,
        pub boot: Instant,
        /// The user's state for its [`Hooks`].
        pub hooks: H,
    }

    impl<H: Hooks> Tee<H> {
        /// A client whose cookies start after `cookie_base`.
        pub fn new(k: &Kernel, cookie_base: u64, hooks: H) -> Tee<H> {
            Tee {
                arg: new_page(),
                rpc_args: Vec::new(),
                rpc_shm: Vec::new(),
                next_cookie: cookie_base,
                rpcs: Rpcs::default(),
                boot: k.now(),
                hooks,
            }
        }

        /// A fresh cookie.
        pub fn cookie(&mut self) -> u64 {
            self.next_cookie += 1;
            self.next_cookie
        }

        /// Writes a message into the argument page.
        pub fn prepare(&mut self, cmd: u32, func: u32, session: u32, params: &[Param]) {
            write_msg(&mut self.arg, cmd, func, session, params);
        }

        /// Serves one RPC and resumes: OP-TEE's next answer.
        pub fn resume(&mut self, k: &Kernel, r: &[u64; 8]) -> [u64; 8] {
            let (a1, a2, a4, a5) = self.rpc(k, r);
            // a3 (thread), a6, a7: "resume information, must be preserved" (optee_smc.h).
            let x = [
                u64::from(smc::RETURN_FROM_RPC),
                a1,
                a2,
                r[3],
                a4,
                a5,
                r[6],
                r[7],
            ];
            H::resuming(self, &x);
            smccc_hvc(x)
        }

        /// Serves RPCs until OP-TEE returns; the final a0.
        pub fn finish(&mut self, k: &Kernel, mut r: [u64; 8]) -> u64 {
            while ret::is_rpc(r[0]) {
                r = self.resume(k, &r);
            }
            r[0]
        }

        /// CALL_WITH_ARG at `pa`, serving RPCs until OP-TEE returns; the final a0.
        pub fn call_at(&mut self, k: &Kernel, pa: u64) -> u64 {
            let (hi, lo) = split(pa);
            let r = smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
            self.finish(k, r)
        }

        /// The message already in the argument page, sent.
        pub fn send(&mut self, k: &Kernel) -> Answer {
            let pa = ipa(&*self.arg);
            let x0 = self.call_at(k, pa);
            read_answer(&mut self.arg, x0)
        }

        /// A message, written and sent.
        pub fn msg(
            &mut self,
            k: &Kernel,
            cmd: u32,
            func: u32,
            session: u32,
            p: &[Param],
        ) -> Answer {
            self.prepare(cmd, func, session, p);
            self.send(k)
        }

        /// OPEN_SESSION of the TA `uuid`, public login.
        pub fn open(&mut self, k: &Kernel, uuid: &[u8; 16]) -> Answer {
            self.msg(k, msg::CMD_OPEN_SESSION, 0, 0, &open_params(uuid))
        }

        /// INVOKE_COMMAND `func` on `session`.
        pub fn invoke(&mut self, k: &Kernel, session: u32, func: u32, p: &[Param]) -> Answer {
            self.msg(k, msg::CMD_INVOKE_COMMAND, func, session, p)
        }

        /// CLOSE_SESSION.
        pub fn close(&mut self, k: &Kernel, session: u32) -> Answer {
            self.msg(k, msg::CMD_CLOSE_SESSION, 0, session, &[])
        }

        /// REGISTER_SHM of the buffer in `p`.
        pub fn register(&mut self, k: &Kernel, p: Param) -> Answer {
            self.msg(k, msg::CMD_REGISTER_SHM, 0, 0, &[p])
        }

        /// UNREGISTER_SHM of `cookie`.
        pub fn unregister(&mut self, k: &Kernel, cookie: u64) -> Answer {
            let p = rmem(msg::ATTR_TYPE_RMEM_INPUT, 0, 0, cookie);
            self.msg(k, msg::CMD_UNREGISTER_SHM, 0, 0, &[p])
        }

        /// One RPC (`optee_smc.h`, OPTEE_SMC_RPC_FUNC_*): a1, a2, a4, a5 of RETURN_FROM_RPC.
        pub fn rpc(&mut self, k: &Kernel, r: &[u64; 8]) -> (u64, u64, u64, u64) {
            let same = (r[1], r[2], r[4], r[5]);
            match ret::rpc_func(r[0]) {
                ret::RPC_FUNC_ALLOC => {
                    self.rpcs.alloc += 1;
                    if let Some(a) = H::alloc(self) {
                        return a;
                    }
                    if r[1] == 0 || r[1] > PAGE_SIZE as u64 {
                        return (0, 0, 0, 0); // "a1 == 0 && a2 == 0: memory can't be allocated"
                    }
                    let page = new_page();
                    let (h, l) = split(ipa(&*page));
                    let cookie = self.cookie();
                    self.rpc_args.push((cookie, page));
                    let (ch, cl) = split(cookie);
                    (h, l, ch, cl)
                }
                ret::RPC_FUNC_FREE => {
                    self.rpcs.free += 1;
                    let cookie = regpair(r[1], r[2]);
                    self.rpc_args.retain(|(c, _)| *c != cookie);
                    H::freed(self, cookie);
                    same
                }
                ret::RPC_FUNC_FOREIGN_INTR => {
                    // Our interrupts stay masked here; Xen has taken its own. Just resume.
                    self.rpcs.foreign_intr += 1;
                    same
                }
                ret::RPC_FUNC_CMD => {
                    self.rpc_cmd(k, regpair(r[1], r[2]));
                    same
                }
                _ => {
                    self.rpcs.unknown += 1;
                    same
                }
            }
        }

        /// An RPC command in the argument buffer with `cookie` (`optee_rpc_cmd.h`).
        fn rpc_cmd(&mut self, k: &Kernel, cookie: u64) {
            let Some(i) = self.rpc_args.iter().position(|(c, _)| *c == cookie) else {
                self.rpcs.unknown += 1;
                return;
            };
            let (cmd, p0) = {
                let m = MsgArg::new(&mut self.rpc_args[i].1 .0, 0);
                (m.cmd(), m.param(0))
            };
            let mut out = None;
            let status = match cmd {
                rpc::CMD_GET_TIME => {
                    self.rpcs.get_time += 1;
                    let t = k.since(self.boot);
                    out = Some(Param {
                        attr: msg::ATTR_TYPE_VALUE_OUTPUT,
                        a: t.as_secs(),
                        b: u64::from(t.subsec_nanos()),
                        c: 0,
                    });
                    teec::SUCCESS
                }
                rpc::CMD_SHM_ALLOC => {
                    self.rpcs.shm_alloc += 1;
                    let n = (p0.b as usize).div_ceil(PAGE_SIZE).max(1);
                    let n = if H::CLAMP_SHM_ALLOC {
                        n.min(SHM_ALLOC_MAX_PAGES)
                    } else {
                        n
                    };
                    if n > SHM_ALLOC_MAX_PAGES {
                        gp::ERROR_OUT_OF_MEMORY
                    } else {
                        let mut buf = Scatter::new(n);
                        let c = self.cookie();
                        let mut p = buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, p0.b as usize, c);
                        H::shm_alloc(self, c, &mut buf, &mut p);
                        out = Some(p);
                        self.rpc_shm.push((c, buf));
                        teec::SUCCESS
                    }
                }
                rpc::CMD_SHM_FREE => {
                    self.rpcs.shm_free += 1;
                    H::shm_free(self, p0.b);
                    let before = self.rpc_shm.len();
                    self.rpc_shm.retain(|(c, _)| *c != p0.b);
                    if self.rpc_shm.len() < before {
                        teec::SUCCESS
                    } else {
                        gp::ERROR_BAD_PARAMETERS
                    }
                }
                rpc::CMD_FS => {
                    // No REE file system: every file is missing (the secure-storage TA store
                    // looks for the TA there first).
                    self.rpcs.fs += 1;
                    gp::ERROR_ITEM_NOT_FOUND
                }
                rpc::CMD_LOAD_TA => {
                    // No TA store here: "not found", as tee-supplicant answers for a missing TA.
                    self.rpcs.load_ta += 1;
                    gp::ERROR_ITEM_NOT_FOUND
                }
                _ => {
                    self.rpcs.other_cmd += 1;
                    teec::ERROR_NOT_SUPPORTED
                }
            };
            let mut m = MsgArg::new(&mut self.rpc_args[i].1 .0, 0);
            if let Some(p) = out {
                m.set_param(0, p);
            }
            m.set_ret(status);
            m.set_ret_origin(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trip() {
        let mut page = new_page();
        page.0.fill(0xff);
        let p = rmem(msg::ATTR_TYPE_RMEM_INPUT, 1, 2, 3);
        write_msg(&mut page, msg::CMD_INVOKE_COMMAND, 7, 9, &[p]);
        assert_eq!(&page.0[4..8], &7u32.to_le_bytes());
        let a = read_answer(&mut page, ret::OK);
        assert_eq!((a.session, a.num_params, a.ret, a.origin), (9, 1, 0, 0));
        assert_eq!(
            (a.p[0].attr, a.p[0].a, a.p[0].b, a.p[0].c),
            (p.attr, 1, 2, 3)
        );
        assert!(a.ok() && a.is(teec::SUCCESS, 0) && !a.comms(teec::SUCCESS));
    }

    fn entry(l: &Page, i: usize) -> u64 {
        u64::from_le_bytes(l.0[i * 8..i * 8 + 8].try_into().unwrap())
    }

    #[test]
    fn scatter_lists_its_pages_apart_and_chains_lists() {
        let s = Scatter::new(3);
        assert!(s.scattered());
        assert_eq!(s.lists.len(), 1);
        for i in 0..3 {
            assert_eq!(entry(&s.lists[0], i), s.page_ipa(i));
        }
        assert_eq!(entry(&s.lists[0], msg::PAGELIST_ENTRIES), 0);
        let p = s.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0x10, 100, 5);
        assert_eq!(p.attr, msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG);
        assert_eq!((p.a, p.b, p.c), (ipa(&*s.lists[0]) | 0x10, 100, 5));

        let big = Scatter::new(msg::PAGELIST_ENTRIES + 1);
        assert_eq!(big.lists.len(), 2);
        let next = entry(&big.lists[0], msg::PAGELIST_ENTRIES);
        assert_eq!(next, ipa(&*big.lists[1]));
        assert_eq!(entry(&big.lists[1], 0), big.page_ipa(msg::PAGELIST_ENTRIES));
    }

    #[test]
    fn fill_sums_the_pattern_in_list_order() {
        let mut s = Scatter::new(2);
        let sum = s.fill(PAGE_SIZE - 2, 4);
        let want = byte_sum([&[
            pattern(PAGE_SIZE - 2),
            pattern(PAGE_SIZE - 1),
            pattern(PAGE_SIZE),
            pattern(PAGE_SIZE + 1),
        ][..]]);
        assert_eq!(sum, want);
        assert_eq!(s.byte(PAGE_SIZE), pattern(PAGE_SIZE));
        s.set_next(0xdead_0000);
        assert_eq!(entry(&s.lists[0], msg::PAGELIST_ENTRIES), 0xdead_0000);
    }
}
