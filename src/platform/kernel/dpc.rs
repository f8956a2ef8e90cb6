//! Kernel deferred work: `KDPC`s in non-paged pool.
//!
//! A [`Dpc`] is one pool block holding the `KDPC`, a reference count and the work. Every
//! handle holds a reference, and so does the item while it is queued: [`DpcOps::queue`] takes
//! that reference *before* `KeInsertQueueDpc` (the routine may run on another processor before
//! the call returns) and gives it back if the DPC was already queued; the routine drops it
//! after the work returns; [`DpcOps::cancel`] drops it when `KeRemoveQueueDpc` took the item
//! off its queue. So a `Dpc` whose last handle is dropped while queued runs once more and is
//! freed by its own routine (the kernel does not touch a `KDPC` after calling its routine).
//! Queueing never allocates: `KeInsertQueueDpc` links the embedded `KDPC`.
//!
//! [`defer`] is the one-shot variant for `try_defer`: a pool block with a `KDPC` and a
//! closure, freed by its routine before the closure runs.
//!
//! Before the driver image unloads, `KeFlushQueuedDpcs` ([`super::Kernel::flush`]) must have
//! run after the last queue, so no routine of this image is still queued or running.
//! Must never: allocate in `queue`/`cancel`, or free a block that is queued.

use alloc::alloc::{Layout, alloc, dealloc};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering, fence};

use crate::platform::{AllocError, DeferredWork, DpcOps};
use crate::sys::ffi::{KeInitializeDpc, KeInsertQueueDpc, KeRemoveQueueDpc};
use crate::sys::ke::KDPC;

/// The type-independent start of every DPC block.
#[repr(C)]
struct Header {
    /// First, so the `KDPC*` the kernel hands the routine is also the block's address. In an
    /// `UnsafeCell` because ntoskrnl writes it while handles hold `&Header`.
    kdpc: UnsafeCell<KDPC>,
    /// Handles plus one while queued.
    refs: AtomicUsize,
    /// Runs the block's work (monomorphised for its type).
    run: unsafe fn(NonNull<Self>),
    /// Drops the work and frees the block.
    free: unsafe fn(NonNull<Self>),
}

const _: () = assert!(core::mem::offset_of!(Header, kdpc) == 0);

#[repr(C)]
struct Block<W> {
    header: Header,
    work: W,
}

/// Runs a `Block<W>`'s work.
///
/// # Safety
/// `header` is the header of a live `Block<W>`.
unsafe fn run_work<W: DeferredWork>(header: NonNull<Header>) {
    // SAFETY: per the contract the block is a live `Block<W>` (header at offset 0 of a
    // `repr(C)` struct), and the caller's reference keeps it alive during the call.
    let block = unsafe { header.cast::<Block<W>>().as_ref() };
    block.work.run();
}

/// Drops a `Block<W>` and returns its memory to the pool.
///
/// # Safety
/// `header` is the header of a `Block<W>` allocated by [`Dpc::new`] whose reference count
/// reached zero: no one else can reach it, and it is not queued.
unsafe fn free_block<W>(header: NonNull<Header>) {
    let block = header.cast::<Block<W>>().as_ptr();
    // SAFETY: per the contract the block is initialised and unreachable by anyone else.
    unsafe { ptr::drop_in_place(block) };
    // SAFETY: allocated by `alloc` with exactly this layout in `Dpc::new`.
    unsafe { dealloc(block.cast(), Layout::new::<Block<W>>()) };
}

/// Drops one reference; the last one frees the block.
///
/// # Safety
/// The caller owns one reference to the live block `header`, and does not use it afterwards.
unsafe fn release(header: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the block alive for this read.
    let refs = unsafe { &header.as_ref().refs };
    if refs.fetch_sub(1, Ordering::Release) == 1 {
        // Pairs with the Release decrements of the other owners: their uses happen-before
        // the free.
        fence(Ordering::Acquire);
        // SAFETY: the block is still allocated (freed only below).
        let free = unsafe { header.as_ref().free };
        // SAFETY: the count reached zero: no handle and no queue entry refers to the block,
        // and `free` matches the block's type.
        unsafe { free(header) };
    }
}

