//! One adapter's receive buffers as NDIS sees them: an NBL pool, and per slot a frame buffer
//! in non-paged pool, an MDL over it and an NBL with one `NET_BUFFER` over that MDL, all made
//! once in `MiniportInitializeEx` and freed in `MiniportHaltEx` (or on a failed initialize).
//!
//! Which slot is free, being filled, ready or indicated is [`super::hub::RxSlots`]' business;
//! this module only maps a slot index to its memory and NBL. Must never: allocate after
//! creation, or free an NBL NDIS still holds (halt runs only after the pause that waited for
//! every indicated NBL to come back).
#![allow(unsafe_code)]

use core::alloc::Layout;
use core::ptr::{NonNull, null_mut};

use crate::sys::ffi::{
    NdisAllocateMdl, NdisAllocateNetBufferAndNetBufferList, NdisAllocateNetBufferListPool,
    NdisFreeMdl, NdisFreeNetBufferList, NdisFreeNetBufferListPool,
};
use crate::sys::mm::MDL;
use crate::sys::nbl::{
    NDIS_PROTOCOL_ID_DEFAULT, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
    NET_BUFFER_LIST, NET_BUFFER_LIST_POOL_PARAMETERS, NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
};
use crate::sys::ndis::NDIS_OBJECT_TYPE_DEFAULT;
use crate::sys::{NDIS_HANDLE, object_header};

use crate::platform::prelude::*;
use crate::platform::{PSlice, Platform};

use super::hub::{MAX_FRAME, RX_SLOTS, RxSlots};

/// Pool tag of the NBL pool (`'SNdk'` read little-endian, as the kernel allocator's).
const POOL_TAG: u32 = u32::from_le_bytes(*b"SNdk");
/// Distance between two frame buffers: a frame rounded up to a cache line.
const SLOT_STRIDE: usize = MAX_FRAME.next_multiple_of(64);

/// The receive side of one adapter.
///
/// # Invariants
/// `buffers` is a live pool block of `RX_SLOTS * SLOT_STRIDE` bytes (aligned to 64) owned by
/// the ring; `table` has `RX_SLOTS` entries, and for each slot `i`, `table[i].mdl` (if
/// non-null) describes bytes `[i * SLOT_STRIDE, i * SLOT_STRIDE + MAX_FRAME)` of it and
/// `table[i].nbl` (if non-null) is an NBL from `pool` whose one `NET_BUFFER` describes that
/// MDL. After [`RxRing::try_new`] succeeds every pointer is non-null. The slot's frame buffer
/// and NBL are accessed only by the slot's owner per `slots`.
pub(super) struct RxRing {
    pool: NDIS_HANDLE,
    buffers: NonNull<u8>,
    table: PSlice<SlotObjects>,
    /// Who owns which slot.
    pub(super) slots: RxSlots,
}

/// The NDIS objects of one slot. (In their own pool table rather than inline arrays: the
/// adapter is built by value, and kernel stack frames must stay small.)
#[derive(Clone, Copy, Debug)]
struct SlotObjects {
    mdl: *mut MDL,
    nbl: *mut NET_BUFFER_LIST,
}

#[expect(
    clippy::non_send_fields_in_send_ty,
    reason = "the NDIS object pointers in `table` are what the SAFETY argument is about"
)]
// SAFETY: the ring's raw pointers are pool memory and NDIS objects not tied to a thread;
// concurrent access to one slot is excluded by `slots` (type invariant), and the pointers
// themselves never change after creation.
unsafe impl Send for RxRing {}
// SAFETY: see `Send`; `&RxRing` only hands out the fixed pointers.
unsafe impl Sync for RxRing {}

/// The frame buffers' block: every slot, cache-line aligned.
const BUFFERS_LAYOUT: Layout = match Layout::from_size_align(RX_SLOTS * SLOT_STRIDE, 64) {
    Ok(layout) => layout,
    Err(_) => panic!("the receive buffer block has a valid layout"),
};

