//! The `extern "system"` entry points behind every slot of every NDK dispatch table, and the
//! adapter open/close entry points the miniport (and host tests) call.
//!
//! Owns the consumer boundary: each entry turns consumer pointers into provider objects
//! ([`handle`]), validates what a consumer can get wrong (NULL where not optional, unknown flag
//! bits, SGE counts and lengths, buffer sizes) and answers with the documented status, wraps
//! consumer callbacks into `abi::upcall` values, then calls the safe core in [`crate::verbs`].
//! One file per table (`lam.rs` holds the adapter table's two LAM slots). No slot is NULL;
//! only what the spec lets a provider leave out answers `STATUS_NOT_SUPPORTED`
//! (`NdkQueryExtension`, `NdkControlCqInterruptModeration` without the moderation flag).
//!
//! Must never: follow an object's `Dispatch` pointer, keep a consumer pointer beyond the call
//! (except the objects themselves and registered memory, whose lifetime the NDK contract
//! defines), or block (except [`close_adapter`], PASSIVE only).
#![allow(unsafe_code)]
// Entry points are only ever called through function pointers: `const` would mean nothing.
#![allow(clippy::missing_const_for_fn)]

mod adapter;
mod connection;
mod connector;
mod cq;
mod create;
pub mod handle;
mod lam;
mod listener;
pub mod mdl;
mod memory;
pub mod misuse;
mod mw;
mod pd;
mod qp;
mod request;
mod srq;

use core::ffi::c_void;

use crate::abi::upcall::{CloseCompletion, Context};
use crate::abi::{
    GUID, NDIS_STATUS, NDK_ADAPTER, NDK_EXTENSION_INTERFACE, NDK_FN_CLOSE_COMPLETION,
    NDK_OBJECT_HEADER, NDK_VERSION, NTSTATUS, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED, STATUS_PENDING, STATUS_SUCCESS,
};
use crate::lifetime::Closed;
use crate::platform::Platform;
use crate::verbs::{self, AdapterConfig, DispatchTables};

use handle::Handle;

/// The dispatch tables every SoftNDK object points to.
pub static TABLES: DispatchTables = DispatchTables {
    adapter: &adapter::TABLE,
    cq: &cq::TABLE,
    pd: &pd::TABLE,
    mr: &memory::MR_TABLE,
    mw: &mw::MW_TABLE,
    srq: &srq::SRQ_TABLE,
    qp: &qp::QP_TABLE,
    shared_endpoint: &connection::SHARED_ENDPOINT_TABLE,
    connector: &connection::CONNECTOR_TABLE,
    listener: &connection::LISTENER_TABLE,
};

/// `OpenNDKAdapterHandler`'s work: negotiates `requested` and opens an adapter on `platform`.
///
/// # Errors
///
/// `NDIS_STATUS_BAD_VERSION` if SoftNDK cannot serve `requested` (another major, or a minor
/// above the highest of that major).
pub fn open_adapter(
    config: &AdapterConfig,
    platform: Platform,
    requested: NDK_VERSION,
) -> Result<*mut NDK_ADAPTER, NDIS_STATUS> {
    let base = verbs::Adapter::open(config.clone(), platform, TABLES, requested)?;
    Ok(handle::hand_out(base))
}

/// `CloseNDKAdapterHandler`'s work: closes the adapter and blocks until every descendant is
/// closed and every callback returned. PASSIVE only; never from a consumer callback.
///
/// # Safety
///
/// `adapter` was returned by [`open_adapter`] and is not used again by the caller.
pub unsafe fn close_adapter(adapter: *mut NDK_ADAPTER) {
    if adapter.is_null() {
        return;
    }
    // SAFETY: `adapter` is the data pointer of the `Arc<verbs::Adapter>` that `open_adapter`
    // gave up (NDK struct at offset 0), carrying the BASE unit the caller now hands back.
    let arc = unsafe { crate::sync::Arc::from_raw(handle::object_ptr::<verbs::Adapter>(adapter)) };
    verbs::Adapter::close(crate::lifetime::Base::from_arc(arc));
}

/// Reads a consumer in/out size, `None` for NULL.
///
/// # Safety
///
/// `p` is NULL or valid for reads of a `u32` (the consumer's contract).
unsafe fn read_size(p: *const u32) -> Option<u32> {
    // SAFETY: per the caller's contract.
    (!p.is_null()).then(|| unsafe { p.read_unaligned() })
}

/// `NdkQueryExtension` of every table: SoftNDK defines no extension interface.
unsafe extern "system" fn query_extension(
    _object: *mut NDK_OBJECT_HEADER,
    _id: *const GUID,
    _version: NDK_VERSION,
    _interface: *mut NDK_EXTENSION_INTERFACE,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

/// `NdkCloseObject` for every object type but the adapter.
///
/// A NULL `CloseCompletion` (mandatory per the header) is refused with
/// `STATUS_INVALID_PARAMETER` before anything is closed, because a pended close could never be
/// reported; a second close of the same object answers `STATUS_INVALID_HANDLE` without effect.
unsafe extern "system" fn close_object<T: Handle>(
    object: *mut NDK_OBJECT_HEADER,
    completion: Option<NDK_FN_CLOSE_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let Some(completion) = completion else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: NdkCloseObject's contract: `object` is an object of this table's type that the
    // consumer created and now closes (its last call on it).
    let Some(base) = (unsafe { handle::adopt::<T>(object.cast()) }) else {
        return STATUS_INVALID_HANDLE;
    };
    // Provider verifier: poison and quarantine the object before its close can free it.
    misuse::on_close(&base);
    // SAFETY: the consumer's close completion, callable with its context at ≤ DISPATCH until
    // the provider has called it (NDK close contract).
    let completion = unsafe { CloseCompletion::new(completion, Context::new(context)) };
    match T::close_object(base, Some(completion)) {
        Ok(Closed::Finished) => STATUS_SUCCESS,
        Ok(Closed::Pending) => STATUS_PENDING,
        Err(_) => STATUS_INVALID_HANDLE,
    }
}

/// Writes a new object's pointer to the consumer's out-parameter.
///
/// # Safety
///
/// `out` is non-null and writable (checked by the caller against NULL; the consumer guarantees
/// the rest).
unsafe fn write_out<P>(out: *mut *mut P, value: *mut P) {
    // SAFETY: per the caller's contract; the consumer's pointer may be unaligned only if the
    // consumer broke its own ABI, so a plain write is the documented behaviour.
    unsafe { out.write(value) };
}

/// Connects two idle QPs as an RC pair without a connection exchange.
///
/// The connection manager's hook ([`verbs::connect_pair`]) at the ABI level, used by tests and
/// `softndk perf`; NDK consumers connect with `NdkConnect`/`NdkAccept`, which end in the same
/// hook.
///
/// # Safety
///
/// `a` and `b` are NULL or open QPs handed out by this provider, not closed during the call.
pub unsafe fn connect_pair(
    a: *mut crate::abi::NDK_QP,
    b: *mut crate::abi::NDK_QP,
    ord: u32,
    ird: u32,
) -> NTSTATUS {
    // SAFETY: forwarded contract.
    let (Some(a), Some(b)) = (unsafe { handle::borrow::<verbs::Qp>(a) }, unsafe {
        handle::borrow::<verbs::Qp>(b)
    }) else {
        return STATUS_INVALID_PARAMETER;
    };
    match verbs::connect_pair(&a, &b, ord, ird) {
        Ok(()) => STATUS_SUCCESS,
        Err(status) => status,
    }
}
