//! A simulated OP-TEE with NS-virtualization: client-ID partitions
//! (VM_CREATED/VM_DESTROYED), a fixed pool of threads shared by all
//! clients, RPC sequences with cookies (RPC_FUNC_ALLOC/FREE/CMD,
//! FOREIGN_INTR), sessions, registered shared memory, the SHM cache and
//! async notifications. It reads arguments by physical address from
//! [`SimMemory`] and records every way the mediator could misbehave in
//! `violations` (tests assert it stays empty).
//!
//! The simulated TA ([`SIM_TA`]) understands these INVOKE functions:
//! [`FN_NOP`], [`FN_ECHO`], [`FN_SHM_RPC`], [`FN_GET_TIME`],
//! [`FN_FOREIGN_INTR`], [`FN_NOTIFY`].

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use super::memory::{Owner, SimMemory};
use crate::abi::{caps, msg, regpair, ret, rpc, smc, split, teec, OPTEE_MSG_UID, PAGE_SIZE};
use crate::types::{Regs, TaUuid};

/// The simulated TA.
pub const SIM_TA: TaUuid = TaUuid([
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
]);
/// A second simulated TA (a "PTA"), for allow-list tests.
pub const SIM_PTA: TaUuid = TaUuid([7; 16]);

/// INVOKE function: do nothing.
pub const FN_NOP: u32 = 0;
/// INVOKE function: VALUE_INOUT a += 1, b = client, c = session; output
/// memrefs filled with 0xA5; input memrefs summed into `last_input`.
pub const FN_ECHO: u32 = 1;
/// INVOKE function: RPC SHM_ALLOC, write "hello" into the buffer, RPC
/// SHM_FREE.
pub const FN_SHM_RPC: u32 = 2;
/// INVOKE function: RPC GET_TIME, result in params[0] value a/b.
pub const FN_GET_TIME: u32 = 3;
/// INVOKE function: one FOREIGN_INTR RPC, then done.
pub const FN_FOREIGN_INTR: u32 = 4;
/// INVOKE function: post async notification value 5 to this client.
pub const FN_NOTIFY: u32 = 5;
/// INVOKE function: RPC NOTIFICATION (wait queue) then RPC SUSPEND, each with
/// one VALUE_INPUT parameter; the normal world's `ret` is recorded.
pub const FN_RPC_CMDS: u32 = 6;

/// What OP-TEE saw for one standard call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Client ID.
    pub client: u64,
    /// Message command.
    pub cmd: u32,
    /// `func`.
    pub func: u32,
    /// Parameters as read from the argument.
    pub params: Vec<crate::abi::Param>,
    /// Bytes of all input memrefs, concatenated.
    pub input: Vec<u8>,
}

#[derive(Debug, Default)]
struct Client {
    sessions: BTreeMap<u32, TaUuid>,
    next_session: u32,
    registered: BTreeMap<u64, Vec<u64>>,
    cache_enabled: bool,
    /// Cached RPC argument buffers (cookie, pa).
    rpc_cache: Vec<(u64, u64)>,
    notif: VecDeque<u32>,
    async_enabled: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    ForeignIntr,
    NeedRpcBuf,
    ShmAlloc,
    ShmFree,
    GetTime,
    Other(u32),
    ReleaseRpcBuf,
    Finish,
}

#[derive(Debug)]
struct Thread {
    client: u64,
    arg_pa: u64,
    /// RPC argument inside the call's argument (CALL_WITH_RPC_ARG).
    rpc_area: Option<u64>,
    /// RPC argument buffer (cookie, pa) from RPC_FUNC_ALLOC.
    rpc_buf: Option<(u64, u64)>,
    script: Vec<Act>,
    pc: usize,
    waiting: bool,
    ret: u32,
    alloc: Option<(u64, Vec<u64>)>,
    time: (u64, u64),
    /// A foreign interrupt already stopped this resume (see
    /// [`SimOptee::interrupt_before_shm_alloc_read`]).
    interrupted: bool,
}

