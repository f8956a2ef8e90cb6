//! The engine's vocabulary: scatter/gather entries, flags, access rights, operation types,
//! completion statuses, completions and post errors.
//!
//! These are the engine's own small types. Where a value must equal an NDKPI constant the doc
//! comment names the constant and the numeric value is the same; the `abi` module carries the
//! compile-time equality checks. This module never touches memory and never allocates.

/// One scatter/gather entry, as `NDK_SGE`: an address inside a registered region (or a logical
/// address when `token` is the PD's privileged token), a byte count and the region's token.
///
/// The engine never interprets `address`; the [`MemorySpace`](super::MemorySpace) resolves it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sge {
    /// `NDK_SGE.VirtualAddress` / `LogicalAddress`.
    pub address: u64,
    /// `NDK_SGE.Length`.
    pub length: u32,
    /// `NDK_SGE.MemoryRegionToken`.
    pub token: u32,
}

/// Work-request flags, bit for bit the `NDK_OP_FLAG_*` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpFlags(pub u32);

impl OpFlags {
    /// No flags.
    pub const NONE: Self = Self(0);
    /// `NDK_OP_FLAG_SILENT_SUCCESS` (0x1): no completion when the request succeeds.
    pub const SILENT_SUCCESS: Self = Self(0x1);
    /// `NDK_OP_FLAG_READ_FENCE` (0x2): start only after every earlier RDMA read completed.
    pub const READ_FENCE: Self = Self(0x2);
    /// `NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT` (0x4): the peer's receive completion is solicited.
    pub const SEND_AND_SOLICIT_EVENT: Self = Self(0x4);
    /// `NDK_OP_FLAG_ALLOW_REMOTE_READ` (0x8): bind / fast-register grant remote read.
    pub const ALLOW_REMOTE_READ: Self = Self(0x8);
    /// `NDK_OP_FLAG_ALLOW_LOCAL_WRITE` (0x10): fast-register grants local write.
    pub const ALLOW_LOCAL_WRITE: Self = Self(0x10);
    /// `NDK_OP_FLAG_ALLOW_REMOTE_WRITE` (0x30): remote write, which includes local write.
    pub const ALLOW_REMOTE_WRITE: Self = Self(0x30);
    /// `NDK_OP_FLAG_INLINE` (0x40): the data is copied during the posting call.
    pub const INLINE: Self = Self(0x40);
    /// `NDK_OP_FLAG_RDMA_READ_SINK` (0x80): fast-registered region may be an RDMA read target.
    pub const RDMA_READ_SINK: Self = Self(0x80);
    /// `NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE` (0x100): a successful read invalidates the
    /// first SGE's token.
    pub const RDMA_READ_LOCAL_INVALIDATE: Self = Self(0x100);
    /// `NDK_OP_FLAG_DEFER` (0x200): the doorbell may be postponed until a later request.
    pub const DEFER: Self = Self(0x200);

    /// Whether every bit of `other` is set.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit outside `allowed` is set.
    #[must_use]
    pub const fn has_bits_outside(self, allowed: Self) -> bool {
        self.0 & !allowed.0 != 0
    }

    /// Bitwise union.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for OpFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// Access rights on a region, bit for bit the `NDK_MR_FLAG_*` values (local read is implicit,
/// `NDK_MR_FLAG_ALLOW_LOCAL_READ` = 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Access(pub u32);

impl Access {
    /// Local read only (`NDK_MR_FLAG_ALLOW_LOCAL_READ`, 0): the source of a send or write.
    pub const LOCAL_READ: Self = Self(0);
    /// `NDK_MR_FLAG_ALLOW_LOCAL_WRITE` (0x1): the target of a receive or read.
    pub const LOCAL_WRITE: Self = Self(0x1);
    /// `NDK_MR_FLAG_ALLOW_REMOTE_READ` (0x2): the source of a peer's RDMA read.
    pub const REMOTE_READ: Self = Self(0x2);
    /// The remote-write bit alone; `NDK_MR_FLAG_ALLOW_REMOTE_WRITE` (0x5) is this plus
    /// [`Self::LOCAL_WRITE`].
    pub const REMOTE_WRITE: Self = Self(0x4);
    /// `NDK_MR_FLAG_RDMA_READ_SINK` (0x8): the local target of an RDMA read. The memory space
    /// decides whether the adapter requires it (`RDMA_READ_SINK_NOT_REQUIRED`).
    pub const READ_SINK: Self = Self(0x8);

    /// Whether every right of `need` is granted.
    #[must_use]
    pub const fn allows(self, need: Self) -> bool {
        self.0 & need.0 == need.0
    }

