//! NDK data structures that are not objects (`spec/ndkpi.md` §4).
//!
//! `NDK_SGE`, `NDK_RESULT(_EX)` and `NDK_OPERATION_TYPE`, `NDK_LOGICAL_ADDRESS_MAPPING`,
//! `NDK_ADAPTER_INFO` and `NDK_RDMA_TECHNOLOGY`, `NDK_EXTENSION_INTERFACE`.
//!
//! Layout and small pure helpers only; interpreting consumer-supplied contents (which union arm
//! of an SGE is meant, whether a LAM buffer is big enough) is the dispatch layer's job.

use core::ffi::c_void;
use core::fmt;
use core::ptr;

use super::status::NTSTATUS;
use super::version::NDK_VERSION;

/// `NDK_LOGICAL_ADDRESS` = `PHYSICAL_ADDRESS` = `LARGE_INTEGER`: an adapter logical address.
pub type NDK_LOGICAL_ADDRESS = i64;

/// The anonymous union at the start of `NDK_SGE`.
///
/// Which arm is meant depends on the SGE's token: the PD's privileged token selects
/// `LogicalAddress` (from `NdkBuildLAM`), any other token selects `VirtualAddress` (inside a
/// registered region; with `NDK_OP_FLAG_INLINE` a readable buffer).
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDK_SGE_ADDRESS {
    /// Virtual address inside a registered region (or an inline buffer).
    pub VirtualAddress: *mut c_void,
    /// Logical address from a LAM page array (+ offset), used with the privileged token.
    pub LogicalAddress: NDK_LOGICAL_ADDRESS,
}

/// `NDK_SGE`: one scatter/gather element (x64 size 0x10).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDK_SGE {
    /// The C anonymous union; see [`NDK_SGE_ADDRESS`].
    pub Address: NDK_SGE_ADDRESS,
    /// Bytes in this element.
    pub Length: u32,
    /// Local token of the region (or the privileged token; ignored for inline data).
    pub MemoryRegionToken: u32,
}

impl NDK_SGE {
    /// An SGE addressing `va` in a region with local token `token`.
    #[must_use]
    pub const fn with_virtual(va: *mut c_void, length: u32, token: u32) -> Self {
        // Zero all 8 bytes first so the integer arm is fully initialised even where a pointer
        // is narrower than 8 bytes.
        let mut address = NDK_SGE_ADDRESS { LogicalAddress: 0 };
        address.VirtualAddress = va;
        Self {
            Address: address,
            Length: length,
            MemoryRegionToken: token,
        }
    }

    /// An SGE addressing logical address `la` (use with the PD's privileged token).
    #[must_use]
    pub const fn with_logical(la: NDK_LOGICAL_ADDRESS, length: u32, token: u32) -> Self {
        Self {
            Address: NDK_SGE_ADDRESS { LogicalAddress: la },
            Length: length,
            MemoryRegionToken: token,
        }
    }

    /// The address read as `VirtualAddress`. The pointer is not dereferenced here.
    #[must_use]
    pub const fn virtual_address(&self) -> *mut c_void {
        // SAFETY: the union is always fully initialised (the constructors write all 8 bytes; a
        // consumer's SGE is 16 bytes of its memory); every bit pattern is a valid raw pointer,
        // and one built from integer bits merely has no provenance. It is not dereferenced here.
        unsafe { self.Address.VirtualAddress }
    }

    /// The address read as `LogicalAddress`.
    #[must_use]
    pub const fn logical_address(&self) -> NDK_LOGICAL_ADDRESS {
        // SAFETY: the union is always fully initialised (see `virtual_address`) and every bit
        // pattern is a valid `i64`.
        unsafe { self.Address.LogicalAddress }
    }
}

impl fmt::Debug for NDK_SGE {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NDK_SGE")
            .field("Address", &format_args!("{:#018x}", self.logical_address()))
            .field("Length", &self.Length)
            .field(
                "MemoryRegionToken",
                &format_args!("{:#010x}", self.MemoryRegionToken),
            )
            .finish()
    }
}

