//! Host deferred work: the DPC model in three modes.
//!
//! * **Inline**: an item runs on the queueing thread as soon as its modelled IRQL is below
//!   DISPATCH with no provider lock held — immediately if queued from PASSIVE, else when the
//!   IRQL drops (the kernel delivers a DPC queued at DISPATCH the same way).
//! * **Deterministic**: one queue, drained only by the test ([`Scheduler::run_one`]); with a
//!   seed the next item is picked at random among the queued ones (reordering/delay injection),
//!   reproducibly.
//! * **Threaded**: one queue and one worker thread per modelled processor; workers run items
//!   at DISPATCH. A thread queues to "its" processor's queue, like `KeInsertQueueDpc`.
//!
//! Queue space for every [`Dpc`] is reserved when the `Dpc` is created, so queueing one never
//! allocates (each `Dpc` is in at most one queue at a time). Boxed one-shot jobs reserve their
//! slot when queued and may fail. Nothing here blocks except [`Scheduler::flush`] and the
//! shutdown of threaded workers, both at PASSIVE.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::boxed::Box;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::vec::Vec;

use super::cpu;
use super::faults::{AllocToken, Rng};
use crate::platform::{AllocError, DeferredWork, DpcOps};

/// A type-erased one-shot job (the `[F; 1]` is the fallible box from `pool`).
pub(super) trait Job: Send {
    fn run(self: Box<Self>);
}

impl<F: FnOnce() + Send> Job for [F; 1] {
    fn run(self: Box<Self>) {
        let [f] = *self;
        f();
    }
}

/// Something queued.
pub(super) enum Item {
    Dpc(Arc<DpcInner<dyn DeferredWork>>),
    Job(Box<dyn Job>, AllocToken),
}

impl Item {
    pub(super) fn run(self) {
        match self {
            Self::Dpc(inner) => inner.work.run(),
            Self::Job(job, _token) => job.run(),
        }
    }

    fn is_dpc(&self, dpc: &Arc<DpcInner<dyn DeferredWork>>) -> bool {
        matches!(self, Self::Dpc(inner) if Arc::ptr_eq(inner, dpc))
    }

    /// Inline mode: the item was taken from the thread's list to run, so a DPC may be queued
    /// again from then on (from its own work, too).
    pub(super) fn dequeued_inline(&self) {
        if let Self::Dpc(inner) = self {
            inner.queued.store(false, Ordering::Release);
        }
    }

    /// Called under the queue lock when the item is taken out to run: a DPC may be queued
    /// again from then on.
    fn dequeued(&self, queue: &mut Queue) {
        match self {
            Self::Dpc(inner) => inner.queued.store(false, Ordering::Release),
            Self::Job(..) => queue.jobs -= 1,
        }
    }
}

/// One queue and its space accounting.
#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    /// Boxed jobs currently queued.
    jobs: usize,
    /// Live DPCs this queue has reserved a slot for. Invariant:
    /// `items.capacity() >= jobs + dpc_slots`, so pushing a DPC never reallocates.
    dpc_slots: usize,
}

impl Queue {
    /// Ensures room for `jobs + dpc_slots + extra` items.
    fn reserve(&mut self, extra: usize) -> Result<(), AllocError> {
        let need = (self.jobs + self.dpc_slots + extra).saturating_sub(self.items.len());
        self.items.try_reserve(need).map_err(|_| AllocError)
    }

    fn push_dpc(&mut self, item: Item) {
        debug_assert!(self.items.len() < self.items.capacity(), "DPC slot missing");
        self.items.push_back(item);
    }

    fn push_job(&mut self, item: Item) -> Result<(), AllocError> {
        self.reserve(1)?;
        self.items.push_back(item);
        self.jobs += 1;
        Ok(())
    }

