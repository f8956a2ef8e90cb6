//! Poisoning a closed object's consumer-visible header, and the poison dispatch tables a
//! poisoned object points to (here those of the verbs objects; the connection manager's are in
//! `poison_cm`).
//!
//! At close (checks on) the provider overwrites `Header.ObjectType` with [`POISON_TAG`] | the
//! real type and `Dispatch` with this module's table of that type. Every slot of a poison table
//! reports the call as misuse (`NdkCloseObject`: [`MisuseKind::CloseTwice`], everything else:
//! [`MisuseKind::CallOnClosedObject`]) on the adapter the object belonged to and fails:
//! `STATUS_INVALID_HANDLE` for `NTSTATUS` slots, 0 for the token and result-count slots, nothing
//! for `VOID` slots. The object's memory is still valid because the quarantine keeps it.
//!
//! Must never: read `Dispatch` (it only writes it, once the consumer gave the object up), or
//! poison an object that is not quarantined (a stale call would then read freed memory).
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

use crate::abi::{
    BOOLEAN, GROUP_AFFINITY, GUID, MDL, NDK_CQ, NDK_CQ_DISPATCH, NDK_EXTENSION_INTERFACE,
    NDK_FN_CLOSE_COMPLETION, NDK_FN_CREATE_COMPLETION, NDK_FN_REQUEST_COMPLETION,
    NDK_FN_SRQ_NOTIFICATION_CALLBACK, NDK_LOGICAL_ADDRESS, NDK_MR, NDK_MR_DISPATCH, NDK_MW,
    NDK_MW_DISPATCH, NDK_OBJECT_HEADER, NDK_OBJECT_TYPE, NDK_PD, NDK_PD_DISPATCH, NDK_QP,
    NDK_QP_DISPATCH, NDK_RESULT, NDK_RESULT_EX, NDK_SGE, NDK_SRQ, NDK_SRQ_DISPATCH, NDK_VERSION,
    NTSTATUS, STATUS_INVALID_HANDLE,
};
use crate::verbs::misuse::{Detail, MisuseKind};

use super::report_closed;

/// The high bits of a poisoned `ObjectType`; the low byte keeps the real type. Not a valid
/// object type (`NDK_OBJECT_TYPE::is_object` is false), so every entry refuses it.
pub const POISON_TAG: i32 = 0x0DEA_D000;

/// The poisoned value of an object type.
#[must_use]
pub const fn poisoned(real: NDK_OBJECT_TYPE) -> NDK_OBJECT_TYPE {
    NDK_OBJECT_TYPE(POISON_TAG | (real.0 & 0xFF))
}

/// The real type of a poisoned header's `ObjectType`, `None` if it is not poisoned.
#[must_use]
pub const fn unpoisoned(found: NDK_OBJECT_TYPE) -> Option<NDK_OBJECT_TYPE> {
    if found.0 & !0xFF == POISON_TAG {
        Some(NDK_OBJECT_TYPE(found.0 & 0xFF))
    } else {
        None
    }
}

/// The `ObjectType` field of a header, for atomic access.
///
/// # Safety
///
/// `header` points to a live NDK object header (aligned: it starts a provider object).
const unsafe fn type_field<'a>(header: *const NDK_OBJECT_HEADER) -> &'a AtomicI32 {
    // SAFETY: the caller guarantees a live, aligned header. `NDK_OBJECT_TYPE` is a transparent
    // `i32` at offset 4, so the field is 4-aligned like `AtomicI32`. The field lives in the
    // object's `NdkCell` (an `UnsafeCell`), so it may be written through a shared pointer, and
    // every provider access after creation is atomic (this function), so provider accesses
    // never race each other.
    let field = unsafe { &raw const (*header).ObjectType };
    // SAFETY: as above.
    unsafe { AtomicI32::from_ptr(field.cast::<i32>().cast_mut()) }
}

/// Reads a header's `ObjectType` (atomically: a stale call may race the close that poisons it).
///
/// # Safety
///
/// `header` points to a live NDK object header.
#[must_use]
pub unsafe fn read_type(header: *const NDK_OBJECT_HEADER) -> NDK_OBJECT_TYPE {
    // SAFETY: forwarded.
    NDK_OBJECT_TYPE(unsafe { type_field(header) }.load(Ordering::Acquire))
}

/// Poisons a header: `ObjectType` becomes `poisoned(real)` ([`poisoned`]), `Dispatch` becomes
/// `table`.
///
/// # Safety
///
/// `header` starts a provider object of type `real` whose consumer just gave it up (its close
/// has been accepted), whose memory stays valid at least until this returns, and whose pointer
/// was derived from the object's allocation (write provenance over its `NdkCell`); `table` is
/// this module's poison table for `real`.
pub unsafe fn poison_header(
    header: *mut NDK_OBJECT_HEADER,
    real: NDK_OBJECT_TYPE,
    table: *const c_void,
) {
    // Every NDK object is `{ NDK_OBJECT_HEADER Header; const DISPATCH *Dispatch; }` (pinned in
    // `abi::object`), so `Dispatch` follows the header, pointer-aligned.
    #[allow(clippy::cast_ptr_alignment)]
    let dispatch = header
        .cast::<u8>()
        .wrapping_add(size_of::<NDK_OBJECT_HEADER>())
        .cast::<*mut c_void>();
    // SAFETY: the `Dispatch` member of a live object, aligned, inside its `NdkCell`. The
    // consumer gave the object up, so nobody reads it legitimately any more; the write is atomic
    // so that even a buggy concurrent stale call does not make it a data race on our side.
    unsafe { AtomicPtr::from_ptr(dispatch) }.store(table.cast_mut(), Ordering::Release);
    // SAFETY: the caller guarantees a live header.
    unsafe { type_field(header) }.store(poisoned(real).0, Ordering::Release);
}

