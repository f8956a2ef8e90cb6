//! How every `NdkCreateXxx` answers once its arguments passed the entry point's checks: inline
//! (the object through the out-pointer, `STATUS_SUCCESS`, or the failure status) or, on an
//! adapter opened with [`AdapterConfig::pend_creates`](crate::verbs::AdapterConfig), pending.
//!
//! A pending create (`spec/ndkpi.md` §5.2 item 3) returns `STATUS_PENDING` and defers the
//! object's construction to the platform's deferred work (a DPC on Windows). The work builds the
//! object and calls the consumer's `CreateCompletion` exactly once, at `DISPATCH_LEVEL` with no
//! provider lock held, with the new object or with the failure status and a NULL object — an
//! allocation failure included. Until the completion has returned the create holds one lifetime
//! unit on the adapter and on every object the create names (PD, CQs, SRQ): it is a pending
//! request on them (§5.3 C1), so their closes, and the adapter's blocking close, finish only
//! after the completion returned. If one of them is closing when the work runs, the create is
//! cancelled (`STATUS_CANCELLED`, no object; §5.2 item 5): nobody would close an object
//! delivered to a consumer that is tearing down its parent.
//!
//! The completion may run before the create returned (on Windows a DPC queued below
//! `DISPATCH_LEVEL` may run at once on the same processor; the host's inline mode does the
//! same): the create still returns `STATUS_PENDING` (§5.5).
//!
//! Must never: write the out-pointer once it decided to pend (the consumer need not keep it
//! valid), call the completion twice or with a provider lock held.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr;

use crate::abi::upcall::{Context, CreateCompletion};
use crate::abi::{
    NDK_FN_CREATE_COMPLETION, NDK_OBJECT_HEADER, NTSTATUS, STATUS_CANCELLED,
    STATUS_DEVICE_NOT_READY, STATUS_INSUFFICIENT_RESOURCES, STATUS_PENDING, STATUS_SUCCESS,
};
use crate::lifetime::{Base, Tracked, Unit};
use crate::platform::assert_no_provider_lock_held;
use crate::platform::prelude::*;
use crate::sync::Arc;
use crate::verbs::{Adapter, Pd};

use super::handle::{Borrowed, Embedded, borrow, hand_out};
use super::write_out;

/// What a pending create keeps open until its completion has returned: one lifetime unit per
/// object the create names.
pub(super) trait Held: Send + 'static {
    /// Whether one of the held objects is closing (the create is then cancelled).
    fn closing(&self) -> bool;
}

impl Held for () {
    fn closing(&self) -> bool {
        false
    }
}

/// An optional antecedent (the SRQ of a QP create that names one).
impl<H: Held> Held for Option<H> {
    fn closing(&self) -> bool {
        self.as_ref().is_some_and(Held::closing)
    }
}

impl<T: Tracked + Send + Sync + 'static> Held for Unit<T> {
    fn closing(&self) -> bool {
        self.node().is_closing()
    }
}

macro_rules! held_tuple {
    ($($name:ident),+) => {
        impl<$($name: Held),+> Held for ($($name,)+) {
            #[allow(non_snake_case)] // the tuple's members, named after their types
            fn closing(&self) -> bool {
                let ($($name,)+) = self;
                false $(|| $name.closing())+
            }
        }
    };
}

held_tuple!(A, B, C, D);

/// The parent (adapter or PD) of a create whose mandatory `CreateCompletion` and out-parameter
/// are given; `None` (the create answers `STATUS_INVALID_PARAMETER`) for a NULL parent,
/// completion or `out`.
///
/// # Safety
///
/// `parent` per the NDK contract for pointers to `P`'s objects (as [`borrow`]).
pub(super) unsafe fn creating<'a, P: Embedded, O>(
    parent: *mut P::Ndk,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    out: *mut O,
) -> Option<(Borrowed<'a, P>, NDK_FN_CREATE_COMPLETION)> {
    // SAFETY: forwarded contract.
    let parent = unsafe { borrow::<P>(parent) }?;
    match (completion, out.is_null()) {
        (Some(completion), false) => Some((parent, completion)),
        _ => None,
    }
}

