//! Fast calls (Xen optee_handle_call).

use super::*;
use crate::abi::{caps, ret, smc, OPTEE_MSG_UID, SMCCC_UNKNOWN_FUNCTION};
use crate::types::ClientId;
use crate::MEDIATOR_SMC_COUNT;

#[test]
fn calls_count_answered_locally() {
    let mut w = world();
    let before = w.p.optee.smc_count;
    let r = w.fast(G1, smc::CALLS_COUNT);
    assert_eq!(w.p.optee.smc_count, before);
    // Not MEDIATOR_SMC_COUNT compared with itself: the functions the mediator answers, counted
    // by calling every function number of the Trusted OS owners (50, and 63 for the general
    // queries), fast and yielding, SMC32 and SMC64 (SMCCC DEN 0028 §2.5), and seeing which are
    // not answered "unknown function".
    let mut answered = Vec::new();
    for owner in [50u32, 63] {
        for kind in [0x8000_0000u32, 0xC000_0000, 0, 0x4000_0000] {
            for func in 0..=0xFFFFu32 {
                let fid = kind | (owner << 24) | func;
                if w.fast(G1, fid)[0] != SMCCC_UNKNOWN_FUNCTION {
                    answered.push(fid);
                }
            }
        }
    }
    // optee_smc.h's functions but the hypervisor's VM_CREATED and VM_DESTROYED.
    let mut listed: Vec<u32> = crate::sim::script::FIDS
        .into_iter()
        .filter(|f| ![smc::VM_CREATED, smc::VM_DESTROYED].contains(f))
        .collect();
    listed.sort_unstable();
    answered.sort_unstable();
    assert_eq!(
        answered, listed,
        "the functions answered are optee_smc.h's guest functions"
    );
    assert_eq!(r[0], u64::try_from(answered.len()).unwrap());
    assert_eq!(
        MEDIATOR_SMC_COUNT, 16,
        "README.md's deviation: CALLS_COUNT answers 16"
    );
}

/// The simulated OP-TEE's own answers (sim/optee.rs), written out again here.
const SIM_OS_UUID: [u64; 4] = [0x486178e0, 0xe7f811e3, 0xbc5e0002, 0xa5d5c51b];

#[test]
fn constant_calls_answered_from_the_probe() {
    let mut w = world();
    let before = w.p.optee.smc_count;
    let r = w.fast(G1, smc::CALLS_UID);
    assert_eq!(&r[..4], &OPTEE_MSG_UID.map(u64::from)[..]);
    let r = w.fast(G2, smc::CALLS_REVISION);
    assert_eq!(&r[..2], &[2, 0]);
    assert_eq!(&w.fast(G2, smc::GET_OS_UUID)[..4], &SIM_OS_UUID[..]);
    assert_eq!(&w.fast(G2, smc::GET_OS_REVISION)[..3], &[4, 10, 0x1234]);
    assert_eq!(&w.fast(G1, smc::GET_THREAD_COUNT)[..2], &[ret::OK, 4]);
    assert_eq!(w.p.optee.smc_count, before, "no secure call for a constant");
    // The registers past the answer keep the guest's values, as when forwarded.
    let r = w.call(G1, [u64::from(smc::CALLS_REVISION), 7, 7, 7, 7, 7, 7, 7]);
    assert_eq!(r, [2, 0, 7, 7, 7, 7, 7, 7]);
}

#[test]
fn probe_asks_the_constants_as_the_hypervisor() {
    let mut p = crate::sim::SimPlatform::new(2);
    crate::Mediator::probe(Config::default(), &mut p).unwrap();
    // CALLS_UID, CALLS_REVISION, GET_OS_UUID, GET_OS_REVISION, GET_THREAD_COUNT, VM_DESTROYED.
    assert_eq!(p.optee.smc_count, 6);
    assert_eq!(p.optee.last, (smc::VM_DESTROYED, 0));
}