impl RxRing {
    /// Allocates everything for `RX_SLOTS` receive buffers of adapter `handle`; `None` when any
    /// allocation fails (everything made so far is freed).
    ///
    /// # Safety
    /// `handle` is the miniport adapter handle, at `IRQL <= DISPATCH_LEVEL` (initialize runs
    /// at PASSIVE).
    pub(super) unsafe fn try_new(platform: &Platform, handle: NDIS_HANDLE) -> Option<Self> {
        let table = platform
            .try_slice(RX_SLOTS, |_| SlotObjects {
                mdl: null_mut(),
                nbl: null_mut(),
            })
            .ok()?;
        // SAFETY: the layout has a non-zero size.
        let buffers = NonNull::new(unsafe { alloc::alloc::alloc(BUFFERS_LAYOUT) })?;
        let mut ring = Self {
            pool: null_mut(),
            buffers,
            table,
            slots: RxSlots::new(RX_SLOTS),
        };
        let mut parameters = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: object_header(
                NDIS_OBJECT_TYPE_DEFAULT,
                NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: 1,
            ContextSize: 0,
            PoolTag: POOL_TAG,
            DataSize: 0,
        };
        // SAFETY: adapter handle and IRQL per the contract; `parameters` is a live local that
        // NDIS reads during the call.
        ring.pool = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut parameters) };
        if ring.pool.is_null() {
            return None;
        }
        let frame = u32::try_from(MAX_FRAME).ok()?;
        for slot in 0..RX_SLOTS {
            let buffer = ring.buffer(slot);
            // SAFETY: `buffer` is `MAX_FRAME` bytes of the ring's non-paged block (type
            // invariant), which outlives the MDL (freed first in `drop`).
            let mdl = unsafe { NdisAllocateMdl(handle, buffer.cast(), frame) };
            if mdl.is_null() {
                return None;
            }
            ring.table[slot].mdl = mdl;
            // SAFETY: `pool` was created with `fAllocateNetBuffer` and `DataSize == 0`; `mdl`
            // describes `MAX_FRAME` bytes, the data length given.
            let nbl = unsafe {
                NdisAllocateNetBufferAndNetBufferList(ring.pool, 0, 0, mdl, 0, MAX_FRAME)
            };
            if nbl.is_null() {
                return None;
            }
            // SAFETY: a fresh NBL the ring owns; `MiniportReserved` is the miniport's.
            unsafe { (*nbl).MiniportReserved[0] = slot };
            ring.table[slot].nbl = nbl;
        }
        Some(ring)
    }

    /// Start of slot `slot`'s frame buffer (`MAX_FRAME` bytes). No dereference.
    pub(super) const fn buffer(&self, slot: usize) -> *mut u8 {
        self.buffers.as_ptr().wrapping_add(slot * SLOT_STRIDE)
    }

    /// Slot `slot`'s NBL (null only while `try_new` is still filling the ring).
    pub(super) fn nbl(&self, slot: usize) -> *mut NET_BUFFER_LIST {
        self.table
            .get(slot)
            .map_or(null_mut(), |objects| objects.nbl)
    }

    /// The receive slot an NBL NDIS returned belongs to, if it is one of this ring's.
    pub(super) fn slot_of(&self, nbl: *mut NET_BUFFER_LIST) -> Option<usize> {
        if nbl.is_null() {
            return None;
        }
        // SAFETY: NDIS returns only NBLs this miniport indicated, which are this ring's; their
        // `MiniportReserved` is ours. The index is checked against the table before use.
        let slot = unsafe { (*nbl).MiniportReserved[0] };
        (self.nbl(slot) == nbl).then_some(slot)
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        debug_assert_eq!(self.slots.in_use(), 0, "receive NBLs still out at free");
        for objects in self.table.iter() {
            let nbl = objects.nbl;
            if !nbl.is_null() {
                // SAFETY: an NBL from this ring's pool that NDIS no longer holds (every
                // indicated NBL was returned before the pause that precedes halt completed).
                unsafe { NdisFreeNetBufferList(nbl) };
            }
            let mdl = objects.mdl;
            if !mdl.is_null() {
                // SAFETY: an MDL from NdisAllocateMdl, no longer referenced by any NBL.
                unsafe { NdisFreeMdl(mdl) };
            }
        }
        if !self.pool.is_null() {
            // SAFETY: every NBL of the pool was freed just above.
            unsafe { NdisFreeNetBufferListPool(self.pool) };
        }
        // SAFETY: `buffers` came from `alloc` with this layout; no MDL describes it any more.
        unsafe { alloc::alloc::dealloc(self.buffers.as_ptr(), BUFFERS_LAYOUT) };
    }
}
