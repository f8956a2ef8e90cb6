//! Provider function types (`NDK_FN_*`) and the ten dispatch tables, in exact slot order
//! (`spec/ndkpi.md` §2).
//!
//! Conventions, chosen so the dispatch layer can validate instead of suffering UB:
//! * Slots are non-nullable `unsafe extern "system" fn`: `SoftNDK` fills every slot.
//! * Every function pointer a provider function *receives* from a consumer is
//!   `Option<NDK_FN_...>`, for `_In_opt_` **and** `_In_` parameters. A null in a non-`Option` fn
//!   pointer is immediate undefined behaviour in Rust, so a buggy consumer passing NULL for a
//!   mandatory callback must be representable; the dispatch layer rejects `None` for `_In_`
//!   parameters with `STATUS_INVALID_PARAMETER`. `Option<fn>` is ABI-identical to a C function
//!   pointer (guaranteed null-pointer optimisation).
//! * `BOOLEAN` is `u8`, never `bool`; enums are newtypes; `CONST PSOCKADDR` / `CONST PVOID` /
//!   `CONST NDK_SGE*` inputs are `*const` (ABI-identical to C's `T * const`).
//! * Each doc line gives the C typedef, the IRQL bound, and which parameters are optional.
//!
//! Split by object family: [`adapter`], [`memory`] (PD, MR, MW), [`queues`] (CQ, SRQ, QP),
//! [`connection`] (shared endpoint, connector, listener); everything is re-exported here.

use core::ffi::c_void;

use super::callbacks::NDK_FN_CLOSE_COMPLETION;
use super::object::NDK_OBJECT_HEADER;
use super::status::NTSTATUS;
use super::structs::NDK_EXTENSION_INTERFACE;
use super::version::NDK_VERSION;
use super::win::GUID;

pub mod adapter;
pub mod connection;
pub mod memory;
pub mod queues;

pub use adapter::*;
pub use connection::*;
pub use memory::*;
pub use queues::*;

// ---- Common to every table (§2.A) ----------------------------------------------------------

