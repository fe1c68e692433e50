//! Xen's public errno values (`xen/include/public/errno.h`) as a typed error.
//!
//! A hypercall returns `-errno` on failure; [`XenError::from_ret`] is the single place that turns a
//! raw return value into `Result`.
#![forbid(unsafe_code)]

use core::fmt;

/// A Xen error number (positive, as in `public/errno.h`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct XenError(pub i32);

/// Result of a hypercall wrapper.
pub type XenResult<T> = Result<T, XenError>;

macro_rules! errnos {
    ($($name:ident = $val:expr, $doc:expr;)*) => {
        impl XenError {
            $(#[doc = $doc] pub const $name: XenError = XenError($val);)*

            /// The symbolic name (`"EACCES"`), or `None` for an unknown number.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// All named errors (for tests against the C header).
            pub const ALL: &'static [(&'static str, i32)] = &[$((stringify!($name), $val),)*];
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EIO = 5, "I/O error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Arg list too long";
    EBADF = 9, "Bad file number";
    EAGAIN = 11, "Try again";
    ENOMEM = 12, "Out of memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Cross-device link";
    ENODEV = 19, "No such device";
    EINVAL = 22, "Invalid argument";
    ENOSPC = 28, "No space left on device";
    ERANGE = 34, "Math result not representable";
    ENOSYS = 38, "Function not implemented";
    ENODATA = 61, "No data available";
    ETIME = 62, "Timer expired";
    EOVERFLOW = 75, "Value too large for defined data type";
    EOPNOTSUPP = 95, "Operation not supported on transport endpoint";
    ENOBUFS = 105, "No buffer space available";
    ETIMEDOUT = 110, "Connection timed out";
}

impl XenError {
    /// Decode a hypercall return value: negative is `-errno`, anything else is success.
    ///
    /// ```
    /// use xenif::XenError;
    /// assert_eq!(XenError::from_ret(-13), Err(XenError::EACCES));
    /// assert_eq!(XenError::from_ret(5), Ok(5));
    /// ```
    pub fn from_ret(ret: i64) -> XenResult<u64> {
        if ret < 0 {
            // A -errno fits i32; anything else is not an errno Xen produces, keep it saturated.
            Err(XenError(
                i32::try_from(ret.unsigned_abs()).unwrap_or(i32::MAX),
            ))
        } else {
            Ok(ret.unsigned_abs())
        }
    }
}

impl fmt::Debug for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Display for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        assert_eq!(XenError::from_ret(0), Ok(0));
        assert_eq!(XenError::from_ret(-22), Err(XenError::EINVAL));
        assert_eq!(XenError::from_ret(i64::MIN), Err(XenError(i32::MAX)));
        assert_eq!(format!("{}", XenError::EACCES), "EACCES");
        assert_eq!(format!("{}", XenError(4242)), "errno 4242");
    }
}
