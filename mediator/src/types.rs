//! Validated types for values that come from a guest or from the platform.
//!
//! A register value from a guest is an *allegation*: it becomes an [`Ipa`],
//! [`ShmCookie`]… only through a constructor that checks it, and code past
//! the edge works with the validated type.

use crate::abi::{smc, PAGE_MASK, PAGE_SIZE_U64};

/// A Xen domain ID: one of a real domain, below `DOMID_FIRST_RESERVED` (Xen's public `xen.h`:
/// 0x7FF0 and up are `DOMID_SELF`, `DOMID_IO`, `DOMID_XEN`, `DOMID_COW`, `DOMID_INVALID`,
/// `DOMID_IDLE`…, which name no guest).
///
/// The mediator learns domain IDs from Xen (the hook's ring, `xenif::hook`), never from a guest;
/// still, [`DomId::new`] is the only way to make one, so a reserved ID never reaches the core
/// (and [`ClientId::of`] never names a client OP-TEE could confuse with another).
///
/// ```
/// use mediator::DomId;
/// assert_eq!(DomId::new(0).map(DomId::raw), Some(0));
/// assert_eq!(DomId::new(0x7FEF).map(DomId::raw), Some(0x7FEF));
/// assert_eq!(DomId::new(DomId::FIRST_RESERVED), None); // DOMID_SELF
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomId(u16);

impl DomId {
    /// `DOMID_FIRST_RESERVED` (`xen.h`): the first ID that names no domain.
    pub const FIRST_RESERVED: u16 = 0x7FF0;

    /// The domain `v`, `None` for a reserved ID (`v >= DOMID_FIRST_RESERVED`).
    pub const fn new(v: u16) -> Option<DomId> {
        if v < Self::FIRST_RESERVED {
            Some(DomId(v))
        } else {
            None
        }
    }

    /// The raw ID (for Xen's hypercalls and the log).
    pub const fn raw(self) -> u16 {
        self.0
    }
}

/// OP-TEE's hypervisor client ID: `domid + 1`; 0 is the hypervisor itself
/// (`optee_smc.h`, a7 "Hypervisor Client ID register").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(u32);

impl ClientId {
    /// The hypervisor's own ID, used for VM_CREATED/VM_DESTROYED.
    pub const HYPERVISOR: ClientId = ClientId(0);

    /// The client ID of a guest (never 0).
    ///
    /// ```
    /// use mediator::{ClientId, DomId};
    /// assert_eq!(ClientId::of(DomId::new(0).unwrap()).raw(), 1);
    /// assert_eq!(ClientId::HYPERVISOR.raw(), 0);
    /// ```
    pub fn of(dom: DomId) -> ClientId {
        // Below DOMID_FIRST_RESERVED, so + 1 always fits in u32 (and is never 0).
        ClientId(u32::from(dom.0).saturating_add(1))
    }
    /// The raw value for a7.
    pub fn raw(self) -> u64 {
        u64::from(self.0)
    }
}

