//! NDKPI flag values and, per call, the mask of every bit a consumer may pass.
//!
//! Covers `NDK_MR_FLAG_*`, `NDK_OP_FLAG_*`, `NDK_CQ_NOTIFY_*` and `NDK_ADAPTER_FLAG_*`; the
//! `VALID_*_FLAGS` masks let the dispatch layer reject unknown bits (`spec/ndkpi.md` §2.4, §2.7,
//! §4.4, §6.5).
//!
//! Two flags are multi-bit: `NDK_MR_FLAG_ALLOW_REMOTE_WRITE` (0x5) contains
//! `NDK_MR_FLAG_ALLOW_LOCAL_WRITE` (0x1), and `NDK_OP_FLAG_ALLOW_REMOTE_WRITE` (0x30) contains
//! `NDK_OP_FLAG_ALLOW_LOCAL_WRITE` (0x10). Test them with [`has_flag`] (all bits set), never with
//! `flags & FLAG != 0`, which would read a bare `LOCAL_WRITE` as `REMOTE_WRITE`. A value that has the
//! remote-write-only bit (0x4 / 0x20) without the local-write bit is not a combination of
//! defined flags; [`mr_flags_valid`] and [`op_flags_valid`] reject it.

// ---- NdkRegisterMr flags -------------------------------------------------------------------

/// `NDK_MR_FLAG_ALLOW_LOCAL_READ` (0): local read is always granted.
pub const NDK_MR_FLAG_ALLOW_LOCAL_READ: u32 = 0x0000_0000;
/// `NDK_MR_FLAG_ALLOW_LOCAL_WRITE`: local write access.
pub const NDK_MR_FLAG_ALLOW_LOCAL_WRITE: u32 = 0x0000_0001;
/// `NDK_MR_FLAG_ALLOW_REMOTE_READ`: remote read access.
pub const NDK_MR_FLAG_ALLOW_REMOTE_READ: u32 = 0x0000_0002;
/// `NDK_MR_FLAG_ALLOW_REMOTE_WRITE` (0x5): remote write, includes local write.
pub const NDK_MR_FLAG_ALLOW_REMOTE_WRITE: u32 = 0x0000_0005;
/// `NDK_MR_FLAG_RDMA_READ_SINK`: the region may receive RDMA-read data.
pub const NDK_MR_FLAG_RDMA_READ_SINK: u32 = 0x0000_0008;

/// Every bit `NdkRegisterMr` accepts in `Flags`.
pub const VALID_REGISTER_MR_FLAGS: u32 = NDK_MR_FLAG_ALLOW_LOCAL_WRITE
    | NDK_MR_FLAG_ALLOW_REMOTE_READ
    | NDK_MR_FLAG_ALLOW_REMOTE_WRITE
    | NDK_MR_FLAG_RDMA_READ_SINK;

// ---- Work-request flags ----------------------------------------------------------------------

/// `NDK_OP_FLAG_SILENT_SUCCESS`: no CQ entry if the request succeeds.
pub const NDK_OP_FLAG_SILENT_SUCCESS: u32 = 0x0000_0001;
/// `NDK_OP_FLAG_READ_FENCE`: wait for earlier RDMA reads on the QP to complete first.
pub const NDK_OP_FLAG_READ_FENCE: u32 = 0x0000_0002;
/// `NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT`: the peer's receive satisfies a SOLICITED arm.
pub const NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT: u32 = 0x0000_0004;
/// `NDK_OP_FLAG_ALLOW_REMOTE_READ`: bind / fast-register with remote read access.
pub const NDK_OP_FLAG_ALLOW_REMOTE_READ: u32 = 0x0000_0008;
/// `NDK_OP_FLAG_ALLOW_LOCAL_WRITE`: fast-register with local write access.
pub const NDK_OP_FLAG_ALLOW_LOCAL_WRITE: u32 = 0x0000_0010;
/// `NDK_OP_FLAG_ALLOW_REMOTE_WRITE` (0x30): remote write, includes local write.
pub const NDK_OP_FLAG_ALLOW_REMOTE_WRITE: u32 = 0x0000_0030;
/// `NDK_OP_FLAG_INLINE`: copy the SGE data during the call; tokens are ignored.
pub const NDK_OP_FLAG_INLINE: u32 = 0x0000_0040;
/// `NDK_OP_FLAG_RDMA_READ_SINK`: the fast-registered region may receive RDMA-read data.
pub const NDK_OP_FLAG_RDMA_READ_SINK: u32 = 0x0000_0080;
/// `NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE` (header value 0x100; the `NdkRead` page's 0x200 is a
/// doc error that collides with DEFER).
pub const NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE: u32 = 0x0000_0100;
/// `NDK_OP_FLAG_DEFER` (NDK 1.2): the provider may postpone handing the request to the engine.
pub const NDK_OP_FLAG_DEFER: u32 = 0x0000_0200;

