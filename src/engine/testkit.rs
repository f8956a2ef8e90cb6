//! Host-only reference implementations of the engine's traits, over plain `Vec<u8>` regions.
//!
//! For the engine's own tests and benchmarks, and as an executable description of what the
//! verbs layer must implement. Never compiled into the kernel build.
//!
//! * [`Arena`] owns the bytes of every region and is the [`Copier`].
//! * [`TestMemory`] is one protection domain's token table: normal MRs, fast-register MRs and
//!   memory windows, with generations so an invalidated token becomes stale.
//! * [`VecSink`] collects completions per CQ with an optional capacity (to provoke overruns).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::completer::{CompletionSink, Overrun};
use super::memory::{BindRequest, Copier, FastRegisterRequest, MemorySpace, RegionSlice};
use super::types::{Access, AccessError, Completion, CqId, MemoryHandle, Sge};

/// The bytes of every region, addressed by region number.
#[derive(Debug, Default)]
pub struct Arena {
    regions: Vec<Vec<u8>>,
    settles: u64,
}

impl Arena {
    /// Add a region holding `bytes`; returns its number.
    pub fn add(&mut self, bytes: Vec<u8>) -> u64 {
        self.regions.push(bytes);
        self.regions.len() as u64 - 1
    }

    /// Steps settled so far ([`Copier::settle`]).
    #[must_use]
    pub const fn settles(&self) -> u64 {
        self.settles
    }

    /// Number of regions.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.regions.len() as u64
    }

    /// Whether there is no region.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// A region's bytes.
    ///
    /// # Panics
    ///
    /// On an unknown region number (test code only).
    #[must_use]
    pub fn bytes(&self, region: u64) -> &[u8] {
        &self.regions[usize::try_from(region).expect("region")]
    }

    /// A region's bytes, mutably.
    ///
    /// # Panics
    ///
    /// On an unknown region number (test code only).
    pub fn bytes_mut(&mut self, region: u64) -> &mut [u8] {
        &mut self.regions[usize::try_from(region).expect("region")]
    }
}

fn range(s: RegionSlice) -> core::ops::Range<usize> {
    let start = usize::try_from(s.offset).expect("offset");
    start..start + s.length as usize
}

impl Copier for Arena {
    fn copy(&mut self, from: RegionSlice, to: RegionSlice) {
        let (fi, ti) = (
            usize::try_from(from.region).expect("region"),
            usize::try_from(to.region).expect("region"),
        );
        match fi.cmp(&ti) {
            core::cmp::Ordering::Equal => {
                self.regions[fi].copy_within(range(from), range(to).start);
            }
            core::cmp::Ordering::Less => {
                let (lo, hi) = self.regions.split_at_mut(ti);
                hi[0][range(to)].copy_from_slice(&lo[fi][range(from)]);
            }
            core::cmp::Ordering::Greater => {
                let (lo, hi) = self.regions.split_at_mut(fi);
                lo[ti][range(to)].copy_from_slice(&hi[0][range(from)]);
            }
        }
    }

    fn settle(&mut self) {
        self.settles += 1;
    }

    fn copy_in(&mut self, from: &[u8], to: RegionSlice) {
        self.bytes_mut(to.region)[range(to)].copy_from_slice(from);
    }
}

/// Kind of a token table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Registered,
    FastRegister,
    Window,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    kind: Kind,
    region: u64,
    /// Offset in the region of the byte at `base_va`.
    offset: u64,
    /// Bytes of the region available to this entry from `offset` (fast-register capacity).
    capacity: u64,
    base_va: u64,
    length: u64,
    access: Access,
    valid: bool,
    generation: u8,
}

/// One protection domain's token table. Tokens are `pd << 24 | index << 8 | generation`.
#[derive(Debug)]
pub struct TestMemory {
    pd: u32,
    entries: RefCell<Vec<Entry>>,
}

impl TestMemory {
    /// An empty protection domain numbered `pd` (< 256).
    #[must_use]
    pub const fn new(pd: u32) -> Self {
        Self {
            pd,
            entries: RefCell::new(Vec::new()),
        }
    }

    fn add(&self, e: Entry) -> MemoryHandle {
        let mut v = self.entries.borrow_mut();
        v.push(e);
        MemoryHandle(v.len() - 1)
    }