/// `NDK_RESULT`: one completion returned by `NdkGetCqResults` (x64 size 0x18).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NDK_RESULT {
    /// Completion status: success, `STATUS_CANCELLED` when flushed, else an error.
    pub Status: NTSTATUS,
    /// Bytes placed (receive completions only).
    pub BytesTransferred: u32,
    /// The `QPContext` given at QP creation.
    pub QPContext: *mut c_void,
    /// The `RequestContext` given when the request was posted.
    pub RequestContext: *mut c_void,
}

impl NDK_RESULT {
    /// An all-zero result (`STATUS_SUCCESS`, null contexts), e.g. to initialise arrays.
    pub const ZEROED: Self = Self {
        Status: NTSTATUS(0),
        BytesTransferred: 0,
        QPContext: ptr::null_mut(),
        RequestContext: ptr::null_mut(),
    };
}

/// `NDK_OPERATION_TYPE` (C enum, 4 bytes): which operation an `NDK_RESULT_EX` reports.
///
/// A newtype: values written by a provider are read back by consumers and may be unknown.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NDK_OPERATION_TYPE(pub i32);

impl NDK_OPERATION_TYPE {
    /// `NdkOperationTypeReceive` (1).
    pub const RECEIVE: Self = Self(1);
    /// `NdkOperationTypeReceiveAndInvalidate` (0x8001 = 32769): a receive that invalidated a
    /// token; shares bit 0 with `RECEIVE`.
    pub const RECEIVE_AND_INVALIDATE: Self = Self(0x8001);
    /// `NdkOperationTypeSend` (2), also reported for `NdkSendAndInvalidate` at the sender.
    pub const SEND: Self = Self(2);
    /// `NdkOperationTypeFastRegister` (4).
    pub const FAST_REGISTER: Self = Self(4);
    /// `NdkOperationTypeBind` (8).
    pub const BIND: Self = Self(8);
    /// `NdkOperationTypeInvalidate` (16).
    pub const INVALIDATE: Self = Self(16);
    /// `NdkOperationTypeRead` (32).
    pub const READ: Self = Self(32);
    /// `NdkOperationTypeWrite` (64).
    pub const WRITE: Self = Self(64);

    /// True for both receive types (bit 0 set), as consumers test it.
    #[must_use]
    pub const fn is_receive(self) -> bool {
        self.0 & Self::RECEIVE.0 != 0
    }
}

/// `NDK_RESULT_EX`: one completion returned by `NdkGetCqResultsEx`, NDK 2.1 layout with
/// `ProviderErrorCode` (x64 size 0x28; the field sits in what was padding before 2.1).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NDK_RESULT_EX {
    /// Completion status.
    pub Status: NTSTATUS,
    /// Bytes placed (receive completions only).
    pub BytesTransferred: u32,
    /// The `QPContext` given at QP creation.
    pub QPContext: *mut c_void,
    /// The `RequestContext` given when the request was posted.
    pub RequestContext: *mut c_void,
    /// Which operation completed.
    pub Type: NDK_OPERATION_TYPE,
    /// Provider diagnostic (NDK 2.1); must be 0 when `Status` is success.
    pub ProviderErrorCode: u32,
    /// For `RECEIVE_AND_INVALIDATE`: the invalidated token in the low 32 bits.
    pub TypeSpecificCompletionOutput: usize,
}

impl NDK_RESULT_EX {
    /// An all-zero result, e.g. to initialise arrays.
    pub const ZEROED: Self = Self {
        Status: NTSTATUS(0),
        BytesTransferred: 0,
        QPContext: ptr::null_mut(),
        RequestContext: ptr::null_mut(),
        Type: NDK_OPERATION_TYPE(0),
        ProviderErrorCode: 0,
        TypeSpecificCompletionOutput: 0,
    };
}