/// A slot of a poison table was called: report it on the object's adapter.
///
/// # Safety
///
/// `object` is NULL or a pointer this provider handed out whose object is poisoned and still
/// quarantined (the only way to reach a poison table is through such an object's `Dispatch`).
pub(super) unsafe fn closed_call(
    object: *const NDK_OBJECT_HEADER,
    kind: MisuseKind,
    slot: &'static str,
) {
    if !object.is_null() {
        // SAFETY: forwarded.
        unsafe { report_closed(object, kind, Detail::Slot(slot)) };
    }
}

/// `NdkCloseObject` on a closed object: a second close.
pub(super) unsafe extern "system" fn close(
    object: *mut NDK_OBJECT_HEADER,
    _: Option<NDK_FN_CLOSE_COMPLETION>,
    _: *mut c_void,
) -> NTSTATUS {
    // SAFETY: reached through a poisoned object's `Dispatch` (module contract).
    unsafe { closed_call(object, MisuseKind::CloseTwice, "NdkCloseObject") };
    STATUS_INVALID_HANDLE
}

/// `NdkQueryExtension` on a closed object.
pub(super) unsafe extern "system" fn query_extension(
    object: *mut NDK_OBJECT_HEADER,
    _: *const GUID,
    _: NDK_VERSION,
    _: *mut NDK_EXTENSION_INTERFACE,
) -> NTSTATUS {
    // SAFETY: reached through a poisoned object's `Dispatch` (module contract).
    unsafe { closed_call(object, MisuseKind::CallOnClosedObject, "NdkQueryExtension") };
    STATUS_INVALID_HANDLE
}

/// Defines poison slots: report, then answer the slot's failure value (none for `VOID`).
macro_rules! poison_slots {
    ($obj:ty; $($name:ident = $slot:literal ($($arg:ty),*) $(-> $ret:ty = $fail:expr)?;)+) => {
        $(
            #[doc = concat!("`", $slot, "` on a closed object.")]
            unsafe extern "system" fn $name(object: *mut $obj $(, _: $arg)*) $(-> $ret)? {
                // SAFETY: reached through a poisoned object's `Dispatch` (module contract).
                unsafe {
                    closed_call(object.cast(), MisuseKind::CallOnClosedObject, $slot);
                }
                $($fail)?
            }
        )+
    };
}
pub(super) use poison_slots;

