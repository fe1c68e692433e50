//! The OP-TEE ABI as the mediator sees it: SMC function IDs and return codes
//! (`optee_smc.h`), the message format (`optee_msg.h`), RPC commands
//! (`optee_rpc_cmd.h`), and the GlobalPlatform TEE Client API codes the
//! mediator writes into a message on the guest's behalf.
//!
//! Function IDs follow Arm SMCCC (DEN 0028): bit 31 fast call, bit 30 SMC64,
//! bits 29..24 the owner (50 = Trusted OS, 63 = Trusted OS end), bits 15..0
//! the function number. OP-TEE uses the SMC32 convention throughout, so a
//! 64-bit value travels as a register pair (upper half first).
//!
//! [`MsgArg`] is a view over a `struct optee_msg_arg` held in a byte buffer
//! (a shadow page); it never borrows guest memory.

/// Size of the pages of a non-contiguous buffer list and of a shadow page
/// (`OPTEE_MSG_NONCONTIG_PAGE_SIZE`, `optee_msg.h`).
pub const PAGE_SIZE: usize = 4096;
/// `PAGE_SIZE` as a `u64`, for address arithmetic.
pub const PAGE_SIZE_U64: u64 = 4096;
/// Mask of the offset bits inside a 4 KiB page.
pub const PAGE_MASK: u64 = PAGE_SIZE_U64 - 1;

const fn fast(func: u32) -> u32 {
    // SMCCC: fast call, SMC32, owner 50 (Trusted OS).
    0x8000_0000 | (50 << 24) | func
}
const fn std(func: u32) -> u32 {
    // SMCCC: yielding (standard) call, SMC32, owner 50 (Trusted OS).
    (50 << 24) | func
}
const fn os_end(func: u32) -> u32 {
    // SMCCC: fast call, SMC32, owner 63 (Trusted OS end), general queries.
    0x8000_0000 | (63 << 24) | func
}

/// SMCCC "unknown function" (DEN 0028 §7.2: -1 in w0/x0).
pub const SMCCC_UNKNOWN_FUNCTION: u64 = u64::MAX;

/// SMC function IDs (`optee_smc.h`).
pub mod smc {
    use super::{fast, os_end, std};
    /// `OPTEE_SMC_CALLS_COUNT`.
    pub const CALLS_COUNT: u32 = os_end(0xFF00);
    /// `OPTEE_SMC_CALLS_UID`.
    pub const CALLS_UID: u32 = os_end(0xFF01);
    /// `OPTEE_SMC_CALLS_REVISION`.
    pub const CALLS_REVISION: u32 = os_end(0xFF03);
    /// `OPTEE_SMC_CALL_GET_OS_UUID`.
    pub const GET_OS_UUID: u32 = fast(0);
    /// `OPTEE_SMC_CALL_GET_OS_REVISION`.
    pub const GET_OS_REVISION: u32 = fast(1);
    /// `OPTEE_SMC_CALL_RETURN_FROM_RPC`.
    pub const RETURN_FROM_RPC: u32 = std(3);
    /// `OPTEE_SMC_CALL_WITH_ARG`.
    pub const CALL_WITH_ARG: u32 = std(4);
    /// `OPTEE_SMC_GET_SHM_CONFIG`.
    pub const GET_SHM_CONFIG: u32 = fast(7);
    /// `OPTEE_SMC_EXCHANGE_CAPABILITIES`.
    pub const EXCHANGE_CAPABILITIES: u32 = fast(9);
    /// `OPTEE_SMC_DISABLE_SHM_CACHE`.
    pub const DISABLE_SHM_CACHE: u32 = fast(10);
    /// `OPTEE_SMC_ENABLE_SHM_CACHE`.
    pub const ENABLE_SHM_CACHE: u32 = fast(11);
    /// `OPTEE_SMC_VM_CREATED` (hypervisor only, client ID 0 in a7).
    pub const VM_CREATED: u32 = fast(13);
    /// `OPTEE_SMC_VM_DESTROYED` (hypervisor only, client ID 0 in a7).
    pub const VM_DESTROYED: u32 = fast(14);
    /// `OPTEE_SMC_GET_THREAD_COUNT`.
    pub const GET_THREAD_COUNT: u32 = fast(15);
    /// `OPTEE_SMC_ENABLE_ASYNC_NOTIF`.
    pub const ENABLE_ASYNC_NOTIF: u32 = fast(16);
    /// `OPTEE_SMC_GET_ASYNC_NOTIF_VALUE`.
    pub const GET_ASYNC_NOTIF_VALUE: u32 = fast(17);
    /// `OPTEE_SMC_CALL_WITH_RPC_ARG`: the RPC argument struct follows the
    /// call's argument struct.
    pub const CALL_WITH_RPC_ARG: u32 = std(18);
    /// `OPTEE_SMC_CALL_WITH_REGD_ARG`: the argument lives in registered
    /// shared memory (cookie in a1/a2, offset in a3).
    pub const CALL_WITH_REGD_ARG: u32 = std(19);

