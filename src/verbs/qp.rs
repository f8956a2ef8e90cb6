//! The queue pair (RC) and its connection: posting, flush, execution, and the pairing hook the
//! connection manager calls.
//!
//! Owns the QP's engine endpoint, which lives in a [`Connection`]: alone (one side) until
//! [`connect_pair`] moves both endpoints under one lock, the connection lock
//! ([`lock_order::CONNECTION`]) that serialises execution in both directions. Every post takes the
//! connection lock, hands the validated request to the engine, then runs
//! [`crate::engine::progress`] in bounded passes; between passes the lock is
//! released and the pins (units on the MRs the pass touched) are dropped, so no MR is finalised
//! under a lock. Completions go into the CQs through a [`CompletionSink`] over their rings.
//!
//! It must never call the consumer: notifications are the CQ's DPC's job, and the only callbacks
//! that can run from here are close completions of MRs whose last pin is dropped after every
//! lock is released.
#![deny(unsafe_code)]

use core::cell::RefCell;

use crate::abi::upcall::{CloseCompletion, NdkCell};
use crate::abi::{
    NDK_QP, NTSTATUS, STATUS_ACCESS_VIOLATION, STATUS_CONNECTION_ACTIVE, STATUS_CONNECTION_INVALID,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_PARAMETER,
};
use crate::engine::{
    self, Access, AccessError, BindRequest, Blocked, Completion, CompletionSink, Copier, CqId,
    Endpoint, EndpointConfig, ErrorCause, FastRegisterRequest, MemoryHandle, MemorySpace, Overrun,
    PostError, QpState, ReceiveQueue, RegionSlice, Sge,
};
use crate::lifetime::{AlreadyClosing, Base, Closed, Links, Node, Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{PVec, Region, SetOnce, SpinLock};
use crate::sync::Arc;

use super::memory::{MemoryTable, Requester};
use super::misuse::PostMarkers;
use super::mr::{Pin, PinList};
use super::{Closer, Cq, Pd, Srq, lock_order};

/// Requests one execution pass may run before the connection lock is released.
pub const PASS_BUDGET: u32 = 8;

/// Creation parameters of a QP (already checked against the adapter by [`Qp::create`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpConfig {
    /// `QPContext`, as an integer.
    pub context: usize,
    /// `ReceiveQueueDepth`.
    pub receive_depth: u32,
    /// `InitiatorQueueDepth`.
    pub initiator_depth: u32,
    /// `MaxReceiveRequestSge`.
    pub max_receive_sge: u32,
    /// `MaxInitiatorRequestSge`.
    pub max_initiator_sge: u32,
    /// `InlineDataSize`.
    pub inline_data_size: u32,
}

/// One side of a connection: a QP's endpoint and what executing it needs.
struct Side {
    /// The owning QP's address (which side is whose).
    owner: usize,
    endpoint: Endpoint,
    pd: Arc<Pd>,
    receive_cq: Arc<Cq>,
    initiator_cq: Arc<Cq>,
    /// The SRQ its receives come from (QPs created with `NdkCreateQpWithSrq`).
    srq: Option<Arc<Srq>>,
}

/// Everything behind a connection lock.
struct Pair {
    sides: [Option<Side>; 2],
    pins: PVec<Pin>,
}

/// A connection: one QP's endpoint, or both endpoints of a connected pair, under one lock.
pub struct Connection {
    state: SpinLock<Pair>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// Pins moved out of the connection per lock acquisition, to be dropped once it is released.
/// A pass usually leaves two or three (a write pins its source and target ranges), so one
/// batch empties the list in the same acquisition as the pass: each extra lock round trip
/// costs two locked instructions plus the platform's release work.
const PIN_BATCH: usize = 8;

/// Moves up to [`PIN_BATCH`] pins into `batch` (which is empty), last first (the order `pop`
/// would drop them in), and answers whether any are left. Filled in place: returning the
/// array by value made the compiler copy it twice per pass.
fn take_pins(pins: &mut PVec<Pin>, batch: &mut [Option<Pin>; PIN_BATCH]) -> bool {
    for slot in batch {
        let Some(pin) = pins.pop() else {
            return false;
        };
        // `batch` starts empty, so this replaces nothing; matching on the old value (rather
        // than assigning over it) keeps a call to the pin's drop glue off the path.
        if let Some(stale) = slot.replace(pin) {
            drop(stale);
        }
    }
    !pins.is_empty()
}

impl Connection {
    /// Drops the pins of finished passes, a batch per lock acquisition and with no lock held
    /// while dropping (the last pin of a closing MR completes its close).
    fn drain_pins(&self) {
        loop {
            // The batch is dropped in place at the end of the block (`drop(batch)` would first
            // copy the whole array).
            let more = {
                let mut batch = [const { None }; PIN_BATCH];
                take_pins(&mut self.state.lock().pins, &mut batch)
            };
            if !more {
                return;
            }
        }
    }
}

/// The engine's view of one PD's memory for one pass.
struct PdMemory<'p, 'l> {
    pd: &'p Pd,
    pins: &'p RefCell<PinList<'l>>,
}

impl PdMemory<'_, '_> {
    fn requester(&self, remote: bool) -> Requester {
        Requester {
            pd: self.pd.identity(),
            privileged: self.pd.privileged_token(),
            remote,
        }
    }