/// Flags every initiator request accepts (§6.5: `SILENT_SUCCESS`, `READ_FENCE`, DEFER).
const INITIATOR_COMMON: u32 =
    NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER;

/// Every bit `NdkSend` accepts.
pub const VALID_SEND_FLAGS: u32 =
    INITIATOR_COMMON | NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_INLINE;
/// Every bit `NdkSendAndInvalidate` accepts (same as `NdkSend`).
pub const VALID_SEND_AND_INVALIDATE_FLAGS: u32 = VALID_SEND_FLAGS;
/// Every bit `NdkWrite` accepts. INLINE is accepted although the `NdkWrite` page omits it: the
/// inline size limits are defined for writes too (§2.7 discrepancy).
pub const VALID_WRITE_FLAGS: u32 = INITIATOR_COMMON | NDK_OP_FLAG_INLINE;
/// Every bit `NdkRead` accepts.
pub const VALID_READ_FLAGS: u32 = INITIATOR_COMMON | NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE;
/// Every bit `NdkBind` accepts. Because `REMOTE_WRITE` contains the `LOCAL_WRITE` bit, a bare
/// `LOCAL_WRITE` passes this mask; it grants nothing a window can use.
pub const VALID_BIND_FLAGS: u32 =
    INITIATOR_COMMON | NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
/// Every bit `NdkFastRegister` accepts (`RDMA_READ_SINK` per the page's remarks).
pub const VALID_FAST_REGISTER_FLAGS: u32 = INITIATOR_COMMON
    | NDK_OP_FLAG_ALLOW_REMOTE_READ
    | NDK_OP_FLAG_ALLOW_LOCAL_WRITE
    | NDK_OP_FLAG_ALLOW_REMOTE_WRITE
    | NDK_OP_FLAG_RDMA_READ_SINK;
/// Every bit `NdkInvalidate` accepts.
pub const VALID_INVALIDATE_FLAGS: u32 = INITIATOR_COMMON;

// ---- CQ arming -------------------------------------------------------------------------------

/// `NDK_CQ_NOTIFY_ERRORS`: notify only on CQ errors.
pub const NDK_CQ_NOTIFY_ERRORS: u32 = 0;
/// `NDK_CQ_NOTIFY_ANY`: notify on the next completion.
pub const NDK_CQ_NOTIFY_ANY: u32 = 1;
/// `NDK_CQ_NOTIFY_SOLICITED`: notify on a solicited receive or any error completion.
pub const NDK_CQ_NOTIFY_SOLICITED: u32 = 2;

/// True if `arm_type` is one of the three `NDK_CQ_NOTIFY_*` values.
#[must_use]
pub const fn cq_notify_type_valid(arm_type: u32) -> bool {
    matches!(
        arm_type,
        NDK_CQ_NOTIFY_ERRORS | NDK_CQ_NOTIFY_ANY | NDK_CQ_NOTIFY_SOLICITED
    )
}

// ---- Adapter flags ---------------------------------------------------------------------------