    /// `NdkRegisterMr`: `length` bytes of `region` from offset 0, addressed from `base_va`.
    pub fn register(&self, region: u64, base_va: u64, length: u64, access: Access) -> MemoryHandle {
        self.add(Entry {
            kind: Kind::Registered,
            region,
            offset: 0,
            capacity: length,
            base_va,
            length,
            access,
            valid: true,
            generation: 0,
        })
    }

    /// A fast-register MR over `capacity` bytes of `region`, invalid until fast-registered.
    pub fn fast_register_mr(&self, region: u64, capacity: u64) -> MemoryHandle {
        self.add(Entry {
            kind: Kind::FastRegister,
            region,
            offset: 0,
            capacity,
            base_va: 0,
            length: 0,
            access: Access::LOCAL_READ,
            valid: false,
            generation: 0,
        })
    }

    /// A memory window, invalid until bound.
    pub fn window(&self) -> MemoryHandle {
        self.add(Entry {
            kind: Kind::Window,
            region: 0,
            offset: 0,
            capacity: 0,
            base_va: 0,
            length: 0,
            access: Access::LOCAL_READ,
            valid: false,
            generation: 0,
        })
    }

    /// The current token of `handle`.
    ///
    /// # Panics
    ///
    /// On an unknown handle (test code only).
    #[must_use]
    pub fn token(&self, handle: MemoryHandle) -> u32 {
        let e = self.entries.borrow()[handle.0];
        (self.pd << 24) | (u32::try_from(handle.0).expect("index") << 8) | u32::from(e.generation)
    }

    /// Whether `handle` is currently valid.
    #[must_use]
    pub fn is_valid(&self, handle: MemoryHandle) -> bool {
        self.entries.borrow()[handle.0].valid
    }

    /// The live entry `token` names: PD, index, generation and validity checked, in that order.
    #[inline]
    fn entry(entries: &[Entry], pd: u32, token: u32) -> Result<(usize, &Entry), AccessError> {
        if token >> 24 != pd {
            return Err(AccessError::WrongProtectionDomain);
        }
        let index = ((token >> 8) & 0xFFFF) as usize;
        let e = entries.get(index).ok_or(AccessError::UnknownToken)?;
        if e.generation != (token & 0xFF) as u8 || !e.valid {
            return Err(AccessError::StaleToken);
        }
        Ok((index, e))
    }

    fn lookup(&self, token: u32) -> Result<usize, AccessError> {
        Self::entry(&self.entries.borrow(), self.pd, token).map(|(index, _)| index)
    }

    /// Resolve `[address, address + length)` through `token` with rights `need`: one borrow of
    /// the table and no copy of the entry (this runs for every SGE and remote access).
    #[inline]
    fn slice(
        &self,
        token: u32,
        address: u64,
        length: u32,
        need: Access,
    ) -> Result<RegionSlice, AccessError> {
        let entries = self.entries.borrow();
        let (_, e) = Self::entry(&entries, self.pd, token)?;
        if !e.access.allows(need) {
            return Err(AccessError::AccessDenied);
        }
        let start = address
            .checked_sub(e.base_va)
            .ok_or(AccessError::OutOfRange)?;
        let end = start
            .checked_add(u64::from(length))
            .ok_or(AccessError::OutOfRange)?;
        if end > e.length {
            return Err(AccessError::OutOfRange);
        }
        Ok(RegionSlice {
            region: e.region,
            offset: e.offset + start,
            length,
        })
    }

    fn invalidate_index(&self, index: usize) -> Result<(), AccessError> {
        let mut v = self.entries.borrow_mut();
        let e = &mut v[index];
        if e.kind == Kind::Registered || !e.valid {
            return Err(AccessError::InvalidState);
        }
        e.valid = false;
        e.generation = e.generation.wrapping_add(1);
        Ok(())
    }
}

impl MemorySpace for TestMemory {
    #[inline]
    fn resolve_local(&self, sge: &Sge, need: Access) -> Result<RegionSlice, AccessError> {
        // The test PD has no privileged token; read-sink is not required (the adapter would
        // set RDMA_READ_SINK_NOT_REQUIRED).
        let need = Access(need.0 & !Access::READ_SINK.0);
        self.slice(sge.token, sge.address, sge.length, need)
    }

    #[inline]
    fn resolve_remote(
        &self,
        token: u32,
        address: u64,
        length: u32,
        need: Access,
    ) -> Result<RegionSlice, AccessError> {
        self.slice(token, address, length, need)
    }