/// The OP-TEE function a guest's x0 names (`optee_smc.h`; Arm SMCCC, DEN 0028, §2.5 "Function
/// Identifiers"), parsed once where a trapped call enters the mediator ([`FunctionId::parse`]).
/// Code past the edge matches on this type, never on x0.
///
/// Only an x0 that is exactly one of OP-TEE's 32-bit function IDs names a function: one with
/// any of the upper 32 bits set is [`FunctionId::Unknown`], as in Xen's `optee_handle_call`,
/// which switches on the whole register.
///
/// ```
/// use mediator::abi::smc;
/// use mediator::FunctionId;
/// assert_eq!(FunctionId::parse(u64::from(smc::CALL_WITH_ARG)), FunctionId::CallWithArg);
/// assert_eq!(FunctionId::parse(u64::from(smc::CALL_WITH_ARG) | 1 << 32), FunctionId::Unknown);
/// assert_eq!(FunctionId::CallWithArg.id(), Some(smc::CALL_WITH_ARG));
/// assert_eq!(FunctionId::Unknown.id(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionId {
    /// `OPTEE_SMC_CALLS_COUNT`.
    CallsCount,
    /// `OPTEE_SMC_CALLS_UID`.
    CallsUid,
    /// `OPTEE_SMC_CALLS_REVISION`.
    CallsRevision,
    /// `OPTEE_SMC_CALL_GET_OS_UUID`.
    GetOsUuid,
    /// `OPTEE_SMC_CALL_GET_OS_REVISION`.
    GetOsRevision,
    /// `OPTEE_SMC_GET_THREAD_COUNT`.
    GetThreadCount,
    /// `OPTEE_SMC_GET_SHM_CONFIG`.
    GetShmConfig,
    /// `OPTEE_SMC_EXCHANGE_CAPABILITIES`.
    ExchangeCapabilities,
    /// `OPTEE_SMC_DISABLE_SHM_CACHE`.
    DisableShmCache,
    /// `OPTEE_SMC_ENABLE_SHM_CACHE`.
    EnableShmCache,
    /// `OPTEE_SMC_ENABLE_ASYNC_NOTIF`.
    EnableAsyncNotif,
    /// `OPTEE_SMC_GET_ASYNC_NOTIF_VALUE`.
    GetAsyncNotifValue,
    /// `OPTEE_SMC_VM_CREATED` (the hypervisor's, never a guest's).
    VmCreated,
    /// `OPTEE_SMC_VM_DESTROYED` (the hypervisor's, never a guest's).
    VmDestroyed,
    /// `OPTEE_SMC_CALL_WITH_ARG`.
    CallWithArg,
    /// `OPTEE_SMC_CALL_WITH_RPC_ARG`.
    CallWithRpcArg,
    /// `OPTEE_SMC_CALL_WITH_REGD_ARG`.
    CallWithRegdArg,
    /// `OPTEE_SMC_CALL_RETURN_FROM_RPC`.
    ReturnFromRpc,
    /// Anything else.
    Unknown,
}

impl FunctionId {
    /// Every function with an ID, and the ID.
    const ALL: [(FunctionId, u32); 18] = [
        (FunctionId::CallsCount, smc::CALLS_COUNT),
        (FunctionId::CallsUid, smc::CALLS_UID),
        (FunctionId::CallsRevision, smc::CALLS_REVISION),
        (FunctionId::GetOsUuid, smc::GET_OS_UUID),
        (FunctionId::GetOsRevision, smc::GET_OS_REVISION),
        (FunctionId::GetThreadCount, smc::GET_THREAD_COUNT),
        (FunctionId::GetShmConfig, smc::GET_SHM_CONFIG),
        (FunctionId::ExchangeCapabilities, smc::EXCHANGE_CAPABILITIES),
        (FunctionId::DisableShmCache, smc::DISABLE_SHM_CACHE),
        (FunctionId::EnableShmCache, smc::ENABLE_SHM_CACHE),
        (FunctionId::EnableAsyncNotif, smc::ENABLE_ASYNC_NOTIF),
        (FunctionId::GetAsyncNotifValue, smc::GET_ASYNC_NOTIF_VALUE),
        (FunctionId::VmCreated, smc::VM_CREATED),
        (FunctionId::VmDestroyed, smc::VM_DESTROYED),
        (FunctionId::CallWithArg, smc::CALL_WITH_ARG),
        (FunctionId::CallWithRpcArg, smc::CALL_WITH_RPC_ARG),
        (FunctionId::CallWithRegdArg, smc::CALL_WITH_REGD_ARG),
        (FunctionId::ReturnFromRpc, smc::RETURN_FROM_RPC),
    ];

    /// The function x0 names.
    pub fn parse(x0: u64) -> FunctionId {
        Self::ALL
            .iter()
            .find(|&&(_, id)| u64::from(id) == x0)
            .map_or(FunctionId::Unknown, |&(f, _)| f)
    }