    fn table(&self) -> &MemoryTable {
        self.pd.adapter().memory()
    }
}

impl MemorySpace for PdMemory<'_, '_> {
    fn resolve_local(&self, sge: &Sge, need: Access) -> Result<RegionSlice, AccessError> {
        self.table().resolve(
            self.requester(false),
            sge.token,
            sge.address,
            sge.length,
            need,
            &mut self.pins.borrow_mut(),
        )
    }

    fn resolve_remote(
        &self,
        token: u32,
        address: u64,
        length: u32,
        need: Access,
    ) -> Result<RegionSlice, AccessError> {
        self.table().resolve(
            self.requester(true),
            token,
            address,
            length,
            need,
            &mut self.pins.borrow_mut(),
        )
    }

    fn bind(&self, request: &BindRequest) -> Result<(), AccessError> {
        self.table()
            .bind(self.pd.identity(), request, &mut self.pins.borrow_mut())
    }

    fn fast_register(&self, request: &FastRegisterRequest<'_>) -> Result<(), AccessError> {
        self.table()
            .fast_register(self.pd.adapter().platform(), self.pd.identity(), request)
    }

    fn invalidate(&self, target: MemoryHandle) -> Result<(), AccessError> {
        #[allow(clippy::cast_possible_truncation)] // handles are u32 tokens (`MemoryTable::handle`)
        self.invalidate_token(target.0 as u32)
    }

    /// The token goes stale now; the step's completions wait (in [`Copier::settle`]) for the
    /// copies other processors still make into the memory it named.
    fn invalidate_token(&self, token: u32) -> Result<(), AccessError> {
        let fence = self.table().invalidate(self.pd.identity(), token)?;
        self.pins.borrow_mut().fence_after_step(fence);
        Ok(())
    }
}

/// The byte copy over pinned regions.
struct PinCopier<'p, 'l> {
    pins: &'p RefCell<PinList<'l>>,
}

impl Copier for PinCopier<'_, '_> {
    fn copy(&mut self, from: RegionSlice, to: RegionSlice) {
        let pins = self.pins.borrow();
        if let (Some(src), Some(dst), Ok(src_off), Ok(dst_off)) = (
            pins.region(from.region),
            pins.region(to.region),
            usize::try_from(from.offset),
            usize::try_from(to.offset),
        ) {
            // Both ranges were checked by `resolve`; a failure here would be a provider bug and
            // copies nothing.
            let copied = Region::copy_between(dst, dst_off, src, src_off, from.length as usize);
            debug_assert!(copied.is_ok(), "{copied:?}");
        }
    }

    fn copy_in(&mut self, from: &[u8], to: RegionSlice) {
        let pins = self.pins.borrow();
        if let (Some(dst), Ok(off)) = (pins.region(to.region), usize::try_from(to.offset)) {
            let written = dst.write(off, from);
            debug_assert!(written.is_ok(), "{written:?}");
        }
    }

    fn settle(&mut self) {
        self.pins.borrow_mut().settle();
    }
}

/// Routes completions to the CQs of a pair.
struct CqSink<'a> {
    cqs: [Option<&'a Arc<Cq>>; 4],
}

/// The engine's name for a CQ.
fn cq_id(cq: &Arc<Cq>) -> CqId {
    CqId(Arc::as_ptr(cq).addr())
}

impl CompletionSink for CqSink<'_> {
    fn push(&mut self, cq: CqId, completion: Completion) -> Result<(), Overrun> {
        self.cqs
            .iter()
            .flatten()
            .find(|c| cq_id(c) == cq)
            .map_or(Err(Overrun), |c| c.push(completion))
    }
}