/// `NDK_LOGICAL_ADDRESS_MAPPING` (variable length): the result of `NdkBuildLAM`.
///
/// C declares `AdapterPageArray[1]`; the real array holds `AdapterPageCount` entries. Size a
/// buffer with [`lam_size_for_pages`], never with `size_of`.
#[repr(C)]
#[derive(Debug)]
pub struct NDK_LOGICAL_ADDRESS_MAPPING {
    /// Provider-private (the consumer must not modify it).
    pub AdapterContext: *mut c_void,
    /// Number of entries in `AdapterPageArray`.
    pub AdapterPageCount: u32,
    /// First of `AdapterPageCount` PAGE_SIZE-aligned logical page addresses.
    pub AdapterPageArray: [NDK_LOGICAL_ADDRESS; 1],
}

/// Bytes per `AdapterPageArray` entry (`sizeof(NDK_LOGICAL_ADDRESS)`).
pub const LAM_ENTRY_SIZE: u32 = 8;
const _: () = assert!(size_of::<NDK_LOGICAL_ADDRESS>() == LAM_ENTRY_SIZE as usize);

/// Byte offset of `AdapterPageArray` in a LAM (`FIELD_OFFSET`, 0x10 on x64).
pub const LAM_HEADER_SIZE: usize =
    core::mem::offset_of!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray);

/// Byte size of a LAM with `pages` entries (`FIELD_OFFSET(AdapterPageArray) + 8 * pages`), as a
/// `ULONG` (the unit of `*pLAMSize`). `None` if it does not fit in a `u32`.
#[must_use]
pub const fn lam_size_for_pages(pages: u32) -> Option<u32> {
    // LAM_HEADER_SIZE is 0x10 (x64) or 0x0C (x86): it fits in a u32.
    #[allow(clippy::cast_possible_truncation)]
    let header = LAM_HEADER_SIZE as u32;
    match pages.checked_mul(LAM_ENTRY_SIZE) {
        Some(array) => header.checked_add(array),
        None => None,
    }
}

/// Byte size of a LAM with `pages` entries as a `usize`, for allocation. `None` on overflow.
#[must_use]
pub const fn lam_size_for_pages_usize(pages: usize) -> Option<usize> {
    match pages.checked_mul(size_of::<NDK_LOGICAL_ADDRESS>()) {
        Some(array) => LAM_HEADER_SIZE.checked_add(array),
        None => None,
    }
}

/// How many page entries a LAM buffer of `buffer_bytes` can hold (0 if it cannot even hold the
/// header). Inverse of [`lam_size_for_pages`], rounding down.
#[must_use]
pub const fn lam_pages_that_fit(buffer_bytes: u32) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let header = LAM_HEADER_SIZE as u32;
    match buffer_bytes.checked_sub(header) {
        Some(rest) => rest / LAM_ENTRY_SIZE,
        None => 0,
    }
}

/// `NDK_RDMA_TECHNOLOGY` (C enum, 4 bytes): the RDMA transport an adapter reports.
///
/// Values equal the INF `*NetworkDirectTechnology` enum.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NDK_RDMA_TECHNOLOGY(pub i32);

impl NDK_RDMA_TECHNOLOGY {
    /// `NdkUndefined` (0).
    pub const UNDEFINED: Self = Self(0);
    /// `NdkiWarp` (1).
    pub const IWARP: Self = Self(1);
    /// `NdkInfiniBand` (2).
    pub const INFINIBAND: Self = Self(2);
    /// `NdkRoCE` (3).
    pub const ROCE: Self = Self(3);
    /// `NdkRoCEv2` (4).
    pub const ROCEV2: Self = Self(4);
    /// `NdkMaxTechnology` (5): one past the last technology.
    pub const MAX: Self = Self(5);
}