    /// Its SMC function ID (`None` for [`FunctionId::Unknown`]).
    pub fn id(self) -> Option<u32> {
        Self::ALL
            .iter()
            .find(|&&(f, _)| f == self)
            .map(|&(_, id)| id)
    }

    /// A new standard call: it needs a free OP-TEE thread.
    pub fn is_new_call(self) -> bool {
        matches!(
            self,
            FunctionId::CallWithArg | FunctionId::CallWithRpcArg | FunctionId::CallWithRegdArg
        )
    }

    /// A standard (yielding) call: a new one or a RETURN_FROM_RPC, which runs on an OP-TEE
    /// thread.
    pub fn is_standard(self) -> bool {
        self.is_new_call() || self == FunctionId::ReturnFromRpc
    }
}

/// A guest intermediate physical address: one inside the IPA space Xen on Arm64 can give a
/// guest, below [`Ipa::LIMIT`]. Still an allegation until used through [`crate::GuestMemory`]
/// or [`crate::Pinning`], which fail for an address that is not the guest's RAM.
///
/// Made only by a checked constructor: [`Ipa::new`] (byte granular), [`Ipa::page_aligned`]
/// (4 KiB aligned, what the OP-TEE ABI asks of an argument, a page-list entry and an RPC
/// buffer), [`Ipa::checked_add`] (no overflow and still inside the space). An address beyond
/// the space names nothing Xen could map or pin, so refusing it at the edge gives the guest
/// the answer a failed access would.
///
/// ```
/// use mediator::Ipa;
/// assert_eq!(Ipa::new(0x4000_0123).map(Ipa::raw), Some(0x4000_0123));
/// assert_eq!(Ipa::new(Ipa::LIMIT), None);
/// assert_eq!(Ipa::page_aligned(0x4000_0123), None);
/// let top = Ipa::page_aligned(Ipa::LIMIT - 4096).unwrap();
/// assert_eq!(top.checked_add(4095).map(Ipa::raw), Some(Ipa::LIMIT - 1));
/// assert_eq!(top.checked_add(4096), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipa(u64);

impl Ipa {
    /// The end of the IPA space: 2^48. Xen on Arm64 gives guests at most `PADDR_BITS` (48)
    /// bits of IPA (`xen/arch/arm/include/asm/page-bits.h`; `p2m_ipa_bits` in
    /// `xen/arch/arm/p2m.c` starts there and is only ever lowered to what the CPU and the
    /// SMMUs support).
    pub const LIMIT: u64 = 1 << 48;

    /// Address 0 (a valid IPA; Xen's `optee.c`, near `optee_domain_init`, notes it is one).
    pub const ZERO: Ipa = Ipa(0);

    /// Any address inside the IPA space (byte granular), `None` beyond it.
    pub const fn new(v: u64) -> Option<Ipa> {
        if v < Self::LIMIT {
            Some(Ipa(v))
        } else {
            None
        }
    }
    /// A 4 KiB-aligned address inside the IPA space, `None` when unaligned or beyond it.
    pub const fn page_aligned(v: u64) -> Option<Ipa> {
        if v & PAGE_MASK == 0 {
            Ipa::new(v)
        } else {
            None
        }
    }
    /// The raw address.
    pub const fn raw(self) -> u64 {
        self.0
    }
    /// The page containing this address.
    pub const fn page(self) -> Ipa {
        Ipa(self.0 & !PAGE_MASK)
    }
    /// Offset inside its 4 KiB page.
    pub const fn page_offset(self) -> u64 {
        self.0 & PAGE_MASK
    }
    /// `self + off`, `None` on overflow or beyond the IPA space.
    pub const fn checked_add(self, off: u64) -> Option<Ipa> {
        match self.0.checked_add(off) {
            Some(v) => Ipa::new(v),
            None => None,
        }
    }
}

/// A machine (physical) address OP-TEE can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pa(u64);