/// A queue pair.
#[repr(C)]
pub struct Qp {
    /// Offset 0: the consumer's `NDK_QP`.
    ndk: NdkCell<NDK_QP>,
    node: Node,
    closer: Closer,
    pd: Arc<Pd>,
    receive_cq: Arc<Cq>,
    initiator_cq: Arc<Cq>,
    srq: Option<Arc<Srq>>,
    config: QpConfig,
    /// The connection the QP was created in, alone; never replaced.
    home: Arc<Connection>,
    /// The connection of the pair, when [`connect_pair`] moved this QP's endpoint into its
    /// peer's home (set once: an RC QP connects at most once). Read without a lock or a
    /// reference count on every post.
    joined: SetOnce<Arc<Connection>>,
    /// Held by [`connect_pair`] while it moves this QP's endpoint out of its home (so two
    /// connects of one QP serialise, and a pass that found the endpoint gone can wait for the
    /// move to finish).
    moving: SpinLock<()>,
    /// The provider verifier's "poster inside" markers of both queues (`dispatch::misuse`).
    posting: PostMarkers,
}

const _: () = assert!(core::mem::offset_of!(Qp, ndk) == 0);

impl core::fmt::Debug for Qp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Qp")
            .field("config", &self.config)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

tracked_by_closer!(Qp);

/// The NTSTATUS of a refused post (`docs/engine.md`); nothing was queued.
#[must_use]
pub const fn post_status(e: PostError) -> NTSTATUS {
    match e {
        PostError::NotConnected | PostError::QpInError => STATUS_CONNECTION_INVALID,
        PostError::QueueFull => STATUS_INSUFFICIENT_RESOURCES,
        PostError::TooManySges
        | PostError::TransferTooLong
        | PostError::InlineTooLong
        | PostError::InvalidFlags
        | PostError::InvalidParameter
        | PostError::WrongQueue => STATUS_INVALID_PARAMETER,
        PostError::ReadsNotAllowed => STATUS_INVALID_DEVICE_REQUEST,
        PostError::Access(e) => memory_post_status(e),
    }
}

/// The NTSTATUS of a bind or fast-register the memory table refused at post time.
///
/// A right the registration does not allow (or another PD's object) → `STATUS_ACCESS_VIOLATION` (the status
/// `NdkBind`/`NdkFastRegister` document); an object in the wrong state (MR not registered,
/// window already bound, fast-register MR not initialised or still valid, handle gone stale) →
/// `STATUS_INVALID_DEVICE_STATE`; a range, page list or page count that does not fit →
/// `STATUS_INVALID_PARAMETER`; what the provider could not allocate (a fast registration's
/// composite region) → `STATUS_INSUFFICIENT_RESOURCES`.
#[must_use]
pub const fn memory_post_status(e: AccessError) -> NTSTATUS {
    match e {
        AccessError::AccessDenied | AccessError::WrongProtectionDomain => STATUS_ACCESS_VIOLATION,
        AccessError::InvalidState | AccessError::StaleToken => STATUS_INVALID_DEVICE_STATE,
        AccessError::OutOfRange | AccessError::UnknownToken => STATUS_INVALID_PARAMETER,
        AccessError::NoResources => STATUS_INSUFFICIENT_RESOURCES,
    }
}

/// The SGE limits a QP's requests are checked against when they are posted, which bound the
/// ranges one of its requests can pin.
#[derive(Clone, Copy, Debug)]
struct SgeLimits {
    /// Sends and writes (`MaxInitiatorRequestSge`, the QP's).
    initiator: usize,
    /// Read sinks (the adapter's `MaxReadRequestSge`, which the endpoint enforces).
    read: usize,
    /// The receives a peer's send lands in (the QP's `MaxReceiveRequestSge`, or its SRQ's).
    receive: usize,
}

impl SgeLimits {
    /// What a QP on an adapter with limits `l` may use at most (a peer not known yet).
    const fn adapter(l: &super::Limits) -> Self {
        Self {
            initiator: l.max_initiator_sge as usize,
            read: l.max_read_sge as usize,
            receive: l.max_receive_sge as usize,
        }
    }

