//! `NdkFastRegister` applied at post time: the pages a consumer lists become the byte range of a
//! fast-register MR.
//!
//! Owns the page-list rules and the two ways a list becomes a mapping. Consecutive pages of one
//! LAM (how a consumer maps one I/O buffer) map straight onto that LAM's region, allocating
//! nothing. Any other list (pages of several LAMs, or pages of one LAM out of order) maps onto
//! a composite [`Region`] built by `Region::try_concat` from the runs of the listed pages
//! (adjacent pages of one LAM merge into one run): byte `i` of the registration is byte
//! `(FBO + i) mod PAGE_SIZE` of page `(FBO + i) div PAGE_SIZE` of the list. Either way the
//! mapping is an ordinary [`Mapping`], so resolution, pins, the copy fence and invalidation
//! treat both alike.
//!
//! Lifetime: the composite holds its parts' regions (the LAMs' buffers' descriptions), so a LAM
//! released while a registration over it is still valid leaves no dangling descriptor; the
//! memory itself stays the consumer's to keep, as NDK requires it to invalidate a registration
//! before releasing the LAM and unlocking its pages (the single-LAM mapping holds the LAM's
//! region the same way).
//!
//! Must never allocate or drop a region under the table lock: the composite's list and region
//! are allocated before and after the lookup, through the platform's gate (fault injection
//! reaches them), and a refused composite is dropped after the lock is released.
#![deny(unsafe_code)]

use core::panic::Location;

use crate::engine::{AccessError, FastRegisterRequest, PAGE_SIZE};
use crate::platform::prelude::*;
use crate::platform::{ConcatError, PVec, Platform, Region, RegionPart};
use crate::sync::Arc;

use super::super::lam::Logical;
use super::{Kind, Mapping, MemoryTable, Slot, Slots, slot_of, token_of};

/// Whether `next` is the page right after `page` in the same LAM (so their bytes are adjacent
/// in the LAM's buffer).
fn continues(page: Logical, next: Logical) -> bool {
    next.index == page.index
        && next.generation == page.generation
        && page.page.checked_add(1) == Some(next.page)
}

/// A listed page: a page address of this adapter's LAM scheme (offset 0).
fn page_of(address: u64) -> Result<Logical, AccessError> {
    Logical::decode(address)
        .filter(|l| l.offset == 0)
        .ok_or(AccessError::OutOfRange)
}

/// The bytes `(offset inside the page, length)` the registration takes of listed page `k`,
/// given that `[fbo, fbo + length)` of the pages' span is registered.
fn bytes_of_page(k: u64, fbo: u64, length: u64) -> (u64, u64) {
    let start = (k * PAGE_SIZE).max(fbo);
    let end = ((k + 1) * PAGE_SIZE).min(fbo + length);
    (start - k * PAGE_SIZE, end.saturating_sub(start))
}

impl MemoryTable {
    /// `NdkFastRegister`, applied at post time: maps the listed pages onto fast-register MR
    /// `request.mr`, the first from `first_byte_offset`, `length` bytes in all. The engine has
    /// already checked the layout (`FastRegisterRequest::check_layout`).
    ///
    /// # Errors
    ///
    /// `StaleToken` for a handle that is not current, `InvalidState` for a normal MR, one not
    /// initialised or one still valid, `OutOfRange` for more pages than initialised, a page that
    /// is not a page of a live LAM of this adapter or a range that leaves a LAM's buffer,
    /// `AccessDenied` for remote rights on an MR initialised without `RemoteAccess`,
    /// `NoResources` when the composite region for a list that is not consecutive pages of one
    /// LAM cannot be allocated (nothing changed).
    pub fn fast_register(
        &self,
        platform: &Platform,
        pd: usize,
        request: &FastRegisterRequest<'_>,
    ) -> Result<(), AccessError> {
        let mr = slot_of(self.codec, token_of(request.mr))?;
        let first = page_of(*request.pages.first().ok_or(AccessError::OutOfRange)?)?;
        let consecutive = request.pages.iter().enumerate().all(|(k, &p)| {
            u32::try_from(k).is_ok_and(|k| {
                first
                    .page
                    .checked_add(k)
                    .is_some_and(|n| Logical::page_address(first.index, first.generation, n) == p)
            })
        });
        if consecutive {
            self.fast_register_one_lam(pd, mr, first, request)
        } else {
            self.fast_register_pages(platform, pd, mr, request)
        }
    }

    /// Consecutive pages of one LAM: the mapping is a range of that LAM's region.
    fn fast_register_one_lam(
        &self,
        pd: usize,
        (index, generation): (u32, u16),
        first: Logical,
        request: &FastRegisterRequest<'_>,
    ) -> Result<(), AccessError> {
        let mut t = self.table.lock();
        let lam = t.lam(first).ok_or(AccessError::OutOfRange)?;
        let at = Logical {
            offset: request.first_byte_offset,
            ..first
        };
        let offset = lam
            .range(at, request.length)
            .ok_or(AccessError::OutOfRange)?;
        let region = Arc::clone(&lam.region);
        let slot = fast_slot(&mut t, index, generation, pd, request)?;
        commit(slot, region, offset, request);
        drop(t);
        Ok(())
    }

