//! Runtime checks of the NDKPI ABI: x64 sizes and offsets (mirroring the `const` pins so a
//! failure names the field), enum and constant values from `spec/ndkpi.md`, flag masks, version
//! negotiation, socket address sizes and LAM size arithmetic.

use core::mem::{offset_of, size_of};

use softndk::abi::*;

/// Asserts `offset_of!(T, field) == expected`, naming the field on failure.
macro_rules! at {
    ($t:ty, $field:ident, $expected:expr) => {
        assert_eq!(
            offset_of!($t, $field),
            $expected,
            concat!(stringify!($t), ".", stringify!($field), " offset")
        );
    };
}

/// Asserts a table's size and that its slots sit at 0, 8, 16, ... in the given order.
macro_rules! slots {
    ($t:ty, $size:expr, [$($slot:ident),+ $(,)?]) => {{
        assert_eq!(size_of::<$t>(), $size, concat!("sizeof ", stringify!($t)));
        let mut expected = 0usize;
        $(
            at!($t, $slot, expected);
            expected += 8;
        )+
        assert_eq!(expected, $size, concat!(stringify!($t), " slot count"));
    }};
}

#[cfg(target_pointer_width = "64")]
mod x64 {
    use super::*;

    #[test]
    fn object_header_and_objects() {
        assert_eq!(size_of::<NDK_VERSION>(), 4);
        at!(NDK_VERSION, Major, 0);
        at!(NDK_VERSION, Minor, 2);
        assert_eq!(size_of::<NDK_OBJECT_HEADER_RESERVED_BLOCK>(), 0x20);
        assert_eq!(size_of::<NDK_OBJECT_HEADER>(), 0x28);
        at!(NDK_OBJECT_HEADER, Version, 0x00);
        at!(NDK_OBJECT_HEADER, ObjectType, 0x04);
        at!(NDK_OBJECT_HEADER, NdkReserved, 0x08);

        macro_rules! object {
            ($($t:ty),+) => {$(
                assert_eq!(size_of::<$t>(), 0x30, concat!("sizeof ", stringify!($t)));
                at!($t, Header, 0x00);
                at!($t, Dispatch, 0x28);
            )+};
        }
        object!(
            NDK_ADAPTER,
            NDK_CQ,
            NDK_PD,
            NDK_MR,
            NDK_MW,
            NDK_SRQ,
            NDK_QP,
            NDK_SHARED_ENDPOINT,
            NDK_CONNECTOR,
            NDK_LISTENER
        );
    }