    /// `OPTEE_SMC_SHM_CACHED`: cache attribute passed in a3 of a call.
    pub const SHM_CACHED: u64 = 1;
}

/// SMC return codes in a0 (`optee_smc.h`).
pub mod ret {
    /// `OPTEE_SMC_RETURN_OK`.
    pub const OK: u64 = 0;
    /// `OPTEE_SMC_RETURN_ETHREAD_LIMIT`.
    pub const ETHREAD_LIMIT: u64 = 1;
    /// `OPTEE_SMC_RETURN_EBUSY`.
    pub const EBUSY: u64 = 2;
    /// `OPTEE_SMC_RETURN_ERESUME`.
    pub const ERESUME: u64 = 3;
    /// `OPTEE_SMC_RETURN_EBADADDR`.
    pub const EBADADDR: u64 = 4;
    /// `OPTEE_SMC_RETURN_EBADCMD`.
    pub const EBADCMD: u64 = 5;
    /// `OPTEE_SMC_RETURN_ENOMEM`.
    pub const ENOMEM: u64 = 6;
    /// `OPTEE_SMC_RETURN_ENOTAVAIL`.
    pub const ENOTAVAIL: u64 = 7;
    /// `OPTEE_SMC_RETURN_UNKNOWN_FUNCTION` (32-bit all ones).
    pub const UNKNOWN_FUNCTION: u64 = 0xFFFF_FFFF;

    /// `OPTEE_SMC_RETURN_RPC_PREFIX`.
    pub const RPC_PREFIX: u64 = 0xFFFF_0000;
    /// `OPTEE_SMC_RPC_FUNC_ALLOC`.
    pub const RPC_FUNC_ALLOC: u32 = 0;
    /// `OPTEE_SMC_RPC_FUNC_FREE`.
    pub const RPC_FUNC_FREE: u32 = 2;
    /// `OPTEE_SMC_RPC_FUNC_FOREIGN_INTR`.
    pub const RPC_FUNC_FOREIGN_INTR: u32 = 4;
    /// `OPTEE_SMC_RPC_FUNC_CMD`.
    pub const RPC_FUNC_CMD: u32 = 5;

    /// `OPTEE_SMC_RETURN_IS_RPC()`: the 32-bit a0 carries the RPC prefix
    /// and is not UNKNOWN_FUNCTION.
    pub const fn is_rpc(a0: u64) -> bool {
        let w = a0 & 0xFFFF_FFFF;
        w != UNKNOWN_FUNCTION && (w & 0xFFFF_0000) == RPC_PREFIX
    }
    /// `OPTEE_SMC_RETURN_GET_RPC_FUNC()`.
    pub const fn rpc_func(a0: u64) -> u32 {
        (a0 & 0xFFFF) as u32
    }
    /// `OPTEE_SMC_RPC_VAL()`.
    pub const fn rpc_val(func: u32) -> u64 {
        RPC_PREFIX | func as u64
    }
}