/// `NDK_ADAPTER_INFO` (`ndkinfo.h`): adapter limits and capabilities (x64 size 0x68).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NDK_ADAPTER_INFO {
    /// NDK version the provider operates at for this adapter instance.
    pub Version: NDK_VERSION,
    /// Vendor OUI.
    pub VendorId: u32,
    /// Vendor-defined device id.
    pub DeviceId: u32,
    /// Largest single memory registration, bytes.
    pub MaxRegistrationSize: usize,
    /// Largest single memory window, bytes.
    pub MaxWindowSize: usize,
    /// FRMR size in pages at which the most FRMRs are supported (>= 16).
    pub FRMRPageCount: u32,
    /// Max SGEs per initiator-queue request.
    pub MaxInitiatorRequestSge: u32,
    /// Max SGEs per receive request.
    pub MaxReceiveRequestSge: u32,
    /// Max SGEs per RDMA read (overrides `MaxInitiatorRequestSge` for reads).
    pub MaxReadRequestSge: u32,
    /// Max bytes across all SGEs of one send/receive/read/write.
    pub MaxTransferLength: u32,
    /// Max inline bytes per send/write.
    pub MaxInlineDataSize: u32,
    /// Max incoming RDMA reads in flight per QP (IRD).
    pub MaxInboundReadLimit: u32,
    /// Max outgoing RDMA reads in flight per QP (ORD).
    pub MaxOutboundReadLimit: u32,
    /// Max outstanding requests per receive queue.
    pub MaxReceiveQueueDepth: u32,
    /// Max outstanding requests per initiator queue.
    pub MaxInitiatorQueueDepth: u32,
    /// Max outstanding requests per SRQ; 0 = SRQ unsupported.
    pub MaxSrqDepth: u32,
    /// Max entries per CQ.
    pub MaxCqDepth: u32,
    /// Size above which read/write is preferable to send/receive.
    pub LargeRequestThreshold: u32,
    /// Max private data bytes on connect.
    pub MaxCallerData: u32,
    /// Max private data bytes on accept/reject.
    pub MaxCalleeData: u32,
    /// `NDK_ADAPTER_FLAG_*` bits.
    pub AdapterFlags: u32,
    /// The RDMA technology (field absent in older headers, which end at `AdapterFlags`).
    pub RdmaTechnology: NDK_RDMA_TECHNOLOGY,
}

/// Bytes of `NDK_ADAPTER_INFO` up to and including `AdapterFlags` (0x60): what consumers built
/// against pre-`RdmaTechnology` headers pass as the buffer size.
pub const NDK_ADAPTER_INFO_SIZE_WITHOUT_RDMA_TECHNOLOGY: usize =
    core::mem::offset_of!(NDK_ADAPTER_INFO, RdmaTechnology);