    /// A QP's own limits, as its endpoint and receive queue (or SRQ) enforce them.
    fn of(qp: &Qp) -> Self {
        Self::configured(&qp.config, qp.pd.adapter().limits(), qp.srq.as_ref())
    }

    /// The limits of a QP configured with `config` on an adapter with limits `l`, taking its
    /// receives from `srq` if it has one (also before the QP exists, at creation).
    fn configured(config: &QpConfig, l: &super::Limits, srq: Option<&Arc<Srq>>) -> Self {
        Self {
            initiator: config.max_initiator_sge as usize,
            read: l.max_read_sge as usize,
            receive: srq.map_or(config.max_receive_sge, |srq| srq.max_sge()) as usize,
        }
    }

    /// Ranges one request of `self`'s against `peer` pins at most: a send or write pins its
    /// local SGEs, the remote range and the peer's receive SGEs (a send has no remote range
    /// and a write no receive; counting both keeps the bound simple); a read its sink SGEs
    /// and the remote range; inline data, binds, fast registrations and invalidations
    /// nothing.
    const fn per_request(self, peer: Self) -> usize {
        let send_or_write = self.initiator + 1 + peer.receive;
        let read = self.read + 1;
        if send_or_write > read {
            send_or_write
        } else {
            read
        }
    }
}

/// A connection's pin list of `len` pins, reserved now (nothing on the data path allocates).
/// One allocation site for both lists a connection can get (at QP creation, and a longer one
/// at connect): the fault-injection scan reaches it through creation, and
/// `tests/verbs_pin_bound.rs` fails the one at connect.
fn reserve_pins(platform: &crate::platform::Platform, len: usize) -> Result<PVec<Pin>, NTSTATUS> {
    platform
        .try_vec_with_capacity(len)
        .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
}

/// Pins one pass on the connection of `a` and `b` can take in the worst case: per executed
/// request (of either side) the ranges it pins; plus one blocked attempt per side and
/// `progress` call (two calls when both sides use SRQs); plus the MR link a rebinding `NdkBind`
/// hands back. A pass starts on an empty list (see `Qp::run`), so this is the list's bound.
const fn pins_per_pass(a: SgeLimits, b: SgeLimits) -> usize {
    let ab = a.per_request(b);
    let ba = b.per_request(a);
    let per_request = if ab > ba { ab } else { ba };
    (PASS_BUDGET as usize + 4) * per_request + 1
}

impl Qp {
    /// `NdkCreateQp`: checks every limit against the adapter, builds the endpoint (all per-slot
    /// storage reserved now) in a connection of its own.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for a limit above the adapter's or CQs of another adapter;
    /// `STATUS_INSUFFICIENT_RESOURCES` when storage cannot be reserved;
    /// `STATUS_DEVICE_NOT_READY` if the PD or a CQ is closing.
    pub fn create(
        pd: &Arc<Pd>,
        receive_cq: &Arc<Cq>,
        initiator_cq: &Arc<Cq>,
        config: QpConfig,
    ) -> Result<Base<Self>, NTSTATUS> {
        Self::build(pd, receive_cq, initiator_cq, None, config)
    }

    /// `NdkCreateQpWithSrq`: as [`Qp::create`], but receives come from `srq` (of the same PD);
    /// the QP holds a unit on the SRQ until its close completion returned, and `NdkReceive` on
    /// it is refused. `config`'s receive depth and SGE limit are ignored.
    ///
    /// # Errors
    ///
    /// As [`Qp::create`]; `STATUS_INVALID_PARAMETER` for an SRQ of another PD.
    pub fn create_with_srq(
        pd: &Arc<Pd>,
        receive_cq: &Arc<Cq>,
        initiator_cq: &Arc<Cq>,
        srq: &Arc<Srq>,
        config: QpConfig,
    ) -> Result<Base<Self>, NTSTATUS> {
        if !Arc::ptr_eq(srq.pd(), pd) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let config = QpConfig {
            receive_depth: 0,
            max_receive_sge: 0,
            ..config
        };
        Self::build(pd, receive_cq, initiator_cq, Some(srq), config)
    }