    #[test]
    fn adapter_cq_pd_dispatch_tables() {
        slots!(
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
        slots!(
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
        slots!(
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
    }

    #[test]
    fn mr_mw_srq_qp_dispatch_tables() {
        slots!(
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
        slots!(
            NDK_MW_DISPATCH,
            0x18,
            [NdkCloseMw, NdkQueryExtension, NdkGetRemoteTokenFromMw]
        );
        slots!(
            NDK_SRQ_DISPATCH,
            0x20,
            [NdkCloseSrq, NdkQueryExtension, NdkModifySrq, NdkSrqReceive,]
        );
        slots!(
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
    }

    #[test]
    fn connection_dispatch_tables() {
        slots!(
            NDK_SHARED_ENDPOINT_DISPATCH,
            0x18,
            [
                NdkCloseSharedEndpoint,
                NdkQueryExtension,
                NdkGetLocalAddress,
            ]
        );
        slots!(
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
        assert_eq!(NDK_CONNECTOR_DISPATCH_SIZE_BEFORE_2_1, 0x58);
        slots!(
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
    }

    #[test]
    fn sge_results_lam() {
        assert_eq!(size_of::<NDK_SGE>(), 0x10);
        at!(NDK_SGE, Address, 0x00);
        at!(NDK_SGE, Length, 0x08);
        at!(NDK_SGE, MemoryRegionToken, 0x0C);

        assert_eq!(size_of::<NDK_RESULT>(), 0x18);
        at!(NDK_RESULT, Status, 0x00);
        at!(NDK_RESULT, BytesTransferred, 0x04);
        at!(NDK_RESULT, QPContext, 0x08);
        at!(NDK_RESULT, RequestContext, 0x10);

        assert_eq!(size_of::<NDK_RESULT_EX>(), 0x28);
        at!(NDK_RESULT_EX, Status, 0x00);
        at!(NDK_RESULT_EX, BytesTransferred, 0x04);
        at!(NDK_RESULT_EX, QPContext, 0x08);
        at!(NDK_RESULT_EX, RequestContext, 0x10);
        at!(NDK_RESULT_EX, Type, 0x18);
        at!(NDK_RESULT_EX, ProviderErrorCode, 0x1C);
        at!(NDK_RESULT_EX, TypeSpecificCompletionOutput, 0x20);

        assert_eq!(size_of::<NDK_LOGICAL_ADDRESS_MAPPING>(), 0x18);
        at!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterContext, 0x00);
        at!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageCount, 0x08);
        at!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray, 0x10);
        assert_eq!(LAM_HEADER_SIZE, 0x10);

        assert_eq!(size_of::<NDK_EXTENSION_INTERFACE>(), 8);
        assert_eq!(size_of::<GROUP_AFFINITY>(), 16);
        at!(GROUP_AFFINITY, Group, 8);
        at!(GROUP_AFFINITY, Reserved, 10);
        assert_eq!(size_of::<GUID>(), 16);
    }

    #[test]
    fn adapter_info() {
        assert_eq!(size_of::<NDK_ADAPTER_INFO>(), 0x68);
        at!(NDK_ADAPTER_INFO, Version, 0x00);
        at!(NDK_ADAPTER_INFO, VendorId, 0x04);
        at!(NDK_ADAPTER_INFO, DeviceId, 0x08);
        at!(NDK_ADAPTER_INFO, MaxRegistrationSize, 0x10);
        at!(NDK_ADAPTER_INFO, MaxWindowSize, 0x18);
        at!(NDK_ADAPTER_INFO, FRMRPageCount, 0x20);
        at!(NDK_ADAPTER_INFO, MaxInitiatorRequestSge, 0x24);
        at!(NDK_ADAPTER_INFO, MaxReceiveRequestSge, 0x28);
        at!(NDK_ADAPTER_INFO, MaxReadRequestSge, 0x2C);
        at!(NDK_ADAPTER_INFO, MaxTransferLength, 0x30);
        at!(NDK_ADAPTER_INFO, MaxInlineDataSize, 0x34);
        at!(NDK_ADAPTER_INFO, MaxInboundReadLimit, 0x38);
        at!(NDK_ADAPTER_INFO, MaxOutboundReadLimit, 0x3C);
        at!(NDK_ADAPTER_INFO, MaxReceiveQueueDepth, 0x40);
        at!(NDK_ADAPTER_INFO, MaxInitiatorQueueDepth, 0x44);
        at!(NDK_ADAPTER_INFO, MaxSrqDepth, 0x48);
        at!(NDK_ADAPTER_INFO, MaxCqDepth, 0x4C);
        at!(NDK_ADAPTER_INFO, LargeRequestThreshold, 0x50);
        at!(NDK_ADAPTER_INFO, MaxCallerData, 0x54);
        at!(NDK_ADAPTER_INFO, MaxCalleeData, 0x58);
        at!(NDK_ADAPTER_INFO, AdapterFlags, 0x5C);
        at!(NDK_ADAPTER_INFO, RdmaTechnology, 0x60);
        assert_eq!(NDK_ADAPTER_INFO_SIZE_WITHOUT_RDMA_TECHNOLOGY, 0x60);
    }

    #[test]
    fn ndis_ndk_structures() {
        assert_eq!(size_of::<NDIS_OBJECT_HEADER>(), 4);
        at!(NDIS_OBJECT_HEADER, Revision, 1);
        at!(NDIS_OBJECT_HEADER, Size, 2);

        assert_eq!(size_of::<NDIS_NDK_PROVIDER_CHARACTERISTICS>(), 24);
        at!(NDIS_NDK_PROVIDER_CHARACTERISTICS, Flags, 4);
        at!(NDIS_NDK_PROVIDER_CHARACTERISTICS, OpenNDKAdapterHandler, 8);
        at!(
            NDIS_NDK_PROVIDER_CHARACTERISTICS,
            CloseNDKAdapterHandler,
            16
        );
        assert_eq!(NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1, 24);

        assert_eq!(size_of::<NDIS_OPEN_NDK_ADAPTER_PARAMETERS>(), 12);
        at!(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, Version, 0);
        at!(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, SwitchId, 4);
        at!(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, VPortId, 8);

        assert_eq!(size_of::<NDIS_NDK_CAPABILITIES>(), 0x38);
        at!(NDIS_NDK_CAPABILITIES, Flags, 0x04);
        at!(NDIS_NDK_CAPABILITIES, MaxQpCount, 0x08);
        at!(NDIS_NDK_CAPABILITIES, MaxCqCount, 0x0C);
        at!(NDIS_NDK_CAPABILITIES, MaxMrCount, 0x10);
        at!(NDIS_NDK_CAPABILITIES, MaxPdCount, 0x14);
        at!(NDIS_NDK_CAPABILITIES, MaxInboundReadLimit, 0x18);
        at!(NDIS_NDK_CAPABILITIES, MaxOutboundReadLimit, 0x1C);
        at!(NDIS_NDK_CAPABILITIES, MaxMwCount, 0x20);
        at!(NDIS_NDK_CAPABILITIES, MaxSrqCount, 0x24);
        at!(NDIS_NDK_CAPABILITIES, MissingCounterMask, 0x28);
        at!(NDIS_NDK_CAPABILITIES, NdkInfo, 0x30);
        assert_eq!(NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1, 0x38);

        assert_eq!(size_of::<NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES>(), 16);
        at!(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, Enabled, 4);
        at!(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, NdkCapabilities, 8);
        assert_eq!(NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1, 16);
    }
}

#[test]
fn enum_values_match_the_spec() {
    let object_types = [
        (NDK_OBJECT_TYPE::UNDEFINED, 0),
        (NDK_OBJECT_TYPE::ADAPTER, 1),
        (NDK_OBJECT_TYPE::QP, 2),
        (NDK_OBJECT_TYPE::CQ, 3),
        (NDK_OBJECT_TYPE::MR, 4),
        (NDK_OBJECT_TYPE::MW, 5),
        (NDK_OBJECT_TYPE::PD, 6),
        (NDK_OBJECT_TYPE::SHARED_ENDPOINT, 7),
        (NDK_OBJECT_TYPE::CONNECTOR, 8),
        (NDK_OBJECT_TYPE::LISTENER, 9),
        (NDK_OBJECT_TYPE::SRQ, 10),
        (NDK_OBJECT_TYPE::MAX, 11),
    ];
    for (t, v) in object_types {
        assert_eq!(t.0, v, "{t:?}");
    }

    let op_types = [
        (NDK_OPERATION_TYPE::RECEIVE, 1),
        (NDK_OPERATION_TYPE::RECEIVE_AND_INVALIDATE, 32769),
        (NDK_OPERATION_TYPE::SEND, 2),
        (NDK_OPERATION_TYPE::FAST_REGISTER, 4),
        (NDK_OPERATION_TYPE::BIND, 8),
        (NDK_OPERATION_TYPE::INVALIDATE, 16),
        (NDK_OPERATION_TYPE::READ, 32),
        (NDK_OPERATION_TYPE::WRITE, 64),
    ];
    for (t, v) in op_types {
        assert_eq!(t.0, v, "{t:?}");
    }
    assert_eq!(
        NDK_OPERATION_TYPE::RECEIVE_AND_INVALIDATE.0,
        0x8001,
        "not sign-extended 0xffff8001"
    );

    let techs = [
        (NDK_RDMA_TECHNOLOGY::UNDEFINED, 0),
        (NDK_RDMA_TECHNOLOGY::IWARP, 1),
        (NDK_RDMA_TECHNOLOGY::INFINIBAND, 2),
        (NDK_RDMA_TECHNOLOGY::ROCE, 3),
        (NDK_RDMA_TECHNOLOGY::ROCEV2, 4),
        (NDK_RDMA_TECHNOLOGY::MAX, 5),
    ];
    for (t, v) in techs {
        assert_eq!(t.0, v, "{t:?}");
    }

    assert_eq!(
        (
            NDK_CQ_NOTIFY_ERRORS,
            NDK_CQ_NOTIFY_ANY,
            NDK_CQ_NOTIFY_SOLICITED
        ),
        (0, 1, 2)
    );
    assert_eq!(NDIS_OBJECT_TYPE_DEFAULT, 0x80);
    assert_eq!(NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS, 0xB2);
    assert_eq!(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES, 0xB3);
    assert_eq!(
        [
            OID_NDK_SET_STATE,
            OID_NDK_STATISTICS,
            OID_NDK_CONNECTIONS,
            OID_NDK_LOCAL_ENDPOINTS
        ],
        [0xFC04_0201, 0xFC04_0202, 0xFC04_0203, 0xFC04_0204]
    );
}

#[test]
fn status_values_match_ntstatus_h() {
    let table: &[(NTSTATUS, u32)] = &[
        (STATUS_SUCCESS, 0x0000_0000),
        (STATUS_PENDING, 0x0000_0103),
        (STATUS_BUFFER_OVERFLOW, 0x8000_0005),
        (STATUS_ACCESS_VIOLATION, 0xC000_0005),
        (STATUS_INVALID_PARAMETER, 0xC000_000D),
        (STATUS_BUFFER_TOO_SMALL, 0xC000_0023),
        (STATUS_INVALID_PARAMETER_MIX, 0xC000_0030),
        (STATUS_DATA_ERROR, 0xC000_003E),
        (STATUS_SHARING_VIOLATION, 0xC000_0043),
        (STATUS_INSUFFICIENT_RESOURCES, 0xC000_009A),
        (STATUS_DEVICE_NOT_READY, 0xC000_00A3),
        (STATUS_IO_TIMEOUT, 0xC000_00B5),
        (STATUS_NOT_SUPPORTED, 0xC000_00BB),
        (STATUS_INTERNAL_ERROR, 0xC000_00E5),
        (STATUS_INVALID_PARAMETER_1, 0xC000_00EF),
        (STATUS_INVALID_PARAMETER_12, 0xC000_00FA),
        (STATUS_CANCELLED, 0xC000_0120),
        (STATUS_REMOTE_RESOURCES, 0xC000_013D),
        (STATUS_INVALID_ADDRESS, 0xC000_0141),
        (STATUS_INVALID_DEVICE_STATE, 0xC000_0184),
        (STATUS_INVALID_BUFFER_SIZE, 0xC000_0206),
        (STATUS_TOO_MANY_ADDRESSES, 0xC000_0209),
        (STATUS_ADDRESS_ALREADY_EXISTS, 0xC000_020A),
        (STATUS_CONNECTION_DISCONNECTED, 0xC000_020C),
        (STATUS_CONNECTION_RESET, 0xC000_020D),
        (STATUS_NOT_FOUND, 0xC000_0225),
        (STATUS_CONNECTION_REFUSED, 0xC000_0236),
        (STATUS_ADDRESS_ALREADY_ASSOCIATED, 0xC000_0238),
        (STATUS_CONNECTION_INVALID, 0xC000_023A),
        (STATUS_NETWORK_UNREACHABLE, 0xC000_023C),
        (STATUS_HOST_UNREACHABLE, 0xC000_023D),
        (STATUS_REQUEST_ABORTED, 0xC000_0240),
        (STATUS_CONNECTION_ABORTED, 0xC000_0241),
        (STATUS_IMPLEMENTATION_LIMIT, 0xC000_042B),
        (NDIS_STATUS_SUCCESS, 0x0000_0000),
        (NDIS_STATUS_RESOURCES, 0xC000_009A),
        (NDIS_STATUS_BAD_VERSION, 0xC001_0004),
        (NDIS_STATUS_ADAPTER_NOT_READY, 0xC001_0011),
    ];
    for &(status, hex) in table {
        assert_eq!(status.as_u32(), hex, "{status:?}");
    }
    // STATUS_INVALID_PARAMETER_1..12 are consecutive.
    let numbered = [
        STATUS_INVALID_PARAMETER_1,
        STATUS_INVALID_PARAMETER_2,
        STATUS_INVALID_PARAMETER_3,
        STATUS_INVALID_PARAMETER_4,
        STATUS_INVALID_PARAMETER_5,
        STATUS_INVALID_PARAMETER_6,
        STATUS_INVALID_PARAMETER_7,
        STATUS_INVALID_PARAMETER_8,
        STATUS_INVALID_PARAMETER_9,
        STATUS_INVALID_PARAMETER_10,
        STATUS_INVALID_PARAMETER_11,
        STATUS_INVALID_PARAMETER_12,
    ];
    for pair in numbered.windows(2) {
        assert_eq!(
            pair[0].as_u32() + 1,
            pair[1].as_u32(),
            "{:?} -> {:?}",
            pair[0],
            pair[1]
        );
    }
}

// ---- Flags ---------------------------------------------------------------------------------

fn assert_distinct_single_bits(name: &str, flags: &[u32]) {
    for (i, &a) in flags.iter().enumerate() {
        assert!(
            a.is_power_of_two(),
            "{name}[{i}] = {a:#x} is not a single bit"
        );
        for &b in &flags[i + 1..] {
            assert_eq!(a & b, 0, "{name}: {a:#x} overlaps {b:#x}");
        }
    }
}

#[test]
fn op_flag_bits_are_distinct_except_remote_write() {
    let singles = [
        NDK_OP_FLAG_SILENT_SUCCESS,
        NDK_OP_FLAG_READ_FENCE,
        NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT,
        NDK_OP_FLAG_ALLOW_REMOTE_READ,
        NDK_OP_FLAG_ALLOW_LOCAL_WRITE,
        NDK_OP_FLAG_INLINE,
        NDK_OP_FLAG_RDMA_READ_SINK,
        NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE,
        NDK_OP_FLAG_DEFER,
    ];
    assert_distinct_single_bits("NDK_OP_FLAG", &singles);
    assert!(has_flag(
        NDK_OP_FLAG_ALLOW_REMOTE_WRITE,
        NDK_OP_FLAG_ALLOW_LOCAL_WRITE
    ));
    let remote_only = NDK_OP_FLAG_ALLOW_REMOTE_WRITE & !NDK_OP_FLAG_ALLOW_LOCAL_WRITE;
    assert!(remote_only.is_power_of_two());
    assert!(singles.iter().all(|&f| f & remote_only == 0));
    assert_ne!(
        NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE, NDK_OP_FLAG_DEFER,
        "doc value 0x200 rejected"
    );
}

#[test]
fn mr_and_adapter_flag_bits() {
    assert_eq!(NDK_MR_FLAG_ALLOW_LOCAL_READ, 0);
    assert_distinct_single_bits(
        "NDK_MR_FLAG",
        &[
            NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
            NDK_MR_FLAG_ALLOW_REMOTE_READ,
            NDK_MR_FLAG_RDMA_READ_SINK,
        ],
    );
    assert!(has_flag(
        NDK_MR_FLAG_ALLOW_REMOTE_WRITE,
        NDK_MR_FLAG_ALLOW_LOCAL_WRITE
    ));
    assert_eq!(
        NDK_MR_FLAG_ALLOW_REMOTE_WRITE & NDK_MR_FLAG_ALLOW_REMOTE_READ,
        0
    );
    assert_eq!(
        NDK_MR_FLAG_ALLOW_REMOTE_WRITE & NDK_MR_FLAG_RDMA_READ_SINK,
        0
    );
    assert_eq!(VALID_REGISTER_MR_FLAGS, 0xF);

    let adapter = [
        NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED,
        NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED,
        NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED,
        NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED,
        NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED,
        NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED,
        NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED,
    ];
    assert_distinct_single_bits("NDK_ADAPTER_FLAG", &adapter);
    assert_eq!(ALL_ADAPTER_FLAGS, 0x0001_011F);
}

#[test]
fn per_call_masks_follow_section_6_5() {
    let common = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER;
    for (name, mask) in [
        ("send", VALID_SEND_FLAGS),
        ("send_and_invalidate", VALID_SEND_AND_INVALIDATE_FLAGS),
        ("write", VALID_WRITE_FLAGS),
        ("read", VALID_READ_FLAGS),
        ("bind", VALID_BIND_FLAGS),
        ("fast_register", VALID_FAST_REGISTER_FLAGS),
        ("invalidate", VALID_INVALIDATE_FLAGS),
    ] {
        assert!(
            has_flag(mask, common),
            "{name} lacks SILENT_SUCCESS/READ_FENCE/DEFER"
        );
    }
    assert_eq!(
        VALID_SEND_FLAGS,
        common | NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_INLINE
    );
    assert_eq!(VALID_SEND_AND_INVALIDATE_FLAGS, VALID_SEND_FLAGS);
    assert_eq!(VALID_WRITE_FLAGS, common | NDK_OP_FLAG_INLINE);
    assert_eq!(
        VALID_READ_FLAGS,
        common | NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE
    );
    assert_eq!(
        VALID_BIND_FLAGS,
        common | NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE
    );
    assert_eq!(
        VALID_FAST_REGISTER_FLAGS,
        common
            | NDK_OP_FLAG_ALLOW_REMOTE_READ
            | NDK_OP_FLAG_ALLOW_LOCAL_WRITE
            | NDK_OP_FLAG_ALLOW_REMOTE_WRITE
            | NDK_OP_FLAG_RDMA_READ_SINK
    );
    assert_eq!(VALID_INVALIDATE_FLAGS, common);
    assert_eq!(
        VALID_READ_FLAGS & NDK_OP_FLAG_INLINE,
        0,
        "reads are never inline"
    );
}

/// `op_flags_valid` against a model built from the single-bit flags, over every value of the
/// low 12 bits plus a few high bits.
#[test]
fn op_flags_valid_matches_model_exhaustively() {
    let masks = [
        VALID_SEND_FLAGS,
        VALID_WRITE_FLAGS,
        VALID_READ_FLAGS,
        VALID_BIND_FLAGS,
        VALID_FAST_REGISTER_FLAGS,
        VALID_INVALIDATE_FLAGS,
    ];
    let extra = [0, 0x400, 0x8000_0000];
    for mask in masks {
        for low in 0..0x1000u32 {
            for hi in extra {
                let flags = low | hi;
                let unknown = flags & !mask != 0;
                let partial_remote_write = flags & 0x20 != 0 && flags & 0x10 == 0;
                let expected = !unknown && !partial_remote_write;
                assert_eq!(
                    op_flags_valid(flags, mask),
                    expected,
                    "flags {flags:#x} mask {mask:#x}"
                );
            }
        }
    }
}

#[test]
fn mr_flags_valid_matches_model_exhaustively() {
    for flags in 0..0x100u32 {
        let expected = flags & !0xF == 0 && !(flags & 0x4 != 0 && flags & 0x1 == 0);
        assert_eq!(mr_flags_valid(flags), expected, "flags {flags:#x}");
    }
    assert!(!mr_flags_valid(u32::MAX));
}

// ---- Version negotiation -------------------------------------------------------------------

/// What `negotiate_version` returns.
type Negotiated = Result<NDK_VERSION, NDIS_STATUS>;

#[test]
fn version_negotiation_table() {
    let bad = Err(NDIS_STATUS_BAD_VERSION);
    let table: &[((u16, u16), Negotiated)] = &[
        ((1, 0), Ok(NDK_VERSION::new(1, 2))),
        ((1, 1), Ok(NDK_VERSION::new(1, 2))),
        ((1, 2), Ok(NDK_VERSION::new(1, 2))),
        ((1, 3), bad),
        ((2, 0), Ok(NDK_VERSION::new(2, 1))),
        ((2, 1), Ok(NDK_VERSION::new(2, 1))),
        ((2, 2), bad),
        ((0, 0), bad),
        ((0, 9), bad),
        ((3, 0), bad),
        ((u16::MAX, u16::MAX), bad),
    ];
    for &((major, minor), expected) in table {
        assert_eq!(
            negotiate_version(NDK_VERSION::new(major, minor)),
            expected,
            "request {major}.{minor}"
        );
    }
    // Against a custom support list, the rule is the same (§1.6 example: 1.0 -> 1.1).
    assert_eq!(
        negotiate_version_among(NDK_VERSION::new(1, 0), &[NDK_VERSION_1_1]),
        Ok(NDK_VERSION_1_1)
    );
    assert_eq!(
        negotiate_version_among(NDK_VERSION_1_2, &[NDK_VERSION_1_1]),
        bad
    );
}

// ---- Addresses -----------------------------------------------------------------------------

#[test]
fn sockaddr_sizes_and_families() {
    assert_eq!(size_of::<SOCKADDR>(), 16);
    assert_eq!(size_of::<SOCKADDR_IN>(), 16);
    assert_eq!(size_of::<SOCKADDR_IN6>(), 28);
    assert_eq!(size_of::<SOCKADDR_STORAGE>(), 128);
    assert_eq!((SOCKADDR_IN_SIZE, SOCKADDR_IN6_SIZE), (16, 28));
    assert_eq!((AF_INET, AF_INET6), (2, 23));
    at!(SOCKADDR_IN, sin_port, 2);
    at!(SOCKADDR_IN, sin_addr, 4);
    at!(SOCKADDR_IN6, sin6_port, 2);
    at!(SOCKADDR_IN6, sin6_flowinfo, 4);
    at!(SOCKADDR_IN6, sin6_addr, 8);
    at!(SOCKADDR_IN6, sin6_scope_id, 24);
    assert_eq!(sockaddr_size_for_family(AF_INET), Some(16));
    assert_eq!(sockaddr_size_for_family(AF_INET6), Some(28));
    assert_eq!(sockaddr_size_for_family(0), None);
    assert_eq!(
        sockaddr_size_for_family(10),
        None,
        "Linux AF_INET6 is not Windows AF_INET6"
    );
}

// ---- LAM size arithmetic -------------------------------------------------------------------

#[test]
fn lam_sizes() {
    let header = u32::try_from(LAM_HEADER_SIZE).unwrap();
    assert_eq!(lam_size_for_pages(0), Some(header));
    assert_eq!(lam_size_for_pages(1), Some(header + 8));
    assert_eq!(lam_size_for_pages(256), Some(header + 2048));
    assert_eq!(lam_size_for_pages_usize(3), Some(LAM_HEADER_SIZE + 24));
}

#[test]
fn lam_size_overflow_is_none() {
    let header = u32::try_from(LAM_HEADER_SIZE).unwrap();
    let max_pages = (u32::MAX - header) / 8;
    assert_eq!(lam_size_for_pages(max_pages), Some(header + max_pages * 8));
    assert_eq!(
        lam_size_for_pages(max_pages + 1),
        None,
        "header + array overflows"
    );
    assert_eq!(
        lam_size_for_pages(u32::MAX / 8 + 1),
        None,
        "array alone overflows"
    );
    assert_eq!(lam_size_for_pages(u32::MAX), None);

    let max_pages_usize = (usize::MAX - LAM_HEADER_SIZE) / 8;
    assert!(lam_size_for_pages_usize(max_pages_usize).is_some());
    assert_eq!(lam_size_for_pages_usize(max_pages_usize + 1), None);
    assert_eq!(lam_size_for_pages_usize(usize::MAX), None);
}

#[test]
fn lam_pages_that_fit_inverts_size() {
    let header = u32::try_from(LAM_HEADER_SIZE).unwrap();
    for bytes in 0..header {
        assert_eq!(
            lam_pages_that_fit(bytes),
            0,
            "{bytes} bytes cannot hold the header"
        );
    }
    for pages in [0u32, 1, 2, 17, 4096] {
        let size = lam_size_for_pages(pages).unwrap();
        assert_eq!(lam_pages_that_fit(size), pages);
        assert_eq!(
            lam_pages_that_fit(size + 7),
            pages,
            "partial entry does not count"
        );
        if pages > 0 {
            assert_eq!(lam_pages_that_fit(size - 1), pages - 1);
        }
    }
    assert_eq!(lam_pages_that_fit(u32::MAX), (u32::MAX - header) / 8);
}

// ---- Objects and tables are usable from Rust ----------------------------------------------

unsafe extern "system" fn test_close(
    _obj: *mut NDK_OBJECT_HEADER,
    _completion: Option<NDK_FN_CLOSE_COMPLETION>,
    _ctx: *mut core::ffi::c_void,
) -> NTSTATUS {
    STATUS_PENDING
}

const unsafe extern "system" fn test_query_extension(
    _obj: *mut NDK_OBJECT_HEADER,
    _id: *const GUID,
    _version: NDK_VERSION,
    _out: *mut NDK_EXTENSION_INTERFACE,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

const unsafe extern "system" fn test_remote_token(_mw: *mut NDK_MW) -> u32 {
    0xABCD
}

static TEST_MW_DISPATCH: NDK_MW_DISPATCH = NDK_MW_DISPATCH {
    NdkCloseMw: test_close,
    NdkQueryExtension: test_query_extension,
    NdkGetRemoteTokenFromMw: test_remote_token,
};

#[test]
fn object_new_sets_header_and_dispatch() {
    let mut mw = NDK_MW::new(NDK_VERSION_2_1, &TEST_MW_DISPATCH);
    assert_eq!(mw.Header.ObjectType, NDK_OBJECT_TYPE::MW);
    assert_eq!(<NDK_MW as NdkObject>::OBJECT_TYPE, NDK_OBJECT_TYPE::MW);
    assert_eq!(mw.Header.Version, NDK_VERSION_2_1);
    assert!(mw.Header.NdkReserved.rf.iter().all(|p| p.is_null()));
    assert!(core::ptr::eq(mw.Dispatch, &raw const TEST_MW_DISPATCH));
    assert!(core::ptr::eq(mw.header(), &raw const mw.Header));

    let table = TEST_MW_DISPATCH;
    // SAFETY: `test_remote_token` ignores its argument; the pointer is a live local.
    let token = unsafe { (table.NdkGetRemoteTokenFromMw)(&raw mut mw) };
    assert_eq!(token, 0xABCD);
    // SAFETY: `test_close` ignores its arguments; the header pointer is the object's address.
    let status = unsafe { (table.NdkCloseMw)((&raw mut mw).cast(), None, core::ptr::null_mut()) };
    assert_eq!(status, STATUS_PENDING);
}

#[test]
fn null_callback_parameter_is_none() {
    // SAFETY: `Option<fn>` is guaranteed to have the layout of a nullable function pointer, so
    // the all-zero pointer is exactly `None`.
    let none: Option<NDK_FN_REQUEST_COMPLETION> = unsafe {
        core::mem::transmute::<*const (), Option<NDK_FN_REQUEST_COMPLETION>>(core::ptr::null())
    };
    assert!(none.is_none());
    assert_eq!(
        size_of::<Option<NDK_FN_CREATE_COMPLETION>>(),
        size_of::<usize>()
    );
}
