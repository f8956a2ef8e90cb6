//! PD memory slots, MR and MW slots (`spec/ndkpi.md` §2.3–§2.5).

use core::ffi::c_void;
use std::string::String;

use super::{create, mr_target, mw_target, pd_target, request_slot};
use crate::abi::{
    BOOLEAN, MDL, NDK_FN_CREATE_COMPLETION, NDK_MR, NDK_MW, NDK_PD, NTSTATUS, STATUS_INVALID_HANDLE,
};
use crate::verifier::record::ObjectKind;
use crate::verifier::state::Birth;

fn child(pd: u32, kind: ObjectKind) -> Birth {
    Birth {
        kind,
        antecedents: std::vec![pd],
        qp: None,
        event: None,
        armed: false,
    }
}

/// `NdkCreateMr`.
pub extern "system" fn create_mr(
    pd: *mut NDK_PD,
    fast_register: BOOLEAN,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_MR,
) -> NTSTATUS {
    let slot = "NdkCreateMr";
    let Some((node, table)) = pd_target(pd.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    node.inner.call(
        node.id.index,
        slot,
        std::format!("fast_register={fast_register}"),
    );
    let birth = child(node.id.index, ObjectKind::Mr);
    create(
        &node,
        slot,
        birth,
        callback,
        context,
        out,
        |cb, ctx, out| {
            // SAFETY: forwarding contract (module docs).
            unsafe { (table.NdkCreateMr)(node.real.get().cast(), fast_register, cb, ctx, out) }
        },
    )
}

/// `NdkCreateMw`.
pub extern "system" fn create_mw(
    pd: *mut NDK_PD,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_MW,
) -> NTSTATUS {
    let slot = "NdkCreateMw";
    let Some((node, table)) = pd_target(pd.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    node.inner.call(node.id.index, slot, String::new());
    let birth = child(node.id.index, ObjectKind::Mw);
    create(
        &node,
        slot,
        birth,
        callback,
        context,
        out,
        |cb, ctx, out| {
            // SAFETY: forwarding contract (module docs).
            unsafe { (table.NdkCreateMw)(node.real.get().cast(), cb, ctx, out) }
        },
    )
}

/// `NdkGetPrivilegedMemoryRegionToken`.
pub extern "system" fn get_privileged_token(pd: *mut NDK_PD, token: *mut u32) {
    let slot = "NdkGetPrivilegedMemoryRegionToken";
    let Some((node, table)) = pd_target(pd.addr(), slot) else {
        return;
    };
    node.inner.call(node.id.index, slot, String::new());
    // SAFETY: forwarding contract (module docs).
    unsafe { (table.NdkGetPrivilegedMemoryRegionToken)(node.real.get().cast(), token) };
    node.inner
        .returned(node.id.index, slot, None, String::new());
}

request_slot!(register_mr, mr_target, NDK_MR, NdkRegisterMr,
    (mdl: *mut MDL, length: usize, flags: u32));
request_slot!(deregister_mr, mr_target, NDK_MR, NdkDeregisterMr, ());
request_slot!(initialize_fast_register_mr, mr_target, NDK_MR, NdkInitializeFastRegisterMr,
    (page_count: u32, remote_access: BOOLEAN));

/// Forwards a token getter (`u32`-returning, synchronous).
macro_rules! token_slot {
    ($name:ident, $target:ident, $obj:ty, $slot:ident) => {
        #[doc = concat!("`", stringify!($slot), "`.")]
        pub extern "system" fn $name(object: *mut $obj) -> u32 {
            let slot = stringify!($slot);
            let Some((node, table)) = $target(object.addr(), slot) else {
                return 0;
            };
            node.inner.call(node.id.index, slot, String::new());
            // SAFETY: forwarding contract (module docs).
            let token = unsafe { (table.$slot)(node.real.get().cast()) };
            node.inner
                .returned(node.id.index, slot, None, std::format!("token={token:#x}"));
            token
        }
    };
}

token_slot!(
    remote_token_from_mr,
    mr_target,
    NDK_MR,
    NdkGetRemoteTokenFromMr
);
token_slot!(
    local_token_from_mr,
    mr_target,
    NDK_MR,
    NdkGetLocalTokenFromMr
);
token_slot!(
    remote_token_from_mw,
    mw_target,
    NDK_MW,
    NdkGetRemoteTokenFromMw
);