    fn build(
        pd: &Arc<Pd>,
        receive_cq: &Arc<Cq>,
        initiator_cq: &Arc<Cq>,
        srq: Option<&Arc<Srq>>,
        config: QpConfig,
    ) -> Result<Base<Self>, NTSTATUS> {
        let adapter = pd.adapter();
        let l = adapter.limits();
        if !adapter.is(receive_cq.adapter())
            || !adapter.is(initiator_cq.adapter())
            || config.receive_depth > l.max_receive_depth
            || config.initiator_depth > l.max_initiator_depth
            || config.max_receive_sge > l.max_receive_sge
            || config.max_initiator_sge > l.max_initiator_sge
            || config.inline_data_size > l.max_inline_data
        {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let endpoint = Endpoint::try_new(EndpointConfig {
            qp_context: config.context,
            initiator_cq: cq_id(initiator_cq),
            receive_cq: cq_id(receive_cq),
            initiator_depth: config.initiator_depth,
            receive_depth: config.receive_depth,
            max_initiator_sge: config.max_initiator_sge,
            max_receive_sge: config.max_receive_sge,
            max_read_sge: l.max_read_sge,
            inline_data_size: config.inline_data_size,
            max_transfer_length: l.max_transfer_length,
            uses_srq: srq.is_some(),
            read_local_invalidate_supported: true,
        })
        .map_err(|e| match e {
            engine::CreateError::OutOfMemory => STATUS_INSUFFICIENT_RESOURCES,
            engine::CreateError::LimitTooLarge => STATUS_INVALID_PARAMETER,
        })?;
        // Sized for this QP and any peer of an adapter with the same limits; `connect_pair`
        // grows it for a peer that may use more.
        let own = SgeLimits::configured(&config, l, srq);
        let platform = adapter.platform();
        let no_memory = |_| STATUS_INSUFFICIENT_RESOURCES;
        let pins = reserve_pins(platform, pins_per_pass(own, SgeLimits::adapter(l)))?;
        let refused = || crate::abi::STATUS_DEVICE_NOT_READY;
        let mut links = Links::new();
        let _ = links.push(Unit::try_new(pd).ok_or_else(refused)?);
        let _ = links.push(Unit::try_new(receive_cq).ok_or_else(refused)?);
        let _ = links.push(Unit::try_new(initiator_cq).ok_or_else(refused)?);
        if let Some(srq) = srq {
            let _ = links.push(Unit::try_new(srq).ok_or_else(refused)?);
        }
        let connection = platform
            .try_arc(Connection {
                state: SpinLock::new(
                    lock_order::CONNECTION,
                    Pair {
                        sides: [None, None],
                        pins,
                    },
                ),
            })
            .map_err(no_memory)?;
        let qp = platform
            .try_arc(Self {
                ndk: NdkCell::new(NDK_QP::new(adapter.version(), adapter.tables().qp)),
                node: Node::new(links),
                closer: Closer::new(),
                pd: Arc::clone(pd),
                receive_cq: Arc::clone(receive_cq),
                initiator_cq: Arc::clone(initiator_cq),
                srq: srq.cloned(),
                config,
                home: Arc::clone(&connection),
                joined: SetOnce::new(),
                moving: SpinLock::new(lock_order::QP_LINK, ()),
                posting: adapter.misuse().post_markers(),
            })
            .map(Base::from_arc)
            .map_err(no_memory)?;
        connection.state.lock().sides[0] = Some(Side {
            owner: qp.identity(),
            endpoint,
            pd: Arc::clone(pd),
            receive_cq: Arc::clone(receive_cq),
            initiator_cq: Arc::clone(initiator_cq),
            srq: srq.cloned(),
        });
        if let Some(srq) = srq {
            // On failure the handle drops unattached: its close finishes at once.
            srq.attach(qp.arc())?;
        }
        Ok(qp)
    }

    /// `NdkCloseQp`: flushes like `NdkFlush` (every outstanding request completes with
    /// `STATUS_CANCELLED`), then pends while a connector references the QP.
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] on a second close.
    pub fn close(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing> {
        base.close(|c| {
            c.closer.store(completion);
            if let Some(srq) = &c.srq {
                srq.detach(c);
            }
            c.flush();
        })
    }

    /// The address handed to the consumer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_QP {
        self.ndk.as_ptr()
    }

    /// Creation parameters (the dispatch layer validates SGE counts against them).
    #[must_use]
    pub const fn config(&self) -> &QpConfig {
        &self.config
    }