/// Capability bits of `OPTEE_SMC_EXCHANGE_CAPABILITIES` (`optee_smc.h`).
pub mod caps {
    /// `OPTEE_SMC_NSEC_CAP_UNIPROCESSOR` (normal world → secure world).
    pub const NSEC_UNIPROCESSOR: u64 = 1 << 0;
    /// `OPTEE_SMC_SEC_CAP_HAVE_RESERVED_SHM`.
    pub const SEC_HAVE_RESERVED_SHM: u64 = 1 << 0;
    /// `OPTEE_SMC_SEC_CAP_UNREGISTERED_SHM`.
    pub const SEC_UNREGISTERED_SHM: u64 = 1 << 1;
    /// `OPTEE_SMC_SEC_CAP_DYNAMIC_SHM`.
    pub const SEC_DYNAMIC_SHM: u64 = 1 << 2;
    /// `OPTEE_SMC_SEC_CAP_VIRTUALIZATION`.
    pub const SEC_VIRTUALIZATION: u64 = 1 << 3;
    /// `OPTEE_SMC_SEC_CAP_MEMREF_NULL`.
    pub const SEC_MEMREF_NULL: u64 = 1 << 4;
    /// `OPTEE_SMC_SEC_CAP_ASYNC_NOTIF`.
    pub const SEC_ASYNC_NOTIF: u64 = 1 << 5;
    /// `OPTEE_SMC_SEC_CAP_RPC_ARG`.
    pub const SEC_RPC_ARG: u64 = 1 << 6;

    /// Normal-world capabilities the mediator understands (Xen:
    /// `OPTEE_KNOWN_NSEC_CAPS`).
    pub const KNOWN_NSEC: u64 = NSEC_UNIPROCESSOR;
    /// Secure-world capabilities a guest may see. Xen passes
    /// UNREGISTERED_SHM and DYNAMIC_SHM (HAVE_RESERVED_SHM is dropped: no
    /// static SHM for guests); we also support MEMREF_NULL, ASYNC_NOTIF and
    /// RPC_ARG, and pass VIRTUALIZATION through as information.
    pub const SUPPORTED_SEC: u64 = SEC_UNREGISTERED_SHM
        | SEC_DYNAMIC_SHM
        | SEC_VIRTUALIZATION
        | SEC_MEMREF_NULL
        | SEC_ASYNC_NOTIF
        | SEC_RPC_ARG;

    /// `OPTEE_SMC_ASYNC_NOTIF_VALUE_VALID` (a2 of GET_ASYNC_NOTIF_VALUE).
    pub const NOTIF_VALUE_VALID: u64 = 1 << 0;
    /// `OPTEE_SMC_ASYNC_NOTIF_VALUE_PENDING`.
    pub const NOTIF_VALUE_PENDING: u64 = 1 << 1;
}

/// `optee_msg.h`: commands, attributes.
pub mod msg {
    /// `OPTEE_MSG_CMD_OPEN_SESSION`.
    pub const CMD_OPEN_SESSION: u32 = 0;
    /// `OPTEE_MSG_CMD_INVOKE_COMMAND`.
    pub const CMD_INVOKE_COMMAND: u32 = 1;
    /// `OPTEE_MSG_CMD_CLOSE_SESSION`.
    pub const CMD_CLOSE_SESSION: u32 = 2;
    /// `OPTEE_MSG_CMD_CANCEL`.
    pub const CMD_CANCEL: u32 = 3;
    /// `OPTEE_MSG_CMD_REGISTER_SHM`.
    pub const CMD_REGISTER_SHM: u32 = 4;
    /// `OPTEE_MSG_CMD_UNREGISTER_SHM`.
    pub const CMD_UNREGISTER_SHM: u32 = 5;
    /// `OPTEE_MSG_CMD_DO_BOTTOM_HALF` (async notifications).
    pub const CMD_DO_BOTTOM_HALF: u32 = 6;
    /// `OPTEE_MSG_CMD_STOP_ASYNC_NOTIF` (async notifications).
    pub const CMD_STOP_ASYNC_NOTIF: u32 = 7;

