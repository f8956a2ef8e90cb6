//! The consumer's logical address mappings (`NdkBuildLAM` / `NdkReleaseLAM`).

use core::ptr;
use std::sync::Arc;
use std::vec::Vec;

use super::{Adapter, Buffer, MdlChain, request_completion};
use crate::abi::{
    NDK_LOGICAL_ADDRESS, NDK_LOGICAL_ADDRESS_MAPPING, NTSTATUS, STATUS_SUCCESS, lam_size_for_pages,
};

/// `PAGE_SIZE` as a `usize`.
const PAGE: usize = 4096;
const _: () = assert!(PAGE as u64 == crate::engine::PAGE_SIZE);

/// A built LAM: the mapping buffer as the consumer allocated it, and the memory it maps.
#[derive(Debug)]
pub struct Lam {
    /// 8-byte aligned storage for the variable-length `NDK_LOGICAL_ADDRESS_MAPPING`.
    storage: Vec<u64>,
    fbo: u32,
    /// Kept alive (and locked, as far as the host goes) until released.
    buffer: Arc<Buffer>,
    /// Where in `buffer` the mapped range starts.
    start: usize,
}

impl Lam {
    /// The mapping as the consumer holds it.
    const fn mapping(&mut self) -> *mut NDK_LOGICAL_ADDRESS_MAPPING {
        self.storage.as_mut_ptr().cast()
    }

    /// `AdapterPageCount`.
    #[must_use]
    pub fn page_count(&self) -> u32 {
        #[allow(clippy::cast_possible_truncation)] // the provider wrote a u32 there
        {
            self.storage[1] as u32
        }
    }

    /// `AdapterPageArray`.
    #[must_use]
    pub fn pages(&self) -> Vec<NDK_LOGICAL_ADDRESS> {
        let n = self.page_count() as usize;
        #[allow(clippy::cast_possible_wrap)] // logical addresses are opaque 64-bit values
        self.storage[2..2 + n].iter().map(|&p| p as i64).collect()
    }

    /// `*pFBO`.
    #[must_use]
    pub const fn fbo(&self) -> u32 {
        self.fbo
    }

    /// The buffer the LAM maps.
    #[must_use]
    pub const fn buffer(&self) -> &Arc<Buffer> {
        &self.buffer
    }

    /// The logical address of byte `offset` of the mapped range (for privileged-token SGEs).
    ///
    /// # Panics
    ///
    /// If `offset` is beyond the mapping (test helper).
    #[must_use]
    pub fn logical(&self, offset: usize) -> NDK_LOGICAL_ADDRESS {
        let at = self.fbo as usize + offset;
        let page = self.pages()[at / PAGE];
        page + i64::try_from(at % PAGE).expect("offset")
    }

    /// The provider-private `AdapterContext` (tests that forge a release).
    #[must_use]
    pub fn adapter_context(&self) -> u64 {
        self.storage[0]
    }

    /// Where in the buffer the mapping starts.
    #[must_use]
    pub const fn start(&self) -> usize {
        self.start
    }
}

impl Adapter {
    /// `NdkBuildLAM` over `length` bytes of `buffer` from `start`, with a buffer of exactly the
    /// size the provider asks for (probed first with a NULL `pNdkLAM`).
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    ///
    /// # Panics
    ///
    /// If the provider reports a size that does not match the page count it wrote.
    pub fn build_lam(
        &self,
        buffer: &Arc<Buffer>,
        start: usize,
        length: usize,
    ) -> Result<Lam, NTSTATUS> {
        let mut mdl = buffer.mdl_pieces(&[(start, buffer.len() - start)]);
        let mut size = 0u32;
        let mut fbo = 0u32;
        let probe = self.build_lam_raw(&mut mdl, length, None, Some(&mut size), Some(&mut fbo));
        if probe != crate::abi::STATUS_BUFFER_TOO_SMALL {
            return Err(probe);
        }
        let mut storage = std::vec![0u64; (size as usize).div_ceil(8)];
        let status = self.build_lam_raw(
            &mut mdl,
            length,
            Some(storage.as_mut_ptr().cast()),
            Some(&mut size),
            Some(&mut fbo),
        );
        if status != STATUS_SUCCESS {
            return Err(status);
        }
        assert_eq!(
            Some(size),
            lam_size_for_pages(u32::try_from(storage[1]).unwrap_or(u32::MAX)),
            "the provider reports the size it wrote"
        );
        Ok(Lam {
            storage,
            fbo,
            buffer: Arc::clone(buffer),
            start,
        })
    }

    /// `NdkBuildLAM` with every pointer under the test's control (`None` = NULL). `*size` is
    /// the buffer's size in and the written/required size out.
    #[must_use]
    pub fn build_lam_raw(
        &self,
        mdl: &mut MdlChain,
        length: usize,
        lam: Option<*mut NDK_LOGICAL_ADDRESS_MAPPING>,
        size: Option<&mut u32>,
        fbo: Option<&mut u32>,
    ) -> NTSTATUS {
        let size = size.map_or(ptr::null_mut(), ptr::from_mut);
        let fbo = fbo.map_or(ptr::null_mut(), ptr::from_mut);
        // SAFETY: live adapter; a live MDL chain; `lam` NULL or a buffer of `*size` bytes; the
        // completion is never called (SoftNDK builds inline).
        unsafe {
            (self.dispatch().NdkBuildLAM)(
                self.raw,
                mdl.as_mdl(),
                length,
                Some(request_completion),
                ptr::null_mut(),
                lam.unwrap_or(ptr::null_mut()),
                size,
                fbo,
            )
        }
    }

    /// `NdkReleaseLAM`.
    pub fn release_lam(&self, mut lam: Lam) {
        let raw = lam.mapping();
        // SAFETY: live adapter; a LAM it built.
        unsafe { (self.dispatch().NdkReleaseLAM)(self.raw, raw) };
    }

    /// `NdkReleaseLAM` of a mapping whose `AdapterContext` is `context` (forged or stale).
    pub fn release_lam_context(&self, context: u64) {
        let mut storage = [context, 0, 0];
        // SAFETY: live adapter; a readable mapping-shaped buffer (the provider reads only
        // `AdapterContext`).
        unsafe { (self.dispatch().NdkReleaseLAM)(self.raw, storage.as_mut_ptr().cast()) };
    }
}