/// The simulated secure world.
#[derive(Debug)]
pub struct SimOptee {
    /// Threads (GET_THREAD_COUNT).
    pub thread_count: usize,
    /// Capabilities returned by EXCHANGE_CAPABILITIES.
    pub caps: u64,
    /// Largest notification value.
    pub max_notif: u64,
    /// RPC parameters for RPC_ARG.
    pub rpc_params: u64,
    /// Guests OP-TEE accepts (VM_CREATED beyond this fails with ENOTAVAIL).
    pub max_guests: usize,
    /// Record [`Seen`] for every call (off for benchmarks).
    pub record: bool,
    /// What OP-TEE saw, in order.
    pub seen: Vec<Seen>,
    /// VM_CREATED calls per client ID.
    pub vm_created: BTreeMap<u64, u32>,
    /// VM_DESTROYED calls per client ID (client 0 is the probe).
    pub vm_destroyed: BTreeMap<u64, u32>,
    /// Protocol violations by the normal world (must stay empty).
    pub violations: Vec<&'static str>,
    /// SMCs issued.
    pub smc_count: u64,
    /// Commands of pass-through RPCs and the `ret` the normal world gave.
    pub rpc_answers: Vec<(u32, u32)>,
    /// Function ID and client ID (a7) of the last SMC.
    pub last: (u32, u64),
    /// A foreign interrupt arrives right after a thread is resumed with the
    /// answer to its SHM_ALLOC and before it reads it (page list included):
    /// the thread returns FOREIGN_INTR and reads the answer when resumed
    /// again, as real OP-TEE can.
    pub interrupt_before_shm_alloc_read: bool,
    /// Misbehaves on purpose: DISABLE_SHM_CACHE answers OK with a new cookie for ever, as a
    /// cache that never empties (a bound on the mediator's flush loop must hold anyway).
    pub endless_shm_cache: bool,
    clients: BTreeMap<u64, Client>,
    threads: Vec<Option<Thread>>,
}

impl SimOptee {
    /// An OP-TEE with `threads` threads and the usual virtualized caps.
    pub fn new(threads: usize) -> SimOptee {
        SimOptee {
            thread_count: threads,
            caps: caps::SEC_DYNAMIC_SHM
                | caps::SEC_UNREGISTERED_SHM
                | caps::SEC_VIRTUALIZATION
                | caps::SEC_MEMREF_NULL
                | caps::SEC_ASYNC_NOTIF
                | caps::SEC_RPC_ARG
                | caps::SEC_HAVE_RESERVED_SHM
                | (1 << 20),
            max_notif: 63,
            rpc_params: 4,
            max_guests: 8,
            record: true,
            seen: Vec::new(),
            vm_created: BTreeMap::new(),
            vm_destroyed: BTreeMap::new(),
            violations: Vec::new(),
            smc_count: 0,
            last: (0, 0),
            interrupt_before_shm_alloc_read: false,
            endless_shm_cache: false,
            rpc_answers: Vec::new(),
            clients: BTreeMap::new(),
            threads: (0..threads).map(|_| None).collect(),
        }
    }

    /// Threads busy (running or suspended in an RPC).
    pub fn busy_threads(&self) -> usize {
        self.threads.iter().filter(|t| t.is_some()).count()
    }

    /// Open sessions of `client`.
    pub fn sessions(&self, client: u64) -> usize {
        self.clients.get(&client).map_or(0, |c| c.sessions.len())
    }

    /// Registered buffers of `client`.
    pub fn registered(&self, client: u64) -> usize {
        self.clients.get(&client).map_or(0, |c| c.registered.len())
    }

    /// Whether `client` has a partition.
    pub fn has_client(&self, client: u64) -> bool {
        self.clients.contains_key(&client)
    }

    /// Posts an async notification value to `client`.
    pub fn post_notif(&mut self, client: u64, v: u32) {
        if let Some(c) = self.clients.get_mut(&client) {
            c.notif.push_back(v);
        }
    }

    /// Every page of a memref must be RAM of the calling client's guest.
    fn check_owner(&mut self, mem: &SimMemory, client: u64, pages: &[u64]) {
        // No guest's for a client ID that names no domain.
        let owner = u16::try_from(client.saturating_sub(1))
            .ok()
            .and_then(crate::types::DomId::new)
            .map(Owner::Guest);
        if pages
            .iter()
            .any(|pa| owner.is_none() || mem.owner_of(*pa) != owner)
        {
            self.violation("memref page not owned by the client's guest");
        }
    }

    fn violation(&mut self, what: &'static str) {
        if self.violations.len() < 64 {
            self.violations.push(what);
        }
    }

