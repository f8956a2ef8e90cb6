//! Shared machinery of the conformance, random-sequence and fault-injection suites (issue 7).
//!
//! * [`Cell`] / [`matrix`]: runs a scenario on every combination of deferred-work delivery
//!   (inline, deterministic FIFO, deterministic seeded-reordered, threaded) and consumer IRQL
//!   (PASSIVE, DISPATCH). Each run gets a fresh [`Env`]: its own host platform, its own
//!   [`Verifier`] interposed on every adapter it opens, and at the end `assert_clean()` plus an
//!   allocation balance check (`live == 0`).
//! * [`Hooked`]: a CQ whose notification callback runs a test-supplied hook (close, re-arm,
//!   poll, post from inside the callback), created through the raw dispatch table.
//! * [`close`]: `NdkCloseObject` with a close completion that runs a hook and counts its calls.
//!
//! Everything goes through the dispatch tables of the verifier's shadows; the only provider
//! call outside the tables is `dispatch::connect_pair` (the connection manager's hook), made
//! on the real objects behind the shadows.
#![allow(dead_code, unsafe_code)]

use core::ffi::c_void;
use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::vec::Vec;

use softndk::abi::{
    NDK_ADAPTER, NDK_CQ, NDK_CQ_DISPATCH, NDK_FN_CLOSE_OBJECT, NDK_OBJECT_HEADER, NDK_QP,
    NDK_RESULT, NDK_RESULT_EX, NDK_VERSION, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Cq, Mr, Mw, Pd, Qp, QpLimits, Srq};
use softndk::platform::Irql;
use softndk::platform::host::{Host, current_irql, with_irql};
use softndk::platform::prelude::*;
use softndk::verbs::AdapterConfig;
use softndk::verifier::Verifier;

/// How deferred work (CQ notifications, DPC-like items) is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// On the queueing thread as soon as it is below DISPATCH with no lock held.
    Inline,
    /// Only when the test drains, FIFO.
    Fifo,
    /// Only when the test drains, in a random order chosen by the seed.
    Seeded(u64),
    /// On two worker threads (modelled processors).
    Threaded,
}

/// One point of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Deferred-work delivery.
    pub delivery: Delivery,
    /// IRQL of the consumer's calls (adapter open/close are always PASSIVE).
    pub irql: Irql,
    /// Whether the adapters pend every create and request (`AdapterConfig::pend_creates`,
    /// `AdapterConfig::pend_requests`, as the miniport's `SoftNdkPendRequests` keyword does):
    /// the objects arrive through the create completion, registrations, resizes and modifies
    /// complete through the request completion, from deferred work.
    pub pend: bool,
}

