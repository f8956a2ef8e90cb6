//! Consumer memory: buffers described by host MDLs, and memory regions.

use core::ptr::{self, NonNull};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::sync::{Arc, Mutex, PoisonError};
use std::vec::Vec;

use super::events::{self, Closed};
use super::request::request;
use crate::abi::{MDL, NDK_MR, NDK_MR_DISPATCH, NDK_SGE, NTSTATUS, STATUS_SUCCESS};
use crate::dispatch::mdl::HostMdl;
use crate::platform::Platform;

/// Consumer memory that the provider may read and write while registered: owned raw memory,
/// never accessed through references (reads and writes copy).
#[derive(Debug)]
pub struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: plain memory; concurrent access is only through raw copies, as for DMA.
unsafe impl Send for Buffer {}
// SAFETY: as above.
unsafe impl Sync for Buffer {}

const ALIGN: usize = 64;

impl Buffer {
    /// `len` zero bytes (`len` > 0).
    ///
    /// # Panics
    ///
    /// If `len` is 0 or the allocation fails (test helper).
    #[must_use]
    pub fn zeroed(len: usize) -> Arc<Self> {
        let layout = Layout::from_size_align(len, ALIGN).expect("layout");
        assert!(len > 0, "empty buffer");
        // SAFETY: non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).expect("allocation");
        Arc::new(Self { ptr, len })
    }

    /// A buffer holding `bytes`.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Arc<Self> {
        let b = Self::zeroed(bytes.len());
        b.write(0, bytes);
        b
    }

    /// Length in bytes.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty (never: buffers have at least one byte).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The virtual address of byte 0 (what registrations and SGEs use).
    #[must_use]
    #[allow(clippy::missing_const_for_fn)] // exposes provenance: a run-time act
    pub fn va(&self) -> u64 {
        self.ptr.as_ptr().expose_provenance() as u64
    }

    /// A copy of the contents.
    #[must_use]
    pub fn read(&self) -> Vec<u8> {
        let mut out = std::vec![0u8; self.len];
        // SAFETY: `len` bytes owned by this buffer; raw copy, no reference to the memory.
        unsafe { ptr::copy_nonoverlapping(self.ptr.as_ptr(), out.as_mut_ptr(), self.len) };
        out
    }

    /// Writes `data` at `offset`.
    ///
    /// # Panics
    ///
    /// If the range is outside the buffer.
    pub fn write(&self, offset: usize, data: &[u8]) {
        assert!(offset + data.len() <= self.len, "write outside the buffer");
        let to = self.ptr.as_ptr().wrapping_add(offset);
        // SAFETY: in bounds (checked); raw copy.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), to, data.len()) };
    }

    /// An SGE for `len` bytes at `offset` with `token` (virtual addressing).
    #[must_use]
    pub const fn sge(&self, offset: usize, len: u32, token: u32) -> NDK_SGE {
        NDK_SGE::with_virtual(self.ptr.as_ptr().wrapping_add(offset).cast(), len, token)
    }

    /// A chain of host MDLs over the buffer, cut at `cuts` (ascending offsets), virtually
    /// contiguous as `NdkRegisterMr` requires.
    #[must_use]
    pub fn mdl(&self, cuts: &[usize]) -> MdlChain {
        let mut bounds = Vec::from(cuts);
        bounds.push(self.len);
        let mut start = 0;
        let pieces = bounds
            .into_iter()
            .map(|end| {
                let piece = (start, end - start);
                start = end;
                piece
            })
            .collect::<Vec<_>>();
        self.mdl_pieces(&pieces)
    }

    /// A chain of host MDLs over `(offset, len)` pieces of this buffer, in the given order
    /// (which need not be contiguous: the provider must refuse such a chain).
    ///
    /// # Panics
    ///
    /// If a piece lies outside the buffer.
    #[must_use]
    pub fn mdl_pieces(&self, pieces: &[(usize, usize)]) -> MdlChain {
        let raw = pieces
            .iter()
            .map(|&(offset, len)| {
                assert!(offset + len <= self.len, "piece outside the buffer");
                (self.ptr.as_ptr().wrapping_add(offset), len)
            })
            .collect::<Vec<_>>();
        MdlChain::new(&raw)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len, ALIGN).expect("layout");
        // SAFETY: allocated in `zeroed` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), layout) };
    }
}

/// A chain of [`HostMdl`]s (what a kernel consumer's MDL chain is on the host).
#[derive(Debug)]
pub struct MdlChain {
    /// Never resized after linking, so the `next` pointers stay valid.
    nodes: Vec<HostMdl>,
}

impl MdlChain {
    fn new(pieces: &[(*mut u8, usize)]) -> Self {
        let mut nodes: Vec<HostMdl> = pieces
            .iter()
            .map(|&(va, byte_count)| HostMdl {
                next: ptr::null_mut(),
                va,
                byte_count,
            })
            .collect();
        for i in (1..nodes.len()).rev() {
            let next: *mut HostMdl = &raw mut nodes[i];
            nodes[i - 1].next = next;
        }
        Self { nodes }
    }

    /// The `MDL*` to pass.
    #[must_use]
    pub fn as_mdl(&mut self) -> *mut MDL {
        self.nodes
            .first_mut()
            .map_or(ptr::null_mut(), |n| (&raw mut *n).cast())
    }
}