    /// One SMC.
    pub fn smc(&mut self, mem: &mut SimMemory, r: Regs) -> Regs {
        self.smc_count = self.smc_count.saturating_add(1);
        let mut out = r;
        let client = r[7];
        let fid = u32::try_from(r[0]).unwrap_or(u32::MAX);
        self.last = (fid, client);
        let set = |out: &mut Regs, v: &[u64]| {
            for (o, x) in out.iter_mut().zip(v.iter()) {
                *o = *x;
            }
        };
        match fid {
            smc::CALLS_UID => set(&mut out, &OPTEE_MSG_UID.map(u64::from)),
            smc::CALLS_REVISION => set(&mut out, &[2, 0]),
            smc::GET_OS_UUID => set(&mut out, &[0x486178e0, 0xe7f811e3, 0xbc5e0002, 0xa5d5c51b]),
            smc::GET_OS_REVISION => set(&mut out, &[4, 10, 0x1234]),
            smc::GET_THREAD_COUNT => set(&mut out, &[ret::OK, self.thread_count as u64]),
            smc::VM_CREATED => {
                if client != 0 {
                    self.violation("VM_CREATED with a guest client ID");
                    set(&mut out, &[ret::UNKNOWN_FUNCTION]);
                } else if self.clients.contains_key(&r[1])
                    || self.clients.len() >= self.max_guests
                    || r[1] == 0
                {
                    set(&mut out, &[ret::ENOTAVAIL]);
                } else {
                    let c = self.vm_created.entry(r[1]).or_insert(0);
                    *c = c.saturating_add(1);
                    self.clients.insert(r[1], Client::default());
                    set(&mut out, &[ret::OK]);
                }
            }
            smc::VM_DESTROYED => {
                if client != 0 {
                    self.violation("VM_DESTROYED with a guest client ID");
                    set(&mut out, &[ret::UNKNOWN_FUNCTION]);
                } else {
                    let c = self.vm_destroyed.entry(r[1]).or_insert(0);
                    *c = c.saturating_add(1);
                    self.clients.remove(&r[1]);
                    for t in self.threads.iter_mut() {
                        if t.as_ref().is_some_and(|t| t.client == r[1]) {
                            *t = None;
                        }
                    }
                    set(&mut out, &[ret::OK]);
                }
            }
            _ if !self.clients.contains_key(&client) => {
                if client == 0 {
                    self.violation("guest call with the hypervisor's client ID");
                } else {
                    self.violation("call for a client OP-TEE does not know");
                }
                set(&mut out, &[ret::ENOTAVAIL]);
            }
            smc::EXCHANGE_CAPABILITIES => {
                set(
                    &mut out,
                    &[ret::OK, self.caps, self.max_notif, self.rpc_params],
                );
            }
            // OP-TEE 4.10 thread_{en,dis}able_prealloc_rpc_cache: EBUSY while
            // any thread is in use, whichever guest's call it runs.
            smc::ENABLE_SHM_CACHE => {
                if self.busy_threads() > 0 {
                    set(&mut out, &[ret::EBUSY]);
                } else {
                    if let Some(c) = self.clients.get_mut(&client) {
                        c.cache_enabled = true;
                    }
                    set(&mut out, &[ret::OK]);
                }
            }
            smc::DISABLE_SHM_CACHE => {
                let busy = self.busy_threads() > 0;
                let c = self.clients.get_mut(&client);
                match c {
                    _ if busy => set(&mut out, &[ret::EBUSY]),
                    Some(_) if self.endless_shm_cache => {
                        let (hi, lo) = split(0xC0DE_0000_u64 + self.smc_count);
                        set(&mut out, &[ret::OK, hi, lo]);
                    }
                    Some(c) => {
                        c.cache_enabled = false;
                        match c.rpc_cache.pop() {
                            Some((cookie, _)) => {
                                let (hi, lo) = split(cookie);
                                set(&mut out, &[ret::OK, hi, lo]);
                            }
                            None => set(&mut out, &[ret::ENOTAVAIL]),
                        }
                    }
                    None => set(&mut out, &[ret::ENOTAVAIL]),
                }
            }
            smc::GET_SHM_CONFIG => {
                self.violation("GET_SHM_CONFIG reached OP-TEE");
                set(&mut out, &[ret::ENOTAVAIL]);
            }
            smc::ENABLE_ASYNC_NOTIF => {
                if self.caps & caps::SEC_ASYNC_NOTIF == 0 {
                    set(&mut out, &[ret::ENOTAVAIL]);
                } else {
                    if let Some(c) = self.clients.get_mut(&client) {
                        c.async_enabled = true;
                    }
                    set(&mut out, &[ret::OK]);
                }
            }
            smc::GET_ASYNC_NOTIF_VALUE => match self.clients.get_mut(&client) {
                Some(c) if c.async_enabled => match c.notif.pop_front() {
                    Some(v) => {
                        let pend = if c.notif.is_empty() {
                            0
                        } else {
                            caps::NOTIF_VALUE_PENDING
                        };
                        set(
                            &mut out,
                            &[ret::OK, u64::from(v), caps::NOTIF_VALUE_VALID | pend],
                        );
                    }
                    None => set(&mut out, &[ret::OK, 0, 0]),
                },
                _ => set(&mut out, &[ret::ENOTAVAIL]),
            },
            smc::CALL_WITH_ARG | smc::CALL_WITH_RPC_ARG => {
                return self.std_call(mem, r, fid == smc::CALL_WITH_RPC_ARG);
            }
            smc::CALL_WITH_REGD_ARG => {
                self.violation("CALL_WITH_REGD_ARG reached OP-TEE (guest memory)");
                set(&mut out, &[ret::EBADADDR]);
            }
            smc::RETURN_FROM_RPC => return self.resume(mem, r),
            _ => set(&mut out, &[ret::UNKNOWN_FUNCTION]),
        }
        out
    }