/// Seed of the seeded-reordered cells; `CONFORMANCE_SEED` overrides it (to explore or to
/// reproduce a reported failure).
#[must_use]
pub fn seed() -> u64 {
    std::env::var("CONFORMANCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0007)
}

/// The four deliveries.
#[must_use]
pub fn deliveries() -> [Delivery; 4] {
    [
        Delivery::Inline,
        Delivery::Fifo,
        Delivery::Seeded(seed()),
        Delivery::Threaded,
    ]
}

/// The eight cells every delivery × {PASSIVE, DISPATCH}, all with `pend` as given.
#[must_use]
pub fn both_irqls(pend: bool) -> Vec<Cell> {
    deliveries()
        .into_iter()
        .flat_map(|delivery| {
            [Irql::Passive, Irql::Dispatch].map(|irql| Cell {
                delivery,
                irql,
                pend,
            })
        })
        .collect()
}

/// The twelve cells: {inline, FIFO, seeded, threaded} × {PASSIVE, DISPATCH} with inline
/// creates, plus {inline, FIFO, seeded, threaded} × PASSIVE with pending creates (a consumer
/// waits for a pending create only at PASSIVE; the DISPATCH side of pending creates, where the
/// consumer continues in the completion, is `tests/conformance_pending.rs`).
#[must_use]
pub fn cells() -> Vec<Cell> {
    let inline_creates = both_irqls(false);
    let pending_creates = deliveries().into_iter().map(|delivery| Cell {
        delivery,
        irql: Irql::Passive,
        pend: true,
    });
    inline_creates.into_iter().chain(pending_creates).collect()
}

/// Runs `scenario` once per cell, each time in a fresh [`Env`] that is finished (verifier clean,
/// allocations balanced) afterwards. The failing cell is printed before its panic.
pub fn matrix(scenario: impl Fn(&Env)) {
    for cell in cells() {
        eprintln!("conformance cell: {cell:?}");
        let env = Env::new(cell);
        scenario(&env);
        env.finish();
    }
}

/// One scenario's world: a platform, a verifier, the consumer's IRQL.
pub struct Env {
    /// The cell this environment runs.
    pub cell: Cell,
    /// The host platform every adapter of this environment runs on.
    pub host: Host,
    /// The verifier interposed on every adapter [`Env::open`] returns.
    pub v: Verifier,
}

impl Env {
    /// A fresh environment for `cell`.
    #[must_use]
    pub fn new(cell: Cell) -> Self {
        let host = match cell.delivery {
            Delivery::Inline => Host::inline(),
            Delivery::Fifo => Host::deterministic(),
            Delivery::Seeded(seed) => Host::deterministic_seeded(seed),
            Delivery::Threaded => Host::threaded(2),
        };
        Self {
            cell,
            host,
            v: Verifier::new(),
        }
    }

    /// Whether deferred work runs only when the test drains it.
    #[must_use]
    pub const fn deterministic(&self) -> bool {
        matches!(self.cell.delivery, Delivery::Fifo | Delivery::Seeded(_))
    }

    /// The configuration of this cell's adapters.
    #[must_use]
    pub const fn config(&self) -> AdapterConfig {
        AdapterConfig::softndk(0x0C0F_0007)
            .with_pending_creates(self.cell.pend)
            .with_pending_requests(self.cell.pend)
    }

    /// Opens a SoftNDK adapter (PASSIVE) and returns the verifier's shadow as a consumer
    /// adapter. Close it with [`Env::close_adapter`].
    ///
    /// # Panics
    ///
    /// If the open fails.
    #[must_use]
    pub fn open(&self) -> Adapter {
        self.try_open().expect("open adapter")
    }

    /// [`Env::open`] that reports a failed open (fault injection) instead of panicking.
    ///
    /// # Errors
    ///
    /// The open's `NDIS_STATUS`.
    pub fn try_open(&self) -> Result<Adapter, softndk::abi::NDIS_STATUS> {
        self.try_open_with(&self.config())
    }

    /// [`Env::try_open`] with another configuration (e.g. on a fabric).
    ///
    /// # Errors
    ///
    /// The open's `NDIS_STATUS`.
    pub fn try_open_with(
        &self,
        config: &AdapterConfig,
    ) -> Result<Adapter, softndk::abi::NDIS_STATUS> {
        let real =
            softndk::dispatch::open_adapter(config, self.host.clone(), NDK_VERSION::new(1, 2))?;
        // SAFETY: `real` was just opened and stays open until `close_adapter`.
        let shadow = unsafe { self.v.wrap_adapter(real) };
        // SAFETY: the shadow is open until `close_adapter`; it is closed through the verifier.
        // Pending creates are waited for on this cell's platform.
        Ok(unsafe { Adapter::from_raw(shadow) }.with_platform(&self.host))
    }

    /// Closes an adapter from [`Env::open`] through the verifier (blocking, PASSIVE).
    #[allow(clippy::needless_pass_by_value)] // the adapter is given up
    pub fn close_adapter(&self, adapter: Adapter) {
        self.v.close_adapter(adapter.raw(), |real| {
            // SAFETY: `real` came from `dispatch::open_adapter` and is not used again.
            unsafe { softndk::dispatch::close_adapter(real) };
        });
    }

    /// Runs `f` at the consumer IRQL of this cell.
    pub fn at<R>(&self, f: impl FnOnce() -> R) -> R {
        with_irql(self.cell.irql, f)
    }

    /// Delivers all deferred work queued so far (PASSIVE): drains a deterministic queue, waits
    /// for the workers of a threaded one.
    pub fn settle(&self) {
        self.host.flush();
    }

    /// After pending creates or requests: lets their deferred items finish returning from the
    /// completions (which still hold units on the objects they name, so a close right now
    /// would legally pend). Nothing to do when nothing pends.
    pub fn created(&self) {
        if self.cell.pend {
            self.settle();
        }
    }

    /// Connects two QPs (shadows) as an RC pair through the connection manager's hook, on the
    /// real objects behind the shadows.
    ///
    /// # Panics
    ///
    /// If a QP is not a live shadow of this verifier.
    #[must_use]
    pub fn connect(&self, a: &Qp, b: &Qp, ord: u32, ird: u32) -> NTSTATUS {
        let ra = self.v.real(a.raw()).expect("QP a is a live shadow");
        let rb = self.v.real(b.raw()).expect("QP b is a live shadow");
        // SAFETY: both are open SoftNDK QPs (the verifier keeps them open while shadows live).
        self.at(|| unsafe { softndk::dispatch::connect_pair(ra, rb, ord, ird) })
    }

    /// Runs `f` "later", concurrently with what the test thread does next: queued deferred
    /// work on deterministic platforms (it runs while the test thread waits or drains), a
    /// worker item on threaded ones, a helper thread on inline ones.
    ///
    /// # Panics
    ///
    /// If the deferred item cannot be allocated.
    pub fn later(&self, f: impl FnOnce() + Send + 'static) {
        match self.cell.delivery {
            Delivery::Inline => {
                std::thread::spawn(f);
            }
            Delivery::Fifo | Delivery::Seeded(_) | Delivery::Threaded => {
                self.host.try_defer(f).expect("defer");
            }
        }
    }

    /// Ends the scenario: delivers what is left, asserts the verifier saw no violation and
    /// that every allocation made through the platform was freed.
    ///
    /// # Panics
    ///
    /// On a violation or a leak.
    pub fn finish(self) {
        self.settle();
        self.v.assert_clean();
        let stats = self.host.alloc_stats();
        assert_eq!(
            stats.live, 0,
            "allocations leaked in {:?}: {stats:?}",
            self.cell
        );
    }
}

/// A raw pointer that may cross threads (NDK objects may be used from any thread).
#[derive(Debug)]
pub struct Raw<T>(pub *mut T);

impl<T> Raw<T> {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    #[must_use]
    pub const fn get(self) -> *mut T {
        self.0
    }
}

impl<T> Clone for Raw<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Raw<T> {}
// SAFETY: NDK objects are usable from any thread; the pointer is only handed to the provider.
unsafe impl<T> Send for Raw<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Raw<T> {}

/// What one close completion observed.
#[derive(Default)]
pub struct CloseState {
    calls: AtomicU32,
    returned: AtomicBool,
    irql_ok: AtomicBool,
    hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    keep: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
}

/// The outcome of one [`close`].
#[derive(Clone)]
pub struct Ticket {
    /// What `NdkCloseObject` returned.
    pub status: NTSTATUS,
    state: Arc<CloseState>,
}

impl Ticket {
    /// Times the close completion ran (0 after SUCCESS; exactly 1 once a PENDING close ends).
    #[must_use]
    pub fn calls(&self) -> u32 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Whether the close is complete: SUCCESS returned, or the completion ran and returned.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.status == STATUS_SUCCESS
            || (self.calls() > 0 && self.state.returned.load(Ordering::SeqCst))
    }

    /// Whether the close was accepted (SUCCESS or PENDING, the only answers §5.3 allows).
    #[must_use]
    pub fn accepted(&self) -> bool {
        self.status == STATUS_SUCCESS || self.status == STATUS_PENDING
    }

    /// Whether the completion ran at or below DISPATCH (trivially true if it did not run).
    #[must_use]
    pub fn irql_ok(&self) -> bool {
        self.calls() == 0 || self.state.irql_ok.load(Ordering::SeqCst)
    }
}

