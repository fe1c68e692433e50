//! Foreign mapping (`XENMEM_add_to_physmap_batch` with `XENMAPSPACE_gmfn_foreign`,
//! `public/memory.h`): request building and per-page error decoding.
//!
//! Xen processes the batch page by page and writes one `int` per page into `errs`; the hypercall's
//! own return value only reports failures of the whole request (bad handle, bad domain, XSM denial
//! of `add_to_physmap` itself). A per-page `-EACCES` is how a FLASK denial of `mmu map_read` shows up.
#![forbid(unsafe_code)]

use crate::abi::{mapspace, DomId, XenAddToPhysmapBatch, DOMID_SELF};
use crate::error::XenError;
use core::fmt;

/// Why a foreign mapping failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignMapError {
    /// The hypercall failed as a whole (nothing was mapped).
    Batch(XenError),
    /// Page `index` of the request failed with `err`; the other pages may have been mapped and
    /// must be unmapped by the caller (see [`PageErrors`]).
    Page {
        /// Index in the request.
        index: usize,
        /// Xen's error for that page.
        err: XenError,
    },
    /// The request is empty, longer than the ABI's 16-bit count, or the slices differ in length.
    BadRequest,
    /// No free slot in the mapping window.
    WindowFull,
}

impl fmt::Display for ForeignMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Batch(e) => write!(f, "batch failed: {e}"),
            Self::Page { index, err } => write!(f, "page {index}: {err}"),
            Self::BadRequest => write!(f, "bad request"),
            Self::WindowFull => write!(f, "mapping window full"),
        }
    }
}

/// Build the batch header for mapping `count` pages of `foreign` into our own physmap.
/// The handles are filled in by the hypercall wrapper.
pub fn batch_header(foreign: DomId, count: usize) -> Result<XenAddToPhysmapBatch, ForeignMapError> {
    let size = u16::try_from(count).map_err(|_| ForeignMapError::BadRequest)?;
    if size == 0 {
        return Err(ForeignMapError::BadRequest);
    }
    Ok(XenAddToPhysmapBatch {
        domid: DOMID_SELF,
        space: mapspace::GMFN_FOREIGN as u16,
        size,
        foreign_domid: foreign,
        idxs: 0,
        gpfns: 0,
        errs: 0,
    })
}

/// The per-page results of a batch.
#[derive(Debug)]
pub struct PageErrors<'a>(pub &'a [i32]);

impl PageErrors<'_> {
    /// The first failing page, as a typed error.
    pub fn first_error(&self) -> Option<ForeignMapError> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, &e)| e != 0)
            .map(|(index, &e)| ForeignMapError::Page {
                index,
                err: XenError(e.checked_neg().unwrap_or(i32::MAX)),
            })
    }

    /// Indices of the pages that were mapped (error 0).
    pub fn mapped(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, &e)| e == 0)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header() {
        let h = batch_header(7, 3).unwrap();
        assert_eq!(
            (h.domid, h.space, h.size, h.foreign_domid),
            (DOMID_SELF, 4, 3, 7)
        );
        assert_eq!(batch_header(7, 0).unwrap_err(), ForeignMapError::BadRequest);
        assert_eq!(
            batch_header(7, 70000).unwrap_err(),
            ForeignMapError::BadRequest
        );
    }

    #[test]
    fn page_errors() {
        let errs = [0, -13, 0, -22];
        let pe = PageErrors(&errs);
        assert_eq!(
            pe.first_error(),
            Some(ForeignMapError::Page {
                index: 1,
                err: XenError::EACCES
            })
        );
        assert_eq!(pe.mapped().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(PageErrors(&[0, 0]).first_error(), None);
        assert_eq!(format!("{}", pe.first_error().unwrap()), "page 1: EACCES");
    }
}
