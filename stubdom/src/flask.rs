//! FLASK for TA access (issue 14, `xsm-policy/ta-access.md`): the core's
//! [`mediator::access::SecurityServer`] on Xen's security server, and a TEE guest's label from
//! the SID Xen announces it with.
//!
//! The raw operations are [`FlaskOps`] (the image: `xenif::hypercall::{flask_context_to_sid,
//! flask_sid_to_context, flask_access, flask_getenforce}` on `__HYPERVISOR_xsm_op`,
//! `xen/include/public/xsm/flask_op.h`; the host tests: a fake policy), so that the mapping
//! below is tested on the host. [`Flask`] maps their answers to the core's:
//! - `EINVAL` → [`SecurityError::Invalid`] (`services.c`: the context names no type of the
//!   loaded policy, or a SID vanished with a reload); every other error, and a SID of 0 (which
//!   Xen never hands out, `SECSID_NULL`), → [`SecurityError::Failed`], a denial;
//! - `FLASK_GETENFORCE` failing → enforcing: a denial stays a denial (fail closed).
//!
//! Invariants: CREATED's `x[0]` is Xen's word (hv-patches 0019), read once with
//! [`created_sid`]: a value that is not a 32-bit SID is no SID. A label is the third field
//! of the SID's context (`user:role:type[:level]`), only if it is a plain type name.

use alloc::string::{String, ToString};
use mediator::access::{AccessVector, SecurityError, SecurityServer, Sid};
use xenif::{XenError, XenResult};

/// Xen's FLASK operations the mediator uses (`flask_op.h`); each needs what its line says of
/// `security_t:security` (the mediator's `security { compute_av check_context }`,
/// `xsm-policy/product/tee_mediator.te`).
pub trait FlaskOps {
    /// `FLASK_CONTEXT_TO_SID` (`check_context`).
    fn context_to_sid(&mut self, context: &str) -> XenResult<u32>;
    /// `FLASK_SID_TO_CONTEXT` (`check_context`): the context's text, read into `buf`.
    fn sid_to_context<'b>(&mut self, sid: u32, buf: &'b mut [u8]) -> XenResult<&'b str>;
    /// `FLASK_ACCESS` (`compute_av`): the class's allowed vector and the policy's `seqno`.
    fn access(&mut self, ssid: u32, tsid: u32, tclass: u16, req: u32) -> XenResult<AccessVector>;
    /// `FLASK_GETENFORCE` (no permission): `ENOSYS` when Xen runs without FLASK.
    fn getenforce(&mut self) -> XenResult<bool>;
}

/// Whether Xen has a FLASK security server to ask: `FLASK_GETENFORCE` does not fail with
/// `ENOSYS` (the dummy and SILO modules have no `xsm_op` of FLASK's).
pub fn available<F: FlaskOps + ?Sized>(f: &mut F) -> bool {
    f.getenforce() != Err(XenError::ENOSYS)
}

/// The SID of a CREATED request's `x[0]` (hv-patches 0019: the domain's `ssidref`, 0 without
/// FLASK): `None` for 0 or a value wider than a SID.
pub fn created_sid(x0: u64) -> Option<Sid> {
    u32::try_from(x0).ok().and_then(Sid::new)
}

/// Longest context read (Xen's contexts of our policies are ~40 bytes; `ERANGE` beyond).
const CONTEXT_MAX: usize = 256;

/// The label of `sid`: the type of its context (`system_u:system_r:tee_guest_t` →
/// `tee_guest_t`). `EINVAL` for a context without a plain type field.
pub fn label_of<F: FlaskOps + ?Sized>(f: &mut F, sid: Sid) -> XenResult<String> {
    let mut buf = [0u8; CONTEXT_MAX];
    let context = f.sid_to_context(sid.raw(), &mut buf)?;
    type_of(context)
        .map(ToString::to_string)
        .ok_or(XenError::EINVAL)
}

/// The type field of a FLASK context `user:role:type[:level]`, if it is a type name.
fn type_of(context: &str) -> Option<&str> {
    let t = context.split(':').nth(2)?;
    let plain = !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    plain.then_some(t)
}

/// The core's security server on [`FlaskOps`].
#[derive(Clone, Debug)]
pub struct Flask<F>(pub F);

fn error(e: XenError) -> SecurityError {
    if e == XenError::EINVAL {
        SecurityError::Invalid
    } else {
        SecurityError::Failed
    }
}