/// The `KDEFERRED_ROUTINE` of every [`Dpc`]: runs the work, then drops the queued reference.
///
/// # Safety
/// Called by the kernel at `DISPATCH_LEVEL` for a `KDPC` initialised in [`Dpc::new`], whose
/// context is its block; the queued reference taken by [`DpcOps::queue`] is still held.
unsafe extern "system" fn dpc_routine(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _argument1: *mut c_void,
    _argument2: *mut c_void,
) {
    let Some(header) = NonNull::new(context.cast::<Header>()) else {
        return;
    };
    // SAFETY: the queued reference keeps the block alive.
    let run = unsafe { header.as_ref().run };
    // SAFETY: the block is alive (queued reference) and `run` matches its type.
    unsafe { run(header) };
    #[cfg(debug_assertions)]
    assert!(
        super::cpu::held::count() == 0,
        "platform: deferred work returned holding a provider lock"
    );
    // SAFETY: this routine owns the queued reference and does not touch the block again.
    unsafe { release(header) };
}

/// A pre-allocated deferred-work item: a `KDPC` in non-paged pool. Clones share it.
///
/// # Invariants
/// `header` points at a live block allocated by [`Dpc::new`], and this handle owns one of its
/// references.
pub struct Dpc {
    header: NonNull<Header>,
}

// SAFETY: the block's work is `Send + Sync` (`DeferredWork`), its count is atomic and the
// `KDPC` is only touched through ntoskrnl's interlocked DPC calls, so handles may be moved to
// and shared with any thread.
unsafe impl Send for Dpc {}
// SAFETY: see `Send`; `queue`/`cancel` are callable concurrently (the kernel serialises them
// on the DPC's queue lock).
unsafe impl Sync for Dpc {}

impl core::fmt::Debug for Dpc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dpc").finish_non_exhaustive()
    }
}

impl Dpc {
    /// Allocates and initialises a DPC running `work`.
    pub(super) fn new<W: DeferredWork>(work: W) -> Result<Self, AllocError> {
        let layout = Layout::new::<Block<W>>();
        // SAFETY: the layout is non-zero-sized (it contains a `KDPC`).
        let block = unsafe { alloc(layout) }.cast::<Block<W>>();
        let Some(block) = NonNull::new(block) else {
            return Err(AllocError);
        };
        // SAFETY: a fresh allocation of `Block<W>`'s layout, written once before any use.
        unsafe {
            block.as_ptr().write(Block {
                header: Header {
                    kdpc: UnsafeCell::new(KDPC::uninit()),
                    refs: AtomicUsize::new(1),
                    run: run_work::<W>,
                    free: free_block::<W>,
                },
                work,
            });
        }
        let header = block.cast::<Header>();
        // `kdpc` is the first field of the first field of `repr(C)` structs.
        let kdpc = UnsafeCell::raw_get(header.as_ptr().cast::<UnsafeCell<KDPC>>());
        // SAFETY: the `KDPC` is resident (non-paged pool), not queued, and stays at this
        // address until the block is freed; the context is the block, valid as long as the
        // DPC can run (the queued reference).
        unsafe { KeInitializeDpc(kdpc, dpc_routine, header.as_ptr().cast()) };
        Ok(Self { header })
    }

    const fn header(&self) -> &Header {
        // SAFETY: this handle owns a reference (type invariant), so the block is alive.
        unsafe { self.header.as_ref() }
    }

    const fn kdpc(&self) -> *mut KDPC {
        self.header().kdpc.get()
    }
}

impl Clone for Dpc {
    fn clone(&self) -> Self {
        self.header().refs.fetch_add(1, Ordering::Relaxed);
        Self {
            header: self.header,
        }
    }
}