    /// `OPTEE_MSG_ATTR_TYPE_NONE`.
    pub const ATTR_TYPE_NONE: u64 = 0x0;
    /// `OPTEE_MSG_ATTR_TYPE_VALUE_INPUT`.
    pub const ATTR_TYPE_VALUE_INPUT: u64 = 0x1;
    /// `OPTEE_MSG_ATTR_TYPE_VALUE_OUTPUT`.
    pub const ATTR_TYPE_VALUE_OUTPUT: u64 = 0x2;
    /// `OPTEE_MSG_ATTR_TYPE_VALUE_INOUT`.
    pub const ATTR_TYPE_VALUE_INOUT: u64 = 0x3;
    /// `OPTEE_MSG_ATTR_TYPE_RMEM_INPUT`.
    pub const ATTR_TYPE_RMEM_INPUT: u64 = 0x5;
    /// `OPTEE_MSG_ATTR_TYPE_RMEM_OUTPUT`.
    pub const ATTR_TYPE_RMEM_OUTPUT: u64 = 0x6;
    /// `OPTEE_MSG_ATTR_TYPE_RMEM_INOUT`.
    pub const ATTR_TYPE_RMEM_INOUT: u64 = 0x7;
    /// `OPTEE_MSG_ATTR_TYPE_TMEM_INPUT`.
    pub const ATTR_TYPE_TMEM_INPUT: u64 = 0x9;
    /// `OPTEE_MSG_ATTR_TYPE_TMEM_OUTPUT`.
    pub const ATTR_TYPE_TMEM_OUTPUT: u64 = 0xA;
    /// `OPTEE_MSG_ATTR_TYPE_TMEM_INOUT`.
    pub const ATTR_TYPE_TMEM_INOUT: u64 = 0xB;
    /// `OPTEE_MSG_ATTR_TYPE_MASK`.
    pub const ATTR_TYPE_MASK: u64 = 0xFF;
    /// `OPTEE_MSG_ATTR_META`.
    pub const ATTR_META: u64 = 1 << 8;
    /// `OPTEE_MSG_ATTR_NONCONTIG`.
    pub const ATTR_NONCONTIG: u64 = 1 << 9;

    /// Size of `struct optee_msg_arg` without parameters.
    pub const ARG_HEADER_SIZE: usize = 32;
    /// Alignment of `struct optee_msg_arg`: 8, that of the `uint64_t` words
    /// of its `params`. OP-TEE refuses an argument, or an RPC argument
    /// buffer, that is not so aligned (`IS_ALIGNED_WITH_TYPE(.., struct
    /// optee_msg_arg)` in `thread_optee_smc.c`: EBADADDR).
    pub const ARG_ALIGN: u64 = 8;
    /// Size of one `struct optee_msg_param`.
    pub const PARAM_SIZE: usize = 32;
    /// Largest `num_params` whose `OPTEE_MSG_GET_ARG_SIZE` fits in a page.
    pub const MAX_PARAMS_PER_PAGE: u32 = 127;

    /// `OPTEE_MSG_GET_ARG_SIZE(num_params)`, `None` on overflow.
    pub const fn arg_size(num_params: u32) -> Option<usize> {
        let n = num_params as usize;
        match n.checked_mul(PARAM_SIZE) {
            Some(p) => p.checked_add(ARG_HEADER_SIZE),
            None => None,
        }
    }