unsafe extern "system" fn close_completion(context: *mut c_void) {
    // SAFETY: `close` leaked one strong count for this completion; the provider calls it once
    // (a second call would be a use of a freed count: the verifier reports CompletionTwice
    // before forwarding, and a well-behaved provider never does it).
    let state = unsafe { Arc::from_raw(context.cast_const().cast::<CloseState>()) };
    state
        .irql_ok
        .store(current_irql() <= Irql::Dispatch, Ordering::SeqCst);
    state.calls.fetch_add(1, Ordering::SeqCst);
    let hook = state
        .hook
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(hook) = hook {
        hook();
    }
    state
        .keep
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    state.returned.store(true, Ordering::SeqCst);
}

/// An object that can be closed through its table's `NdkCloseObject` slot.
pub trait Closeable {
    /// The object as the header pointer the close slot takes.
    fn header_ptr(&self) -> *mut NDK_OBJECT_HEADER;
    /// The table's close slot.
    fn slot(&self) -> NDK_FN_CLOSE_OBJECT;
    /// A callback context to keep alive until the close completes.
    fn keep(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        None
    }
}

/// `Closeable` for wrappers whose close needs no callback context kept alive.
macro_rules! closeable {
    ($($ty:ty => $slot:ident),* $(,)?) => {$(
        impl Closeable for $ty {
            fn header_ptr(&self) -> *mut NDK_OBJECT_HEADER {
                self.raw().cast()
            }
            fn slot(&self) -> NDK_FN_CLOSE_OBJECT {
                self.dispatch().$slot
            }
        }
    )*};
}

