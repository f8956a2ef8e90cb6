//! `NDK_MW_DISPATCH`: close and the window's remote token. (Windows are created by
//! `NdkCreateMw` in `pd.rs` and bound by `NdkBind` in `qp.rs`.)
#![allow(unsafe_code)]

use crate::abi::{NDK_MW, NDK_MW_DISPATCH};
use crate::verbs::Mw;

use super::handle::borrow;
use super::{close_object, query_extension};

/// `NDK_MW_DISPATCH`.
pub static MW_TABLE: NDK_MW_DISPATCH = NDK_MW_DISPATCH {
    NdkCloseMw: close_object::<Mw>,
    NdkQueryExtension: query_extension,
    NdkGetRemoteTokenFromMw: get_remote_token,
};

/// `NdkGetRemoteTokenFromMw`: the window's current token (new after every bind, valid as soon
/// as the `NdkBind` call returned); 0 for NULL or an object that is not a window.
unsafe extern "system" fn get_remote_token(mw: *mut NDK_MW) -> u32 {
    // SAFETY: NDK contract for the MW pointer.
    unsafe { borrow::<Mw>(mw) }.map_or(0, |mw| mw.token())
}