impl Drop for Dpc {
    fn drop(&mut self) {
        // SAFETY: this handle owns one reference and is never used again.
        unsafe { release(self.header) };
    }
}

impl DpcOps for Dpc {
    fn queue(&self) -> bool {
        // The queued reference, taken first: once inserted the routine may run and drop it
        // on another processor before `KeInsertQueueDpc` returns here.
        self.header().refs.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the KDPC was initialised in `new` and is resident; IRQL <= DISPATCH_LEVEL.
        if unsafe { KeInsertQueueDpc(self.kdpc(), ptr::null_mut(), ptr::null_mut()) } != 0 {
            return true;
        }
        // Already queued: give the reference back. It cannot be the last (this handle holds
        // one), so this only decrements.
        // SAFETY: the reference was taken above and is not used again.
        unsafe { release(self.header) };
        false
    }

    fn cancel(&self) -> bool {
        // SAFETY: the KDPC was initialised in `new` and is resident; any IRQL.
        if unsafe { KeRemoveQueueDpc(self.kdpc()) } == 0 {
            return false;
        }
        // The routine will not run: drop the reference its queueing took (not the last:
        // this handle holds one).
        // SAFETY: the queued reference is owned by whoever removes the item, i.e. us now.
        unsafe { release(self.header) };
        true
    }
}

/// A one-shot deferred closure.
#[repr(C)]
struct OneShot<F> {
    kdpc: KDPC,
    job: F,
}

/// The routine of a [`defer`] block: moves the closure out, frees the block, runs the closure.
///
/// # Safety
/// Called by the kernel at `DISPATCH_LEVEL` for a `KDPC` initialised in [`defer`], whose
/// context is its `OneShot<F>` block; called once (the block is queued once).
unsafe extern "system" fn one_shot_routine<F: FnOnce() + Send + 'static>(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _argument1: *mut c_void,
    _argument2: *mut c_void,
) {
    let block = context.cast::<OneShot<F>>();
    if block.is_null() {
        return;
    }
    // SAFETY: the block is live and initialised (contract); this only computes a field address.
    let job = unsafe { &raw const (*block).job };
    // SAFETY: this routine is the block's only user; the job is moved out exactly once and the
    // block is freed below without dropping it again.
    let job = unsafe { ptr::read(job) };
    // SAFETY: allocated by `alloc` with this layout in `defer`; the kernel no longer touches
    // the KDPC once its routine is running, and the job was moved out above.
    unsafe { dealloc(block.cast(), Layout::new::<OneShot<F>>()) };
    job();
    #[cfg(debug_assertions)]
    assert!(
        super::cpu::held::count() == 0,
        "platform: deferred work returned holding a provider lock"
    );
}

/// Queues `job` to run once at `DISPATCH_LEVEL` on this processor (`try_defer`).
pub(super) fn defer<F: FnOnce() + Send + 'static>(job: F) -> Result<(), AllocError> {
    let layout = Layout::new::<OneShot<F>>();
    // SAFETY: non-zero-sized (contains a `KDPC`).
    let block = unsafe { alloc(layout) }.cast::<OneShot<F>>();
    if block.is_null() {
        return Err(AllocError);
    }
    // SAFETY: a fresh allocation of this layout, written once before any use.
    unsafe {
        block.write(OneShot {
            kdpc: KDPC::uninit(),
            job,
        });
    }
    let kdpc = block.cast::<KDPC>();
    // SAFETY: the KDPC is resident and never queued before; the context is the block, which
    // only the routine frees.
    unsafe { KeInitializeDpc(kdpc, one_shot_routine::<F>, block.cast()) };
    // SAFETY: initialised just above; IRQL <= DISPATCH_LEVEL. A fresh DPC is never already
    // queued, so this returns TRUE and the routine owns the block from here on.
    let queued = unsafe { KeInsertQueueDpc(kdpc, ptr::null_mut(), ptr::null_mut()) };
    debug_assert!(queued != 0, "a fresh KDPC cannot be queued already");
    Ok(())
}