closeable!(Pd => NdkClosePd, Qp => NdkCloseQp, Mr => NdkCloseMr, Mw => NdkCloseMw, Srq => NdkCloseSrq);

impl Closeable for Cq {
    fn header_ptr(&self) -> *mut NDK_OBJECT_HEADER {
        self.raw().cast()
    }
    fn slot(&self) -> NDK_FN_CLOSE_OBJECT {
        self.dispatch().NdkCloseCq
    }
    fn keep(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        Some(self.events().clone())
    }
}

impl Closeable for Hooked {
    fn header_ptr(&self) -> *mut NDK_OBJECT_HEADER {
        self.raw.cast()
    }
    fn slot(&self) -> NDK_FN_CLOSE_OBJECT {
        self.dispatch().NdkCloseCq
    }
    fn keep(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        Some(self.notes.clone())
    }
}

/// Closes `object` (the caller's last use of it); the close completion, if the close pends,
/// runs `then` before returning. Memory registered by an MR must be kept alive by the caller
/// until the ticket is complete.
pub fn close<O: Closeable>(object: O, then: impl FnOnce() + Send + 'static) -> Ticket {
    let header = object.header_ptr();
    let slot = object.slot();
    let keep = object.keep();
    drop(object);
    // SAFETY: `header` is an open object of `slot`'s table that the caller gives up.
    unsafe { close_raw(header, slot, keep, Box::new(then)) }
}