/// [`answer`] for a create whose only antecedent is the adapter: nothing beyond the adapter is
/// held while it pends; `build` gets its own reference to the adapter.
///
/// # Safety
///
/// As for [`answer`].
pub(super) unsafe fn answer_on_adapter<T: Tracked + Embedded>(
    adapter: &Arc<Adapter>,
    completion: NDK_FN_CREATE_COMPLETION,
    context: *mut c_void,
    out: *mut *mut T::Ndk,
    build: impl FnOnce(&Arc<Adapter>) -> Result<Base<T>, NTSTATUS> + Send + 'static,
) -> NTSTATUS {
    let owner = Arc::clone(adapter);
    // SAFETY: forwarded contract.
    unsafe {
        answer(
            adapter,
            completion,
            context,
            out,
            || Some(()),
            move || build(&owner),
        )
    }
}

/// [`answer`] for a create whose only named antecedent is `pd`: a pending create holds the PD;
/// `build` gets its own reference to it.
///
/// # Safety
///
/// As for [`answer`].
pub(super) unsafe fn answer_on_pd<T: Tracked + Embedded>(
    pd: &Arc<Pd>,
    completion: NDK_FN_CREATE_COMPLETION,
    context: *mut c_void,
    out: *mut *mut T::Ndk,
    build: impl FnOnce(&Arc<Pd>) -> Result<Base<T>, NTSTATUS> + Send + 'static,
) -> NTSTATUS {
    let owner = Arc::clone(pd);
    // SAFETY: forwarded contract.
    unsafe {
        answer(
            pd.adapter(),
            completion,
            context,
            out,
            || hold(pd),
            move || build(&owner),
        )
    }
}

/// A unit on `object` for a pending create; `None` if it is closing.
pub(super) fn hold<T: Tracked>(object: &Arc<T>) -> Option<Unit<T>> {
    Unit::try_new(object)
}

/// Answers a create whose arguments are valid: `build` makes the object, now (inline) or from
/// deferred work (pending, see the module documentation). `hold` is called only for a pending
/// create, on the calling thread; `None` (an antecedent is already closing, a consumer error)
/// answers `STATUS_DEVICE_NOT_READY` inline, like a create on a closing adapter.
///
/// A pending create whose deferred work cannot be allocated answers
/// `STATUS_INSUFFICIENT_RESOURCES` inline; nothing is created and the completion is not called.
///
/// # Safety
///
/// `out` is non-null and writable for the duration of the call (checked by the caller against
/// NULL; the consumer guarantees the rest). `completion` is the consumer's create completion,
/// callable once with `context` at ≤ `DISPATCH_LEVEL` if the create pends (NDK create
/// contract).
pub(super) unsafe fn answer<T, H>(
    adapter: &Arc<Adapter>,
    completion: NDK_FN_CREATE_COMPLETION,
    context: *mut c_void,
    out: *mut *mut T::Ndk,
    hold: impl FnOnce() -> Option<H>,
    build: impl FnOnce() -> Result<Base<T>, NTSTATUS> + Send + 'static,
) -> NTSTATUS
where
    T: Tracked + Embedded,
    H: Held,
{
    if !adapter.pends_creates() {
        return match build() {
            Ok(object) => {
                // SAFETY: per the caller's contract.
                unsafe { write_out(out, hand_out(object)) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        };
    }
    let (Ok(guard), Some(kept)) = (adapter.link(), hold()) else {
        return STATUS_DEVICE_NOT_READY;
    };
    // SAFETY: the consumer's create completion with its context, callable once at ≤ DISPATCH
    // until the provider has called it (caller's contract); the work below calls it once.
    let completion = unsafe { CreateCompletion::new(completion, Context::new(context)) };
    let work = move || {
        let result = if guard.node().is_closing() || kept.closing() {
            Err(STATUS_CANCELLED)
        } else {
            build()
        };
        let (status, object) = match result {
            Ok(object) => (STATUS_SUCCESS, hand_out(object).cast::<NDK_OBJECT_HEADER>()),
            Err(status) => (status, ptr::null_mut()),
        };
        assert_no_provider_lock_held();
        completion.call(status, object);
        // Only now: the antecedents' closes (and the adapter's) wait for the completion (C1).
        drop(kept);
        drop(guard);
    };
    match adapter.platform().try_defer(work) {
        Ok(()) => STATUS_PENDING,
        Err(_) => STATUS_INSUFFICIENT_RESOURCES,
    }
}