    fn std_call(&mut self, mem: &mut SimMemory, r: Regs, with_rpc: bool) -> Regs {
        let mut out = r;
        let client = r[7];
        let arg_pa = regpair(r[1], r[2]);
        if mem.owner_of(arg_pa) != Some(Owner::Shadow) {
            self.violation("argument not in mediator memory");
            out[0] = ret::EBADADDR;
            return out;
        }
        let Some(slot) = self.threads.iter().position(|t| t.is_none()) else {
            out[0] = ret::ETHREAD_LIMIT;
            return out;
        };
        let mut hdr = [0u8; 32];
        mem.read_pa(arg_pa, &mut hdr);
        let cmd = crate::abi::read_u32(&hdr, 0);
        let func = crate::abi::read_u32(&hdr, 4);
        let n = crate::abi::read_u32(&hdr, 28);
        let Some(size) = msg::arg_size(n).filter(|s| *s <= PAGE_SIZE) else {
            out[0] = ret::EBADADDR;
            return out;
        };
        let rpc_area = if with_rpc {
            let Some(rs) = msg::arg_size(u32::try_from(self.rpc_params).unwrap_or(0)) else {
                out[0] = ret::EBADADDR;
                return out;
            };
            if size.saturating_add(rs) > PAGE_SIZE.saturating_sub((arg_pa & 0xfff) as usize) {
                self.violation("RPC argument crosses the page");
            }
            Some(arg_pa.saturating_add(size as u64))
        } else {
            None
        };
        let mut page = [0u8; PAGE_SIZE];
        mem.read_pa(arg_pa, &mut page[..size]);
        let params: Vec<crate::abi::Param> = (0..n as usize)
            .map(|i| {
                let o = 32usize.saturating_add(i.saturating_mul(32));
                crate::abi::Param {
                    attr: crate::abi::read_u64(&page, o),
                    a: crate::abi::read_u64(&page, o.saturating_add(8)),
                    b: crate::abi::read_u64(&page, o.saturating_add(16)),
                    c: crate::abi::read_u64(&page, o.saturating_add(24)),
                }
            })
            .collect();
        let mut seen = Seen {
            client,
            cmd,
            func,
            params: params.clone(),
            input: Vec::new(),
        };
        let mut th = Thread {
            client,
            arg_pa,
            rpc_area,
            rpc_buf: None,
            script: Vec::new(),
            pc: 0,
            waiting: false,
            ret: 0,
            alloc: None,
            time: (0, 0),
            interrupted: false,
        };
        let mut results: Vec<(usize, crate::abi::Param)> = Vec::new();
        let mut session_out = None;
        th.ret = self.execute(
            mem,
            &mut th,
            cmd,
            func,
            &hdr,
            &params,
            &mut seen,
            &mut results,
            &mut session_out,
        );
        for (i, p) in results {
            let o = 32usize.saturating_add(i.saturating_mul(32));
            let mut b = [0u8; 32];
            crate::abi::write_u64(&mut b, 0, p.attr);
            crate::abi::write_u64(&mut b, 8, p.a);
            crate::abi::write_u64(&mut b, 16, p.b);
            crate::abi::write_u64(&mut b, 24, p.c);
            mem.write_pa(arg_pa.saturating_add(o as u64), &b);
        }
        if let Some(s) = session_out {
            mem.write_pa(arg_pa.saturating_add(8), &u32::to_le_bytes(s));
        }
        if self.record {
            self.seen.push(seen);
        }
        if let Some(t) = self.threads.get_mut(slot) {
            *t = Some(th);
        }
        self.run(mem, slot, None)
    }