    fn bind(&self, request: &BindRequest) -> Result<(), AccessError> {
        let mut v = self.entries.borrow_mut();
        let mr = *v.get(request.mr.0).ok_or(AccessError::UnknownToken)?;
        let mw = v.get_mut(request.mw.0).ok_or(AccessError::UnknownToken)?;
        if mw.kind != Kind::Window || mr.kind == Kind::Window || !mr.valid || mw.valid {
            return Err(AccessError::InvalidState);
        }
        if request.access.allows(Access::REMOTE_WRITE) && !mr.access.allows(Access::LOCAL_WRITE) {
            return Err(AccessError::AccessDenied);
        }
        let start = request
            .virtual_address
            .checked_sub(mr.base_va)
            .ok_or(AccessError::OutOfRange)?;
        if start
            .checked_add(request.length)
            .is_none_or(|end| end > mr.length)
        {
            return Err(AccessError::OutOfRange);
        }
        *mw = Entry {
            kind: Kind::Window,
            region: mr.region,
            offset: mr.offset + start,
            capacity: request.length,
            base_va: request.virtual_address,
            length: request.length,
            access: request.access,
            valid: true,
            generation: mw.generation.wrapping_add(1),
        };
        Ok(())
    }

    fn fast_register(&self, request: &FastRegisterRequest<'_>) -> Result<(), AccessError> {
        let mut v = self.entries.borrow_mut();
        let e = v.get_mut(request.mr.0).ok_or(AccessError::UnknownToken)?;
        if e.kind != Kind::FastRegister || e.valid {
            return Err(AccessError::InvalidState);
        }
        let offset = u64::from(request.first_byte_offset);
        if offset + request.length > e.capacity {
            return Err(AccessError::OutOfRange);
        }
        e.offset = offset;
        e.base_va = request.base_virtual_address;
        e.length = request.length;
        e.access = request.access;
        e.valid = true;
        e.generation = e.generation.wrapping_add(1);
        Ok(())
    }

    fn invalidate(&self, target: MemoryHandle) -> Result<(), AccessError> {
        if target.0 >= self.entries.borrow().len() {
            return Err(AccessError::UnknownToken);
        }
        self.invalidate_index(target.0)
    }

    fn invalidate_token(&self, token: u32) -> Result<(), AccessError> {
        let index = self.lookup(token)?;
        self.invalidate_index(index)
    }
}

/// Completions per CQ, with an optional capacity per CQ (beyond it: overrun, sticky).
#[derive(Debug, Default)]
pub struct VecSink {
    /// Completions received, per CQ, in arrival order.
    pub cqs: BTreeMap<CqId, Vec<Completion>>,
    capacity: BTreeMap<CqId, usize>,
    overrun: Vec<CqId>,
}

impl VecSink {
    /// Limit CQ `cq` to `entries` completions.
    pub fn limit(&mut self, cq: CqId, entries: usize) {
        self.capacity.insert(cq, entries);
    }

    /// Completions of `cq` so far.
    #[must_use]
    pub fn of(&self, cq: CqId) -> &[Completion] {
        self.cqs.get(&cq).map_or(&[], Vec::as_slice)
    }

    /// Remove and return the completions of `cq` (a consumer polling).
    pub fn drain(&mut self, cq: CqId) -> Vec<Completion> {
        self.cqs
            .get_mut(&cq)
            .map(core::mem::take)
            .unwrap_or_default()
    }

    /// Whether `cq` has overrun.
    #[must_use]
    pub fn is_overrun(&self, cq: CqId) -> bool {
        self.overrun.contains(&cq)
    }
}

impl CompletionSink for VecSink {
    fn push(&mut self, cq: CqId, completion: Completion) -> Result<(), Overrun> {
        if self.overrun.contains(&cq) {
            return Err(Overrun);
        }
        let list = self.cqs.entry(cq).or_default();
        if self.capacity.get(&cq).is_some_and(|&cap| list.len() >= cap) {
            self.overrun.push(cq);
            return Err(Overrun);
        }
        list.push(completion);
        Ok(())
    }
}

/// CQ numbers a [`Pair`] uses: side A's initiator and receive CQs, side B's.
pub const CQS: [[CqId; 2]; 2] = [[CqId(1), CqId(2)], [CqId(3), CqId(4)]];

/// A registered test buffer.
#[derive(Clone, Copy, Debug)]
pub struct Buf {
    /// Region number in the [`Arena`].
    pub region: u64,
    /// The MR.
    pub mr: MemoryHandle,
    /// Its token.
    pub token: u32,
    /// Address of its first byte.
    pub va: u64,
    /// Its length.
    pub len: u32,
}