impl Pa {
    /// Wraps a physical address reported by the platform.
    pub const fn new(v: u64) -> Pa {
        Pa(v)
    }
    /// The raw address.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

/// A shared-memory cookie chosen by the guest: `shm_ref` of a memref (`optee_msg.h`,
/// `struct optee_msg_param_tmem`/`_rmem`: the normal world's reference, opaque to the secure
/// world), a1/a2 of CALL_WITH_REGD_ARG, or a4/a5 of its answer to RPC_FUNC_ALLOC
/// (`optee_smc.h`).
///
/// Every value is a well-formed allegation: the ABI gives no cookie a meaning of its own, and
/// the mediator looks each one up only among the buffers of the guest that made the call (its
/// own records), so a cookie can only ever name that guest's buffers. Not even
/// 0 is refused: the mediator hands OP-TEE cookie 0 with a null buffer when it refuses an
/// RPC_FUNC_ALLOC answer (OP-TEE then frees nothing, `thread_rpc_free_arg`), but a guest that
/// picks 0 for a buffer of its own only keeps that buffer until its teardown, within its
/// limits. So there is nothing to check, and the constructors only say where the value came
/// from: [`ShmCookie::from_guest`] at the edge, where the guest's register or message is read;
/// [`ShmCookie::from_optee`] where OP-TEE hands back a cookie the mediator passed it.
///
/// ```
/// use mediator::ShmCookie;
/// assert_eq!(ShmCookie::from_guest(0).raw(), 0);
/// assert_eq!(ShmCookie::from_guest(u64::MAX), ShmCookie::from_optee(u64::MAX));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShmCookie(u64);

impl ShmCookie {
    /// The cookie a guest alleges, in a register or in a message it wrote.
    pub const fn from_guest(v: u64) -> ShmCookie {
        ShmCookie(v)
    }
    /// A cookie in OP-TEE's answer (RPC_FUNC_FREE, RPC_FUNC_CMD's a1/a2, DISABLE_SHM_CACHE,
    /// SHM_FREE's parameter, a completed REGISTER_SHM or UNREGISTER_SHM): one the mediator
    /// passed it.
    pub const fn from_optee(v: u64) -> ShmCookie {
        ShmCookie(v)
    }
    /// The raw cookie.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

/// An OP-TEE thread ID: a3 of an RPC OP-TEE returned (`optee_smc.h`, `OPTEE_SMC_RETURN_RPC_*`:
/// "a3 Thread ID"), and a3 of the guest's RETURN_FROM_RPC, which names the thread to resume.
///
/// OP-TEE's thread IDs are indices of its thread table (`thread.c`, `threads[CFG_NUM_THREADS]`),
/// so every one is below the count GET_THREAD_COUNT reports, which the mediator probed. The
/// guest's a3 is parsed against that bound ([`ThreadId::parse`]): an ID no thread can have is
/// refused at the edge, whole register (upper bits set included), with the same answer as any
/// ID no suspended call of the guest has (`OPTEE_SMC_RETURN_ERESUME`); a valid one still only
/// resumes a call of the guest itself, found by it. OP-TEE's own a3 is taken as it comes
/// ([`ThreadId::from_optee`]): the secure world is trusted with its thread IDs.
///
/// ```
/// use mediator::ThreadId;
/// assert_eq!(ThreadId::parse(0, 8).map(ThreadId::raw), Some(0));
/// assert_eq!(ThreadId::parse(7, 8).map(ThreadId::raw), Some(7));
/// assert_eq!(ThreadId::parse(8, 8), None);
/// assert_eq!(ThreadId::parse(1 << 32, 8), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(u32);

impl ThreadId {
    /// The thread a guest's a3 names, if OP-TEE, with `threads` threads, can have it.
    pub fn parse(a3: u64, threads: usize) -> Option<ThreadId> {
        let t = u32::try_from(a3).ok()?;
        (usize::try_from(t).ok()? < threads).then_some(ThreadId(t))
    }
    /// The thread ID OP-TEE returned in a3 of an RPC.
    pub const fn from_optee(t: u32) -> ThreadId {
        ThreadId(t)
    }
    /// The raw ID.
    pub const fn raw(self) -> u32 {
        self.0
    }
}

/// A trusted application UUID, as the 16 octets OP-TEE carries in
/// `params[0].u.value.a` and `.b` of OPEN_SESSION (`optee_msg.h`; the
/// octets are stored in memory order, i.e. little-endian u64 words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaUuid(pub [u8; 16]);

impl TaUuid {
    /// From the two value words of the META parameter.
    pub fn from_words(a: u64, b: u64) -> TaUuid {
        let mut o = [0u8; 16];
        let (lo, hi) = o.split_at_mut(8);
        lo.copy_from_slice(&a.to_le_bytes());
        hi.copy_from_slice(&b.to_le_bytes());
        TaUuid(o)
    }
    /// The two value words of the META parameter.
    pub fn to_words(self) -> (u64, u64) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&self.0[..8]);
        b.copy_from_slice(&self.0[8..]);
        (u64::from_le_bytes(a), u64::from_le_bytes(b))
    }
}