    /// Runs the command's immediate part; RPC work goes into the script.
    #[allow(clippy::too_many_arguments)] // one call site, all state of a call
    fn execute(
        &mut self,
        mem: &mut SimMemory,
        th: &mut Thread,
        cmd: u32,
        func: u32,
        hdr: &[u8; 32],
        params: &[crate::abi::Param],
        seen: &mut Seen,
        results: &mut Vec<(usize, crate::abi::Param)>,
        session_out: &mut Option<u32>,
    ) -> u32 {
        let client = th.client;
        let session = crate::abi::read_u32(hdr, 8);
        th.script.push(Act::Finish);
        // Every memref must be translated: page lists in mediator memory.
        for p in params {
            let ty = p.ty();
            if (msg::ATTR_TYPE_TMEM_INPUT..=msg::ATTR_TYPE_TMEM_INOUT).contains(&ty) && p.a != 0 {
                if p.attr & msg::ATTR_NONCONTIG == 0 {
                    self.violation("contiguous tmem reached OP-TEE");
                    return teec::ERROR_BAD_PARAMETERS;
                }
                if mem.owner_of(p.a) != Some(Owner::Shadow) {
                    self.violation("page list not in mediator memory");
                    return teec::ERROR_BAD_PARAMETERS;
                }
            }
        }
        let Some(c) = self.clients.get_mut(&client) else {
            return teec::ERROR_GENERIC;
        };
        match cmd {
            msg::CMD_OPEN_SESSION => {
                let ok = params.len() >= 2
                    && params.iter().take(2).all(|p| p.attr & msg::ATTR_META != 0);
                let Some(p0) = params.first().filter(|_| ok) else {
                    return teec::ERROR_BAD_PARAMETERS;
                };
                let uuid = TaUuid::from_words(p0.a, p0.b);
                if uuid != SIM_TA && uuid != SIM_PTA {
                    return teec::ERROR_ITEM_NOT_FOUND;
                }
                c.next_session = c.next_session.saturating_add(1);
                let s = c.next_session;
                c.sessions.insert(s, uuid);
                *session_out = Some(s);
                0
            }
            msg::CMD_CLOSE_SESSION => {
                if c.sessions.remove(&session).is_some() {
                    0
                } else {
                    teec::ERROR_BAD_PARAMETERS
                }
            }
            msg::CMD_CANCEL | msg::CMD_DO_BOTTOM_HALF | msg::CMD_STOP_ASYNC_NOTIF => 0,
            msg::CMD_REGISTER_SHM => {
                let Some(p0) = params.first() else {
                    return teec::ERROR_BAD_PARAMETERS;
                };
                // OP-TEE (`entry_std.c` `register_shm`) requires exactly
                // TMEM_OUTPUT | NONCONTIG; we accept any TMEM type with
                // NONCONTIG (the tests register TMEM_INOUT buffers), never a
                // NONE, VALUE or RMEM parameter that merely has the bit.
                let tmem =
                    (msg::ATTR_TYPE_TMEM_INPUT..=msg::ATTR_TYPE_TMEM_INOUT).contains(&p0.ty());
                if !tmem || p0.attr & msg::ATTR_NONCONTIG == 0 || c.registered.contains_key(&p0.c) {
                    return teec::ERROR_BAD_PARAMETERS;
                }
                let pages = read_list(mem, p0.a, p0.b);
                self.check_owner(mem, client, &pages);
                let Some(c) = self.clients.get_mut(&client) else {
                    return teec::ERROR_GENERIC;
                };
                c.registered.insert(p0.c, pages);
                0
            }
            msg::CMD_UNREGISTER_SHM => {
                let Some(p0) = params.first() else {
                    return teec::ERROR_BAD_PARAMETERS;
                };
                if c.registered.remove(&p0.c).is_some() {
                    0
                } else {
                    teec::ERROR_ITEM_NOT_FOUND
                }
            }
            msg::CMD_INVOKE_COMMAND => {
                if !c.sessions.contains_key(&session) {
                    return teec::ERROR_BAD_PARAMETERS;
                }
                // Resolve memrefs to page lists of machine addresses.
                for (i, p) in params.iter().enumerate() {
                    let ty = p.ty();
                    let tmem =
                        (msg::ATTR_TYPE_TMEM_INPUT..=msg::ATTR_TYPE_TMEM_INOUT).contains(&ty);
                    let rmem =
                        (msg::ATTR_TYPE_RMEM_INPUT..=msg::ATTR_TYPE_RMEM_INOUT).contains(&ty);
                    if !(tmem || rmem) || func != FN_ECHO {
                        continue;
                    }
                    let (pages, off, size) = if tmem {
                        if p.a == 0 {
                            continue;
                        }
                        let pages = read_list(mem, p.a, p.b);
                        self.check_owner(mem, client, &pages);
                        (pages, p.a & 0xfff, p.b)
                    } else {
                        let Some(c) = self.clients.get(&client) else {
                            return teec::ERROR_GENERIC;
                        };
                        match c.registered.get(&p.c) {
                            Some(pg) => (pg.clone(), p.a, p.b),
                            None => return teec::ERROR_BAD_PARAMETERS,
                        }
                    };
                    let input = ty == msg::ATTR_TYPE_TMEM_INPUT || ty == msg::ATTR_TYPE_RMEM_INPUT;
                    let room = (pages.len() * PAGE_SIZE).saturating_sub(off as usize);
                    let len = usize::try_from(size).unwrap_or(0).min(room);
                    let mut data = alloc::vec![0u8; len];
                    if input {
                        buf_io(mem, &pages, off, &mut data, false);
                        seen.input.extend_from_slice(&data);
                    } else {
                        data.fill(0xA5);
                        buf_io(mem, &pages, off, &mut data, true);
                        results.push((i, *p));
                    }
                }
                match func {
                    FN_NOP => {}
                    FN_ECHO => {
                        for (i, p) in params.iter().enumerate() {
                            if p.ty() == msg::ATTR_TYPE_VALUE_INOUT {
                                let mut q = *p;
                                q.a = q.a.wrapping_add(1);
                                q.b = client;
                                q.c = u64::from(session);
                                results.push((i, q));
                            }
                        }
                    }
                    FN_SHM_RPC => {
                        th.script = alloc::vec![
                            Act::NeedRpcBuf,
                            Act::ShmAlloc,
                            Act::ForeignIntr,
                            Act::ShmFree,
                            Act::ReleaseRpcBuf,
                            Act::Finish
                        ];
                    }
                    FN_GET_TIME => {
                        th.script = alloc::vec![
                            Act::NeedRpcBuf,
                            Act::GetTime,
                            Act::ReleaseRpcBuf,
                            Act::Finish
                        ];
                    }
                    FN_FOREIGN_INTR => th.script = alloc::vec![Act::ForeignIntr, Act::Finish],
                    FN_RPC_CMDS => {
                        th.script = alloc::vec![
                            Act::NeedRpcBuf,
                            Act::Other(rpc::CMD_NOTIFICATION),
                            Act::Other(rpc::CMD_SUSPEND),
                            Act::ReleaseRpcBuf,
                            Act::Finish
                        ];
                    }
                    FN_NOTIFY => {
                        if let Some(c) = self.clients.get_mut(&client) {
                            c.notif.push_back(5);
                        }
                    }
                    _ => return teec::ERROR_BAD_PARAMETERS,
                }
                0
            }
            _ => {
                self.violation("unknown command reached OP-TEE");
                teec::ERROR_BAD_PARAMETERS
            }
        }
    }