    /// The PD.
    #[must_use]
    pub const fn pd(&self) -> &Arc<Pd> {
        &self.pd
    }

    /// The provider verifier's post markers of the initiator and receive queues.
    #[must_use]
    pub const fn post_markers(&self) -> &PostMarkers {
        &self.posting
    }

    fn identity(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }

    /// The connection this QP's endpoint lives in now (its home until connected).
    fn connection(&self) -> &Arc<Connection> {
        self.joined.get().unwrap_or(&self.home)
    }

    /// Runs `op` on this QP's endpoint under the connection lock, then executes the connection
    /// in passes of [`PASS_BUDGET`] requests, releasing the lock and dropping the pins between
    /// passes. `None` if the QP has no endpoint (unreachable while it is open).
    ///
    /// No reference count is taken on the connection: both connections a QP can live in are
    /// owned by the QP, which the caller keeps alive.
    fn run<R>(
        &self,
        op: impl FnOnce(&mut Endpoint, &dyn MemorySpace, &mut dyn CompletionSink) -> R,
    ) -> Option<R> {
        let mut connection = self.connection();
        let mut op = Some(op);
        let mut result = None;
        loop {
            // The pass's pins leave in its own acquisition, into `batch`, which is dropped in
            // place at the end of this block, after the lock (`drop(batch)` would first copy
            // the whole array).
            let passed = {
                let mut batch = [const { None }; PIN_BATCH];
                let mut pair = connection.state.lock();
                if !pair.pins.is_empty() {
                    // Pins of another thread's pass that it is still dropping, a batch per
                    // acquisition: the list is sized for one pass starting on an empty list
                    // (`pins_per_pass`), so help empty it first, then try again.
                    take_pins(&mut pair.pins, &mut batch);
                    drop(pair);
                    continue;
                }
                match pass(&mut pair, self.identity(), op.take()) {
                    Ok((r, more)) => {
                        if r.is_some() {
                            result = r;
                        }
                        let pins_left = take_pins(&mut pair.pins, &mut batch);
                        drop(pair);
                        Ok((more, pins_left))
                    }
                    Err(back) => {
                        drop(pair);
                        Err(back)
                    }
                }
            };
            let (more, pins_left) = match passed {
                Ok(passed) => passed,
                Err(back) => {
                    // `connect_pair` moved the endpoint out of its home after this call
                    // looked: wait for the move (it holds `moving` until `joined` is set) and
                    // follow it with the operation, if it has not run yet.
                    op = back;
                    drop(self.moving.lock());
                    match self.joined.get() {
                        Some(joined) if !Arc::ptr_eq(joined, connection) => {
                            connection = joined;
                            continue;
                        }
                        _ => return result,
                    }
                }
            };
            if pins_left {
                connection.drain_pins();
            }
            if !more {
                return result;
            }
        }
    }

    /// Posts an initiator request (validated by the dispatch layer for NULLs, flag bits and
    /// counts; the engine checks the rest), then executes what can run.
    ///
    /// # Errors
    ///
    /// The [`post_status`] of a refused post (nothing queued, no completion will come);
    /// `STATUS_CONNECTION_INVALID` on an unconnected QP, one in the error state, or one whose CQ
    /// overran.
    pub fn post(
        self: &Arc<Self>,
        context: usize,
        request: engine::WorkRequest<'_>,
        flags: engine::OpFlags,
    ) -> Result<(), NTSTATUS> {
        let _entry = Unit::try_new(self).ok_or(STATUS_CONNECTION_INVALID)?;
        self.run(|ep, memory, _| ep.post(memory, context, request, flags))
            .unwrap_or(Err(PostError::QpInError))
            .map_err(post_status)
    }

    /// `NdkReceive`.
    ///
    /// # Errors
    ///
    /// As [`Qp::post`]; receives are accepted before the QP is connected.
    pub fn post_receive(self: &Arc<Self>, context: usize, sges: &[Sge]) -> Result<(), NTSTATUS> {
        let _entry = Unit::try_new(self).ok_or(STATUS_CONNECTION_INVALID)?;
        self.run(|ep, _, _| ep.post_receive(context, sges))
            .unwrap_or(Err(PostError::QpInError))
            .map_err(post_status)
    }