/// A validated temporary-memory reference: the guest's description of a
/// buffer through a non-contiguous page list (`OPTEE_MSG_ATTR_NONCONTIG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageList {
    list: Option<Ipa>,
    offset: u64,
    pages: usize,
}

/// Why a [`PageList`] could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageListError {
    /// Size plus offset overflows, or the page count does not fit a usize.
    Overflow,
    /// More pages than the per-buffer limit allows.
    TooManyPages,
}

impl PageList {
    /// Validates `buf_ptr`/`size` of a NONCONTIG memref against `max_pages`
    /// (Xen: `translate_noncontig`, `MAX_SHM_BUFFER_PG`). `buf_ptr == 0` is a
    /// null memref and has no page list: the caller checks it first.
    ///
    /// ```
    /// use mediator::types::{Ipa, PageList, PageListError};
    /// // 512 KiB starting one byte into a page spans 129 pages: allowed.
    /// let p = PageList::new(0x8000_0001, 512 * 1024, 129).unwrap();
    /// assert_eq!((p.list().map(Ipa::raw), p.offset(), p.pages()), (Some(0x8000_0000), 1, 129));
    /// assert_eq!(PageList::new(0x8000_0001, 129 * 4096, 129), Err(PageListError::TooManyPages));
    /// assert_eq!(PageList::new(0x1, u64::MAX, 129), Err(PageListError::Overflow));
    /// ```
    pub fn new(buf_ptr: u64, size: u64, max_pages: usize) -> Result<PageList, PageListError> {
        let offset = buf_ptr & PAGE_MASK;
        let span = size.checked_add(offset).ok_or(PageListError::Overflow)?;
        let pages = span.div_ceil(PAGE_SIZE_U64);
        let pages = usize::try_from(pages).map_err(|_| PageListError::Overflow)?;
        if pages > max_pages {
            return Err(PageListError::TooManyPages);
        }
        Ok(PageList {
            list: Ipa::page_aligned(buf_ptr & !PAGE_MASK),
            offset,
            pages,
        })
    }

    /// First page of the guest's page list; `None` when `buf_ptr` is beyond the IPA space
    /// ([`Ipa::LIMIT`]). Such a list cannot be read: a buffer with pages fails where its list
    /// would be read, as for any unreadable list (Xen: `get_domain_ram_page` of the list fails);
    /// one of 0 pages needs no list (Xen reads none either).
    pub const fn list(&self) -> Option<Ipa> {
        self.list
    }
    /// Offset of the buffer in its first page (`buf_ptr & 0xfff`).
    pub const fn offset(&self) -> u64 {
        self.offset
    }
    /// Number of data pages the buffer spans.
    pub const fn pages(&self) -> usize {
        self.pages
    }
}

