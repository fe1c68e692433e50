//! Errors, one enum per boundary, and the single place that maps a guest's
//! error to what the guest sees.

use crate::abi::{ret, teec, SMCCC_UNKNOWN_FUNCTION};

/// Declares [`GuestError`] from one list (each variant with its documentation and its short
/// name in statistics), and from the same list [`GUEST_ERROR_KINDS`], [`GuestError::ALL`] and
/// [`GuestError::name`], so that none of them can miss a kind or count it twice.
macro_rules! guest_errors {
    ($($(#[doc = $doc:literal])* $kind:ident => $name:literal,)+) => {
        /// What went wrong with a guest's call. Each variant says what the guest
        /// sees; [`GuestError::answer`] is the only mapping.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum GuestError {
            $($(#[doc = $doc])* $kind,)+
        }

        /// Number of [`GuestError`] variants (for per-kind counters).
        pub const GUEST_ERROR_KINDS: usize = [$(GuestError::$kind),+].len();

        impl GuestError {
            /// Every variant, in [`GuestError::index`] order.
            pub const ALL: [GuestError; GUEST_ERROR_KINDS] = [$(GuestError::$kind),+];

            /// A short name for statistics (`err_<name>=N` in the mediator's `TSD-STATS` lines).
            pub const fn name(self) -> &'static str {
                match self {
                    $(GuestError::$kind => $name,)+
                }
            }
        }
    };
}

guest_errors! {
    /// Function ID unknown to the mediator, or a hypervisor-only function
    /// (VM_CREATED/VM_DESTROYED), or the domain is not a TEE guest:
    /// SMCCC unknown function in x0.
    UnknownFunction => "unknown",
    /// The guest is not available (VM_CREATED failed, or it is being
    /// destroyed): `OPTEE_SMC_RETURN_ENOTAVAIL`.
    Unavailable => "unavailable",
    /// A feature the mediator refuses (static SHM config, no dynamic SHM in
    /// the secure world, RPC argument not negotiated): `ENOTAVAIL`.
    NotAvailable => "notavail",
    /// Argument address unaligned or unreadable: `OPTEE_SMC_RETURN_EBADADDR`.
    BadAddress => "badaddr",
    /// Unknown message command: `OPTEE_SMC_RETURN_EBADCMD`.
    BadCommand => "badcmd",
    /// More concurrent calls than OP-TEE threads:
    /// `OPTEE_SMC_RETURN_ETHREAD_LIMIT`.
    ThreadLimit => "threadlimit",
    /// The mediator ran out of its own memory: `OPTEE_SMC_RETURN_ENOMEM`.
    NoMemory => "nomem",
    /// RETURN_FROM_RPC for a thread the guest has no suspended call on:
    /// `OPTEE_SMC_RETURN_ERESUME`.
    BadResume => "badresume",
    /// A parameter is malformed (old-style tmem, bad page list, duplicate
    /// cookie, unpinnable page, `num_params` too large):
    /// `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS, in the message.
    BadParameters => "badparam",
    /// A per-guest limit is reached (pages per buffer, buffers, pinned
    /// pages): `TEEC_ERROR_OUT_OF_MEMORY`, origin COMMS, in the message.
    LimitReached => "limit",
    /// OPEN_SESSION to a TA not on the guest's allow-list:
    /// `TEEC_ERROR_ACCESS_DENIED`, origin COMMS, in the message.
    AccessDenied => "denied",
    /// The call held no OP-TEE thread and waited longer than
    /// [`crate::Config::thread_wait_ms`] for one that other guests' calls
    /// held: `OPTEE_SMC_RETURN_EBUSY` (Linux reports a communication error;
    /// ETHREAD_LIMIT would make it wait for a call of its own that does not
    /// exist). ENABLE_SHM_CACHE then gets `OK` unforwarded (OP-TEE keeps
    /// its cache off) and DISABLE_SHM_CACHE `ENOTAVAIL` (nothing more).
    NoThread => "nothread",
}

/// How an error reaches the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Value for x0 (the call itself failed).
    X0(u64),
    /// The SMC succeeds (x0 = OK) and the message carries `ret`/`ret_origin`.
    Message {
        /// `ret`.
        ret: u32,
        /// `ret_origin`.
        origin: u32,
    },
}

impl GuestError {
    /// The one mapping from an error to what the guest sees.
    ///
    /// ```
    /// use mediator::{abi, Answer, GuestError};
    /// assert_eq!(GuestError::ThreadLimit.answer(), Answer::X0(abi::ret::ETHREAD_LIMIT));
    /// assert_eq!(
    ///     GuestError::AccessDenied.answer(),
    ///     Answer::Message { ret: abi::teec::ERROR_ACCESS_DENIED, origin: abi::teec::ORIGIN_COMMS }
    /// );
    /// ```
    pub const fn answer(self) -> Answer {
        match self {
            GuestError::UnknownFunction => Answer::X0(SMCCC_UNKNOWN_FUNCTION),
            GuestError::Unavailable | GuestError::NotAvailable => Answer::X0(ret::ENOTAVAIL),
            GuestError::BadAddress => Answer::X0(ret::EBADADDR),
            GuestError::BadCommand => Answer::X0(ret::EBADCMD),
            GuestError::ThreadLimit => Answer::X0(ret::ETHREAD_LIMIT),
            GuestError::NoMemory => Answer::X0(ret::ENOMEM),
            GuestError::BadResume => Answer::X0(ret::ERESUME),
            GuestError::BadParameters => Answer::Message {
                ret: teec::ERROR_BAD_PARAMETERS,
                origin: teec::ORIGIN_COMMS,
            },
            GuestError::LimitReached => Answer::Message {
                ret: teec::ERROR_OUT_OF_MEMORY,
                origin: teec::ORIGIN_COMMS,
            },
            GuestError::AccessDenied => Answer::Message {
                ret: teec::ERROR_ACCESS_DENIED,
                origin: teec::ORIGIN_COMMS,
            },
            GuestError::NoThread => Answer::X0(ret::EBUSY),
        }
    }

    /// Index for per-kind counters.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Errors of [`crate::Mediator::probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// CALLS_UID did not return OP-TEE's UID.
    NotOpTee,
    /// GET_THREAD_COUNT failed (x0 value).
    ThreadCount(u64),
    /// OP-TEE is not built with virtualization support (VM_DESTROYED is an
    /// unknown function).
    NoVirtualization,
}

/// Errors of [`crate::Mediator::guest_created`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleError {
    /// A guest with this domid is already known.
    AlreadyExists,
    /// OP-TEE refused VM_CREATED (its x0); the guest is recorded as
    /// unavailable and its calls get ENOTAVAIL.
    VmCreatedFailed(u64),
    /// No guest with this domid.
    UnknownGuest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_kind_in_index_order_with_distinct_names() {
        for (i, e) in GuestError::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
        }
        for (i, a) in GuestError::ALL.iter().enumerate() {
            for b in GuestError::ALL.iter().skip(i + 1) {
                assert_ne!(a.name(), b.name());
            }
        }
    }
}