    /// Any other page list: the mapping is a composite of the pages' runs.
    fn fast_register_pages(
        &self,
        platform: &Platform,
        pd: usize,
        (index, generation): (u32, u16),
        request: &FastRegisterRequest<'_>,
    ) -> Result<(), AccessError> {
        let fbo = u64::from(request.first_byte_offset);
        // Pages holding registered bytes (the layout check bounds this by the list's length);
        // trailing pages beyond them are validated but contribute nothing.
        let used = usize::try_from((fbo + request.length).div_ceil(PAGE_SIZE))
            .map_err(|_| AccessError::OutOfRange)?
            .min(request.pages.len());
        let mut runs = 0_usize;
        let mut previous: Option<Logical> = None;
        for (k, &address) in request.pages.iter().enumerate() {
            let page = page_of(address)?;
            if k < used && !previous.is_some_and(|p| continues(p, page)) {
                runs += 1;
            }
            previous = Some(page);
        }
        let no_memory = |_| AccessError::NoResources;
        let mut parts: PVec<RegionPart> =
            platform.try_vec_with_capacity(runs).map_err(no_memory)?;
        #[allow(
            clippy::let_unit_value,
            reason = "the kernel's admission is `()`, the host's a token kept by the composite"
        )]
        let admitted = platform.alloc_gate(Location::caller()).map_err(no_memory)?;
        {
            let mut t = self.table.lock();
            let mut previous: Option<Logical> = None;
            for (k, &address) in request.pages.iter().enumerate() {
                let page = page_of(address)?;
                let lam = t
                    .lam(page)
                    .filter(|lam| page.page < lam.pages)
                    .ok_or(AccessError::OutOfRange)?;
                if k >= used {
                    continue;
                }
                let (offset, length) = bytes_of_page(k as u64, fbo, request.length);
                let at = Logical {
                    offset: u32::try_from(offset).map_err(|_| AccessError::OutOfRange)?,
                    ..page
                };
                let start = lam.range(at, length).ok_or(AccessError::OutOfRange)?;
                let (start, length) = usize::try_from(start)
                    .ok()
                    .zip(usize::try_from(length).ok())
                    .ok_or(AccessError::OutOfRange)?;
                match parts.last_mut() {
                    // The page right after the run's last one: its bytes follow the run's in
                    // the LAM's buffer (every page but the last registered one is whole).
                    Some(run) if previous.is_some_and(|p| continues(p, page)) => run.len += length,
                    _ => {
                        let part = RegionPart {
                            region: Arc::clone(&lam.region),
                            offset: start,
                            len: length,
                        };
                        // Cannot be refused: `runs` counted exactly these pushes. Should it be,
                        // the part goes back and is dropped after the lock, refusing the post.
                        if parts.push(part).is_err() {
                            drop(t);
                            return Err(AccessError::OutOfRange);
                        }
                    }
                }
                previous = Some(page);
            }
            // The MR's checks now, so a refused post allocates nothing more; they are made
            // again when the mapping is published below.
            fast_slot(&mut t, index, generation, pd, request)?;
        }
        let composite = Region::try_concat(parts, admitted).map_err(|e| match e {
            ConcatError::NoMemory => AccessError::NoResources,
            ConcatError::Range(_) => AccessError::OutOfRange,
        })?;
        let region = platform.try_arc(composite).map_err(no_memory)?;
        let mut t = self.table.lock();
        // `region` outlives the guard, so a refusal here drops it after the lock.
        let slot = fast_slot(&mut t, index, generation, pd, request)?;
        commit(slot, region, 0, request);
        drop(t);
        Ok(())
    }
}

/// The fast-register MR slot `index` at `generation`, checked for a registration by PD `pd`:
/// a fast-register MR of `pd`, initialised for at least the listed pages, not valid now, and
/// initialised with `RemoteAccess` if remote rights are asked for.
fn fast_slot<'t>(
    t: &'t mut Slots,
    index: u32,
    generation: u16,
    pd: usize,
    request: &FastRegisterRequest<'_>,
) -> Result<&'t mut Slot, AccessError> {
    let slot = t
        .slots
        .get_mut(index as usize)
        .filter(|s| s.generation == generation)
        .ok_or(AccessError::StaleToken)?;
    let e = slot.entry.as_ref().ok_or(AccessError::StaleToken)?;
    if e.pd != pd {
        return Err(AccessError::WrongProtectionDomain);
    }
    let Kind::Fast { pages, remote } = e.kind else {
        return Err(AccessError::InvalidState);
    };
    if pages == 0 || e.mapping.is_some() {
        return Err(AccessError::InvalidState);
    }
    if request.pages.len() > pages as usize {
        return Err(AccessError::OutOfRange);
    }
    let wants_remote = request.access.0
        & (crate::engine::Access::REMOTE_READ.0 | crate::engine::Access::REMOTE_WRITE.0);
    if wants_remote != 0 && !remote {
        return Err(AccessError::AccessDenied);
    }
    Ok(slot)
}

/// Publishes the mapping on a slot [`fast_slot`] accepted; the slot's generation moves on, so
/// the previous token is stale and the new one usable as soon as the lock is released.
fn commit(slot: &mut Slot, region: Arc<Region>, offset: u64, request: &FastRegisterRequest<'_>) {
    if let Some(e) = slot.entry.as_mut() {
        e.mapping = Some(Mapping {
            region,
            offset,
            base_va: request.base_virtual_address,
            length: request.length,
            access: request.access,
        });
        slot.generation = slot.generation.wrapping_add(1);
    }
}