/// [`close`] on a raw object.
///
/// # Safety
///
/// `header` is an open object of `slot`'s table, not used by the caller afterwards.
pub unsafe fn close_raw(
    header: *mut NDK_OBJECT_HEADER,
    slot: NDK_FN_CLOSE_OBJECT,
    keep: Option<Arc<dyn Any + Send + Sync>>,
    then: Box<dyn FnOnce() + Send>,
) -> Ticket {
    let state = Arc::new(CloseState {
        hook: Mutex::new(Some(then)),
        keep: Mutex::new(keep),
        ..CloseState::default()
    });
    let context = Arc::into_raw(Arc::clone(&state))
        .cast_mut()
        .cast::<c_void>();
    // SAFETY: the caller's contract; completion and context stay valid until called.
    let status = unsafe { slot(header, Some(close_completion), context) };
    if status != STATUS_PENDING {
        // SAFETY: no completion will come: take back the count leaked for it.
        drop(unsafe { Arc::from_raw(context.cast_const().cast::<CloseState>()) });
        state
            .hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        state
            .keep
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
    Ticket { status, state }
}

/// A deferred close: called later, returns its ticket.
pub type Closer = Box<dyn FnOnce() -> Ticket>;

/// A hook run inside a CQ notification.
pub type NotifyHook = Box<dyn FnMut(NTSTATUS) + Send>;

/// What a [`Hooked`] CQ's notification callback saw.
#[derive(Default)]
pub struct Notes {
    statuses: Mutex<Vec<NTSTATUS>>,
    running: AtomicBool,
    overlaps: AtomicU32,
    above_dispatch: AtomicU32,
    /// Incremented when a notification returns (ordering checks).
    returned: AtomicU64,
    hook: Mutex<Option<NotifyHook>>,
}

impl Notes {
    /// Statuses of every notification so far.
    #[must_use]
    pub fn statuses(&self) -> Vec<NTSTATUS> {
        self.statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Number of notifications so far.
    #[must_use]
    pub fn count(&self) -> usize {
        self.statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Notifications that started while another of the same CQ ran (must stay 0).
    #[must_use]
    pub fn overlaps(&self) -> u32 {
        self.overlaps.load(Ordering::SeqCst)
    }

    /// Notifications delivered above DISPATCH (must stay 0).
    #[must_use]
    pub fn above_dispatch(&self) -> u32 {
        self.above_dispatch.load(Ordering::SeqCst)
    }

    /// Notifications that have returned.
    #[must_use]
    pub fn returned(&self) -> u64 {
        self.returned.load(Ordering::SeqCst)
    }
}

unsafe extern "system" fn notify(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: the context is the `Notes` of a `Hooked` CQ, kept alive until its close completed.
    let notes = unsafe { &*context.cast_const().cast::<Notes>() };
    if notes.running.swap(true, Ordering::SeqCst) {
        notes.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    if current_irql() > Irql::Dispatch {
        notes.above_dispatch.fetch_add(1, Ordering::SeqCst);
    }
    notes
        .statuses
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(status);
    // The hook is taken out while it runs, so it may re-enter the provider (and a nested
    // notification, which would be a bug, finds no hook instead of a poisoned lock).
    let hook = notes
        .hook
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(mut hook) = hook {
        hook(status);
        let mut slot = notes.hook.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(hook);
        }
    }
    std::thread::yield_now();
    notes.returned.fetch_add(1, Ordering::SeqCst);
    notes.running.store(false, Ordering::SeqCst);
}

/// A CQ created through the raw table with a hookable notification callback.
pub struct Hooked {
    raw: *mut NDK_CQ,
    /// What its notifications saw.
    pub notes: Arc<Notes>,
    /// The adapter's platform, for waiting on a pending resize.
    platform: Option<softndk::platform::Platform>,
}

// SAFETY: NDK objects may be used from any thread.
unsafe impl Send for Hooked {}
// SAFETY: as above; the test serialises per-CQ calls as a consumer must.
unsafe impl Sync for Hooked {}

impl Hooked {
    /// `NdkCreateCq` of `depth` entries on `adapter`.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create(adapter: &Adapter, depth: u32) -> Result<Self, NTSTATUS> {
        let notes = Arc::new(Notes::default());
        let context = Arc::as_ptr(&notes).cast_mut().cast();
        // SAFETY: the notification context (`notes`) outlives the CQ's close completion (held
        // by this value, then by its close ticket).
        let raw = unsafe { adapter.create_cq_raw(depth, notify, context) }?;
        Ok(Self {
            raw,
            notes,
            platform: adapter.platform().cloned(),
        })
    }

    /// The raw CQ.
    #[must_use]
    pub const fn raw(&self) -> *mut NDK_CQ {
        self.raw
    }

    /// A copyable handle for use inside hooks.
    #[must_use]
    pub const fn handle(&self) -> CqHandle {
        CqHandle(Raw(self.raw))
    }

    /// The dispatch table.
    #[must_use]
    pub const fn dispatch(&self) -> &'static NDK_CQ_DISPATCH {
        self.handle().dispatch()
    }

    /// Installs the hook run inside every notification from now on.
    pub fn on_notify(&self, hook: impl FnMut(NTSTATUS) + Send + 'static) {
        *self
            .notes
            .hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(hook));
    }

    /// `NdkArmCq`.
    pub fn arm(&self, kind: u32) {
        self.handle().arm(kind);
    }

    /// `NdkGetCqResultsEx` for up to `max` results.
    #[must_use]
    pub fn poll(&self, max: u32) -> Vec<NDK_RESULT_EX> {
        self.handle().poll(max)
    }

    /// `NdkGetCqResults` for up to `max` results.
    #[must_use]
    pub fn poll_plain(&self, max: u32) -> Vec<NDK_RESULT> {
        let mut out = vec![NDK_RESULT::ZEROED; max as usize];
        // SAFETY: live CQ; `out` holds `max` entries.
        let n = unsafe { (self.dispatch().NdkGetCqResults)(self.raw, out.as_mut_ptr(), max) };
        out.truncate(n as usize);
        out
    }

    /// `NdkResizeCq`: its final status (a resize that pends is waited for, PASSIVE only).
    #[must_use]
    pub fn resize(&self, depth: u32) -> NTSTATUS {
        softndk::consumer::request(self.platform.as_ref(), |done, context| {
            // SAFETY: live CQ, valid completion.
            unsafe { (self.dispatch().NdkResizeCq)(self.raw, depth, Some(done), context) }
        })
    }
}

