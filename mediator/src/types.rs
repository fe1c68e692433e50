//! Validated types for values that come from a guest or from the platform.
//!
//! A register value from a guest is an *allegation*: it becomes an [`Ipa`],
//! [`ShmCookie`]… only through a constructor that checks it, and code past
//! the edge works with the validated type.

use crate::abi::{PAGE_MASK, PAGE_SIZE_U64};

/// A Xen domain ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomId(pub u16);

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
    /// assert_eq!(ClientId::of(DomId(0)).raw(), 1);
    /// assert_eq!(ClientId::HYPERVISOR.raw(), 0);
    /// ```
    pub fn of(dom: DomId) -> ClientId {
        // u16 + 1 always fits in u32.
        ClientId(u32::from(dom.0).saturating_add(1))
    }
    /// The raw value for a7.
    pub fn raw(self) -> u64 {
        u64::from(self.0)
    }
}

/// A guest intermediate physical address (an allegation until used through
/// [`crate::GuestMemory`] or [`crate::Pinning`], which may still fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipa(u64);

impl Ipa {
    /// Any address (byte granular).
    pub const fn new(v: u64) -> Ipa {
        Ipa(v)
    }
    /// A 4 KiB-aligned address, `None` when unaligned.
    pub const fn page_aligned(v: u64) -> Option<Ipa> {
        if v & PAGE_MASK == 0 {
            Some(Ipa(v))
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
    /// `self + off`, `None` on overflow.
    pub fn checked_add(self, off: u64) -> Option<Ipa> {
        self.0.checked_add(off).map(Ipa)
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

/// A shared-memory cookie chosen by the guest (`shm_ref` of a memref, or
/// a4/a5 of RPC_FUNC_ALLOC). Opaque to us; the guest may choose anything,
/// so every lookup is per guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShmCookie(pub u64);

/// An OP-TEE thread ID returned in a3 of an RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub u32);

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
    /// First page of the guest's page list.
    pub list: Ipa,
    /// Offset of the buffer in its first page (`buf_ptr & 0xfff`).
    pub offset: u64,
    /// Number of data pages the buffer spans.
    pub pages: usize,
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
    /// use mediator::types::{PageList, PageListError};
    /// // 512 KiB starting one byte into a page spans 129 pages: allowed.
    /// let p = PageList::new(0x8000_0001, 512 * 1024, 129).unwrap();
    /// assert_eq!((p.list.raw(), p.offset, p.pages), (0x8000_0000, 1, 129));
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
            list: Ipa(buf_ptr & !PAGE_MASK),
            offset,
            pages,
        })
    }
}

/// x0..x7 of a trapped call or of its answer.
pub type Regs = [u64; 8];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_is_domid_plus_one() {
        assert_eq!(ClientId::of(DomId(0)).raw(), 1);
        assert_eq!(ClientId::of(DomId(u16::MAX)).raw(), 65536);
        assert_eq!(ClientId::HYPERVISOR.raw(), 0);
    }

    #[test]
    fn ipa_alignment() {
        assert!(Ipa::page_aligned(0x1000).is_some());
        assert!(Ipa::page_aligned(0x1008).is_none());
        assert_eq!(Ipa::new(0x1234).page().raw(), 0x1000);
        assert_eq!(Ipa::new(u64::MAX).checked_add(1), None);
    }

    #[test]
    fn page_list_counts_pages_and_checks_overflow() {
        let p = PageList::new(0x4010, 0x1000, 129).unwrap();
        assert_eq!((p.list.raw(), p.offset, p.pages), (0x4000, 0x10, 2));
        assert_eq!(PageList::new(0x4000, 0, 129).unwrap().pages, 0);
        assert_eq!(
            PageList::new(0x4fff, u64::MAX, 129),
            Err(PageListError::Overflow)
        );
        assert_eq!(
            PageList::new(0x4000, 130 * 4096, 129),
            Err(PageListError::TooManyPages)
        );
        assert_eq!(PageList::new(0x4001, 128 * 4096, 129).unwrap().pages, 129);
    }

    #[test]
    fn uuid_round_trip() {
        let u = TaUuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        let (a, b) = u.to_words();
        assert_eq!(TaUuid::from_words(a, b), u);
    }
}
