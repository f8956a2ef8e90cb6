//! The Ethernet hub between `SoftNDK` adapters (netvmini's hub), as pure logic: which adapters
//! a frame goes to, and how each adapter's receive buffers are accounted.
//!
//! A frame sent on one adapter is copied to every *other* attached adapter whose receive
//! filter ([`RxFilter`], from its `OID_GEN_CURRENT_PACKET_FILTER`, MAC and multicast list)
//! accepts the destination address. [`Ports`] is the table of attached adapters the sender
//! walks under the hub lock; [`RxSlots`] is one adapter's fixed set of pre-allocated receive
//! buffers, lock-free so that any number of senders (at `DISPATCH_LEVEL`) and the adapter's
//! indication DPC and return handler can share it.
//!
//! Owns: the routing and filter decisions, and the life of a receive slot
//! (free → filling → ready → indicated → free). Must never: touch NDIS structures (the kernel
//! trampolines in `datapath`/`rx_ring` do), allocate, or block.
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use crate::sys::oid::{
    NDIS_PACKET_TYPE_ALL_MULTICAST, NDIS_PACKET_TYPE_BROADCAST, NDIS_PACKET_TYPE_DIRECTED,
    NDIS_PACKET_TYPE_MULTICAST, NDIS_PACKET_TYPE_PROMISCUOUS,
};

use super::config;
use super::oid::OidState;

/// An Ethernet (MAC) address.
pub type MacAddress = [u8; 6];

/// The broadcast address.
pub const BROADCAST: MacAddress = [0xFF; 6];

/// Smallest frame the hub carries: an Ethernet header.
pub const MIN_FRAME: usize = config::ETHERNET_HEADER as usize;
/// Largest frame the hub carries (and the size of one receive buffer).
pub const MAX_FRAME: usize = config::MAX_FRAME_SIZE as usize;
/// Most adapters one hub joins; attaching more fails (`MiniportInitializeEx` then fails with
/// `NDIS_STATUS_RESOURCES`).
pub const MAX_PORTS: usize = 16;
/// Receive buffers per adapter (the receive-buffer-space OID reports this many frames).
pub const RX_SLOTS: usize = config::FRAME_BUFFERS as usize;

const _: () = assert!(RX_SLOTS <= 64, "RxSlots keeps one bit per slot in a u64");

/// The destination address of a frame whose first bytes are `header`, if it is long enough to
/// be an Ethernet frame.
#[must_use]
pub const fn destination(header: &[u8]) -> Option<MacAddress> {
    match header.first_chunk::<6>() {
        Some(mac) => Some(*mac),
        None => None,
    }
}

/// Whether a frame of `len` bytes can cross the hub (an Ethernet header at least, an MTU-sized
/// payload at most). Others are dropped and counted as send discards.
#[must_use]
pub const fn frame_len_ok(len: usize) -> bool {
    len >= MIN_FRAME && len <= MAX_FRAME
}

/// What one adapter accepts: its packet filter, current MAC and multicast list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RxFilter {
    mac: MacAddress,
    packet_filter: u32,
    multicast: [MacAddress; config::MAX_MULTICAST_LIST],
    multicast_len: usize,
}

impl RxFilter {
    /// Accepts nothing (packet filter 0, as an adapter starts).
    #[must_use]
    pub const fn closed(mac: MacAddress) -> Self {
        Self {
            mac,
            packet_filter: 0,
            multicast: [[0; 6]; config::MAX_MULTICAST_LIST],
            multicast_len: 0,
        }
    }

    /// The filter an adapter's OID state describes.
    #[must_use]
    pub fn from_oid_state(state: &OidState) -> Self {
        let mut filter = Self::closed(state.current_mac);
        filter.packet_filter = state.packet_filter;
        let list = state.multicast_list();
        filter.multicast[..list.len()].copy_from_slice(list);
        filter.multicast_len = list.len();
        filter
    }

    /// Whether a frame to `dst` is indicated to this adapter.
    ///
    /// Promiscuous takes everything; broadcast needs `BROADCAST`; other group addresses need
    /// `ALL_MULTICAST`, or `MULTICAST` and the address in the list; unicast needs `DIRECTED`
    /// and this adapter's MAC.
    #[must_use]
    pub fn accepts(&self, dst: &MacAddress) -> bool {
        let filter = self.packet_filter;
        if filter & NDIS_PACKET_TYPE_PROMISCUOUS != 0 {
            return true;
        }
        if *dst == BROADCAST {
            return filter & NDIS_PACKET_TYPE_BROADCAST != 0;
        }
        if dst[0] & 1 != 0 {
            return filter & NDIS_PACKET_TYPE_ALL_MULTICAST != 0
                || (filter & NDIS_PACKET_TYPE_MULTICAST != 0
                    && self.multicast[..self.multicast_len].contains(dst));
        }
        filter & NDIS_PACKET_TYPE_DIRECTED != 0 && *dst == self.mac
    }
}

/// Index of an attached adapter in [`Ports`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortId(pub usize);

/// Every slot of the port table is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubFull;

#[derive(Debug)]
struct Port<P> {
    peer: P,
    filter: RxFilter,
}

/// The adapters attached to the hub, each with its receive filter. The kernel keeps one
/// behind the hub's spin lock; `P` is how it reaches an adapter.
#[derive(Debug)]
pub struct Ports<P, const N: usize> {
    slots: [Option<Port<P>>; N],
}