/// A copyable CQ pointer for calls from inside callbacks.
#[derive(Clone, Copy, Debug)]
pub struct CqHandle(pub Raw<NDK_CQ>);

impl CqHandle {
    const fn dispatch(self) -> &'static NDK_CQ_DISPATCH {
        // Every NDK object is `{ header; Dispatch }`, pointer-aligned (the cast lint sees `u8`).
        #[allow(clippy::cast_ptr_alignment)]
        let field = self
            .0
            .0
            .cast::<u8>()
            .wrapping_add(size_of::<NDK_OBJECT_HEADER>())
            .cast::<*const NDK_CQ_DISPATCH>();
        // SAFETY: the CQ is open whenever a handle is used (the caller's discipline, as for
        // any consumer); `field` is its `Dispatch` member.
        let table = unsafe { field.read() };
        // SAFETY: a provider's tables are `'static` and never written.
        unsafe { &*table }
    }

    /// `NdkArmCq`.
    pub fn arm(self, kind: u32) {
        // SAFETY: live CQ.
        unsafe { (self.dispatch().NdkArmCq)(self.0.0, kind) };
    }

    /// `NdkGetCqResultsEx` for up to `max` results.
    #[must_use]
    pub fn poll(self, max: u32) -> Vec<NDK_RESULT_EX> {
        let mut out = vec![NDK_RESULT_EX::ZEROED; max as usize];
        // SAFETY: live CQ; `out` holds `max` entries.
        let n = unsafe { (self.dispatch().NdkGetCqResultsEx)(self.0.0, out.as_mut_ptr(), max) };
        out.truncate(n as usize);
        out
    }

    /// `NdkCloseCq` of the CQ this handle points to (its owner must not use it afterwards);
    /// `keep` is the CQ's notification context.
    pub fn close(self, keep: Arc<Notes>, then: impl FnOnce() + Send + 'static) -> Ticket {
        let slot = self.dispatch().NdkCloseCq;
        // SAFETY: the caller gives the CQ up.
        unsafe { close_raw(self.0.0.cast(), slot, Some(keep), Box::new(then)) }
    }
}

/// `NdkCreateQp` over two hooked CQs.
///
/// # Errors
///
/// The provider's failure status.
pub fn create_qp(
    pd: &Pd,
    receive: &Hooked,
    initiator: &Hooked,
    context: usize,
    limits: QpLimits,
) -> Result<Qp, NTSTATUS> {
    // SAFETY: both hooked CQs are live (held by the caller).
    unsafe { pd.create_qp_raw(receive.raw(), initiator.raw(), context, limits) }
}