    fn take(&mut self, index: usize) -> Option<Item> {
        let item = self.items.remove(index)?;
        item.dequeued(self);
        Some(item)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Deterministic {
    /// The single queue (its condition variable is unused).
    worker: Worker,
    rng: Mutex<Option<Rng>>,
}

/// A queue and the condition its worker thread sleeps on.
struct Worker {
    queue: Mutex<Queue>,
    ready: Condvar,
}

struct Threaded {
    workers: Box<[Worker]>,
    /// Items queued or running; `flush` waits for zero.
    outstanding: AtomicUsize,
    idle_lock: Mutex<()>,
    idle: Condvar,
    shutdown: AtomicBool,
    exited: AtomicBool,
}

enum Kind {
    Inline,
    Deterministic(Deterministic),
    Threaded(Threaded),
}

/// The deferred-work engine of one host platform instance.
pub(super) struct Scheduler {
    kind: Kind,
}

std::thread_local! {
    /// The modelled processor this thread queues to (`None` until first use).
    static HOME: core::cell::Cell<Option<usize>> = const { core::cell::Cell::new(None) };
}

/// Hands out home processors to non-worker threads round-robin.
static NEXT_THREAD_HOME: AtomicUsize = AtomicUsize::new(0);

impl Threaded {
    fn home(&self) -> usize {
        let home = HOME.with(|h| {
            *h.get()
                .get_or_insert_with(|| NEXT_THREAD_HOME.fetch_add(1, Ordering::Relaxed))
        });
        home % self.workers.len()
    }

    fn started(&self) {
        assert!(
            !self.exited.load(Ordering::Acquire),
            "platform: deferred work queued after the host platform shut down"
        );
        self.outstanding.fetch_add(1, Ordering::AcqRel);
    }

    fn finished(&self) {
        if self.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            drop(lock(&self.idle_lock));
            self.idle.notify_all();
            if self.shutdown.load(Ordering::Acquire) {
                self.wake_all();
            }
        }
    }

    fn wake_all(&self) {
        for worker in &*self.workers {
            drop(lock(&worker.queue));
            worker.ready.notify_all();
        }
    }

    fn worker_loop(&self, index: usize) {
        cpu::become_worker();
        HOME.with(|h| h.set(Some(index)));
        let worker = &self.workers[index];
        loop {
            let item = {
                let mut queue = lock(&worker.queue);
                loop {
                    if let Some(item) = queue.take(0) {
                        break item;
                    }
                    if self.shutdown.load(Ordering::Acquire)
                        && self.outstanding.load(Ordering::Acquire) == 0
                    {
                        return;
                    }
                    queue = worker
                        .ready
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            item.run();
            assert!(
                cpu::held_lock_count() == 0,
                "platform: deferred work returned holding a provider lock"
            );
            self.finished();
        }
    }
}

impl Scheduler {
    pub(super) const fn inline() -> Self {
        Self { kind: Kind::Inline }
    }

    pub(super) fn deterministic(seed: Option<u64>) -> Self {
        Self {
            kind: Kind::Deterministic(Deterministic {
                worker: Worker {
                    queue: Mutex::new(Queue::default()),
                    ready: Condvar::new(),
                },
                rng: Mutex::new(seed.map(Rng::new)),
            }),
        }
    }

    /// A threaded scheduler and the worker threads that serve it.
    pub(super) fn threaded(workers: usize) -> (Arc<Self>, Vec<JoinHandle<()>>) {
        let workers = workers.max(1);
        let sched = Arc::new(Self {
            kind: Kind::Threaded(Threaded {
                workers: (0..workers)
                    .map(|_| Worker {
                        queue: Mutex::new(Queue::default()),
                        ready: Condvar::new(),
                    })
                    .collect(),
                outstanding: AtomicUsize::new(0),
                idle_lock: Mutex::new(()),
                idle: Condvar::new(),
                shutdown: AtomicBool::new(false),
                exited: AtomicBool::new(false),
            }),
        });
        let handles = (0..workers)
            .map(|index| {
                let sched = Arc::clone(&sched);
                std::thread::Builder::new()
                    .name(std::format!("softndk-dpc-{index}"))
                    .spawn(move || {
                        if let Kind::Threaded(t) = &sched.kind {
                            t.worker_loop(index);
                        }
                    })
                    .expect("spawning a host DPC worker thread")
            })
            .collect();
        (sched, handles)
    }

    pub(super) const fn is_deterministic(&self) -> bool {
        matches!(self.kind, Kind::Deterministic(_))
    }

    /// Queues a boxed job.
    pub(super) fn defer_job<F: FnOnce() + Send + 'static>(
        &self,
        f: F,
        token: AllocToken,
    ) -> Result<(), AllocError> {
        let job: Box<dyn Job> = crate::platform::pool::try_box_array(f)?;
        let item = Item::Job(job, token);
        match &self.kind {
            Kind::Inline => cpu::queue_inline(item),
            Kind::Deterministic(d) => lock(&d.worker.queue).push_job(item)?,
            Kind::Threaded(t) => {
                let worker = &t.workers[t.home()];
                let mut queue = lock(&worker.queue);
                queue.push_job(item)?;
                t.started();
                drop(queue);
                worker.ready.notify_one();
            }
        }
        Ok(())
    }

    /// Every queue a DPC may be placed on (none in inline mode).
    fn queues(&self) -> &[Worker] {
        match &self.kind {
            Kind::Inline => &[],
            Kind::Deterministic(d) => core::slice::from_ref(&d.worker),
            Kind::Threaded(t) => &t.workers,
        }
    }

    /// Reserves a slot on every queue for one more DPC.
    fn register_dpc(&self) -> Result<(), AllocError> {
        let queues = self.queues();
        for (done, worker) in queues.iter().enumerate() {
            let mut queue = lock(&worker.queue);
            if let Err(e) = queue.reserve(1) {
                drop(queue);
                for undo in &queues[..done] {
                    lock(&undo.queue).dpc_slots -= 1;
                }
                return Err(e);
            }
            queue.dpc_slots += 1;
        }
        Ok(())
    }

    fn unregister_dpc(&self) {
        for worker in self.queues() {
            lock(&worker.queue).dpc_slots -= 1;
        }
    }

    /// Deterministic mode: takes and runs one item (seeded pick, else FIFO).
    ///
    /// # Panics
    ///
    /// If the scheduler is not deterministic or a provider lock is held.
    pub(super) fn run_one(&self) -> bool {
        let Kind::Deterministic(d) = &self.kind else {
            panic!("platform: run_one needs a deterministic host platform");
        };
        cpu::assert_no_provider_lock_held();
        let item = {
            let mut queue = lock(&d.worker.queue);
            let len = queue.items.len();
            if len == 0 {
                return false;
            }
            let index = lock(&d.rng).as_mut().map_or(0, |rng| rng.below(len));
            queue.take(index)
        };
        item.is_some_and(|item| {
            cpu::run_at_dispatch(item);
            true
        })
    }

    /// Items queued and not yet started (deterministic and threaded modes).
    pub(super) fn pending(&self) -> usize {
        match &self.kind {
            Kind::Inline => 0,
            Kind::Deterministic(d) => lock(&d.worker.queue).items.len(),
            Kind::Threaded(t) => t.workers.iter().map(|w| lock(&w.queue).items.len()).sum(),
        }
    }

    /// Threaded mode: waits until every queued item has run (`KeFlushQueuedDpcs`).
    pub(super) fn flush(&self) {
        if let Kind::Threaded(t) = &self.kind {
            cpu::assert_can_block();
            let mut guard = lock(&t.idle_lock);
            while t.outstanding.load(Ordering::Acquire) != 0 {
                guard = t.idle.wait(guard).unwrap_or_else(PoisonError::into_inner);
            }
            drop(guard);
        }
    }

    /// Stops the scheduler: threaded workers finish every queued item and exit; deterministic
    /// items that never ran are dropped (they hold references that would otherwise cycle).
    pub(super) fn shut_down(&self, handles: Vec<JoinHandle<()>>) {
        match &self.kind {
            Kind::Inline => {}
            Kind::Deterministic(d) => {
                // Each item is dropped outside the lock: a DPC's last reference unregisters
                // it, which takes the lock. Taking one by one keeps the queue's capacity.
                loop {
                    let item = lock(&d.worker.queue).take(0);
                    if item.is_none() {
                        break;
                    }
                }
            }
            Kind::Threaded(t) => {
                t.shutdown.store(true, Ordering::Release);
                t.wake_all();
                // Joining blocks; from a worker or at DISPATCH the workers exit on their own.
                let on_worker = cpu::current_irql() >= crate::platform::Irql::Dispatch
                    || handles
                        .iter()
                        .any(|h| h.thread().id() == std::thread::current().id());
                if !on_worker {
                    for handle in handles {
                        // A panicking item already failed its test; nothing more to report.
                        let _ = handle.join();
                    }
                    t.exited.store(true, Ordering::Release);
                }
            }
        }
    }
}

/// A pre-allocated deferred-work item (host model of a `KDPC` in an object).
///
/// Clones share the same item. Dropping every handle while it is queued does not cancel it:
/// it runs once more and is freed afterwards (the kernel implementation keeps the same rule by
/// reference-counting its `KDPC` allocation).
#[derive(Clone)]
pub struct Dpc {
    inner: Arc<DpcInner<dyn DeferredWork>>,
}

impl core::fmt::Debug for Dpc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dpc")
            .field("queued", &self.inner.queued.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

pub(super) struct DpcInner<W: ?Sized> {
    sched: Arc<Scheduler>,
    queued: AtomicBool,
    /// Threaded mode: the worker queue it was last queued on.
    queue_index: AtomicUsize,
    _token: AllocToken,
    work: W,
}

impl<W: ?Sized> Drop for DpcInner<W> {
    fn drop(&mut self) {
        self.sched.unregister_dpc();
    }
}

impl Dpc {
    pub(super) fn new<W: DeferredWork>(
        sched: &Arc<Scheduler>,
        work: W,
        token: AllocToken,
    ) -> Result<Self, AllocError> {
        sched.register_dpc()?;
        // From here on the slot is released by `DpcInner::drop`.
        let inner: Arc<DpcInner<dyn DeferredWork>> = Arc::new(DpcInner {
            sched: Arc::clone(sched),
            queued: AtomicBool::new(false),
            queue_index: AtomicUsize::new(0),
            _token: token,
            work,
        });
        Ok(Self { inner })
    }
}

impl DpcOps for Dpc {
    fn queue(&self) -> bool {
        let inner = &self.inner;
        match &inner.sched.kind {
            Kind::Inline => {
                if inner.queued.swap(true, Ordering::AcqRel) {
                    return false;
                }
                cpu::queue_inline(Item::Dpc(Arc::clone(inner)));
            }
            Kind::Deterministic(d) => {
                let mut queue = lock(&d.worker.queue);
                if inner.queued.swap(true, Ordering::AcqRel) {
                    return false;
                }
                queue.push_dpc(Item::Dpc(Arc::clone(inner)));
            }
            Kind::Threaded(t) => {
                let index = t.home();
                let worker = &t.workers[index];
                let mut queue = lock(&worker.queue);
                if inner.queued.swap(true, Ordering::AcqRel) {
                    return false;
                }
                inner.queue_index.store(index, Ordering::Relaxed);
                t.started();
                queue.push_dpc(Item::Dpc(Arc::clone(inner)));
                drop(queue);
                worker.ready.notify_one();
            }
        }
        true
    }

    fn cancel(&self) -> bool {
        let inner = &self.inner;
        let removed = match &inner.sched.kind {
            Kind::Inline => cpu::cancel_inline(|item| item.is_dpc(inner)),
            Kind::Deterministic(d) => {
                let mut queue = lock(&d.worker.queue);
                let pos = queue.items.iter().position(|item| item.is_dpc(inner));
                let removed = pos.and_then(|pos| queue.take(pos));
                drop(queue);
                removed
            }
            Kind::Threaded(t) => {
                let worker = &t.workers[inner.queue_index.load(Ordering::Relaxed)];
                let mut queue = lock(&worker.queue);
                let pos = queue.items.iter().position(|item| item.is_dpc(inner));
                let removed = pos.and_then(|pos| queue.take(pos));
                drop(queue);
                if removed.is_some() {
                    t.finished();
                }
                removed
            }
        };
        if let Some(Item::Dpc(item)) = &removed {
            item.queued.store(false, Ordering::Release);
        }
        removed.is_some()
    }
}
