//! Tables of the object families whose creates are not wired yet: every slot answers
//! `STATUS_NOT_SUPPORTED` (or 0 / nothing for slots without a status). No object of these
//! types can exist while their creates answer `STATUS_NOT_SUPPORTED`.
#![allow(unsafe_code)]

use crate::abi::{
    NDK_MR_DISPATCH, NDK_MW_DISPATCH, NDK_QP_DISPATCH, NDK_SRQ_DISPATCH, NTSTATUS,
    STATUS_NOT_SUPPORTED,
};

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
unsafe extern "system" fn ns6<A, B, C, D, E, F>(_: A, _: B, _: C, _: D, _: E, _: F) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}
unsafe extern "system" fn ns7<A, B, C, D, E, F, G>(
    _: A,
    _: B,
    _: C,
    _: D,
    _: E,
    _: F,
    _: G,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn ns9<A, B, C, D, E, F, G, H, I>(
    _: A,
    _: B,
    _: C,
    _: D,
    _: E,
    _: F,
    _: G,
    _: H,
    _: I,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}
unsafe extern "system" fn zero<A>(_: A) -> u32 {
    0
}
unsafe extern "system" fn nothing<A>(_: A) {}

/// `NDK_MR_DISPATCH`.
pub static MR_TABLE: NDK_MR_DISPATCH = NDK_MR_DISPATCH {
    NdkCloseMr: ns3,
    NdkQueryExtension: query_extension,
    NdkRegisterMr: ns6,
    NdkDeregisterMr: ns3,
    NdkInitializeFastRegisterMr: ns5,
    NdkGetRemoteTokenFromMr: zero,
    NdkGetLocalTokenFromMr: zero,
};

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

/// `NDK_QP_DISPATCH`.
pub static QP_TABLE: NDK_QP_DISPATCH = NDK_QP_DISPATCH {
    NdkCloseQp: ns3,
    NdkQueryExtension: query_extension,
    NdkFlush: nothing,
    NdkSend: ns5,
    NdkReceive: ns4,
    NdkBind: ns7,
    NdkFastRegister: ns9,
    NdkInvalidate: ns4,
    NdkRead: ns7,
    NdkWrite: ns7,
    NdkSendAndInvalidate: ns6,
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