/// `NdkCreateQpWithSrq` over hooked CQs (`limits`' receive fields unused).
#[allow(dead_code)] // not every test binary including this module uses it
pub fn create_qp_with_srq(
    pd: &Pd,
    receive: &Hooked,
    initiator: &Hooked,
    srq: &Srq,
    context: usize,
    limits: QpLimits,
) -> Result<Qp, NTSTATUS> {
    // SAFETY: both hooked CQs are live (held by the caller).
    unsafe { pd.create_qp_with_srq_raw(receive.raw(), initiator.raw(), srq, context, limits) }
}

/// One consumer's objects: PD, receive and initiator CQ (hooked), QP.
pub struct Side {
    /// The PD.
    pub pd: Pd,
    /// Receive CQ.
    pub rcq: Hooked,
    /// Initiator CQ.
    pub icq: Hooked,
    /// The QP.
    pub qp: Qp,
}

impl Side {
    /// Creates the four objects on `adapter` at the cell's IRQL.
    ///
    /// # Panics
    ///
    /// If a create fails.
    #[must_use]
    pub fn new(env: &Env, adapter: &Adapter, qp_context: usize, cq_depth: u32) -> Self {
        let side = env.at(|| {
            let pd = adapter.create_pd().expect("PD");
            let rcq = Hooked::create(adapter, cq_depth).expect("receive CQ");
            let icq = Hooked::create(adapter, cq_depth).expect("initiator CQ");
            let qp = create_qp(&pd, &rcq, &icq, qp_context, QpLimits::default()).expect("QP");
            Self { pd, rcq, icq, qp }
        });
        env.created();
        side
    }

    /// Closes everything in the sample consumer's order (flush, QP, CQs, PD); every close must
    /// be accepted and, once the QP is gone, complete.
    ///
    /// # Panics
    ///
    /// If a close is refused or does not complete.
    pub fn close(self, env: &Env) {
        let tickets = env.at(|| {
            self.qp.flush();
            vec![
                close(self.qp, || {}),
                close(self.rcq, || {}),
                close(self.icq, || {}),
                close(self.pd, || {}),
            ]
        });
        env.settle();
        for t in tickets {
            assert!(t.accepted(), "close refused: {:?}", t.status);
            assert!(t.complete(), "close did not complete");
        }
    }
}

/// Two connected sides on two adapters.
pub struct Pair {
    /// First adapter.
    pub one: Adapter,
    /// Second adapter.
    pub two: Adapter,
    /// The side on `one` (QP context 0xA).
    pub a: Side,
    /// The side on `two` (QP context 0xB).
    pub b: Side,
}

impl Pair {
    /// Opens two adapters, builds a side on each and connects them.
    ///
    /// # Panics
    ///
    /// If anything fails.
    #[must_use]
    pub fn new(env: &Env, cq_depth: u32) -> Self {
        let one = env.open();
        let two = env.open();
        let a = Side::new(env, &one, 0xA, cq_depth);
        let b = Side::new(env, &two, 0xB, cq_depth);
        assert_eq!(env.connect(&a.qp, &b.qp, 4, 4), STATUS_SUCCESS);
        Self { one, two, a, b }
    }

    /// Closes both sides and both adapters.
    pub fn close(self, env: &Env) {
        self.a.close(env);
        self.b.close(env);
        env.close_adapter(self.one);
        env.close_adapter(self.two);
    }
}

/// Polls `cq` until `n` results were gathered (deferred work is delivered between polls).
///
/// # Panics
///
/// If fewer than `n` results arrive after the platform settled.
#[must_use]
pub fn reap(env: &Env, cq: &Hooked, n: usize) -> Vec<NDK_RESULT_EX> {
    let mut all = Vec::new();
    for _ in 0..4 {
        all.extend(env.at(|| cq.poll(64)));
        if all.len() >= n {
            break;
        }
        env.settle();
    }
    assert_eq!(all.len(), n, "expected {n} results");
    all
}

/// Raw QP pointer for hooks.
#[must_use]
pub const fn raw_qp(qp: &Qp) -> Raw<NDK_QP> {
    Raw(qp.raw())
}

/// The consumer adapter's raw pointer type, re-exported for hooks.
pub type RawAdapter = Raw<NDK_ADAPTER>;