    /// Bitwise union.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The rights a bind or fast-register grants, from its op flags: `ALLOW_REMOTE_WRITE`
    /// (0x30) grants remote and local write, `ALLOW_LOCAL_WRITE` local write, `ALLOW_REMOTE_READ`
    /// remote read, `RDMA_READ_SINK` read-sink.
    #[must_use]
    pub const fn from_op_flags(flags: OpFlags) -> Self {
        let mut bits = 0;
        if flags.0 & OpFlags::ALLOW_LOCAL_WRITE.0 != 0 {
            bits |= Self::LOCAL_WRITE.0;
        }
        if flags.contains(OpFlags::ALLOW_REMOTE_WRITE) {
            bits |= Self::REMOTE_WRITE.0 | Self::LOCAL_WRITE.0;
        }
        if flags.contains(OpFlags::ALLOW_REMOTE_READ) {
            bits |= Self::REMOTE_READ.0;
        }
        if flags.contains(OpFlags::RDMA_READ_SINK) {
            bits |= Self::READ_SINK.0;
        }
        Self(bits)
    }
}

impl core::ops::BitOr for Access {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// Which operation a completion reports: the `NDK_OPERATION_TYPE` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum OpType {
    /// `NdkOperationTypeReceive` (1).
    Receive = 1,
    /// `NdkOperationTypeSend` (2); also a send-and-invalidate's own completion.
    Send = 2,
    /// `NdkOperationTypeFastRegister` (4).
    FastRegister = 4,
    /// `NdkOperationTypeBind` (8).
    Bind = 8,
    /// `NdkOperationTypeInvalidate` (16).
    Invalidate = 16,
    /// `NdkOperationTypeRead` (32).
    Read = 32,
    /// `NdkOperationTypeWrite` (64).
    Write = 64,
    /// `NdkOperationTypeReceiveAndInvalidate` (0x8001): a receive whose message came from a
    /// send-and-invalidate; the token is in [`Completion::invalidated_token`].
    ReceiveAndInvalidate = 0x8001,
}

/// Outcome of one work request, as the engine produces it.
///
/// The dispatch layer turns it into the `NDK_RESULT.Status` NTSTATUS named by
/// [`Status::nt_status_name`]. The engine treats every failure as fatal for the connection
/// (reliable-connection semantics; NDK consumers do the same): the QP that reports it moves to
/// [`QpState::Error`](super::QpState::Error) and its other outstanding requests are cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The request completed. `STATUS_SUCCESS`.
    Success,
    /// Flushed (flush, disconnect, or the QP entered the error state). `STATUS_CANCELLED`.
    Cancelled,
    /// A local SGE was refused by the memory space: unknown or invalidated token, token of
    /// another PD, range outside the region, or a missing local right (local write for a
    /// receive or read target, read-sink). `STATUS_ACCESS_VIOLATION`.
    LocalProtectionError,
    /// The remote token/address/length of an RDMA read or write was refused by the peer's
    /// memory space (same causes, remote rights). `STATUS_REMOTE_RESOURCES`, the code `NdkRead`
    /// documents for reads outside the remote region.
    RemoteAccessError,
    /// The peer could not place a send: its receive buffer was too small or refused, or a
    /// send-and-invalidate named a token it could not invalidate. The sender's completion.
    /// `STATUS_INVALID_DEVICE_REQUEST`.
    RemoteOperationError,
    /// The peer refused the request outright: an RDMA read with no inbound read credit, or a
    /// message longer than the peer's maximum transfer length. `STATUS_INVALID_PARAMETER`.
    RemoteInvalidRequest,
    /// The incoming message is longer than this receive's buffers. The receiver's completion;
    /// no byte was placed. `STATUS_BUFFER_TOO_SMALL`.
    ReceiveTooSmall,
    /// An invalidation failed: local `NdkInvalidate` of something not currently valid, a read's
    /// local invalidation, or the token named by a peer's send-and-invalidate. `STATUS_INVALID_HANDLE`.
    InvalidateError,
    /// The request reached a peer QP that is in the error state (the reliable connection's
    /// retries would run out). `STATUS_CONNECTION_ABORTED`.
    ConnectionAborted,
}

