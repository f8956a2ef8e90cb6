//! Tables of the object families whose creates are not wired yet: every slot answers
//! `STATUS_NOT_SUPPORTED` (or 0 / nothing for slots without a status). No object of these
//! types can exist while their creates answer `STATUS_NOT_SUPPORTED`.
#![allow(unsafe_code)]

use crate::abi::{NDK_MW_DISPATCH, NDK_SRQ_DISPATCH, NTSTATUS, STATUS_NOT_SUPPORTED};

use super::query_extension;

unsafe extern "system" fn ns3<A, B, C>(_: A, _: B, _: C) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}
unsafe extern "system" fn ns4<A, B, C, D>(_: A, _: B, _: C, _: D) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}
unsafe extern "system" fn ns5<A, B, C, D, E>(_: A, _: B, _: C, _: D, _: E) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}
unsafe extern "system" fn zero<A>(_: A) -> u32 {
    0
}

/// `NDK_MW_DISPATCH`.
pub static MW_TABLE: NDK_MW_DISPATCH = NDK_MW_DISPATCH {
    NdkCloseMw: ns3,
    NdkQueryExtension: query_extension,
    NdkGetRemoteTokenFromMw: zero,
};

/// `NDK_SRQ_DISPATCH`.
pub static SRQ_TABLE: NDK_SRQ_DISPATCH = NDK_SRQ_DISPATCH {
    NdkCloseSrq: ns3,
    NdkQueryExtension: query_extension,
    NdkModifySrq: ns5,
    NdkSrqReceive: ns4,
};

/// `NdkBuildLAM`.
pub static BUILD_LAM: crate::abi::NDK_FN_BUILD_LAM = {
    unsafe extern "system" fn ns8<A, B, C, D, E, F, G, H>(
        _: A,
        _: B,
        _: C,
        _: D,
        _: E,
        _: F,
        _: G,
        _: H,
    ) -> NTSTATUS {
        STATUS_NOT_SUPPORTED
    }
    ns8
};

/// `NdkReleaseLAM`.
pub static RELEASE_LAM: crate::abi::NDK_FN_RELEASE_LAM = {
    unsafe extern "system" fn nothing2<A, B>(_: A, _: B) {}
    nothing2
};