impl<F: FlaskOps> SecurityServer for Flask<F> {
    fn context_to_sid(&mut self, context: &str) -> Result<Sid, SecurityError> {
        let raw = self.0.context_to_sid(context).map_err(error)?;
        Sid::new(raw).ok_or(SecurityError::Failed)
    }
    fn compute_av(
        &mut self,
        source: Sid,
        target: Sid,
        class: u16,
        requested: u32,
    ) -> Result<AccessVector, SecurityError> {
        self.0
            .access(source.raw(), target.raw(), class, requested)
            .map_err(error)
    }
    fn enforcing(&mut self) -> bool {
        self.0.getenforce().unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers from a table; records the last context asked.
    #[derive(Default)]
    struct Ops {
        context: &'static str,
        to_sid: Option<XenResult<u32>>,
        access: Option<XenResult<AccessVector>>,
        enforce: Option<XenResult<bool>>,
    }

    impl FlaskOps for Ops {
        fn context_to_sid(&mut self, _context: &str) -> XenResult<u32> {
            self.to_sid.unwrap_or(Err(XenError::ENOSYS))
        }
        fn sid_to_context<'b>(&mut self, _sid: u32, buf: &'b mut [u8]) -> XenResult<&'b str> {
            let n = self.context.len();
            let b = buf.get_mut(..n).ok_or(XenError::ERANGE)?;
            b.copy_from_slice(self.context.as_bytes());
            core::str::from_utf8(b).map_err(|_| XenError::EINVAL)
        }
        fn access(&mut self, _s: u32, _t: u32, _c: u16, _r: u32) -> XenResult<AccessVector> {
            self.access.unwrap_or(Err(XenError::ENOSYS))
        }
        fn getenforce(&mut self) -> XenResult<bool> {
            self.enforce.unwrap_or(Err(XenError::ENOSYS))
        }
    }

    #[test]
    fn created_sid_is_a_nonzero_u32() {
        assert_eq!(created_sid(0), None);
        assert_eq!(created_sid(12), Sid::new(12));
        assert_eq!(created_sid(u64::from(u32::MAX)), Sid::new(u32::MAX));
        assert_eq!(created_sid(1 << 32), None);
        assert_eq!(created_sid((1 << 32) | 12), None);
    }

    #[test]
    fn the_label_is_the_contexts_type() {
        let sid = Sid::new(5).unwrap();
        let mut o = Ops {
            context: "system_u:system_r:tee_guest_t",
            ..Ops::default()
        };
        assert_eq!(label_of(&mut o, sid).as_deref(), Ok("tee_guest_t"));
        // With an MLS level.
        o.context = "system_u:system_r:tee_attacker_t:s0";
        assert_eq!(label_of(&mut o, sid).as_deref(), Ok("tee_attacker_t"));
        for bad in [
            "",
            "system_u",
            "system_u:system_r",
            "system_u:system_r:",
            "a:b:c d",
        ] {
            o.context = bad;
            assert_eq!(label_of(&mut o, sid), Err(XenError::EINVAL), "{bad:?}");
        }
        // Longer than we read: Xen's ERANGE.
        o.context = include_str!("flask.rs");
        assert_eq!(label_of(&mut o, sid), Err(XenError::ERANGE));
    }

    #[test]
    fn errors_map_to_the_cores_and_fail_closed() {
        let mut f = Flask(Ops::default());
        let s = Sid::new(3).unwrap();
        // No FLASK, no permission, a SID of 0: failures (denials).
        assert_eq!(f.context_to_sid("x"), Err(SecurityError::Failed));
        f.0.to_sid = Some(Err(XenError::EACCES));
        assert_eq!(f.context_to_sid("x"), Err(SecurityError::Failed));
        f.0.to_sid = Some(Ok(0));
        assert_eq!(f.context_to_sid("x"), Err(SecurityError::Failed));
        // An unknown type: Invalid (the core then tries tee_ta_t).
        f.0.to_sid = Some(Err(XenError::EINVAL));
        assert_eq!(f.context_to_sid("x"), Err(SecurityError::Invalid));
        f.0.to_sid = Some(Ok(9));
        assert_eq!(f.context_to_sid("x"), Ok(Sid::new(9).unwrap()));
        let av = AccessVector {
            allowed: 1,
            seqno: 4,
        };
        f.0.access = Some(Ok(av));
        assert_eq!(f.compute_av(s, s, 14, 1), Ok(av));
        f.0.access = Some(Err(XenError::EINVAL));
        assert_eq!(f.compute_av(s, s, 14, 1), Err(SecurityError::Invalid));
        f.0.access = Some(Err(XenError::EACCES));
        assert_eq!(f.compute_av(s, s, 14, 1), Err(SecurityError::Failed));
        // GETENFORCE failing: enforcing.
        assert!(f.enforcing());
        f.0.enforce = Some(Ok(false));
        assert!(!f.enforcing());
        f.0.enforce = Some(Err(XenError::EFAULT));
        assert!(f.enforcing());
    }

    #[test]
    fn flask_is_available_unless_getenforce_is_enosys() {
        let mut o = Ops::default();
        assert!(!available(&mut o));
        for e in [Ok(true), Ok(false), Err(XenError::EACCES)] {
            o.enforce = Some(e);
            assert!(available(&mut o), "{e:?}");
        }
    }
}
