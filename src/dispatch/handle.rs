//! The one place a consumer's NDK object pointer becomes a provider object, and back.
//!
//! Object model (`docs/architecture.md`): every provider object is `#[repr(C)]` with its
//! `NDK_xxx` in an `NdkCell` at offset 0 and lives in one `Arc`. The consumer's pointer is that
//! `Arc`'s data pointer, obtained from [`hand_out`] (`Base::into_arc` + `Arc::into_raw`: the
//! pointer *is* the consumer's BASE unit and one strong count). [`borrow`] turns it back into an
//! `&Arc<T>` for the length of one call without touching any count; [`adopt`] takes the BASE
//! back for `NdkCloseObject`. The provider never reads `Dispatch`; it reads only
//! `Header.ObjectType`, to refuse an object of the wrong type. With the provider verifier on, a
//! closed object's type is poisoned ([`super::misuse`]): both refuse it and report the misuse.
//!
//! Must never: follow `Dispatch`, keep a borrowed `&Arc<T>` beyond the entry point, or adopt a
//! pointer twice.
#![allow(unsafe_code)]

use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;

use crate::abi::upcall::CloseCompletion;
use crate::abi::{
    NDK_ADAPTER, NDK_CQ, NDK_MR, NDK_MW, NDK_OBJECT_HEADER, NDK_OBJECT_TYPE, NDK_PD, NDK_QP,
    NDK_SRQ, NdkObject,
};
use crate::lifetime::{AlreadyClosing, Base, Closed, Tracked};
use crate::sync::Arc;
use crate::verbs::{Adapter, Cq, Mr, Mw, Pd, Qp, Srq};

use super::misuse::{self, Use};

/// A provider object whose `NDK_xxx` sits at offset 0 (every object, the adapter included).
pub trait Embedded: Sized {
    /// The consumer-visible struct at offset 0.
    type Ndk: NdkObject;
}

impl Embedded for Adapter {
    type Ndk = NDK_ADAPTER;
}

/// A provider object that is handed to consumers as an `NDK_xxx` pointer and closed with
/// `NdkCloseObject`.
pub trait Handle: Tracked + Embedded {
    /// `NdkCloseObject` on the core object.
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] on a second close.
    fn close_object(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing>;

    /// The provider verifier's hooks for this type ([`misuse::Watched`]); `None` for types it
    /// does not watch (their closes are neither poisoned nor quarantined).
    fn watch(&self) -> Option<misuse::Watch<'_>> {
        None
    }
}

macro_rules! handle {
    ($ty:ty, $ndk:ty, watched) => {
        impl Embedded for $ty {
            type Ndk = $ndk;
        }
        impl Handle for $ty {
            fn close_object(
                base: Base<Self>,
                completion: Option<CloseCompletion>,
            ) -> Result<Closed, AlreadyClosing> {
                <$ty>::close(base, completion)
            }
            fn watch(&self) -> Option<misuse::Watch<'_>> {
                Some(misuse::watch(self))
            }
        }
    };
    ($ty:ty, $ndk:ty) => {
        impl Embedded for $ty {
            type Ndk = $ndk;
        }
        impl Handle for $ty {
            fn close_object(
                base: Base<Self>,
                completion: Option<CloseCompletion>,
            ) -> Result<Closed, AlreadyClosing> {
                <$ty>::close(base, completion)
            }
        }
    };
}

handle!(Cq, NDK_CQ, watched);
handle!(Pd, NDK_PD, watched);
handle!(Mr, NDK_MR, watched);
handle!(Qp, NDK_QP, watched);
handle!(Mw, NDK_MW, watched);
handle!(Srq, NDK_SRQ, watched);

/// The consumer's pointer to a new object: gives up BASE as the pointer.
#[must_use]
pub fn hand_out<T: Tracked + Embedded>(base: Base<T>) -> *mut T::Ndk {
    Arc::into_raw(base.into_arc()).cast_mut().cast()
}

/// A provider object borrowed from a consumer pointer for one call: an `Arc` whose count is
/// not ours (never dropped).
pub struct Borrowed<'a, T> {
    arc: ManuallyDrop<Arc<T>>,
    _call: PhantomData<&'a T>,
}

impl<T> Deref for Borrowed<'_, T> {
    type Target = Arc<T>;
    fn deref(&self) -> &Arc<T> {
        &self.arc
    }
}

