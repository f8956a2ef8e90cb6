//! PD memory slots, MR and MW slots (`spec/ndkpi.md` §2.3–§2.5).

use std::string::String;

use super::{child_create_slot, mr_target, mw_target, pd_target, request_slot, void_slot};
use crate::abi::{BOOLEAN, MDL, NDK_MR, NDK_MW, NDK_PD};

child_create_slot!(
    /// `NdkCreateMr`.
    create_mr, pd_target, NDK_PD, NdkCreateMr, Mr, NDK_MR, (fast_register: BOOLEAN),
    detail = std::format!("fast_register={fast_register}")
);

child_create_slot!(
    /// `NdkCreateMw`.
    create_mw, pd_target, NDK_PD, NdkCreateMw, Mw, NDK_MW, (),
    detail = String::new()
);

void_slot!(
    /// `NdkGetPrivilegedMemoryRegionToken`.
    get_privileged_token, pd_target, NDK_PD, NdkGetPrivilegedMemoryRegionToken,
    (token: *mut u32)
);

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