poison_slots! { NDK_CQ;
    resize_cq = "NdkResizeCq" (u32, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    arm_cq = "NdkArmCq" (u32);
    get_cq_results = "NdkGetCqResults" (*mut NDK_RESULT, u32) -> u32 = 0;
    moderate_cq = "NdkControlCqInterruptModeration" (u32, u32) -> NTSTATUS = STATUS_INVALID_HANDLE;
    get_cq_results_ex = "NdkGetCqResultsEx" (*mut NDK_RESULT_EX, u32) -> u32 = 0;
}

poison_slots! { NDK_PD;
    create_mr = "NdkCreateMr"
        (BOOLEAN, Option<NDK_FN_CREATE_COMPLETION>, *mut c_void, *mut *mut NDK_MR)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    create_mw = "NdkCreateMw" (Option<NDK_FN_CREATE_COMPLETION>, *mut c_void, *mut *mut NDK_MW)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    create_srq = "NdkCreateSrq"
        (u32, u32, u32, Option<NDK_FN_SRQ_NOTIFICATION_CALLBACK>, *mut c_void,
         *const GROUP_AFFINITY, Option<NDK_FN_CREATE_COMPLETION>, *mut c_void, *mut *mut NDK_SRQ)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    create_qp = "NdkCreateQp"
        (*mut NDK_CQ, *mut NDK_CQ, *mut c_void, u32, u32, u32, u32, u32,
         Option<NDK_FN_CREATE_COMPLETION>, *mut c_void, *mut *mut NDK_QP)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    create_qp_with_srq = "NdkCreateQpWithSrq"
        (*mut NDK_CQ, *mut NDK_CQ, *mut NDK_SRQ, *mut c_void, u32, u32, u32,
         Option<NDK_FN_CREATE_COMPLETION>, *mut c_void, *mut *mut NDK_QP)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    privileged_token = "NdkGetPrivilegedMemoryRegionToken" (*mut u32);
}

poison_slots! { NDK_MR;
    register_mr = "NdkRegisterMr"
        (*mut MDL, usize, u32, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    deregister_mr = "NdkDeregisterMr" (Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    initialize_fast_register = "NdkInitializeFastRegisterMr"
        (u32, BOOLEAN, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    remote_token = "NdkGetRemoteTokenFromMr" () -> u32 = 0;
    local_token = "NdkGetLocalTokenFromMr" () -> u32 = 0;
}

poison_slots! { NDK_MW;
    mw_remote_token = "NdkGetRemoteTokenFromMw" () -> u32 = 0;
}

poison_slots! { NDK_SRQ;
    modify_srq = "NdkModifySrq" (u32, u32, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    srq_receive = "NdkSrqReceive" (*mut c_void, *const NDK_SGE, u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
}

poison_slots! { NDK_QP;
    flush = "NdkFlush" ();
    send = "NdkSend" (*mut c_void, *const NDK_SGE, u32, u32) -> NTSTATUS = STATUS_INVALID_HANDLE;
    receive = "NdkReceive" (*mut c_void, *const NDK_SGE, u32) -> NTSTATUS = STATUS_INVALID_HANDLE;
    bind = "NdkBind" (*mut c_void, *mut NDK_MR, *mut NDK_MW, *mut c_void, usize, u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    fast_register = "NdkFastRegister"
        (*mut c_void, *mut NDK_MR, u32, *const NDK_LOGICAL_ADDRESS, u32, usize, *mut c_void, u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    invalidate = "NdkInvalidate" (*mut c_void, *mut NDK_OBJECT_HEADER, u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    read = "NdkRead" (*mut c_void, *const NDK_SGE, u32, u64, u32, u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    write = "NdkWrite" (*mut c_void, *const NDK_SGE, u32, u64, u32, u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    send_and_invalidate = "NdkSendAndInvalidate" (*mut c_void, *const NDK_SGE, u32, u32, u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
}

/// The poison `NDK_CQ_DISPATCH`.
pub static CQ: NDK_CQ_DISPATCH = NDK_CQ_DISPATCH {
    NdkCloseCq: close,
    NdkQueryExtension: query_extension,
    NdkResizeCq: resize_cq,
    NdkArmCq: arm_cq,
    NdkGetCqResults: get_cq_results,
    NdkControlCqInterruptModeration: moderate_cq,
    NdkGetCqResultsEx: get_cq_results_ex,
};

/// The poison `NDK_PD_DISPATCH`.
pub static PD: NDK_PD_DISPATCH = NDK_PD_DISPATCH {
    NdkClosePd: close,
    NdkQueryExtension: query_extension,
    NdkCreateMr: create_mr,
    NdkCreateMw: create_mw,
    NdkCreateSrq: create_srq,
    NdkCreateQp: create_qp,
    NdkCreateQpWithSrq: create_qp_with_srq,
    NdkGetPrivilegedMemoryRegionToken: privileged_token,
};

/// The poison `NDK_MR_DISPATCH`.
pub static MR: NDK_MR_DISPATCH = NDK_MR_DISPATCH {
    NdkCloseMr: close,
    NdkQueryExtension: query_extension,
    NdkRegisterMr: register_mr,
    NdkDeregisterMr: deregister_mr,
    NdkInitializeFastRegisterMr: initialize_fast_register,
    NdkGetRemoteTokenFromMr: remote_token,
    NdkGetLocalTokenFromMr: local_token,
};

/// The poison `NDK_MW_DISPATCH`.
pub static MW: NDK_MW_DISPATCH = NDK_MW_DISPATCH {
    NdkCloseMw: close,
    NdkQueryExtension: query_extension,
    NdkGetRemoteTokenFromMw: mw_remote_token,
};

/// The poison `NDK_SRQ_DISPATCH`.
pub static SRQ: NDK_SRQ_DISPATCH = NDK_SRQ_DISPATCH {
    NdkCloseSrq: close,
    NdkQueryExtension: query_extension,
    NdkModifySrq: modify_srq,
    NdkSrqReceive: srq_receive,
};

/// The poison `NDK_QP_DISPATCH`.
pub static QP: NDK_QP_DISPATCH = NDK_QP_DISPATCH {
    NdkCloseQp: close,
    NdkQueryExtension: query_extension,
    NdkFlush: flush,
    NdkSend: send,
    NdkReceive: receive,
    NdkBind: bind,
    NdkFastRegister: fast_register,
    NdkInvalidate: invalidate,
    NdkRead: read,
    NdkWrite: write,
    NdkSendAndInvalidate: send_and_invalidate,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisoned_types_round_trip_and_are_never_objects() {
        for t in 1..=10 {
            let p = poisoned(NDK_OBJECT_TYPE(t));
            assert!(!p.is_object());
            assert_eq!(unpoisoned(p), Some(NDK_OBJECT_TYPE(t)));
            assert_eq!(unpoisoned(NDK_OBJECT_TYPE(t)), None);
        }
        assert_eq!(unpoisoned(NDK_OBJECT_TYPE::MAX), None);
    }
}