/// x0..x7 of a trapped call or of its answer.
pub type Regs = [u64; 8];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_is_domid_plus_one() {
        assert_eq!(ClientId::of(DomId::new(0).unwrap()).raw(), 1);
        assert_eq!(ClientId::of(DomId::new(0x7FEF).unwrap()).raw(), 0x7FF0);
        assert_eq!(ClientId::HYPERVISOR.raw(), 0);
    }

    #[test]
    fn dom_id_is_below_the_reserved_ids() {
        assert_eq!(DomId::new(0).map(DomId::raw), Some(0));
        assert_eq!(DomId::new(1).map(DomId::raw), Some(1));
        assert_eq!(DomId::new(0x7FEF).map(DomId::raw), Some(0x7FEF));
        // DOMID_SELF (0x7FF0), DOMID_IO, DOMID_XEN, DOMID_COW, DOMID_INVALID (0x7FF4), DOMID_IDLE.
        for v in [
            0x7FF0,
            0x7FF1,
            0x7FF2,
            0x7FF3,
            0x7FF4,
            0x7FFF,
            0x8000,
            u16::MAX,
        ] {
            assert_eq!(DomId::new(v), None, "{v:#x}");
        }
        // Usable in constants.
        const D: Option<DomId> = DomId::new(7);
        assert_eq!(D.map(DomId::raw), Some(7));
    }

    #[test]
    fn shm_cookie_takes_every_value() {
        for v in [0, 1, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
            assert_eq!(ShmCookie::from_guest(v).raw(), v);
            assert_eq!(ShmCookie::from_guest(v), ShmCookie::from_optee(v));
        }
        const C: ShmCookie = ShmCookie::from_guest(7);
        assert_eq!(C.raw(), 7);
    }

    #[test]
    fn thread_id_is_below_the_thread_count() {
        assert_eq!(ThreadId::parse(0, 1).map(ThreadId::raw), Some(0));
        assert_eq!(ThreadId::parse(0, 0), None);
        assert_eq!(ThreadId::parse(7, 8).map(ThreadId::raw), Some(7));
        assert_eq!(ThreadId::parse(8, 8), None);
        assert_eq!(ThreadId::parse(9, 8), None);
        let max = u32::MAX;
        assert_eq!(
            ThreadId::parse(u64::from(max), usize::MAX).map(ThreadId::raw),
            Some(max)
        );
        assert_eq!(
            ThreadId::parse(u64::from(max), usize::try_from(max).unwrap()),
            None
        );
        // The whole register: upper bits make it no thread.
        assert_eq!(ThreadId::parse(1 << 32, usize::MAX), None);
        assert_eq!(ThreadId::parse(u64::MAX, usize::MAX), None);
        assert_eq!(ThreadId::from_optee(3), ThreadId::parse(3, 4).unwrap());
        assert_eq!(ThreadId::from_optee(u32::MAX).raw(), u32::MAX);
    }

    #[test]
    fn function_id_parse_round_trips_and_rejects_the_rest() {
        for &(f, id) in FunctionId::ALL.iter() {
            assert_eq!(FunctionId::parse(u64::from(id)), f);
            assert_eq!(f.id(), Some(id));
            // The whole register names the function: upper bits make it unknown.
            assert_eq!(
                FunctionId::parse(u64::from(id) | 0xFFFF_FFFF_0000_0000),
                FunctionId::Unknown
            );
        }
        // Distinct IDs.
        for (i, &(_, a)) in FunctionId::ALL.iter().enumerate() {
            assert!(FunctionId::ALL[..i].iter().all(|&(_, b)| a != b));
        }
        for x0 in [
            0,
            1,
            u64::MAX,
            u64::from(u32::MAX),
            0x3200_0000,
            0x8400_0000,
        ] {
            assert_eq!(FunctionId::parse(x0), FunctionId::Unknown);
        }
        assert!(FunctionId::ReturnFromRpc.is_standard());
        assert!(!FunctionId::ReturnFromRpc.is_new_call());
        assert!(FunctionId::CallWithRegdArg.is_new_call());
        assert!(!FunctionId::EnableShmCache.is_standard());
    }

    #[test]
    fn ipa_alignment() {
        assert!(Ipa::page_aligned(0x1000).is_some());
        assert!(Ipa::page_aligned(0x1008).is_none());
        assert_eq!(Ipa::new(0x1234).unwrap().page().raw(), 0x1000);
        assert_eq!(Ipa::new(0x1234).unwrap().page_offset(), 0x234);
        let top = Ipa::new(Ipa::LIMIT - 1).unwrap();
        assert_eq!(top.checked_add(1), None);
        assert_eq!(top.checked_add(u64::MAX), None);
    }

    #[test]
    fn ipa_is_inside_the_ipa_space() {
        assert_eq!(Ipa::new(0), Some(Ipa::ZERO));
        assert_eq!(Ipa::page_aligned(0), Some(Ipa::ZERO));
        assert_eq!(Ipa::LIMIT, 1 << 48);
        assert_eq!(Ipa::new(Ipa::LIMIT - 1).map(Ipa::raw), Some(Ipa::LIMIT - 1));
        for v in [
            Ipa::LIMIT,
            Ipa::LIMIT + 1,
            1 << 52,
            u64::MAX - 4095,
            u64::MAX,
        ] {
            assert_eq!(Ipa::new(v), None, "{v:#x}");
            assert_eq!(Ipa::page_aligned(v & !PAGE_MASK), None, "{v:#x}");
        }
        assert_eq!(
            Ipa::page_aligned(Ipa::LIMIT - 4096).map(Ipa::raw),
            Some(Ipa::LIMIT - 4096)
        );
        assert_eq!(Ipa::page_aligned(Ipa::LIMIT - 4095), None);
        // checked_add: the sum must be an address too.
        let a = Ipa::new(0x4000).unwrap();
        assert_eq!(a.checked_add(0).map(Ipa::raw), Some(0x4000));
        assert_eq!(
            a.checked_add(Ipa::LIMIT - 0x4001).map(Ipa::raw),
            Some(Ipa::LIMIT - 1)
        );
        assert_eq!(a.checked_add(Ipa::LIMIT - 0x4000), None);
        assert_eq!(a.checked_add(u64::MAX), None);
        assert_eq!(Ipa::ZERO.checked_add(Ipa::LIMIT), None);
        // Usable in constants.
        const A: Option<Ipa> = Ipa::page_aligned(0x8000);
        assert_eq!(A.map(Ipa::raw), Some(0x8000));
    }

    #[test]
    fn page_list_counts_pages_and_checks_overflow() {
        let p = PageList::new(0x4010, 0x1000, 129).unwrap();
        assert_eq!(
            (p.list().map(Ipa::raw), p.offset(), p.pages()),
            (Some(0x4000), 0x10, 2)
        );
        // A list beyond the IPA space: no list to read, the counts as before.
        let p = PageList::new(Ipa::LIMIT + 0x10, 0x1000, 129).unwrap();
        assert_eq!((p.list(), p.offset(), p.pages()), (None, 0x10, 2));
        let p = PageList::new(Ipa::LIMIT - 4096 + 1, 0, 129).unwrap();
        assert_eq!(p.list().map(Ipa::raw), Some(Ipa::LIMIT - 4096));
        assert_eq!(PageList::new(0x4000, 0, 129).unwrap().pages(), 0);
        assert_eq!(
            PageList::new(0x4fff, u64::MAX, 129),
            Err(PageListError::Overflow)
        );
        assert_eq!(
            PageList::new(0x4000, 130 * 4096, 129),
            Err(PageListError::TooManyPages)
        );
        assert_eq!(PageList::new(0x4001, 128 * 4096, 129).unwrap().pages(), 129);
    }

    #[test]
    fn uuid_round_trip() {
        let u = TaUuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        let (a, b) = u.to_words();
        assert_eq!(TaUuid::from_words(a, b), u);
    }
}