    fn resume(&mut self, mem: &mut SimMemory, r: Regs) -> Regs {
        let mut out = r;
        let tid = usize::try_from(r[3]).unwrap_or(usize::MAX);
        let owner = self
            .threads
            .get(tid)
            .and_then(|t| t.as_ref())
            .filter(|t| t.waiting)
            .map(|t| t.client);
        // OP-TEE 4.10 (thread_resume_from_rpc) resumes a suspended thread whoever asks: the
        // normal world must never resume another client's thread. Refused here, and recorded.
        if owner.is_some_and(|c| c != r[7]) {
            self.violation("RETURN_FROM_RPC resumed another client's thread");
        }
        if owner != Some(r[7]) {
            out[0] = ret::ERESUME;
            return out;
        }
        self.run(mem, tid, Some(r))
    }

    fn rpc_arg_pa(th: &Thread) -> Option<u64> {
        th.rpc_area.or(th.rpc_buf.map(|b| b.1))
    }

    fn run(&mut self, mem: &mut SimMemory, tid: usize, mut resume: Option<Regs>) -> Regs {
        let mut out = [0u64; 8];
        let Some(Some(mut th)) = self.threads.get_mut(tid).map(Option::take) else {
            out[0] = ret::ERESUME;
            return out;
        };
        let client = th.client;
        let rpc_out = |func: u32, a1: u64, a2: u64| -> Regs {
            [ret::rpc_val(func), a1, a2, tid as u64, 0, 0, 0, client]
        };
        loop {
            let act = th.script.get(th.pc).copied().unwrap_or(Act::Finish);
            let back = resume.take();
            if !th.waiting {
                // Issue the RPC for this step (or do it at once).
                let issued = match act {
                    Act::ForeignIntr => Some(rpc_out(ret::RPC_FUNC_FOREIGN_INTR, 0, 0)),
                    Act::NeedRpcBuf => {
                        if th.rpc_area.is_some() || th.rpc_buf.is_some() {
                            None
                        } else if let Some(b) = self
                            .clients
                            .get_mut(&client)
                            .and_then(|c| c.rpc_cache.pop())
                        {
                            th.rpc_buf = Some(b);
                            None
                        } else {
                            Some(rpc_out(ret::RPC_FUNC_ALLOC, 256, 0))
                        }
                    }
                    Act::ShmAlloc | Act::ShmFree | Act::GetTime | Act::Other(_) => {
                        let Some(pa) = Self::rpc_arg_pa(&th) else {
                            th.ret = teec::ERROR_OUT_OF_MEMORY;
                            th.pc = th.script.len();
                            continue;
                        };
                        let mut m = [0u8; 64];
                        let (cmd, np) = match act {
                            Act::ShmAlloc => (rpc::CMD_SHM_ALLOC, 1),
                            Act::ShmFree => (rpc::CMD_SHM_FREE, 1),
                            Act::Other(c) => (c, 1),
                            _ => (rpc::CMD_GET_TIME, 1),
                        };
                        crate::abi::write_u32(&mut m, 0, cmd);
                        crate::abi::write_u32(&mut m, 20, teec::ERROR_GENERIC);
                        crate::abi::write_u32(&mut m, 28, np);
                        match act {
                            Act::ShmAlloc => {
                                crate::abi::write_u64(&mut m, 32, msg::ATTR_TYPE_VALUE_INPUT);
                                crate::abi::write_u64(&mut m, 40, 1); // kernel buffer
                                crate::abi::write_u64(&mut m, 48, 4096);
                            }
                            Act::ShmFree => {
                                crate::abi::write_u64(&mut m, 32, msg::ATTR_TYPE_VALUE_INPUT);
                                crate::abi::write_u64(&mut m, 40, 1);
                                let ck = th.alloc.as_ref().map_or(0, |a| a.0);
                                crate::abi::write_u64(&mut m, 48, ck);
                            }
                            Act::Other(_) => {
                                crate::abi::write_u64(&mut m, 32, msg::ATTR_TYPE_VALUE_INPUT);
                                crate::abi::write_u64(&mut m, 40, 7);
                            }
                            _ => crate::abi::write_u64(&mut m, 32, msg::ATTR_TYPE_VALUE_OUTPUT),
                        }
                        if mem.owner_of(pa) != Some(Owner::Shadow) {
                            self.violation("RPC argument not in mediator memory");
                        }
                        mem.write_pa(pa, &m);
                        let (hi, lo) = match (th.rpc_area, th.rpc_buf) {
                            (None, Some((ck, _))) => split(ck),
                            _ => (0, 0),
                        };
                        Some(rpc_out(ret::RPC_FUNC_CMD, hi, lo))
                    }
                    Act::ReleaseRpcBuf => match th.rpc_buf {
                        Some(b) => {
                            let cached = self.clients.get(&client).is_some_and(|c| c.cache_enabled);
                            if cached {
                                if let Some(c) = self.clients.get_mut(&client) {
                                    c.rpc_cache.push(b);
                                }
                                th.rpc_buf = None;
                                None
                            } else {
                                let (hi, lo) = split(b.0);
                                Some(rpc_out(ret::RPC_FUNC_FREE, hi, lo))
                            }
                        }
                        None => None,
                    },
                    Act::Finish => {
                        let mut b = [0u8; 8];
                        crate::abi::write_u32(&mut b, 0, th.ret);
                        crate::abi::write_u32(
                            &mut b,
                            4,
                            if th.ret == 0 { 0 } else { teec::ORIGIN_TEE },
                        );
                        mem.write_pa(th.arg_pa.saturating_add(20), &b);
                        if th.time != (0, 0) {
                            let mut v = [0u8; 16];
                            crate::abi::write_u64(&mut v, 0, th.time.0);
                            crate::abi::write_u64(&mut v, 8, th.time.1);
                            mem.write_pa(th.arg_pa.saturating_add(40), &v);
                        }
                        // Thread slot freed.
                        out = [ret::OK, 0, 0, 0, 0, 0, 0, client];
                        return out;
                    }
                };
                match issued {
                    Some(regs) => {
                        th.waiting = true;
                        if let Some(t) = self.threads.get_mut(tid) {
                            *t = Some(th);
                        }
                        return regs;
                    }
                    None => {
                        th.pc = th.pc.saturating_add(1);
                        continue;
                    }
                }
            }
            // Waiting: handle the normal world's answer.
            let Some(r) = back else {
                // Spurious: stay suspended.
                if let Some(t) = self.threads.get_mut(tid) {
                    *t = Some(th);
                }
                out[0] = ret::ERESUME;
                return out;
            };
            if act == Act::ShmAlloc && self.interrupt_before_shm_alloc_read && !th.interrupted {
                th.interrupted = true;
                if let Some(t) = self.threads.get_mut(tid) {
                    *t = Some(th);
                }
                return rpc_out(ret::RPC_FUNC_FOREIGN_INTR, 0, 0);
            }
            th.interrupted = false;
            th.waiting = false;
            match act {
                Act::NeedRpcBuf => {
                    let pa = regpair(r[1], r[2]);
                    if pa == 0 {
                        // OP-TEE thread_rpc_alloc_arg (thread_optee_smc.c):
                        // a buffer it cannot use is given back with
                        // thread_rpc_free_arg(cookie), an RPC_FUNC_FREE for
                        // the cookie the normal world returned in a4/a5,
                        // unless that cookie is 0; get_rpc_arg then fails
                        // the command with OUT_OF_MEMORY.
                        th.ret = teec::ERROR_OUT_OF_MEMORY;
                        th.pc = th.script.len();
                        let cookie = regpair(r[4], r[5]);
                        if cookie != 0 {
                            let (hi, lo) = split(cookie);
                            // Resumed at Finish, which ignores the answer.
                            th.waiting = true;
                            if let Some(t) = self.threads.get_mut(tid) {
                                *t = Some(th);
                            }
                            return rpc_out(ret::RPC_FUNC_FREE, hi, lo);
                        }
                        continue;
                    }
                    if mem.owner_of(pa) != Some(Owner::Shadow) {
                        self.violation("RPC buffer not in mediator memory");
                    }
                    th.rpc_buf = Some((regpair(r[4], r[5]), pa));
                }
                Act::ReleaseRpcBuf => th.rpc_buf = None,
                Act::ShmAlloc | Act::GetTime | Act::ShmFree | Act::Other(_) => {
                    let pa = Self::rpc_arg_pa(&th).unwrap_or(0);
                    let mut m = [0u8; 64];
                    mem.read_pa(pa, &mut m);
                    let rv = crate::abi::read_u32(&m, 20);
                    let attr = crate::abi::read_u64(&m, 32);
                    let (a, b, c) = (
                        crate::abi::read_u64(&m, 40),
                        crate::abi::read_u64(&m, 48),
                        crate::abi::read_u64(&m, 56),
                    );
                    if act == Act::GetTime && rv == 0 {
                        th.time = (a, b);
                    }
                    if let Act::Other(cmd) = act {
                        if self.record {
                            self.rpc_answers.push((cmd, rv));
                        }
                    }
                    if act == Act::ShmAlloc {
                        if rv != 0 {
                            th.ret = teec::ERROR_OUT_OF_MEMORY;
                            th.pc = th.script.len().saturating_sub(2);
                            continue;
                        }
                        let tmem = (msg::ATTR_TYPE_TMEM_INPUT..=msg::ATTR_TYPE_TMEM_INOUT)
                            .contains(&(attr & msg::ATTR_TYPE_MASK));
                        if tmem && attr & msg::ATTR_NONCONTIG == 0 && a != 0 {
                            self.violation("contiguous SHM_ALLOC buffer reached OP-TEE");
                        }
                        if attr != (msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG) {
                            th.ret = teec::ERROR_OUT_OF_MEMORY;
                            th.pc = th.script.len().saturating_sub(2);
                            continue;
                        } else if a != 0 && mem.owner_of(a) != Some(Owner::Shadow) {
                            self.violation("SHM_ALLOC page list not in mediator memory");
                        } else {
                            let pages = read_list(mem, a, b);
                            self.check_owner(mem, client, &pages);
                            let mut hello = *b"hello";
                            buf_io(mem, &pages, a & 0xfff, &mut hello, true);
                            th.alloc = Some((c, pages));
                        }
                    }
                }
                Act::ForeignIntr | Act::Finish => {}
            }
            th.pc = th.pc.saturating_add(1);
        }
    }
}