#[test]
fn constant_calls_forwarded_with_client_id_without_a_probe() {
    let mut p = crate::sim::SimPlatform::new(2);
    p.mem.add_guest(G2, 0x4000_0000, 4);
    let mut m = crate::Mediator::new(Config::default(), 2);
    m.guest_created(&mut p, G2, "x").unwrap();
    let r = m.handle_call(
        &mut p,
        G2,
        [u64::from(smc::GET_OS_UUID), 0, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(&r[..4], &SIM_OS_UUID[..]);
    assert_eq!(p.optee.last, (smc::GET_OS_UUID, ClientId::of(G2).raw()));
    let r = m.handle_call(
        &mut p,
        G2,
        [u64::from(smc::GET_OS_REVISION), 0, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(&r[..3], &[4, 10, 0x1234]);
    assert_eq!(p.optee.last, (smc::GET_OS_REVISION, 3));
}

#[test]
fn enable_shm_cache_forwarded() {
    let mut w = world();
    assert_eq!(w.fast(G1, smc::ENABLE_SHM_CACHE)[0], ret::OK);
    assert_eq!(w.p.optee.last, (smc::ENABLE_SHM_CACHE, 2));
}

#[test]
fn disable_shm_cache_frees_rpc_buffer() {
    let mut w = world();
    w.fast(G1, smc::ENABLE_SHM_CACHE);
    let s = open(&mut w, G1);
    // An RPC that needs an RPC buffer: OP-TEE allocates one and caches it.
    let o = invoke(
        &mut w,
        G1,
        s,
        crate::sim::FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(w.p.mem.pins(G1), 1, "the cached RPC buffer stays pinned");
    let r = w.fast(G1, smc::DISABLE_SHM_CACHE);
    assert_eq!(r[0], ret::OK);
    assert_eq!(w.p.mem.pins(G1), 0, "freed with the cookie OP-TEE returned");
    let cookie = crate::abi::regpair(r[1], r[2]);
    assert!(w.drivers[&G1].rpc_pages.contains_key(&cookie));
    assert_eq!(w.fast(G1, smc::DISABLE_SHM_CACHE)[0], ret::ENOTAVAIL);
    assert_clean(&w);
}

/// Fills OP-TEE's RPC argument cache of `dom` with one buffer (a call that needs an RPC
/// argument, with the cache on).
fn cache_one_rpc_buffer(w: &mut World, dom: DomId) {
    assert_eq!(w.fast(dom, smc::ENABLE_SHM_CACHE)[0], ret::OK);
    let s = open(w, dom);
    let o = invoke(
        w,
        dom,
        s,
        crate::sim::FN_GET_TIME,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(w.p.mem.pins(dom), 1, "the cached RPC buffer stays pinned");
}

/// The flush of a replayed client's RPC cache (the stub domain after a mediator restart):
/// DISABLE_SHM_CACHE with the guest's client ID until ENOTAVAIL, the buffers the mediator
/// tracks freed, then the cache enabled again; with `shm_cache` off it stays off.
#[test]
fn rpc_cache_flush_empties_and_reenables_the_cache() {
    for shm_cache in [true, false] {
        let mut config = Config::default();
        config.features.shm_cache = shm_cache;
        let mut w = world_with(config);
        // Filled while the cache could be enabled (here: by OP-TEE directly for shm_cache off).
        if shm_cache {
            cache_one_rpc_buffer(&mut w, G1);
        }
        let before = w.p.optee.smc_count;
        let n = usize::from(shm_cache);
        assert_eq!(w.m.flush_rpc_cache(&mut w.p, G1), Ok(n));
        assert_eq!(w.p.mem.pins(G1), 0, "the dropped buffer unpinned");
        // n + 1 DISABLE_SHM_CACHE, then ENABLE_SHM_CACHE if on, all with G1's client ID.
        assert_eq!(w.p.optee.smc_count - before, (n + 1 + n) as u64);
        let last = if shm_cache {
            smc::ENABLE_SHM_CACHE
        } else {
            smc::DISABLE_SHM_CACHE
        };
        assert_eq!(w.p.optee.last, (last, ClientId::of(G1).raw()));
        // Cached again only if re-enabled.
        let s = open(&mut w, G1);
        invoke(
            &mut w,
            G1,
            s,
            crate::sim::FN_GET_TIME,
            &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
        );
        assert_eq!(w.p.mem.pins(G1), n, "shm_cache={shm_cache}");
        assert_clean(&w);
    }
}

/// The flush is bounded whatever OP-TEE answers: a cache that never empties ends it after
/// `FLUSH_MAX` calls with EBUSY, a thread in use at once with OP-TEE's EBUSY, and a guest the
/// mediator does not serve gets no secure call.
#[test]
fn rpc_cache_flush_is_bounded() {
    let mut w = world();
    w.p.optee.endless_shm_cache = true;
    let n = w.p.optee.smc_count;
    assert_eq!(w.m.flush_rpc_cache(&mut w.p, G1), Err(ret::EBUSY));
    assert_eq!(w.p.optee.smc_count - n, crate::mediator::FLUSH_MAX as u64);
    w.p.optee.endless_shm_cache = false;
    // A call suspended in an RPC holds a thread.
    let s = open(&mut w, G2);
    w.write_arg(
        G2,
        arg(1),
        msg::CMD_INVOKE_COMMAND,
        crate::sim::FN_GET_TIME,
        s,
        &[value(msg::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    let (hi, lo) = crate::abi::split(arg(1));
    let r = w.call(G2, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    assert!(ret::is_rpc(r[0]));
    let n = w.p.optee.smc_count;
    assert_eq!(w.m.flush_rpc_cache(&mut w.p, G1), Err(ret::EBUSY));
    assert_eq!(w.p.optee.smc_count - n, 1);
    let n = w.p.optee.smc_count;
    assert_eq!(
        w.m.flush_rpc_cache(&mut w.p, DomId::new(9).unwrap()),
        Err(ret::ENOTAVAIL)
    );
    assert_eq!(w.p.optee.smc_count, n);
}

#[test]
fn get_shm_config_refused() {
    let mut w = world();
    let n = w.p.optee.smc_count;
    assert_eq!(w.fast(G1, smc::GET_SHM_CONFIG)[0], ret::ENOTAVAIL);
    assert_eq!(w.p.optee.smc_count, n);
}

#[test]
fn exchange_capabilities_filtered_both_ways() {
    let mut w = world();
    let r = w.call(
        G1,
        [
            u64::from(smc::EXCHANGE_CAPABILITIES),
            u64::MAX,
            0,
            0,
            0,
            0,
            0,
            0,
        ],
    );
    assert_eq!(r[0], ret::OK);
    // OP-TEE's reserved-SHM bit and unknown bit 20 are dropped.
    assert_eq!(r[1] & caps::SEC_HAVE_RESERVED_SHM, 0);
    assert_eq!(r[1] & (1 << 20), 0);
    assert_ne!(r[1] & caps::SEC_DYNAMIC_SHM, 0);
    assert_eq!(r[1] & !caps::SUPPORTED_SEC, 0);
    assert_eq!(r[2], 63, "max notification value passed with ASYNC_NOTIF");
    assert_eq!(r[3], 4, "RPC parameter count passed with RPC_ARG");
}

#[test]
fn exchange_capabilities_guest_bits_masked() {
    // The simulated OP-TEE answers whatever it is given; check what it got
    // by making it echo through a custom secure world.
    struct Echo(crate::sim::SimPlatform, u64);
    impl crate::SecureWorld for Echo {
        fn smc(&mut self, r: crate::Regs) -> crate::Regs {
            if r[0] == u64::from(smc::EXCHANGE_CAPABILITIES) {
                self.1 = r[1];
            }
            self.0.smc(r)
        }
    }
    impl crate::GuestMemory for Echo {
        fn read(&mut self, d: DomId, i: crate::Ipa, b: &mut [u8]) -> Result<(), crate::MemFault> {
            self.0.read(d, i, b)
        }
        fn write(&mut self, d: DomId, i: crate::Ipa, b: &[u8]) -> Result<(), crate::MemFault> {
            self.0.write(d, i, b)
        }
    }
    impl crate::Pinning for Echo {
        fn pin(&mut self, d: DomId, p: crate::Ipa) -> Result<crate::PinnedPage, crate::PinFault> {
            self.0.pin(d, p)
        }
        fn unpin(&mut self, d: DomId, p: crate::PinnedPage) {
            self.0.unpin(d, p)
        }
    }
    impl crate::GuestNotification for Echo {
        fn has_notif_interrupt(&mut self, d: DomId) -> bool {
            self.0.has_notif_interrupt(d)
        }
    }
    impl crate::ShadowPages for Echo {
        fn alloc(&mut self) -> Result<crate::ShadowPage, crate::NoShadowPage> {
            self.0.alloc()
        }
        fn free(&mut self, p: crate::ShadowPage) {
            self.0.free(p)
        }
        fn bytes(&self, p: &crate::ShadowPage) -> &[u8; 4096] {
            self.0.bytes(p)
        }
        fn bytes_mut(&mut self, p: &crate::ShadowPage) -> &mut [u8; 4096] {
            self.0.bytes_mut(p)
        }
    }
    let mut p = Echo(crate::sim::SimPlatform::new(2), 0);
    p.0.mem.add_guest(G1, 0x4000_0000, 4);
    let mut m = crate::Mediator::new(Config::default(), 2);
    m.guest_created(&mut p, G1, "x").unwrap();
    m.handle_call(
        &mut p,
        G1,
        [
            u64::from(smc::EXCHANGE_CAPABILITIES),
            0xFFFF,
            0,
            0,
            0,
            0,
            0,
            0,
        ],
    );
    assert_eq!(p.1, caps::KNOWN_NSEC);
}

#[test]
fn exchange_capabilities_without_dynamic_shm_is_enotavail() {
    let mut w = world();
    w.p.optee.caps &= !caps::SEC_DYNAMIC_SHM;
    assert_eq!(w.exchange(G1)[0], ret::ENOTAVAIL);
}

#[test]
fn vm_created_and_destroyed_never_from_a_guest() {
    let mut w = world();
    let n = w.p.optee.smc_count;
    for f in [smc::VM_CREATED, smc::VM_DESTROYED] {
        let r = w.call(G1, [u64::from(f), 3, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r[0], SMCCC_UNKNOWN_FUNCTION);
    }
    assert_eq!(w.p.optee.smc_count, n);
    assert!(w.p.optee.has_client(2));
}

#[test]
fn unknown_function_gets_smccc_unknown() {
    let mut w = world();
    for f in [0xB200_0063u64, 0x8400_0000, 0x1_3200_0004, u64::MAX] {
        assert_eq!(
            w.call(G1, [f, 0, 0, 0, 0, 0, 0, 0])[0],
            SMCCC_UNKNOWN_FUNCTION
        );
    }
}

#[test]
fn non_tee_domain_gets_unknown_function() {
    let mut w = world();
    let r = w.fast(DomId::new(9).unwrap(), smc::CALLS_UID);
    assert_eq!(r[0], SMCCC_UNKNOWN_FUNCTION);
}

#[test]
fn unset_registers_keep_guest_values() {
    let mut w = world();
    let r = w.call(G1, [u64::from(smc::ENABLE_SHM_CACHE), 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(r, [0, 1, 2, 3, 4, 5, 6, 7]);
}