/// `NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED`: incoming data is placed in byte order.
pub const NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED: u32 = 0x0000_0001;
/// `NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED`: read sinks need no special rights.
pub const NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED: u32 = 0x0000_0002;
/// `NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED`: interrupt moderation is functional.
pub const NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED: u32 = 0x0000_0004;
/// `NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED`: connections are processed in parallel engines.
pub const NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED: u32 = 0x0000_0008;
/// `NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED` (NDK 1.2): read-with-invalidate works.
pub const NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED: u32 = 0x0000_0010;
/// `NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED`: `NdkResizeCq` is usable.
pub const NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED: u32 = 0x0000_0100;
/// `NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED`: connections to the same address work.
pub const NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED: u32 = 0x0001_0000;

/// Every defined `NDK_ADAPTER_FLAG_*` bit.
pub const ALL_ADAPTER_FLAGS: u32 = NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED
    | NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED
    | NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED
    | NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED
    | NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED
    | NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED
    | NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;

// ---- Helpers ---------------------------------------------------------------------------------

/// True if every bit of `flag` is set in `flags` (correct for the multi-bit `REMOTE_WRITE` flags).
#[must_use]
pub const fn has_flag(flags: u32, flag: u32) -> bool {
    flags & flag == flag
}

/// True if `flags` only uses bits in `valid` and, where `REMOTE_WRITE` is allowed, never carries
/// its remote-only bit (0x20) without the `LOCAL_WRITE` bit (0x10). Use with a `VALID_*_FLAGS` mask.
#[must_use]
pub const fn op_flags_valid(flags: u32, valid: u32) -> bool {
    let remote_only = NDK_OP_FLAG_ALLOW_REMOTE_WRITE & !NDK_OP_FLAG_ALLOW_LOCAL_WRITE;
    flags & !valid == 0
        && (flags & remote_only == 0 || has_flag(flags, NDK_OP_FLAG_ALLOW_REMOTE_WRITE))
}

/// True if `flags` is a valid `NdkRegisterMr` flag set: known bits only, and the remote-only bit
/// of `REMOTE_WRITE` (0x4) never without the `LOCAL_WRITE` bit (0x1).
#[must_use]
pub const fn mr_flags_valid(flags: u32) -> bool {
    let remote_only = NDK_MR_FLAG_ALLOW_REMOTE_WRITE & !NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
    flags & !VALID_REGISTER_MR_FLAGS == 0
        && (flags & remote_only == 0 || has_flag(flags, NDK_MR_FLAG_ALLOW_REMOTE_WRITE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_write_is_tested_as_a_whole() {
        assert!(!has_flag(
            NDK_OP_FLAG_ALLOW_LOCAL_WRITE,
            NDK_OP_FLAG_ALLOW_REMOTE_WRITE
        ));
        assert!(has_flag(
            NDK_OP_FLAG_ALLOW_REMOTE_WRITE,
            NDK_OP_FLAG_ALLOW_LOCAL_WRITE
        ));
        assert!(!has_flag(
            NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
            NDK_MR_FLAG_ALLOW_REMOTE_WRITE
        ));
    }

    #[test]
    fn partial_remote_write_is_rejected() {
        assert!(!op_flags_valid(0x20, VALID_FAST_REGISTER_FLAGS));
        assert!(op_flags_valid(0x30, VALID_FAST_REGISTER_FLAGS));
        assert!(!mr_flags_valid(0x4));
        assert!(mr_flags_valid(
            NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK
        ));
    }

    #[test]
    fn unknown_bits_are_rejected() {
        assert!(!op_flags_valid(NDK_OP_FLAG_INLINE, VALID_READ_FLAGS));
        assert!(!op_flags_valid(0x8000_0000, VALID_SEND_FLAGS));
        assert!(!mr_flags_valid(0x10));
        assert!(op_flags_valid(0, VALID_INVALIDATE_FLAGS));
    }

    #[test]
    fn cq_notify_types() {
        assert!((0..=2).all(cq_notify_type_valid));
        assert!(!cq_notify_type_valid(3));
        assert!(!cq_notify_type_valid(u32::MAX));
    }
}