    /// Runs one execution pass (an SRQ that was empty received a receive: a send of the peer
    /// may have been waiting for it).
    pub(super) fn kick(self: &Arc<Self>) {
        let _ = self.run(|_, _, _| ());
    }

    /// `NdkFlush`: the QP enters the error state and every outstanding request completes with
    /// `STATUS_CANCELLED`, initiator queue first, each in posting order; the peer then notices.
    pub fn flush(&self) {
        let _ = self.run(|ep, _, sink| ep.flush(sink));
    }

    /// The engine state (tests, diagnostics).
    #[must_use]
    pub fn state(&self) -> Option<QpState> {
        self.run(|ep, _, _| ep.state())
    }
}

/// One locked pass: `op` (first pass only) on `me`'s endpoint, then one budgeted `progress`
/// if the QP is connected. Returns `op`'s result and whether the budget ran out, or `op` back
/// if `me`'s endpoint is not in this connection.
fn pass<R, F>(pair: &mut Pair, me: usize, op: Option<F>) -> Result<(Option<R>, bool), Option<F>>
where
    F: FnOnce(&mut Endpoint, &dyn MemorySpace, &mut dyn CompletionSink) -> R,
{
    let Pair { sides, pins } = pair;
    let [a, b] = sides;
    let (mine, peer) = match (a.as_mut(), b.as_mut()) {
        (Some(s), peer) if s.owner == me => (s, peer),
        (peer, Some(s)) if s.owner == me => (s, peer),
        // `me`'s endpoint is not here (it moved to its peer's connection): `op` goes back.
        _ => return Err(op),
    };
    let pins = RefCell::new(PinList::new(pins));
    let Side {
        endpoint,
        pd,
        receive_cq,
        initiator_cq,
        srq,
        ..
    } = mine;
    let mut peer = peer.map(|p| {
        let Side {
            endpoint,
            pd,
            receive_cq,
            initiator_cq,
            srq,
            ..
        } = p;
        (endpoint, &**pd, &*receive_cq, &*initiator_cq, srq.as_ref())
    });
    let mut sink = CqSink {
        cqs: [
            Some(&*receive_cq),
            Some(&*initiator_cq),
            peer.as_ref().map(|p| p.2),
            peer.as_ref().map(|p| p.3),
        ],
    };
    let memory = PdMemory { pd, pins: &pins };
    let result = op.map(|op| {
        if receive_cq.is_overrun() || initiator_cq.is_overrun() {
            // §6.7: every QP attached to an overrun CQ is unusable.
            endpoint.enter_error(ErrorCause::CqOverrun);
            endpoint.flush(&mut sink);
        }
        op(endpoint, &memory, &mut sink)
    });
    let Some((peer_endpoint, peer_pd, _, _, peer_srq)) = peer.as_mut() else {
        return Ok((result, false));
    };
    let peer_memory = PdMemory {
        pd: peer_pd,
        pins: &pins,
    };
    let mut copier = PinCopier { pins: &pins };
    let mut run =
        |srq_mine: Option<&mut ReceiveQueue>, srq_peer: Option<&mut ReceiveQueue>, budget: u32| {
            engine::progress(
                engine::Side {
                    endpoint: &mut *endpoint,
                    memory: &memory,
                    srq: srq_mine,
                },
                engine::Side {
                    endpoint: peer_endpoint,
                    memory: &peer_memory,
                    srq: srq_peer,
                },
                &mut copier,
                &mut sink,
                budget,
            )
        };
    let stopped = |p: &engine::Progress| p.a == Blocked::Budget || p.b == Blocked::Budget;
    // At most one SRQ lock is held at a time (both sides' SRQs may be one and the same): with
    // SRQs on both sides, one half-pass per SRQ; the direction whose receiving SRQ is not
    // supplied simply waits for the other half-pass.
    let more = match (srq.as_ref(), peer_srq.as_ref()) {
        (None, None) => stopped(&run(None, None, PASS_BUDGET)),
        (Some(mine), None) => stopped(&mine.with_queue(|q| run(q, None, PASS_BUDGET))),
        (None, Some(theirs)) => stopped(&theirs.with_queue(|q| run(None, q, PASS_BUDGET))),
        (Some(mine), Some(theirs)) => {
            let first = theirs.with_queue(|q| run(None, q, PASS_BUDGET));
            let left = PASS_BUDGET - first.executed.min(PASS_BUDGET);
            let second = mine.with_queue(|q| run(q, None, left));
            stopped(&first) || stopped(&second)
        }
    };
    Ok((result, more))
}