    /// Size of one entry of a page-list page: a `uint64_t` page address
    /// (`struct page_data` under `OPTEE_MSG_ATTR_NONCONTIG`).
    pub const PAGELIST_ENTRY_SIZE: usize = 8;
    /// Entries of page addresses in one page-list page (511,
    /// `pages_array[OPTEE_MSG_NONCONTIG_PAGE_SIZE/sizeof(uint64_t) - 1]`);
    /// the last 8 bytes hold the address of the next list page
    /// (`OPTEE_MSG_ATTR_NONCONTIG`).
    pub const PAGELIST_ENTRIES: usize = super::PAGE_SIZE / PAGELIST_ENTRY_SIZE - 1;
    /// Offset of `next_page_data` in a page-list page: the address of the
    /// next list page, after the entries (`OPTEE_MSG_ATTR_NONCONTIG`).
    pub const PAGELIST_NEXT: usize = PAGELIST_ENTRIES * PAGELIST_ENTRY_SIZE;
}

/// `optee_rpc_cmd.h`: commands OP-TEE sends to the normal world.
pub mod rpc {
    /// `OPTEE_RPC_CMD_LOAD_TA`.
    pub const CMD_LOAD_TA: u32 = 0;
    /// `OPTEE_RPC_CMD_RPMB`.
    pub const CMD_RPMB: u32 = 1;
    /// `OPTEE_RPC_CMD_FS`.
    pub const CMD_FS: u32 = 2;
    /// `OPTEE_RPC_CMD_GET_TIME`.
    pub const CMD_GET_TIME: u32 = 3;
    /// `OPTEE_RPC_CMD_NOTIFICATION` (was `WAIT_QUEUE`).
    pub const CMD_NOTIFICATION: u32 = 4;
    /// `OPTEE_RPC_CMD_SUSPEND`.
    pub const CMD_SUSPEND: u32 = 5;
    /// `OPTEE_RPC_CMD_SHM_ALLOC`.
    pub const CMD_SHM_ALLOC: u32 = 6;
    /// `OPTEE_RPC_CMD_SHM_FREE`.
    pub const CMD_SHM_FREE: u32 = 7;
}

/// GlobalPlatform TEE Client API codes (written into `ret`/`ret_origin`).
pub mod teec {
    /// `TEEC_ERROR_GENERIC`.
    pub const ERROR_GENERIC: u32 = 0xFFFF_0000;
    /// `TEEC_ERROR_ACCESS_DENIED`.
    pub const ERROR_ACCESS_DENIED: u32 = 0xFFFF_0001;
    /// `TEEC_ERROR_BAD_PARAMETERS`.
    pub const ERROR_BAD_PARAMETERS: u32 = 0xFFFF_0006;
    /// `TEEC_ERROR_ITEM_NOT_FOUND`.
    pub const ERROR_ITEM_NOT_FOUND: u32 = 0xFFFF_0008;
    /// `TEEC_ERROR_OUT_OF_MEMORY`.
    pub const ERROR_OUT_OF_MEMORY: u32 = 0xFFFF_000C;
    /// `TEEC_ORIGIN_COMMS`: the error comes from the communication stack.
    pub const ORIGIN_COMMS: u32 = 2;
    /// `TEEC_ORIGIN_TEE`.
    pub const ORIGIN_TEE: u32 = 3;
}

/// OP-TEE's API UID, `OPTEE_MSG_UID_0..3` (`optee_msg.h`), as returned by
/// CALLS_UID in a0..a3.
pub const OPTEE_MSG_UID: [u32; 4] = [0x384f_b3e0, 0xe7f8_11e3, 0xaf63_0002, 0xa5d5_c51b];

/// Joins an SMC32 register pair (upper half in the first register).
pub const fn regpair(hi: u64, lo: u64) -> u64 {
    ((hi & 0xFFFF_FFFF) << 32) | (lo & 0xFFFF_FFFF)
}
/// Splits a 64-bit value into an SMC32 register pair (upper half first).
pub const fn split(v: u64) -> (u64, u64) {
    (v >> 32, v & 0xFFFF_FFFF)
}

/// Field offsets in `struct optee_msg_arg` (`optee_msg.h`).
mod off {
    /// `cmd`.
    pub const CMD: usize = 0;
    /// `func`.
    pub const FUNC: usize = 4;
    /// `session`.
    pub const SESSION: usize = 8;
    /// `ret` (after `cancel_id` and `pad`).
    pub const RET: usize = 20;
    /// `ret_origin`.
    pub const RET_ORIGIN: usize = 24;
    /// `num_params`.
    pub const NUM_PARAMS: usize = 28;
}

