//! [`mediator::SecureWorld`] on the hook: `TEE_STUBDOM_OP_secure_call`. Xen accepts only Trusted
//! OS function IDs (SMCCC owners 50–63) and client IDs of TEE domains (x7, or x1 of
//! VM_CREATED/VM_DESTROYED, which must come from the hypervisor client 0), and returns x0–x3.
//!
//! A refusal by Xen becomes an OP-TEE answer the core already handles ([`answer_for`]).

use crate::hook::{Hook, HookPlatform};
use mediator::abi::{ret, smc};
use mediator::{Regs, SecureWorld};
use xenif::XenError;

/// What the core sees when Xen refuses a secure call.
///
/// - VM_CREATED refused with `EEXIST`: OP-TEE already knows the client (Xen tracks it: a
///   mediator restart replays the domain with `TEE_STUBDOM_F_TEE_KNOWN`). That is the state
///   VM_CREATED establishes, so it is `OK`.
/// - Anything else (the domain is gone: `ESRCH`; not a Trusted OS call: `EINVAL`):
///   `OPTEE_SMC_RETURN_ENOTAVAIL`, the answer of an unavailable TEE.
pub fn answer_for(x: &Regs, e: XenError) -> Regs {
    let fid = x[0] & 0xFFFF_FFFF;
    let a0 = if fid == u64::from(smc::VM_CREATED) && e == XenError::EEXIST {
        ret::OK
    } else {
        ret::ENOTAVAIL
    };
    [a0, 0, 0, 0, 0, 0, 0, 0]
}

impl<H: Hook> SecureWorld for HookPlatform<'_, H> {
    fn smc(&mut self, regs: Regs) -> Regs {
        match self.hook.secure_call(regs) {
            Ok(x) => x,
            Err(e) => answer_for(&regs, e),
        }
    }
}