/// Connects two idle QPs (of one adapter or two) as an RC pair: the hook the connection
/// manager calls once both sides agreed, and what tests and benchmarks use until it exists.
///
/// `ord`/`ird` are `a`'s requested outbound/inbound read limits; each is clamped to both
/// adapters' limits, and `b` gets the mirror image (its ORD is `a`'s IRD).
///
/// # Errors
///
/// `STATUS_INVALID_PARAMETER` if `a` and `b` are the same QP; `STATUS_CONNECTION_ACTIVE` if
/// either is already connected, in the error state, or closing;
/// `STATUS_INSUFFICIENT_RESOURCES` if `b` may use more SGEs than `a`'s adapter allows and the
/// longer pin list the pair then needs cannot be reserved (nothing changed).
pub fn connect_pair(a: &Arc<Qp>, b: &Arc<Qp>, ord: u32, ird: u32) -> Result<(), NTSTATUS> {
    if Arc::ptr_eq(a, b) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if a.node.is_closing() || b.node.is_closing() {
        return Err(STATUS_CONNECTION_ACTIVE);
    }
    let (la, lb) = (a.pd.adapter().limits(), b.pd.adapter().limits());
    let outbound = ord.min(la.max_outbound_reads).min(lb.max_inbound_reads);
    let inbound = ird.min(la.max_inbound_reads).min(lb.max_outbound_reads);
    let conn_a = Arc::clone(a.connection());
    // The pair runs in `a`'s connection, whose pin list was sized for a peer with the limits of
    // `a`'s adapter; a peer that may use more SGEs needs a longer list, reserved now (no lock
    // held) and swapped in below.
    let need = pins_per_pass(SgeLimits::of(a), SgeLimits::of(b));
    let longer = if need > conn_a.state.lock().pins.capacity() {
        Some(reserve_pins(a.pd.adapter().platform(), need)?)
    } else {
        None
    };
    let moving_b = b.moving.lock();
    if b.joined.get().is_some() {
        return Err(STATUS_CONNECTION_ACTIVE);
    }
    let conn_b = &b.home;
    if Arc::ptr_eq(&conn_a, conn_b) {
        return Err(STATUS_CONNECTION_ACTIVE);
    }
    let alone_and_idle = |pair: &Pair, owner: usize| {
        pair.sides.iter().flatten().count() == 1
            && pair
                .sides
                .iter()
                .flatten()
                .any(|s| s.owner == owner && s.endpoint.state() == QpState::Idle)
    };
    let side_b = {
        let mut pb = conn_b.state.lock();
        if !alone_and_idle(&pb, b.identity()) {
            return Err(STATUS_CONNECTION_ACTIVE);
        }
        pb.sides.iter_mut().find_map(Option::take)
    };
    let Some(mut side_b) = side_b else {
        return Err(STATUS_CONNECTION_ACTIVE);
    };
    let mut old_pins = None;
    let refused = {
        let mut pa = conn_a.state.lock();
        if alone_and_idle(&pa, a.identity()) {
            let [s0, s1] = &mut pa.sides;
            let (side_a, free) = if s0.is_some() { (s0, s1) } else { (s1, s0) };
            if let Some(side_a) = side_a.as_mut() {
                // Both idle (checked): connecting cannot fail.
                let _ = side_a.endpoint.connect(outbound, inbound);
                let _ = side_b.endpoint.connect(inbound, outbound);
            }
            *free = Some(side_b);
            // The old list, with any pins a thread has not dropped yet (it will find the new
            // list empty; a lone idle QP's passes leave none), is dropped after every lock.
            old_pins = longer.map(|list| core::mem::replace(&mut pa.pins, list));
            drop(pa);
            None
        } else {
            drop(pa);
            Some(side_b)
        }
    };
    if let Some(side_b) = refused {
        conn_b.state.lock().sides[0] = Some(side_b);
        return Err(STATUS_CONNECTION_ACTIVE);
    }
    // Unreachable refusal: `joined` was checked empty under `moving`, which every setter holds.
    let set = b.joined.set(conn_a);
    debug_assert!(set.is_ok(), "a QP connects once");
    drop(set);
    drop(moving_b);
    drop(old_pins);
    Ok(())
}