/// The provider object a consumer's NDK pointer is the start of.
///
/// The NDK struct sits at offset 0 of the `#[repr(C)]` object, and the pointer came from
/// `Arc::into_raw` of that object, so it is aligned for `T` (the alignment lint cannot know).
#[allow(clippy::cast_ptr_alignment)]
pub const fn object_ptr<T: Embedded>(p: *mut T::Ndk) -> *const T {
    p.cast_const().cast::<T>()
}

/// Reads the object type of a consumer object header.
///
/// # Safety
///
/// `header` is non-null and points to a live NDK object this provider handed out.
unsafe fn object_type(header: *const NDK_OBJECT_HEADER) -> NDK_OBJECT_TYPE {
    // SAFETY: the caller guarantees a live header. `ObjectType` is written at creation and, with
    // the provider verifier on, once more (atomically) when the object closes; the consumer
    // never writes it (it owns only `NdkReserved`). An atomic read cannot race that write.
    unsafe { misuse::poison::read_type(header) }
}

/// The header's object type, `None` for NULL.
///
/// # Safety
///
/// `header` is NULL or points to a live NDK object this provider handed out.
#[must_use]
pub unsafe fn type_of(header: *const NDK_OBJECT_HEADER) -> Option<NDK_OBJECT_TYPE> {
    if header.is_null() {
        return None;
    }
    // SAFETY: non-null, and live per the caller's contract.
    Some(unsafe { object_type(header) })
}

/// The provider object behind `p`, for the duration of the call; `None` for NULL or an object of
/// another type.
///
/// # Safety
///
/// `p` is NULL or a pointer this provider handed out for an object of any type that the
/// consumer has not closed, and the consumer does not close it while the returned borrow lives
/// (the NDK contract: no close while a call on the object runs, §5.3).
pub unsafe fn borrow<'a, T: Embedded>(p: *mut T::Ndk) -> Option<Borrowed<'a, T>> {
    // SAFETY: forwarded contract.
    unsafe { borrow_for::<T>(p, Use::Call) }
}

/// [`borrow`], reporting a poisoned (closed) object as `used`.
///
/// # Safety
///
/// As for [`borrow`]; a closed object is also accepted as long as the quarantine keeps it.
unsafe fn borrow_for<'a, T: Embedded>(p: *mut T::Ndk, used: Use) -> Option<Borrowed<'a, T>> {
    // SAFETY: NULL or live per the caller's contract.
    let kind = unsafe { type_of(p.cast::<NDK_OBJECT_HEADER>()) }?;
    if kind != T::Ndk::OBJECT_TYPE {
        // Misuse hook: a poisoned type is a call on a closed object.
        // SAFETY: a live or quarantined object (contract).
        unsafe { misuse::refused(p.cast::<NDK_OBJECT_HEADER>(), kind, used) };
        return None;
    }
    // SAFETY: a live object of type `T` handed out by `hand_out`, so `p` is the data pointer of
    // an `Arc<T>` (NDK struct at offset 0 of the `#[repr(C)]` object) with at least the
    // consumer's strong count outstanding, which outlives this borrow (contract above). The
    // `ManuallyDrop` makes sure the count is never released here.
    let arc = ManuallyDrop::new(unsafe { Arc::from_raw(object_ptr::<T>(p)) });
    Some(Borrowed {
        arc,
        _call: PhantomData,
    })
}

/// Takes back the consumer's BASE for `NdkCloseObject`; `None` for NULL, a wrong type, or an
/// object that is already closing (a double close is refused, not executed).
///
/// # Safety
///
/// As for [`borrow`]; in addition, after this returns `Some` the consumer never uses `p` again
/// (§5.3: close is the last call on an object).
pub unsafe fn adopt<T: Handle>(p: *mut T::Ndk) -> Option<Base<T>> {
    // SAFETY: forwarded contract.
    let borrowed = unsafe { borrow_for::<T>(p, Use::Close) }?;
    if borrowed.node().is_closing() {
        misuse::closing_again::<T>(&borrowed);
        return None;
    }
    // SAFETY: as in `borrow`: `p` came from `Arc::into_raw` of an `Arc<T>` whose strong count
    // (and BASE unit) belongs to the consumer's pointer, which the consumer now gives up.
    let arc = unsafe { Arc::from_raw(object_ptr::<T>(p)) };
    Some(Base::from_arc(arc))
}