impl Status {
    /// The NTSTATUS name the dispatch layer reports for this outcome.
    #[must_use]
    pub const fn nt_status_name(self) -> &'static str {
        match self {
            Self::Success => "STATUS_SUCCESS",
            Self::Cancelled => "STATUS_CANCELLED",
            Self::LocalProtectionError => "STATUS_ACCESS_VIOLATION",
            Self::RemoteAccessError => "STATUS_REMOTE_RESOURCES",
            Self::RemoteOperationError => "STATUS_INVALID_DEVICE_REQUEST",
            Self::RemoteInvalidRequest => "STATUS_INVALID_PARAMETER",
            Self::ReceiveTooSmall => "STATUS_BUFFER_TOO_SMALL",
            Self::InvalidateError => "STATUS_INVALID_HANDLE",
            Self::ConnectionAborted => "STATUS_CONNECTION_ABORTED",
        }
    }

    /// Whether this is [`Status::Success`].
    #[must_use]
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Success)
    }
}

/// Opaque identity of a completion queue, chosen by the verbs layer and handed back with every
/// completion so its [`CompletionSink`](super::CompletionSink) can route it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CqId(pub usize);

/// Opaque identity of a memory object (MR or MW) chosen by the verbs layer; the engine only
/// passes it back to the [`MemorySpace`](super::MemorySpace).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemoryHandle(pub usize);

/// One completion, the content of an `NDK_RESULT_EX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Completion {
    /// The request context given at post time (`NDK_RESULT.RequestContext`).
    pub request_context: usize,
    /// The QP's context (`NDK_RESULT.QPContext`); for SRQ receives, the QP the message arrived on.
    pub qp_context: usize,
    /// Outcome.
    pub status: Status,
    /// Bytes placed, for receives; the request's transfer length for sends, reads and writes;
    /// 0 for memory operations and for failures.
    pub bytes: u32,
    /// `NDK_RESULT_EX.Type`.
    pub op: OpType,
    /// For [`OpType::ReceiveAndInvalidate`], the token that was invalidated
    /// (`TypeSpecificCompletionOutput`).
    pub invalidated_token: Option<u32>,
    /// Set on the receive completion of a message sent with `SEND_AND_SOLICIT_EVENT`; together
    /// with any failed status it satisfies an `NDK_CQ_NOTIFY_SOLICITED` arm.
    pub solicited: bool,
}

impl Completion {
    /// Whether this completion satisfies an `NDK_CQ_NOTIFY_SOLICITED` arm (ndkpi §3.4 rule 5):
    /// a solicited receive or any error completion.
    #[must_use]
    pub const fn satisfies_solicited_arm(&self) -> bool {
        self.solicited || !self.status.is_success()
    }
}

/// Why a post was refused. A refused post queues nothing and never completes (ndkpi §6.2).
///
/// Suggested NTSTATUS for the verbs layer: `NotConnected`, `QpInError` →
/// `STATUS_CONNECTION_INVALID`; `QueueFull` → `STATUS_INSUFFICIENT_RESOURCES`; `TooManySges`,
/// `TransferTooLong`, `InlineTooLong`, `InvalidFlags`, `InvalidParameter`, `WrongQueue` →
/// `STATUS_INVALID_PARAMETER`; `ReadsNotAllowed` → `STATUS_INVALID_DEVICE_REQUEST`;
/// `Access(_)` → `STATUS_ACCESS_VIOLATION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PostError {
    /// An initiator request on a QP that is not connected yet.
    NotConnected,
    /// The QP is in the error state (flushed, disconnected or failed); nothing more is accepted.
    QpInError,
    /// The queue already holds its depth of outstanding requests.
    QueueFull,
    /// More SGEs than the queue's limit (inline requests are limited by bytes instead).
    TooManySges,
    /// Total bytes exceed the maximum transfer length (or overflow 32 bits).
    TransferTooLong,
    /// Inline bytes exceed the QP's inline data size.
    InlineTooLong,
    /// A flag not allowed for this request.
    InvalidFlags,
    /// A malformed memory request (fast-register arithmetic, zero-length bind, ...).
    InvalidParameter,
    /// An RDMA read on a connection whose outbound read limit (ORD) is 0.
    ReadsNotAllowed,
    /// A receive posted to a QP that uses a shared receive queue.
    WrongQueue,
    /// The memory space refused a bind or fast-register at post time.
    Access(AccessError),
}

/// Why the memory space refused an access or a memory operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessError {
    /// No region carries this token (never issued, or issued by another adapter).
    UnknownToken,
    /// The token was valid once but has been invalidated or re-registered.
    StaleToken,
    /// The token belongs to another protection domain.
    WrongProtectionDomain,
    /// The byte range is not inside the region.
    OutOfRange,
    /// The region does not grant the needed right.
    AccessDenied,
    /// The memory object is in the wrong state for this operation (e.g. invalidating an MR
    /// registered with `NdkRegisterMr`, binding an unbound window twice).
    InvalidState,
    /// The provider could not allocate what the operation needs (a fast registration over
    /// pages of several LAMs builds a composite region); nothing changed.
    NoResources,
}
