//! Grant-table (v1) logic (`public/grant_table.h`): entry states and the `GNTST_*` status codes of
//! grant operations as a typed error.
//!
//! A grant entry is published by writing `domid` and `frame` first and `flags` last (with a
//! barrier between), and revoked by clearing `flags` only while Xen has not marked it in use
//! (`GTF_reading`/`GTF_writing`): [`can_revoke`] is that test, done with a compare-and-swap by the
//! caller.
#![forbid(unsafe_code)]

use crate::abi::{GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_WRITING};
use core::fmt;

/// A failed grant operation (`GNTST_*`, negative in the ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantError(pub i16);

impl GrantError {
    /// `GNTST_general_error`.
    pub const GENERAL: GrantError = GrantError(-1);
    /// `GNTST_bad_domain`.
    pub const BAD_DOMAIN: GrantError = GrantError(-2);
    /// `GNTST_bad_gntref`.
    pub const BAD_GNTREF: GrantError = GrantError(-3);
    /// `GNTST_bad_handle`.
    pub const BAD_HANDLE: GrantError = GrantError(-4);
    /// `GNTST_permission_denied`.
    pub const PERMISSION_DENIED: GrantError = GrantError(-8);
    /// `GNTST_bad_page`.
    pub const BAD_PAGE: GrantError = GrantError(-9);
    /// `GNTST_no_space`.
    pub const NO_SPACE: GrantError = GrantError(-13);

    /// `Ok` for `GNTST_okay` (0), the error otherwise.
    ///
    /// ```
    /// use xenif::grant::GrantError;
    /// assert_eq!(GrantError::check(0), Ok(()));
    /// assert_eq!(GrantError::check(-8), Err(GrantError::PERMISSION_DENIED));
    /// ```
    pub fn check(status: i16) -> Result<(), GrantError> {
        if status == 0 {
            Ok(())
        } else {
            Err(GrantError(status))
        }
    }

    /// The name in `GNTTABOP_error_msgs` order.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 14] = [
            "okay",
            "general error",
            "bad domain",
            "bad gntref",
            "bad handle",
            "bad virt addr",
            "bad dev addr",
            "no device space",
            "permission denied",
            "bad page",
            "bad copy arg",
            "address too big",
            "eagain",
            "no space",
        ];
        usize::try_from(-i32::from(self.0))
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
            .unwrap_or("unknown")
    }
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GNTST {} ({})", self.0, self.name())
    }
}

/// The `flags` that publish a grant.
pub fn access_flags(readonly: bool) -> u16 {
    GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 }
}

/// True if an entry with these flags may be revoked now (nobody has it mapped).
pub fn can_revoke(flags: u16) -> bool {
    flags & (GTF_READING | GTF_WRITING) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_flags() {
        assert_eq!(GrantError(-3).name(), "bad gntref");
        assert_eq!(GrantError(-99).name(), "unknown");
        assert_eq!(GrantError(5).name(), "unknown");
        assert_eq!(
            format!("{}", GrantError::PERMISSION_DENIED),
            "GNTST -8 (permission denied)"
        );
        assert_eq!(access_flags(false), 1);
        assert_eq!(access_flags(true), 5);
        assert!(can_revoke(access_flags(true)));
        assert!(!can_revoke(access_flags(false) | GTF_READING));
        assert!(!can_revoke(GTF_WRITING));
    }
}
