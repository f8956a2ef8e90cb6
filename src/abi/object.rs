//! `NDK_OBJECT_TYPE`, `NDK_OBJECT_HEADER` and the ten NDK object structures (`spec/ndkpi.md`
//! §1.1–§1.4).
//!
//! Every object is `{ NDK_OBJECT_HEADER Header; CONST NDK_xxx_DISPATCH *Dispatch; }`. The
//! provider embeds one as the first field of its own object, stores `Dispatch` before handing
//! the object out, and never reads `Dispatch` back (the consumer may overwrite it). Nothing here
//! reads `Dispatch` either.

use core::ffi::c_void;
use core::ptr;

use super::dispatch::{
    NDK_ADAPTER_DISPATCH, NDK_CONNECTOR_DISPATCH, NDK_CQ_DISPATCH, NDK_LISTENER_DISPATCH,
    NDK_MR_DISPATCH, NDK_MW_DISPATCH, NDK_PD_DISPATCH, NDK_QP_DISPATCH,
    NDK_SHARED_ENDPOINT_DISPATCH, NDK_SRQ_DISPATCH,
};
use super::version::NDK_VERSION;

/// `NDK_OBJECT_TYPE` (C enum, 4 bytes). A newtype, not a Rust enum: values read from a
/// consumer-supplied header may be anything.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NDK_OBJECT_TYPE(pub i32);

impl NDK_OBJECT_TYPE {
    /// `NdkObjectTypeUndefined` (0): never valid in a live object.
    pub const UNDEFINED: Self = Self(0);
    /// `NdkObjectTypeAdapter` (1).
    pub const ADAPTER: Self = Self(1);
    /// `NdkObjectTypeQp` (2).
    pub const QP: Self = Self(2);
    /// `NdkObjectTypeCq` (3).
    pub const CQ: Self = Self(3);
    /// `NdkObjectTypeMr` (4).
    pub const MR: Self = Self(4);
    /// `NdkObjectTypeMw` (5).
    pub const MW: Self = Self(5);
    /// `NdkObjectTypePd` (6).
    pub const PD: Self = Self(6);
    /// `NdkObjectTypeSharedEndpoint` (7).
    pub const SHARED_ENDPOINT: Self = Self(7);
    /// `NdkObjectTypeConnector` (8).
    pub const CONNECTOR: Self = Self(8);
    /// `NdkObjectTypeListener` (9).
    pub const LISTENER: Self = Self(9);
    /// `NdkObjectTypeSrq` (10).
    pub const SRQ: Self = Self(10);
    /// `NdkObjectTypeMax` (11): one past the last type in the headers `SoftNDK` follows; future
    /// headers may grow it, so never treat it as a bound on what a consumer may send.
    pub const MAX: Self = Self(11);

    /// True for the ten types a live object can carry (1..=10).
    #[must_use]
    pub const fn is_object(self) -> bool {
        self.0 >= Self::ADAPTER.0 && self.0 <= Self::SRQ.0
    }
}

/// `NDK_OBJECT_HEADER_RESERVED_BLOCK`: `{ PVOID rf[4]; }`, owned by the consumer/NDIS side.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NDK_OBJECT_HEADER_RESERVED_BLOCK {
    /// Reserved pointers: zeroed by the provider at creation, never written afterwards.
    pub rf: [*mut c_void; 4],
}

impl NDK_OBJECT_HEADER_RESERVED_BLOCK {
    /// All four pointers null.
    pub const ZEROED: Self = Self {
        rf: [ptr::null_mut(); 4],
    };
}

/// `NDK_OBJECT_HEADER`: the first member of every NDK object (x64 size 0x28).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NDK_OBJECT_HEADER {
    /// Version the provider operates at for this adapter instance (negotiated at open).
    pub Version: NDK_VERSION,
    /// The object's type.
    pub ObjectType: NDK_OBJECT_TYPE,
    /// Consumer/NDIS-owned; the provider zeroes it at creation and then leaves it alone.
    pub NdkReserved: NDK_OBJECT_HEADER_RESERVED_BLOCK,
}

impl NDK_OBJECT_HEADER {
    /// A header for a new object: `version`, `object_type`, and `NdkReserved` zeroed.
    #[must_use]
    pub const fn new(version: NDK_VERSION, object_type: NDK_OBJECT_TYPE) -> Self {
        Self {
            Version: version,
            ObjectType: object_type,
            NdkReserved: NDK_OBJECT_HEADER_RESERVED_BLOCK::ZEROED,
        }
    }
}

/// What the ten NDK object structures have in common, for code that is generic over them
/// (container-of recovery, header checks).
pub trait NdkObject {
    /// The `NDK_xxx_DISPATCH` table type of this object.
    type Dispatch;
    /// The `NDK_OBJECT_TYPE` this object's header carries.
    const OBJECT_TYPE: NDK_OBJECT_TYPE;
    /// The object's header.
    fn header(&self) -> &NDK_OBJECT_HEADER;
}