impl Buf {
    /// An SGE for `[offset, offset + length)` of the buffer.
    #[must_use]
    pub const fn sge(&self, offset: u32, length: u32) -> Sge {
        Sge {
            address: self.va + offset as u64,
            length,
            token: self.token,
        }
    }

    /// An SGE for the whole buffer.
    #[must_use]
    pub const fn all(&self) -> Sge {
        self.sge(0, self.len)
    }
}

/// A default QP configuration for tests: depth 64 each way, 4 SGEs, 64 inline bytes, 1 MiB
/// transfers, CQs from [`CQS`] for `side`.
#[must_use]
pub const fn config(side: usize) -> super::EndpointConfig {
    super::EndpointConfig {
        qp_context: 0x100 + side,
        initiator_cq: CQS[side][0],
        receive_cq: CQS[side][1],
        initiator_depth: 64,
        receive_depth: 64,
        max_initiator_sge: 4,
        max_receive_sge: 4,
        max_read_sge: 4,
        inline_data_size: 64,
        max_transfer_length: 1 << 20,
        uses_srq: false,
        read_local_invalidate_supported: true,
    }
}

/// Two QPs (sides 0 and 1) in separate protection domains, with their memory and one sink.
#[derive(Debug)]
pub struct Pair {
    /// Bytes of every buffer.
    pub arena: Arena,
    /// Each side's protection domain.
    pub mem: [TestMemory; 2],
    /// Each side's QP.
    pub ep: [super::Endpoint; 2],
    /// Every completion.
    pub sink: VecSink,
}

impl Pair {
    /// Two idle QPs with the given configurations.
    ///
    /// # Panics
    ///
    /// If the endpoints cannot be created (test code only).
    #[must_use]
    pub fn new(a: super::EndpointConfig, b: super::EndpointConfig) -> Self {
        Self {
            arena: Arena::default(),
            mem: [TestMemory::new(1), TestMemory::new(2)],
            ep: [
                super::Endpoint::try_new(a).expect("endpoint"),
                super::Endpoint::try_new(b).expect("endpoint"),
            ],
            sink: VecSink::default(),
        }
    }

    /// Two QPs with [`config`], connected with ORD = IRD = 4.
    ///
    /// # Panics
    ///
    /// Never for fresh endpoints (test code only).
    #[must_use]
    pub fn connected() -> Self {
        let mut p = Self::new(config(0), config(1));
        p.ep[0].connect(4, 4).expect("connect");
        p.ep[1].connect(4, 4).expect("connect");
        p
    }

    /// Register `bytes` on `side` with `access`.
    ///
    /// # Panics
    ///
    /// If `bytes` is longer than `u32::MAX` (test code only).
    pub fn buffer(&mut self, side: usize, bytes: Vec<u8>, access: Access) -> Buf {
        let len = u32::try_from(bytes.len()).expect("len");
        let region = self.arena.add(bytes);
        let va = 0x1_0000_0000 * (region + 1);
        let mr = self.mem[side].register(region, va, u64::from(len), access);
        Buf {
            region,
            mr,
            token: self.mem[side].token(mr),
            va,
            len,
        }
    }

    /// Post an initiator request on `side`.
    ///
    /// # Errors
    ///
    /// The post's refusal.
    pub fn post(
        &mut self,
        side: usize,
        context: usize,
        request: super::WorkRequest<'_>,
        flags: super::OpFlags,
    ) -> Result<(), super::PostError> {
        self.ep[side].post(&self.mem[side], context, request, flags)
    }

    /// Post a receive on `side`.
    ///
    /// # Errors
    ///
    /// The post's refusal.
    pub fn receive(
        &mut self,
        side: usize,
        context: usize,
        sges: &[Sge],
    ) -> Result<(), super::PostError> {
        self.ep[side].post_receive(context, sges)
    }

    /// Run both directions to completion.
    pub fn progress(&mut self) -> super::Progress {
        let [a, b] = &mut self.ep;
        super::progress(
            super::Side {
                endpoint: a,
                memory: &self.mem[0],
                srq: None,
            },
            super::Side {
                endpoint: b,
                memory: &self.mem[1],
                srq: None,
            },
            &mut self.arena,
            &mut self.sink,
            u32::MAX,
        )
    }

    /// Completions of `side`'s initiator (`queue` 0) or receive (`queue` 1) CQ.
    #[must_use]
    pub fn cq(&self, side: usize, queue: usize) -> &[Completion] {
        self.sink.of(CQS[side][queue])
    }
}