/// Field offsets in `struct optee_msg_param` (`optee_msg.h`): `attr`, then
/// the three `uint64_t` of its union `u`, which [`Param`] calls `a`, `b`,
/// `c`.
mod param_off {
    /// `attr`.
    pub const ATTR: usize = 0;
    /// `u.tmem.buf_ptr`, `u.rmem.offs`, `u.value.a`.
    pub const A: usize = 8;
    /// `u.tmem.size`, `u.rmem.size`, `u.value.b`.
    pub const B: usize = 16;
    /// `u.tmem.shm_ref`, `u.rmem.shm_ref`, `u.value.c`.
    pub const C: usize = 24;
}

/// One `struct optee_msg_param`: `attr` and the three 64-bit words of its
/// union (tmem `buf_ptr,size,shm_ref`; rmem `offs,size,shm_ref`; value
/// `a,b,c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Param {
    /// `attr`.
    pub attr: u64,
    /// First union word.
    pub a: u64,
    /// Second union word.
    pub b: u64,
    /// Third union word.
    pub c: u64,
}

impl Param {
    /// The type bits of `attr`.
    pub const fn ty(&self) -> u64 {
        self.attr & msg::ATTR_TYPE_MASK
    }
}

/// A `struct optee_msg_arg` at offset `base` of a page-sized buffer. All
/// accessors stay inside the buffer: a parameter index is checked against
/// the buffer, never against the (untrusted) `num_params` alone.
#[derive(Debug)]
pub struct MsgArg<'a> {
    buf: &'a mut [u8; PAGE_SIZE],
    base: usize,
}

fn rd32(b: &[u8], o: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(o..o.saturating_add(4)) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}
fn rd64(b: &[u8], o: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(o..o.saturating_add(8)) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}
fn wr32(b: &mut [u8], o: usize, v: u32) {
    if let Some(s) = b.get_mut(o..o.saturating_add(4)) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}