impl<P, const N: usize> Default for Ports<P, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P, const N: usize> Ports<P, N> {
    /// No adapter attached.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            slots: [const { None }; N],
        }
    }

    /// Attaches `peer` with `filter`.
    ///
    /// # Errors
    /// [`HubFull`] when all `N` ports are in use; nothing changes.
    pub fn attach(&mut self, peer: P, filter: RxFilter) -> Result<PortId, HubFull> {
        let index = self.slots.iter().position(Option::is_none).ok_or(HubFull)?;
        self.slots[index] = Some(Port { peer, filter });
        Ok(PortId(index))
    }

    /// Detaches the adapter at `id`; returns it (`None` if the port was empty).
    pub fn detach(&mut self, id: PortId) -> Option<P> {
        self.slots
            .get_mut(id.0)
            .and_then(Option::take)
            .map(|p| p.peer)
    }

    /// Replaces the filter of the adapter at `id`; false if the port is empty.
    pub fn set_filter(&mut self, id: PortId, filter: RxFilter) -> bool {
        match self.slots.get_mut(id.0) {
            Some(Some(port)) => {
                port.filter = filter;
                true
            }
            _ => false,
        }
    }

    /// Adapters attached now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether no adapter is attached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every adapter but `from` whose filter accepts a frame to `dst`.
    pub fn receivers<'a>(
        &'a self,
        from: PortId,
        dst: &'a MacAddress,
    ) -> impl Iterator<Item = &'a P> + 'a {
        self.slots
            .iter()
            .enumerate()
            .filter(move |(index, _)| *index != from.0)
            .filter_map(|(_, port)| port.as_ref())
            .filter(move |port| port.filter.accepts(dst))
            .map(|port| &port.peer)
    }
}

/// A slot index the pool did not hand out (a bad `MiniportReserved` value, or a double
/// return): refused without change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotInUse(pub usize);

/// One adapter's receive buffers: which are free and which are filled and waiting to be
/// indicated. Lock-free (two atomic bitmaps).
///
/// A slot goes free → filling ([`RxSlots::take`], by a sender) → ready ([`RxSlots::publish`])
/// → indicated ([`RxSlots::drain`], by the indication DPC) → free ([`RxSlots::give`], from
/// `MiniportReturnNetBufferLists`, or from the DPC when it drops a frame).
///
/// # Invariants
/// A bit set in `free` is a slot nobody owns; every other slot below `count` has exactly one
/// owner (a sender, the ready set, or NDIS). `ready` only holds slots not in `free`.
#[derive(Debug)]
pub struct RxSlots {
    free: AtomicU64,
    ready: AtomicU64,
    count: usize,
}

const fn low_bits(count: usize) -> u64 {
    if count >= 64 {
        u64::MAX
    } else {
        (1_u64 << count) - 1
    }
}

impl RxSlots {
    /// `count` free slots (at most 64).
    ///
    /// # Panics
    /// If `count > 64` (a build-time constant in practice).
    #[must_use]
    pub const fn new(count: usize) -> Self {
        assert!(count <= 64, "at most 64 receive slots");
        Self {
            free: AtomicU64::new(low_bits(count)),
            ready: AtomicU64::new(0),
            count,
        }
    }

    /// Number of slots.
    #[must_use]
    pub const fn count(&self) -> usize {
        self.count
    }

    /// Takes a free slot for filling; `None` when every slot is in use (the frame is dropped
    /// and counted as "no receive buffer").
    pub fn take(&self) -> Option<usize> {
        let mut current = self.free.load(Ordering::Acquire);
        loop {
            if current == 0 {
                return None;
            }
            let index = current.trailing_zeros() as usize;
            let next = current & !(1 << index);
            match self.free.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(index),
                Err(seen) => current = seen,
            }
        }
    }

    /// Marks a filled slot ready for indication. The caller owns `index` (from `take`); its
    /// buffer writes happen before this (release).
    ///
    /// # Errors
    /// [`NotInUse`] if `index` is out of range or free; nothing changes.
    pub fn publish(&self, index: usize) -> Result<(), NotInUse> {
        let bit = self.bit(index)?;
        if self.free.load(Ordering::Acquire) & bit != 0 {
            return Err(NotInUse(index));
        }
        self.ready.fetch_or(bit, Ordering::Release);
        Ok(())
    }

    /// Takes every ready slot (acquire: their buffers are complete). The caller now owns them.
    pub fn drain(&self) -> SlotSet {
        SlotSet(self.ready.swap(0, Ordering::AcqRel))
    }

    /// Returns an owned slot to the free set.
    ///
    /// # Errors
    /// [`NotInUse`] if `index` is out of range or already free; nothing changes.
    pub fn give(&self, index: usize) -> Result<(), NotInUse> {
        let bit = self.bit(index)?;
        let before = self.free.fetch_or(bit, Ordering::AcqRel);
        if before & bit == 0 {
            Ok(())
        } else {
            Err(NotInUse(index))
        }
    }

    /// Slots not free (filling, ready or indicated).
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.count - self.free.load(Ordering::Acquire).count_ones() as usize
    }

    const fn bit(&self, index: usize) -> Result<u64, NotInUse> {
        if index < self.count {
            Ok(1 << index)
        } else {
            Err(NotInUse(index))
        }
    }
}

/// A set of slot indices taken by [`RxSlots::drain`]; iterates in ascending order.
#[derive(Debug, PartialEq, Eq)]
pub struct SlotSet(u64);

impl SlotSet {
    /// Number of slots in the set.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

impl Iterator for SlotSet {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let index = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(index)
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
