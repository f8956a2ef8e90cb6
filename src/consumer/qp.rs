//! The consumer's queue pair.

use core::ffi::c_void;
use core::ptr;

use super::events::{self, Closed};
use crate::abi::{NDK_QP, NDK_QP_DISPATCH, NDK_SGE, NTSTATUS};

/// A request context from a test's integer (handed back in `NDK_RESULT.RequestContext`).
#[must_use]
pub const fn ctx(value: usize) -> *mut c_void {
    ptr::without_provenance_mut(value)
}

fn sgl(sges: &[NDK_SGE]) -> (*const NDK_SGE, u32) {
    (
        if sges.is_empty() {
            ptr::null()
        } else {
            sges.as_ptr()
        },
        u32::try_from(sges.len()).unwrap_or(u32::MAX),
    )
}

/// A queue pair.
#[derive(Debug)]
pub struct Qp {
    raw: *mut NDK_QP,
}

// SAFETY: NDK objects may be used from any thread.
unsafe impl Send for Qp {}
// SAFETY: as above; per-queue serialisation is the test's job, as for a consumer.
unsafe impl Sync for Qp {}

impl Qp {
    /// Wraps a QP created by a raw `NdkCreateQp` call (tests that create QPs over CQs of
    /// their own making).
    ///
    /// # Safety
    ///
    /// `raw` is an open QP handed out by a provider, and the caller gives up using it except
    /// through this value (which closes it at most once).
    #[must_use]
    pub const unsafe fn from_raw(raw: *mut NDK_QP) -> Self {
        Self { raw }
    }

    object_accessors!(NDK_QP, NDK_QP_DISPATCH);

    /// Connects this QP with `peer` through the connection manager's hook
    /// ([`crate::dispatch::connect_pair`]); `ord`/`ird` are this side's read limits.
    #[must_use]
    pub fn connect_to(&self, peer: &Self, ord: u32, ird: u32) -> NTSTATUS {
        // SAFETY: both QPs are open.
        unsafe { crate::dispatch::connect_pair(self.raw, peer.raw, ord, ird) }
    }

    /// `NdkSend`.
    #[must_use]
    pub fn send(&self, context: usize, sges: &[NDK_SGE], flags: u32) -> NTSTATUS {
        let (p, n) = sgl(sges);
        // SAFETY: live QP; `p` holds `n` SGEs (or is NULL with `n` = 0).
        unsafe { (self.dispatch().NdkSend)(self.raw, ctx(context), p, n, flags) }
    }

    /// `NdkSend` with a NULL `pSgl` and `n` SGEs (misuse: must be refused without reading).
    #[must_use]
    pub fn send_null_sgl(&self, n: u32, flags: u32) -> NTSTATUS {
        // SAFETY: live QP; the provider must not read through NULL.
        unsafe { (self.dispatch().NdkSend)(self.raw, ptr::null_mut(), ptr::null(), n, flags) }
    }

    /// `NdkSendAndInvalidate`.
    #[must_use]
    pub fn send_and_invalidate(
        &self,
        context: usize,
        sges: &[NDK_SGE],
        flags: u32,
        remote_token: u32,
    ) -> NTSTATUS {
        let (p, n) = sgl(sges);
        // SAFETY: live QP; valid SGE array.
        unsafe {
            (self.dispatch().NdkSendAndInvalidate)(
                self.raw,
                ctx(context),
                p,
                n,
                flags,
                remote_token,
            )
        }
    }

    /// `NdkReceive`.
    #[must_use]
    pub fn receive(&self, context: usize, sges: &[NDK_SGE]) -> NTSTATUS {
        let (p, n) = sgl(sges);
        // SAFETY: live QP; valid SGE array.
        unsafe { (self.dispatch().NdkReceive)(self.raw, ctx(context), p, n) }
    }

    /// `NdkWrite`.
    #[must_use]
    pub fn write(
        &self,
        context: usize,
        sges: &[NDK_SGE],
        remote_address: u64,
        remote_token: u32,
        flags: u32,
    ) -> NTSTATUS {
        let (p, n) = sgl(sges);
        // SAFETY: live QP; valid SGE array.
        unsafe {
            (self.dispatch().NdkWrite)(
                self.raw,
                ctx(context),
                p,
                n,
                remote_address,
                remote_token,
                flags,
            )
        }
    }

    /// `NdkRead`.
    #[must_use]
    pub fn read(
        &self,
        context: usize,
        sges: &[NDK_SGE],
        remote_address: u64,
        remote_token: u32,
        flags: u32,
    ) -> NTSTATUS {
        let (p, n) = sgl(sges);
        // SAFETY: live QP; valid SGE array.
        unsafe {
            (self.dispatch().NdkRead)(
                self.raw,
                ctx(context),
                p,
                n,
                remote_address,
                remote_token,
                flags,
            )
        }
    }

    /// `NdkBind` with NULL MR and MW (argument validation: refused, nothing posted).
    #[must_use]
    pub fn bind_nothing(&self) -> NTSTATUS {
        // SAFETY: live QP; NULL objects must be refused.
        unsafe {
            (self.dispatch().NdkBind)(
                self.raw,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                0,
                0,
            )
        }
    }

    /// `NdkFastRegister` with a NULL MR.
    #[must_use]
    pub fn fast_register_nothing(&self) -> NTSTATUS {
        // SAFETY: live QP; a NULL MR must be refused.
        unsafe {
            (self.dispatch().NdkFastRegister)(
                self.raw,
                ptr::null_mut(),
                ptr::null_mut(),
                0,
                ptr::null(),
                0,
                0,
                ptr::null_mut(),
                0,
            )
        }
    }

    /// `NdkInvalidate` of a NULL object.
    #[must_use]
    pub fn invalidate_nothing(&self) -> NTSTATUS {
        // SAFETY: live QP; a NULL object must be refused.
        unsafe { (self.dispatch().NdkInvalidate)(self.raw, ptr::null_mut(), ptr::null_mut(), 0) }
    }

    /// `NdkFlush`.
    pub fn flush(&self) {
        // SAFETY: live QP.
        unsafe { (self.dispatch().NdkFlush)(self.raw) };
    }

    /// `NdkCloseQp`.
    pub fn close(self) -> Closed {
        events::close(self.raw.cast(), self.dispatch().NdkCloseQp, None)
    }
}