/// Reads a NONCONTIG page list at `pa` for a buffer of `size` bytes.
fn read_list(mem: &SimMemory, pa: u64, size: u64) -> Vec<u64> {
    let off = pa & 0xfff;
    let pages = size.saturating_add(off).div_ceil(4096).min(1 << 16);
    let mut out = Vec::new();
    let mut list = pa & !0xfff;
    let mut page = [0u8; PAGE_SIZE];
    while (out.len() as u64) < pages {
        if !mem.read_pa(list, &mut page) {
            break;
        }
        for j in 0..msg::PAGELIST_ENTRIES {
            if out.len() as u64 >= pages {
                break;
            }
            out.push(crate::abi::read_u64(&page, j.saturating_mul(8)));
        }
        list = crate::abi::read_u64(&page, msg::PAGELIST_ENTRIES.saturating_mul(8));
    }
    out
}

/// Reads or writes a buffer given by its pages and first-page offset.
fn buf_io(mem: &mut SimMemory, pages: &[u64], off: u64, data: &mut [u8], write: bool) {
    let mut pos = off as usize;
    let mut i = 0usize;
    while i < data.len() {
        let Some(pa) = pages.get(pos / PAGE_SIZE) else {
            return;
        };
        let o = pos % PAGE_SIZE;
        let n = (PAGE_SIZE - o).min(data.len() - i);
        let a = pa.saturating_add(o as u64);
        if write {
            mem.write_pa(a, &data[i..i + n]);
        } else {
            mem.read_pa(a, &mut data[i..i + n]);
        }
        pos += n;
        i += n;
    }
}