fn wr64(b: &mut [u8], o: usize, v: u64) {
    if let Some(s) = b.get_mut(o..o.saturating_add(8)) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

impl<'a> MsgArg<'a> {
    /// A view at `base` (must leave room for the header; otherwise reads
    /// give zero and writes are dropped, which callers prevent by
    /// construction).
    pub fn new(buf: &'a mut [u8; PAGE_SIZE], base: usize) -> Self {
        Self { buf, base }
    }
    fn at(&self, o: usize) -> usize {
        self.base.saturating_add(o)
    }
    /// `cmd`.
    pub fn cmd(&self) -> u32 {
        rd32(self.buf.as_slice(), self.at(off::CMD))
    }
    /// Sets `cmd`.
    pub fn set_cmd(&mut self, v: u32) {
        let o = self.at(off::CMD);
        wr32(self.buf.as_mut_slice(), o, v)
    }
    /// `func` (TA command of INVOKE).
    pub fn func(&self) -> u32 {
        rd32(self.buf.as_slice(), self.at(off::FUNC))
    }
    /// `session`.
    pub fn session(&self) -> u32 {
        rd32(self.buf.as_slice(), self.at(off::SESSION))
    }
    /// Sets `session`.
    pub fn set_session(&mut self, v: u32) {
        let o = self.at(off::SESSION);
        wr32(self.buf.as_mut_slice(), o, v)
    }
    /// `ret`.
    pub fn ret(&self) -> u32 {
        rd32(self.buf.as_slice(), self.at(off::RET))
    }
    /// Sets `ret`.
    pub fn set_ret(&mut self, v: u32) {
        let o = self.at(off::RET);
        wr32(self.buf.as_mut_slice(), o, v)
    }
    /// `ret_origin`.
    pub fn ret_origin(&self) -> u32 {
        rd32(self.buf.as_slice(), self.at(off::RET_ORIGIN))
    }
    /// Sets `ret_origin`.
    pub fn set_ret_origin(&mut self, v: u32) {
        let o = self.at(off::RET_ORIGIN);
        wr32(self.buf.as_mut_slice(), o, v)
    }
    /// `num_params` as stored (unvalidated).
    pub fn num_params(&self) -> u32 {
        rd32(self.buf.as_slice(), self.at(off::NUM_PARAMS))
    }
    /// Sets `num_params`.
    pub fn set_num_params(&mut self, v: u32) {
        let o = self.at(off::NUM_PARAMS);
        wr32(self.buf.as_mut_slice(), o, v)
    }
    fn param_off(&self, i: usize) -> usize {
        // i < 128 and base < 4096 by construction: no overflow possible,
        // and the rd/wr helpers ignore out-of-buffer accesses anyway.
        self.base.saturating_add(field::param(i))
    }
    /// Parameter `i`.
    pub fn param(&self, i: usize) -> Param {
        let o = self.param_off(i);
        let b = self.buf.as_slice();
        Param {
            attr: rd64(b, o.saturating_add(param_off::ATTR)),
            a: rd64(b, o.saturating_add(param_off::A)),
            b: rd64(b, o.saturating_add(param_off::B)),
            c: rd64(b, o.saturating_add(param_off::C)),
        }
    }
    /// Sets parameter `i`.
    pub fn set_param(&mut self, i: usize, p: Param) {
        let o = self.param_off(i);
        let b = self.buf.as_mut_slice();
        wr64(b, o.saturating_add(param_off::ATTR), p.attr);
        wr64(b, o.saturating_add(param_off::A), p.a);
        wr64(b, o.saturating_add(param_off::B), p.b);
        wr64(b, o.saturating_add(param_off::C), p.c);
    }
}

/// Reads a little-endian u64 at `o` of `b` (zero when out of range).
pub(crate) fn read_u64(b: &[u8], o: usize) -> u64 {
    rd64(b, o)
}
/// Writes a little-endian u64 at `o` of `b` (dropped when out of range).
pub(crate) fn write_u64(b: &mut [u8], o: usize, v: u64) {
    wr64(b, o, v)
}
/// Reads a little-endian u32 at `o` of `b`.
pub(crate) fn read_u32(b: &[u8], o: usize) -> u32 {
    rd32(b, o)
}
/// Writes a little-endian u32 at `o` of `b`.
pub(crate) fn write_u32(b: &mut [u8], o: usize, v: u32) {
    wr32(b, o, v)
}

/// Field offsets and sizes in `struct optee_msg_arg` and `struct
/// optee_msg_param` (`optee_msg.h`), for code that reads or copies single
/// fields of a guest buffer, a shadow or a copy of either.
pub(crate) mod field {
    use super::msg::{ARG_HEADER_SIZE, PARAM_SIZE};

    pub use super::off::{CMD, NUM_PARAMS, RET, RET_ORIGIN, SESSION};
    pub use super::param_off::{A as PARAM_A, ATTR as PARAM_ATTR, B as PARAM_B};

    /// Size of `session` (`uint32_t`).
    pub const SESSION_LEN: usize = 4;
    /// Size of `ret` and `ret_origin` together: two adjacent `uint32_t`.
    pub const RET_LEN: usize = 8;
    /// Size of one word of a parameter's union (`uint64_t`), e.g.
    /// `u.tmem.size`.
    pub const PARAM_WORD_LEN: usize = 8;
    /// Size of `u.value`: `a`, `b` and `c`.
    pub const PARAM_VALUE_LEN: usize = 24;

    /// Offset of `params[i]` in `struct optee_msg_arg` (saturating; the
    /// readers and writers ignore an offset past their buffer).
    pub const fn param(i: usize) -> usize {
        ARG_HEADER_SIZE.saturating_add(i.saturating_mul(PARAM_SIZE))
    }
}