/// A memory region.
#[derive(Debug)]
pub struct Mr {
    raw: *mut NDK_MR,
    /// The registered buffer, kept alive until deregistration or the close completion.
    buffer: Mutex<Option<Arc<Buffer>>>,
    /// The platform pending registrations are waited on (`None`: a condition variable).
    platform: Option<Platform>,
}

// SAFETY: NDK objects may be used from any thread.
unsafe impl Send for Mr {}
// SAFETY: as above.
unsafe impl Sync for Mr {}

impl Mr {
    /// Wraps an MR created by a raw `NdkCreateMr` call.
    ///
    /// # Safety
    ///
    /// `raw` is an open MR handed out by a provider, and the caller gives up using it except
    /// through this value (which closes it at most once).
    #[must_use]
    pub const unsafe fn from_raw(raw: *mut NDK_MR) -> Self {
        Self {
            raw,
            buffer: Mutex::new(None),
            platform: None,
        }
    }

    /// This MR, waiting for pending registrations and deregistrations with `platform`'s event
    /// (which runs a deterministic host's queue while it waits, see `consumer::request`).
    /// MRs made by [`super::Pd::create_mr`] have their adapter's platform already.
    #[must_use]
    pub fn with_platform(mut self, platform: Option<&Platform>) -> Self {
        self.platform = platform.cloned();
        self
    }

    object_accessors!(NDK_MR, NDK_MR_DISPATCH);

    /// `NdkRegisterMr` of the whole `buffer` with `flags`, through an MDL chain cut at `cuts`:
    /// the final status (a registration that pends is waited for, PASSIVE only).
    #[must_use]
    pub fn register(&self, buffer: &Arc<Buffer>, flags: u32, cuts: &[usize]) -> NTSTATUS {
        let mut chain = buffer.mdl(cuts);
        self.register_raw(chain.as_mdl(), buffer.len(), flags, Some(buffer))
    }

    /// `NdkRegisterMr` of `length` bytes through `chain` (a chain over `buffer`, possibly
    /// malformed on purpose).
    #[must_use]
    pub fn register_chain(
        &self,
        buffer: &Arc<Buffer>,
        chain: &mut MdlChain,
        length: usize,
        flags: u32,
    ) -> NTSTATUS {
        self.register_raw(chain.as_mdl(), length, flags, Some(buffer))
    }

    /// `NdkRegisterMr` with a NULL MDL (misuse: refused).
    #[must_use]
    pub fn register_null(&self, length: usize, flags: u32) -> NTSTATUS {
        self.register_raw(ptr::null_mut(), length, flags, None)
    }

    fn register_raw(
        &self,
        mdl: *mut MDL,
        length: usize,
        flags: u32,
        keep: Option<&Arc<Buffer>>,
    ) -> NTSTATUS {
        let status = request(self.platform.as_ref(), |done, context| {
            // SAFETY: live MR; `mdl` is NULL or a chain over memory kept alive while registered
            // (the caller passes the buffer it describes in `keep`; a chain whose memory is not
            // kept is only ever refused); the chain itself is read before the call returns.
            unsafe {
                (self.dispatch().NdkRegisterMr)(self.raw, mdl, length, flags, Some(done), context)
            }
        });
        if status == STATUS_SUCCESS {
            *self.buffer.lock().unwrap_or_else(PoisonError::into_inner) = keep.cloned();
        }
        status
    }

    /// `NdkDeregisterMr`: the final status (waited for if it pends, PASSIVE only).
    #[must_use]
    pub fn deregister(&self) -> NTSTATUS {
        let status = request(self.platform.as_ref(), |done, context| {
            // SAFETY: live MR; a valid completion.
            unsafe { (self.dispatch().NdkDeregisterMr)(self.raw, Some(done), context) }
        });
        if status == STATUS_SUCCESS {
            self.buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
        status
    }

    /// `NdkInitializeFastRegisterMr`: the final status (waited for if it pends, PASSIVE only).
    #[must_use]
    pub fn initialize_fast_register(&self, pages: u32, remote: bool) -> NTSTATUS {
        request(self.platform.as_ref(), |done, context| {
            // SAFETY: live MR; a valid completion.
            unsafe {
                (self.dispatch().NdkInitializeFastRegisterMr)(
                    self.raw,
                    pages,
                    u8::from(remote),
                    Some(done),
                    context,
                )
            }
        })
    }

    /// `NdkGetLocalTokenFromMr`.
    #[must_use]
    pub fn local_token(&self) -> u32 {
        // SAFETY: live MR.
        unsafe { (self.dispatch().NdkGetLocalTokenFromMr)(self.raw) }
    }

    /// `NdkGetRemoteTokenFromMr`.
    #[must_use]
    pub fn remote_token(&self) -> u32 {
        // SAFETY: live MR.
        unsafe { (self.dispatch().NdkGetRemoteTokenFromMr)(self.raw) }
    }

    /// `NdkCloseMr`; the registered buffer stays alive until the close completed.
    pub fn close(self) -> Closed {
        let keep = self
            .buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .map(|b| -> events::Keep { b });
        events::close(self.raw.cast(), self.dispatch().NdkCloseMr, keep)
    }
}