/// `NDK_EXTENSION_INTERFACE`: `{ CONST VOID *Dispatch; }`, filled by `NdkQueryExtension`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NDK_EXTENSION_INTERFACE {
    /// The extension's function table.
    pub Dispatch: *const c_void,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    assert!(size_of::<NDK_SGE_ADDRESS>() == 8);
    assert!(size_of::<NDK_SGE>() == 0x10);
    assert!(offset_of!(NDK_SGE, Address) == 0x00);
    assert!(offset_of!(NDK_SGE, Length) == 0x08);
    assert!(offset_of!(NDK_SGE, MemoryRegionToken) == 0x0C);

    assert!(size_of::<NDK_RESULT>() == 0x18);
    assert!(offset_of!(NDK_RESULT, Status) == 0x00);
    assert!(offset_of!(NDK_RESULT, BytesTransferred) == 0x04);
    assert!(offset_of!(NDK_RESULT, QPContext) == 0x08);
    assert!(offset_of!(NDK_RESULT, RequestContext) == 0x10);

    assert!(size_of::<NDK_OPERATION_TYPE>() == 4);
    assert!(size_of::<NDK_RESULT_EX>() == 0x28);
    assert!(offset_of!(NDK_RESULT_EX, Status) == 0x00);
    assert!(offset_of!(NDK_RESULT_EX, BytesTransferred) == 0x04);
    assert!(offset_of!(NDK_RESULT_EX, QPContext) == 0x08);
    assert!(offset_of!(NDK_RESULT_EX, RequestContext) == 0x10);
    assert!(offset_of!(NDK_RESULT_EX, Type) == 0x18);
    assert!(offset_of!(NDK_RESULT_EX, ProviderErrorCode) == 0x1C);
    assert!(offset_of!(NDK_RESULT_EX, TypeSpecificCompletionOutput) == 0x20);

    assert!(LAM_HEADER_SIZE == 0x10);
    assert!(size_of::<NDK_LOGICAL_ADDRESS_MAPPING>() == 0x18);
    assert!(offset_of!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterContext) == 0x00);
    assert!(offset_of!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageCount) == 0x08);
    assert!(offset_of!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray) == 0x10);

    assert!(size_of::<NDK_RDMA_TECHNOLOGY>() == 4);
    assert!(size_of::<NDK_ADAPTER_INFO>() == 0x68);
    assert!(offset_of!(NDK_ADAPTER_INFO, Version) == 0x00);
    assert!(offset_of!(NDK_ADAPTER_INFO, VendorId) == 0x04);
    assert!(offset_of!(NDK_ADAPTER_INFO, DeviceId) == 0x08);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxRegistrationSize) == 0x10);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxWindowSize) == 0x18);
    assert!(offset_of!(NDK_ADAPTER_INFO, FRMRPageCount) == 0x20);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxInitiatorRequestSge) == 0x24);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxReceiveRequestSge) == 0x28);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxReadRequestSge) == 0x2C);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxTransferLength) == 0x30);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxInlineDataSize) == 0x34);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxInboundReadLimit) == 0x38);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxOutboundReadLimit) == 0x3C);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxReceiveQueueDepth) == 0x40);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxInitiatorQueueDepth) == 0x44);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxSrqDepth) == 0x48);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxCqDepth) == 0x4C);
    assert!(offset_of!(NDK_ADAPTER_INFO, LargeRequestThreshold) == 0x50);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxCallerData) == 0x54);
    assert!(offset_of!(NDK_ADAPTER_INFO, MaxCalleeData) == 0x58);
    assert!(offset_of!(NDK_ADAPTER_INFO, AdapterFlags) == 0x5C);
    assert!(offset_of!(NDK_ADAPTER_INFO, RdmaTechnology) == 0x60);
    assert!(NDK_ADAPTER_INFO_SIZE_WITHOUT_RDMA_TECHNOLOGY == 0x60);

    assert!(size_of::<NDK_EXTENSION_INTERFACE>() == 8);
};

// `NDK_RESULT_EX` on 32-bit Windows: 0x1C with `ProviderErrorCode` (the 2.1 layout SoftNDK uses).
#[cfg(target_pointer_width = "32")]
const _: () = assert!(size_of::<NDK_RESULT_EX>() == 0x1C);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sge_union_arms_share_storage() {
        let sge = NDK_SGE::with_logical(0x1234_5000, 64, 7);
        assert_eq!(sge.logical_address(), 0x1234_5000);
        assert_eq!(sge.virtual_address().addr(), 0x1234_5000);
        let mut buf = [0u8; 4];
        let sge = NDK_SGE::with_virtual(buf.as_mut_ptr().cast(), 4, 9);
        assert_eq!(sge.virtual_address(), buf.as_mut_ptr().cast());
        assert_eq!(sge.Length, 4);
        assert_eq!(sge.MemoryRegionToken, 9);
    }

    #[test]
    fn receive_and_invalidate_is_a_receive() {
        assert!(NDK_OPERATION_TYPE::RECEIVE.is_receive());
        assert!(NDK_OPERATION_TYPE::RECEIVE_AND_INVALIDATE.is_receive());
        assert!(!NDK_OPERATION_TYPE::SEND.is_receive());
        assert!(!NDK_OPERATION_TYPE::WRITE.is_receive());
    }
}
