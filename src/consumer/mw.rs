//! The consumer's memory windows, and the QP work requests that bind, fast-register and
//! invalidate memory.

use core::ffi::c_void;
use core::ptr;

use super::events::{self, Closed};
use super::{Mr, Pd, Qp, ctx};
use crate::abi::{
    NDK_LOGICAL_ADDRESS, NDK_MR, NDK_MW, NDK_MW_DISPATCH, NDK_OBJECT_HEADER, NTSTATUS,
};

/// A memory window.
#[derive(Debug)]
pub struct Mw {
    raw: *mut NDK_MW,
}

// SAFETY: NDK objects may be used from any thread; the pointer is only passed back.
unsafe impl Send for Mw {}
// SAFETY: as above.
unsafe impl Sync for Mw {}

impl Mw {
    object_accessors!(NDK_MW, NDK_MW_DISPATCH);

    /// `NdkGetRemoteTokenFromMw`.
    #[must_use]
    pub fn remote_token(&self) -> u32 {
        // SAFETY: live MW.
        unsafe { (self.dispatch().NdkGetRemoteTokenFromMw)(self.raw) }
    }

    /// `NdkCloseMw`.
    pub fn close(self) -> Closed {
        events::close(self.raw.cast(), self.dispatch().NdkCloseMw, None)
    }
}

impl Pd {
    /// `NdkCreateMw`.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_mw(&self) -> Result<Mw, NTSTATUS> {
        let (status, out) =
            super::pending::issue(self.platform.as_ref(), |done, done_context, out| {
                // SAFETY: live PD, valid completion, writable out pointer.
                unsafe { (self.dispatch().NdkCreateMw)(self.raw(), Some(done), done_context, out) }
            });
        super::succeeded(status).map(|()| Mw { raw: out })
    }
}

/// An address used only as an index (MR/MW virtual addresses, fast-register base addresses).
fn index_address(va: u64) -> *mut c_void {
    ptr::without_provenance_mut(usize::try_from(va).unwrap_or(usize::MAX))
}

impl Qp {
    /// `NdkBind` of `mw` to `[va, va + length)` of `mr`.
    #[must_use]
    pub fn bind(
        &self,
        context: usize,
        mr: &Mr,
        mw: &Mw,
        va: u64,
        length: usize,
        flags: u32,
    ) -> NTSTATUS {
        self.bind_raw(context, mr.raw(), mw.raw(), va, length, flags)
    }

    /// `NdkBind` with raw objects (NULL or objects of the wrong type for misuse tests).
    #[must_use]
    // The objects are handed to the provider, which checks them; nothing is dereferenced here.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn bind_raw(
        &self,
        context: usize,
        mr: *mut NDK_MR,
        mw: *mut NDK_MW,
        va: u64,
        length: usize,
        flags: u32,
    ) -> NTSTATUS {
        // SAFETY: live QP; the objects are live or NULL (refused); `va` is only an index.
        unsafe {
            (self.dispatch().NdkBind)(
                self.raw(),
                ctx(context),
                mr,
                mw,
                index_address(va),
                length,
                flags,
            )
        }
    }

    /// `NdkFastRegister` of `pages` onto `mr`.
    #[must_use]
    #[allow(clippy::too_many_arguments)] // one per NDK parameter
    pub fn fast_register(
        &self,
        context: usize,
        mr: &Mr,
        pages: &[NDK_LOGICAL_ADDRESS],
        fbo: u32,
        length: usize,
        base: u64,
        flags: u32,
    ) -> NTSTATUS {
        let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
        let array = if pages.is_empty() {
            ptr::null()
        } else {
            pages.as_ptr()
        };
        // SAFETY: live QP and MR; `array` holds `count` entries (or is NULL with 0).
        unsafe {
            (self.dispatch().NdkFastRegister)(
                self.raw(),
                ctx(context),
                mr.raw(),
                count,
                array,
                fbo,
                length,
                index_address(base),
                flags,
            )
        }
    }

    /// `NdkInvalidate` of a fast-register MR.
    #[must_use]
    pub fn invalidate_mr(&self, context: usize, mr: &Mr, flags: u32) -> NTSTATUS {
        self.invalidate_raw(context, mr.raw().cast(), flags)
    }

    /// `NdkInvalidate` of a window.
    #[must_use]
    pub fn invalidate_mw(&self, context: usize, mw: &Mw, flags: u32) -> NTSTATUS {
        self.invalidate_raw(context, mw.raw.cast(), flags)
    }

    /// `NdkInvalidate` of any object header (misuse tests pass other objects or NULL).
    #[must_use]
    // As for `bind_raw`: the provider checks the object.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn invalidate_raw(
        &self,
        context: usize,
        object: *mut NDK_OBJECT_HEADER,
        flags: u32,
    ) -> NTSTATUS {
        // SAFETY: live QP; `object` is a live object of this provider or NULL.
        unsafe { (self.dispatch().NdkInvalidate)(self.raw(), ctx(context), object, flags) }
    }
}
