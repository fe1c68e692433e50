//! [`mediator::SecureWorld`] on the hook: `TEE_STUBDOM_OP_secure_call` (hv-patches 0005, checked
//! by 0009). Xen trusts the mediator for nothing there: it accepts only OP-TEE's own function IDs
//! that carry no entry address, makes the SMC with the client ID of the guest x7 names (a TEE
//! guest this domain may mediate, or 0 for OP-TEE's identity), copies every argument, RPC
//! argument and page list out of our pages into pages it lends to OP-TEE after checking that each
//! page-list entry is a page of that client, and gives RPC answers back to our pages. It returns
//! x0–x3.
//!
//! A refusal by Xen becomes an OP-TEE answer the core already handles ([`answer_for`]), except
//! for RETURN_FROM_RPC: a refused resume would leave the OP-TEE thread suspended for good, so it
//! is made again with [`xenif::hook::RPC_FAILED`], which has Xen resume the thread with a failed
//! answer of its own (OP-TEE then fails or frees what it asked for).

use crate::hook::{Hook, HookPlatform};
use mediator::abi::ret;
use mediator::{FunctionId, Regs, SecureWorld};
use xenif::hook::RPC_FAILED;
use xenif::XenError;

/// What the core sees when Xen refuses a secure call.
///
/// - VM_CREATED refused with `EEXIST`: OP-TEE already knows the client (Xen tracks it: a
///   mediator restart replays the domain with `TEE_STUBDOM_F_TEE_KNOWN`). That is the state
///   VM_CREATED establishes, so it is `OK`.
/// - Anything else (the domain is gone: `ESRCH`; not an OP-TEE call: `EPERM`; a message Xen's
///   checks refused: `EINVAL`, `EPERM`, `ENOSPC`): `OPTEE_SMC_RETURN_ENOTAVAIL`, the answer of an
///   unavailable TEE.
pub fn answer_for(x: &Regs, e: XenError) -> Regs {
    let a0 = if FunctionId::parse(x[0]) == FunctionId::VmCreated && e == XenError::EEXIST {
        ret::OK
    } else {
        ret::ENOTAVAIL
    };
    [a0, 0, 0, 0, 0, 0, 0, 0]
}

/// The resume to make when Xen refused `x`, a RETURN_FROM_RPC: the same thread, Xen's failed
/// answer.
pub fn failed_resume(x: &Regs) -> Regs {
    let mut again = *x;
    again[1] = 0;
    again[2] = 0;
    again[4] = 0;
    again[5] = 0;
    again[6] = RPC_FAILED;
    again
}

impl<H: Hook> SecureWorld for HookPlatform<'_, H> {
    fn smc(&mut self, regs: Regs) -> Regs {
        match self.hook.secure_call(regs) {
            Ok(x) => x,
            Err(_) if FunctionId::parse(regs[0]) == FunctionId::ReturnFromRpc => {
                let again = failed_resume(&regs);
                self.hook
                    .secure_call(again)
                    .unwrap_or_else(|e| answer_for(&again, e))
            }
            Err(e) => answer_for(&regs, e),
        }
    }
}