/// Defines one `NDK_xxx` object struct with its constructor, `NdkObject` impl and layout pins.
macro_rules! ndk_object {
    ($(#[$doc:meta])* $name:ident, $dispatch:ident, $ty:ident) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(Debug)]
        pub struct $name {
            /// Common header (type, version, reserved block).
            pub Header: NDK_OBJECT_HEADER,
            /// The provider's dispatch table; set before the object is handed out, never read
            /// back by the provider.
            pub Dispatch: *const $dispatch,
        }

        impl $name {
            /// A new object at `version` whose header carries this object's type and whose
            /// `Dispatch` is `dispatch`.
            #[must_use]
            pub const fn new(version: NDK_VERSION, dispatch: &'static $dispatch) -> Self {
                Self {
                    Header: NDK_OBJECT_HEADER::new(version, NDK_OBJECT_TYPE::$ty),
                    Dispatch: ptr::from_ref(dispatch),
                }
            }
        }

        impl NdkObject for $name {
            type Dispatch = $dispatch;
            const OBJECT_TYPE: NDK_OBJECT_TYPE = NDK_OBJECT_TYPE::$ty;
            fn header(&self) -> &NDK_OBJECT_HEADER {
                &self.Header
            }
        }

        #[cfg(target_pointer_width = "64")]
        const _: () = {
            assert!(core::mem::size_of::<$name>() == 0x30);
            assert!(core::mem::offset_of!($name, Header) == 0);
            assert!(core::mem::offset_of!($name, Dispatch) == 0x28);
        };
    };
}

ndk_object!(
    /// `NDK_ADAPTER`: created by `OpenNDKAdapterHandler`, closed by `CloseNDKAdapterHandler`.
    NDK_ADAPTER, NDK_ADAPTER_DISPATCH, ADAPTER
);
ndk_object!(
    /// `NDK_CQ`: completion queue, created by `NdkCreateCq`.
    NDK_CQ, NDK_CQ_DISPATCH, CQ
);
ndk_object!(
    /// `NDK_PD`: protection domain, created by `NdkCreatePd`.
    NDK_PD, NDK_PD_DISPATCH, PD
);
ndk_object!(
    /// `NDK_MR`: memory region, created by `NdkCreateMr`.
    NDK_MR, NDK_MR_DISPATCH, MR
);
ndk_object!(
    /// `NDK_MW`: memory window, created by `NdkCreateMw`.
    NDK_MW, NDK_MW_DISPATCH, MW
);
ndk_object!(
    /// `NDK_SRQ`: shared receive queue, created by `NdkCreateSrq`.
    NDK_SRQ, NDK_SRQ_DISPATCH, SRQ
);
ndk_object!(
    /// `NDK_QP`: queue pair, created by `NdkCreateQp` / `NdkCreateQpWithSrq`.
    NDK_QP, NDK_QP_DISPATCH, QP
);
ndk_object!(
    /// `NDK_SHARED_ENDPOINT`: a shared local address, created by `NdkCreateSharedEndpoint`.
    NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH, SHARED_ENDPOINT
);
ndk_object!(
    /// `NDK_CONNECTOR`: created by `NdkCreateConnector` or handed up in a connect event.
    NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, CONNECTOR
);
ndk_object!(
    /// `NDK_LISTENER`: created by `NdkCreateListener`.
    NDK_LISTENER, NDK_LISTENER_DISPATCH, LISTENER
);

#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    assert!(size_of::<NDK_OBJECT_TYPE>() == 4);
    assert!(size_of::<NDK_OBJECT_HEADER_RESERVED_BLOCK>() == 0x20);
    assert!(size_of::<NDK_OBJECT_HEADER>() == 0x28);
    assert!(offset_of!(NDK_OBJECT_HEADER, Version) == 0x00);
    assert!(offset_of!(NDK_OBJECT_HEADER, ObjectType) == 0x04);
    assert!(offset_of!(NDK_OBJECT_HEADER, NdkReserved) == 0x08);
};

#[cfg(target_pointer_width = "32")]
const _: () = assert!(core::mem::size_of::<NDK_OBJECT_HEADER>() == 0x18);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::version::NDK_VERSION_1_2;

    #[test]
    fn header_new_zeroes_reserved_and_sets_fields() {
        let h = NDK_OBJECT_HEADER::new(NDK_VERSION_1_2, NDK_OBJECT_TYPE::QP);
        assert_eq!(h.Version, NDK_VERSION_1_2);
        assert_eq!(h.ObjectType, NDK_OBJECT_TYPE::QP);
        assert!(h.NdkReserved.rf.iter().all(|p| p.is_null()));
    }

    #[test]
    fn only_the_ten_object_types_are_objects() {
        let live: std::vec::Vec<i32> = (-2..20)
            .filter(|&v| NDK_OBJECT_TYPE(v).is_object())
            .collect();
        assert_eq!(live, (1..=10).collect::<std::vec::Vec<_>>());
        assert!(!NDK_OBJECT_TYPE::UNDEFINED.is_object());
        assert!(!NDK_OBJECT_TYPE::MAX.is_object());
    }
}
