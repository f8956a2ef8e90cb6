//! Creates that may pend: how the wrapper issues every `NdkCreateXxx` and, when the provider
//! answers `STATUS_PENDING`, waits for the object to arrive through the create completion.
//!
//! The wrapper hands the provider a completion whose context is one leaked count of a
//! [`CreateWait`]; the completion stores `(status, object)` and wakes the waiter. After
//! `STATUS_PENDING` the wrapper never reads its out-pointer (`spec/ndkpi.md` §5.2 item 3: the
//! object comes only through the completion; the verifier checks the provider left it alone).
//! The wait blocks, so a pending create through the wrapper must be issued at `PASSIVE_LEVEL`
//! (the host platform panics on a wait at DISPATCH, as Driver Verifier would bug-check); a
//! consumer at DISPATCH uses the raw table and continues in its completion, see
//! `tests/conformance_pending.rs`. With a platform ([`super::Adapter::with_platform`]) the wait
//! is the platform's event, which also runs a deterministic host's queue; without one it is a
//! condition variable, which needs a platform that delivers deferred work by itself (inline or
//! threaded).

use core::ffi::c_void;
use core::ptr;
use std::sync::Arc;

use super::awaited::Awaited;
use crate::abi::{NDK_FN_CREATE_COMPLETION, NDK_OBJECT_HEADER, NTSTATUS, STATUS_PENDING};
use crate::platform::Platform;

/// The result of a pending create, as its completion delivered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The completion's status.
    pub status: NTSTATUS,
    /// The object's address (0 when the create failed).
    pub object: usize,
}

/// The context of one create: what its completion delivered, and how many times it ran.
pub type CreateWait = Awaited<Delivered>;

impl Awaited<Delivered> {
    /// Blocks until the completion ran (PASSIVE only) and returns what it delivered.
    ///
    /// # Panics
    ///
    /// At DISPATCH or with a provider lock held.
    #[must_use]
    pub fn wait(&self) -> Delivered {
        self.wait_for().unwrap_or(Delivered {
            status: STATUS_PENDING,
            object: 0,
        })
    }

    /// The completion and context to hand the provider: one leaked count, taken back by the
    /// completion (or by [`Awaited::reclaim`] when the create did not pend).
    #[must_use]
    pub fn leak(this: &Arc<Self>) -> (NDK_FN_CREATE_COMPLETION, *mut c_void) {
        (pending_create_completion, Self::leak_context(this))
    }
}

/// The create completion of [`create_object`]: `context` is a count leaked by
/// [`CreateWait::leak`].
///
/// # Safety
///
/// Called by the provider only, once per pending create.
pub unsafe extern "system" fn pending_create_completion(
    context: *mut c_void,
    status: NTSTATUS,
    object: *mut NDK_OBJECT_HEADER,
) {
    let delivered = Delivered {
        status,
        object: object.expose_provenance(),
    };
    // SAFETY: `leak` gave the provider one strong count of a `CreateWait` for this completion,
    // which the provider calls exactly once (a second call is a provider bug the verifier
    // reports first).
    unsafe { CreateWait::complete(context, delivered) };
}

/// Issues a create through `call` and returns the new object, waiting for it if it pends.
///
/// `call` gets the completion, its context and the out-pointer. The object comes from the
/// out-pointer after an inline `STATUS_SUCCESS`, from the completion after `STATUS_PENDING`
/// (waiting for it, PASSIVE only).
///
/// # Errors
///
/// The inline failure status, or the status a pending create's completion delivered.
///
/// # Panics
///
/// If the create pends at DISPATCH (the wait would block).
pub fn create_object<O>(
    platform: Option<&Platform>,
    call: impl FnOnce(NDK_FN_CREATE_COMPLETION, *mut c_void, *mut *mut O) -> NTSTATUS,
) -> Result<*mut O, NTSTATUS> {
    let wait = CreateWait::new(platform);
    let (completion, context) = CreateWait::leak(&wait);
    let mut out: *mut O = ptr::null_mut();
    let status = call(completion, context, &raw mut out);
    if status == STATUS_PENDING {
        let delivered = wait.wait();
        return super::succeeded(delivered.status)
            .map(|()| ptr::with_exposed_provenance_mut(delivered.object));
    }
    // SAFETY: the create did not pend, so the provider will not call the completion.
    unsafe { CreateWait::reclaim(context) };
    super::succeeded(status).map(|()| out)
}

/// [`create_object`] answering the raw pair: `(STATUS_SUCCESS, object)` or `(failure, NULL)`,
/// whether the failure was inline or delivered by the completion.
pub(super) fn issue<O>(
    platform: Option<&Platform>,
    call: impl FnOnce(NDK_FN_CREATE_COMPLETION, *mut c_void, *mut *mut O) -> NTSTATUS,
) -> (NTSTATUS, *mut O) {
    match create_object(platform, call) {
        Ok(object) => (crate::abi::STATUS_SUCCESS, object),
        Err(status) => (status, ptr::null_mut()),
    }
}