/// `NDK_FN_CLOSE_OBJECT` (≤ DISPATCH): start closing; `STATUS_SUCCESS` (done, no callback) or
/// `STATUS_PENDING` (`CloseCompletion` called once later). `RequestContext` optional.
pub type NDK_FN_CLOSE_OBJECT = unsafe extern "system" fn(
    pNdkObject: *mut NDK_OBJECT_HEADER,
    CloseCompletion: Option<NDK_FN_CLOSE_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_QUERY_EXTENSION_INTERFACE` (≤ DISPATCH): look up an extension by GUID and version;
/// `SoftNDK` has none (`STATUS_NOT_SUPPORTED`).
pub type NDK_FN_QUERY_EXTENSION_INTERFACE = unsafe extern "system" fn(
    pNdkObject: *mut NDK_OBJECT_HEADER,
    ExtensionInterfaceID: *const GUID,
    ExtensionInterfaceVersion: NDK_VERSION,
    pExtensionInterface: *mut NDK_EXTENSION_INTERFACE,
) -> NTSTATUS;

// ---- Layout pins (x64 values from spec §2) ----------------------------------------------------

/// Pins a table's size and every slot offset: slot `n` (1-based) at `8 * (n - 1)`.
macro_rules! pin_slots {
    ($table:ty, $size:literal, [$($slot:ident),+ $(,)?]) => {
        const _: () = {
            assert!(core::mem::size_of::<$table>() == $size);
            let mut expected = 0usize;
            $(
                assert!(core::mem::offset_of!($table, $slot) == expected);
                expected += 8;
            )+
            assert!(expected == $size);
        };
    };
}

#[cfg(target_pointer_width = "64")]
mod layout {
    use super::{
        NDK_ADAPTER_DISPATCH, NDK_CONNECTOR_DISPATCH, NDK_CONNECTOR_DISPATCH_SIZE_BEFORE_2_1,
        NDK_CQ_DISPATCH, NDK_FN_CLOSE_COMPLETION, NDK_LISTENER_DISPATCH, NDK_MR_DISPATCH,
        NDK_MW_DISPATCH, NDK_PD_DISPATCH, NDK_QP_DISPATCH, NDK_SHARED_ENDPOINT_DISPATCH,
        NDK_SRQ_DISPATCH,
    };

    pin_slots!(
        NDK_ADAPTER_DISPATCH,
        0x48,
        [
            NdkQueryExtension,
            NdkQueryAdapterInfo,
            NdkCreateCq,
            NdkCreatePd,
            NdkCreateSharedEndpoint,
            NdkCreateConnector,
            NdkCreateListener,
            NdkBuildLAM,
            NdkReleaseLAM,
        ]
    );
    pin_slots!(
        NDK_CQ_DISPATCH,
        0x38,
        [
            NdkCloseCq,
            NdkQueryExtension,
            NdkResizeCq,
            NdkArmCq,
            NdkGetCqResults,
            NdkControlCqInterruptModeration,
            NdkGetCqResultsEx,
        ]
    );
    pin_slots!(
        NDK_PD_DISPATCH,
        0x40,
        [
            NdkClosePd,
            NdkQueryExtension,
            NdkCreateMr,
            NdkCreateMw,
            NdkCreateSrq,
            NdkCreateQp,
            NdkCreateQpWithSrq,
            NdkGetPrivilegedMemoryRegionToken,
        ]
    );
    pin_slots!(
        NDK_MR_DISPATCH,
        0x38,
        [
            NdkCloseMr,
            NdkQueryExtension,
            NdkRegisterMr,
            NdkDeregisterMr,
            NdkInitializeFastRegisterMr,
            NdkGetRemoteTokenFromMr,
            NdkGetLocalTokenFromMr,
        ]
    );
    pin_slots!(
        NDK_MW_DISPATCH,
        0x18,
        [NdkCloseMw, NdkQueryExtension, NdkGetRemoteTokenFromMw]
    );
    pin_slots!(
        NDK_SRQ_DISPATCH,
        0x20,
        [NdkCloseSrq, NdkQueryExtension, NdkModifySrq, NdkSrqReceive]
    );
    pin_slots!(
        NDK_QP_DISPATCH,
        0x58,
        [
            NdkCloseQp,
            NdkQueryExtension,
            NdkFlush,
            NdkSend,
            NdkReceive,
            NdkBind,
            NdkFastRegister,
            NdkInvalidate,
            NdkRead,
            NdkWrite,
            NdkSendAndInvalidate,
        ]
    );
    pin_slots!(
        NDK_SHARED_ENDPOINT_DISPATCH,
        0x18,
        [
            NdkCloseSharedEndpoint,
            NdkQueryExtension,
            NdkGetLocalAddress,
        ]
    );
    pin_slots!(
        NDK_CONNECTOR_DISPATCH,
        0x68,
        [
            NdkCloseConnector,
            NdkQueryExtension,
            NdkConnect,
            NdkConnectWithSharedEndpoint,
            NdkCompleteConnect,
            NdkAccept,
            NdkReject,
            NdkGetConnectionData,
            NdkGetLocalAddress,
            NdkGetPeerAddress,
            NdkDisconnect,
            NdkCompleteConnectEx,
            NdkAcceptEx,
        ]
    );
    pin_slots!(
        NDK_LISTENER_DISPATCH,
        0x28,
        [
            NdkCloseListener,
            NdkQueryExtension,
            NdkListen,
            NdkGetLocalAddress,
            NdkControlConnectEvents,
        ]
    );

    const _: () = assert!(NDK_CONNECTOR_DISPATCH_SIZE_BEFORE_2_1 == 0x58);
    // `Option<fn>` must stay pointer-sized for the parameters above to match C.
    const _: () = assert!(core::mem::size_of::<Option<NDK_FN_CLOSE_COMPLETION>>() == 8);
}
