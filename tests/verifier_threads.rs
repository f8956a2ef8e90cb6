//! The verifier under concurrency: consumer calls come from several threads at once, and the
//! fake provider delivers every completion, notification and connect event from the worker
//! threads of a threaded host platform (at DISPATCH), racing the calls that caused them (a
//! completion may run before its request has returned to the consumer).
//!
//! A clean run must produce no violation at all; a double completion injected into the same
//! run must still be flagged, as exactly that rule.
#![cfg(feature = "std")]

mod verifier_fake;

use core::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use softndk::abi::*;
use softndk::platform::Irql;
use softndk::platform::host::{Host, current_irql};
use softndk::verifier::{ObjectKind, Rule, Verifier};
use verifier_fake::Prov;

/// Consumer threads.
const THREADS: usize = 4;
/// Rounds of work per consumer thread.
const ROUNDS: u32 = 40;
/// Connect events delivered to the listener.
const CONNECTS: u32 = 16;

// ---- Consumer side ------------------------------------------------------------------------

/// What one callback context saw. Leaked, so its address is a stable callback context.
#[derive(Default)]
struct Seen {
    /// Times the callback ran.
    count: AtomicU32,
    /// The object a create completion or connect event handed up (exposed address).
    object: AtomicUsize,
    /// Times the callback ran at DISPATCH (on a host worker: consumer threads run at PASSIVE).
    at_dispatch: AtomicU32,
}

impl Seen {
    fn new() -> &'static Self {
        Box::leak(Box::default())
    }

    const fn ctx(&'static self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// Counts one callback.
    fn hit(&self) {
        if current_irql() == Irql::Dispatch {
            self.at_dispatch.fetch_add(1, Ordering::SeqCst);
        }
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn count(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits (at PASSIVE, on a consumer thread) until the callback ran at least `n` times.
    fn wait(&self, n: u32) {
        while self.count() < n {
            std::thread::yield_now();
        }
    }
}

/// The `Seen` behind a callback context.
fn seen<'a>(ctx: *mut c_void) -> &'a Seen {
    // SAFETY: every context this consumer hands out is a leaked `Seen` (`Seen::ctx`).
    unsafe { &*ctx.cast::<Seen>() }
}

unsafe extern "system" fn on_request(ctx: *mut c_void, _status: NTSTATUS) {
    seen(ctx).hit();
}

unsafe extern "system" fn on_notify(ctx: *mut c_void, _status: NTSTATUS) {
    seen(ctx).hit();
}

unsafe extern "system" fn on_close(ctx: *mut c_void) {
    seen(ctx).hit();
}

unsafe extern "system" fn on_create(
    ctx: *mut c_void,
    status: NTSTATUS,
    obj: *mut NDK_OBJECT_HEADER,
) {
    assert_eq!(status, STATUS_SUCCESS);
    let s = seen(ctx);
    s.object.store(obj.expose_provenance(), Ordering::SeqCst);
    s.hit();
}

/// The context of the listener's connect events.
struct Connects {
    /// Connect events seen.
    events: &'static Seen,
    /// Close completions of the connectors they handed up.
    closed: &'static Seen,
}

/// Connect events: the consumer rejects the connection and closes the connector right away,
/// from the provider's worker thread (legal at DISPATCH).
unsafe extern "system" fn on_connect(ctx: *mut c_void, connector: *mut NDK_CONNECTOR) {
    // SAFETY: the listener's event context is a leaked `Connects` (`run`).
    let connects = unsafe { &*ctx.cast::<Connects>() };
    assert!(!connector.is_null());
    // SAFETY: consumer call through the shadow the verifier handed up.
    let s = unsafe { (t(connector).NdkReject)(connector, core::ptr::null(), 0) };
    assert_eq!(s, STATUS_SUCCESS);
    // SAFETY: as above.
    let s = unsafe {
        (t(connector).NdkCloseConnector)(connector.cast(), Some(on_close), connects.closed.ctx())
    };
    assert_eq!(s, STATUS_PENDING);
    connects.events.hit();
}

/// The dispatch table of a shadow object (what a consumer reads).
const fn t<O: NdkObject>(obj: *mut O) -> &'static O::Dispatch
where
    O::Dispatch: 'static,
{
    let slot = obj
        .cast::<NDK_OBJECT_HEADER>()
        .wrapping_add(1)
        .cast::<*const O::Dispatch>();
    // SAFETY: `obj` is a live shadow handed out by the verifier: an NDK prefix whose `Dispatch`
    // (right after the header) points to a `'static` table of this kind.
    let table = unsafe { slot.read() };
    // SAFETY: as above.
    unsafe { &*table }
}

/// A pointer from an exposed address (shadows cross threads as integers).
const fn ptr<T>(addr: usize) -> *mut T {
    core::ptr::with_exposed_provenance_mut(addr)
}

/// Runs a pending create and waits for its completion; returns the shadow it handed up.
fn create<T>(run: impl FnOnce(*mut c_void, *mut *mut T) -> NTSTATUS) -> usize {
    let done = Seen::new();
    let mut out = core::ptr::null_mut::<T>();
    assert_eq!(run(done.ctx(), &raw mut out), STATUS_PENDING);
    done.wait(1);
    assert!(
        out.is_null(),
        "a pending create leaves the out-pointer alone"
    );
    let object = done.object.load(Ordering::SeqCst);
    assert_ne!(object, 0);
    object
}

/// Closes a shadow through its close slot `slot` (the close pends) and waits for its close
/// completion.
fn close(object: usize, slot: NDK_FN_CLOSE_OBJECT) {
    let done = Seen::new();
    // SAFETY: consumer call through the shadow's own close slot.
    let s = unsafe { slot(ptr(object), Some(on_close), done.ctx()) };
    assert_eq!(s, STATUS_PENDING);
    done.wait(1);
}

fn poll(cq: *mut NDK_CQ, out: &mut [NDK_RESULT]) -> &[NDK_RESULT] {
    let n = u32::try_from(out.len()).unwrap_or(u32::MAX);
    // SAFETY: consumer call through the shadow's table; `out` holds `n` entries.
    let got = unsafe { (t(cq).NdkGetCqResults)(cq, out.as_mut_ptr(), n) };
    &out[..(got as usize).min(out.len())]
}

/// What the consumer threads share.
struct Shared {
    adapter: usize,
    /// The receive CQ of every QP, reaped by the poller thread.
    rcq: usize,
    /// Receives reaped per consumer thread (by `QPContext`).
    received: Vec<AtomicU32>,
    /// Request completions seen across all threads.
    registered: AtomicU32,
}

const fn qp_context(thread: usize) -> usize {
    0x1000 * (thread + 1)
}

/// One consumer thread: its own CQ, PD, MR and QP (receiving into the shared CQ), then rounds
/// of registration, arm-and-notify, send and receive, then closes in order.
fn consumer(shared: &Shared, host: &Host, thread: usize) {
    let adapter = ptr::<NDK_ADAPTER>(shared.adapter);
    let notified = Seen::new();
    let notify_ctx = notified.ctx();
    let cq = ptr::<NDK_CQ>(create(|ctx, out| {
        // SAFETY: consumer call through the shadow's table with valid arguments.
        unsafe {
            (t(adapter).NdkCreateCq)(
                adapter,
                64,
                Some(on_notify),
                notify_ctx,
                core::ptr::null(),
                Some(on_create),
                ctx,
                out,
            )
        }
    }));
    let pd = ptr::<NDK_PD>(create(|ctx, out| {
        // SAFETY: consumer call through the shadow's table with valid arguments.
        unsafe { (t(adapter).NdkCreatePd)(adapter, Some(on_create), ctx, out) }
    }));
    let mr = ptr::<NDK_MR>(create(|ctx, out| {
        // SAFETY: consumer call through the shadow's table with valid arguments.
        unsafe { (t(pd).NdkCreateMr)(pd, FALSE, Some(on_create), ctx, out) }
    }));
    let rcq = ptr::<NDK_CQ>(shared.rcq);
    let qp = ptr::<NDK_QP>(create(|ctx, out| {
        // SAFETY: consumer call through the shadow's table with valid arguments.
        unsafe {
            (t(pd).NdkCreateQp)(
                pd,
                rcq,
                cq,
                ptr(qp_context(thread)),
                8,
                8,
                1,
                1,
                0,
                Some(on_create),
                ctx,
                out,
            )
        }
    }));

    let registered = Seen::new();
    let mut results = [NDK_RESULT::ZEROED; 4];
    for round in 1..=ROUNDS {
        // A registration completing on a worker, possibly before the call returns here.
        // SAFETY: consumer call through the shadow's table; the fake ignores the MDL.
        let s = unsafe {
            (t(mr).NdkRegisterMr)(
                mr,
                core::ptr::null_mut(),
                4096,
                0,
                Some(on_request),
                registered.ctx(),
            )
        };
        assert_eq!(s, STATUS_PENDING);
        // One notification per arm, from a worker.
        // SAFETY: consumer call through the shadow's table.
        unsafe { (t(cq).NdkArmCq)(cq, NDK_CQ_NOTIFY_ANY) };
        notified.wait(round);
        // A send completing on this thread's CQ and a receive on the shared one.
        let context = ptr::<c_void>(usize::try_from(round).unwrap_or(usize::MAX));
        // SAFETY: consumer calls through the shadow's table; the fake ignores the SGLs.
        let s = unsafe { (t(qp).NdkSend)(qp, context, core::ptr::null(), 0, 0) };
        assert_eq!(s, STATUS_SUCCESS);
        // SAFETY: as above.
        let s = unsafe { (t(qp).NdkReceive)(qp, context, core::ptr::null(), 0) };
        assert_eq!(s, STATUS_SUCCESS);
        let got = poll(cq, &mut results);
        assert_eq!(got.len(), 1, "the send came back on this thread's CQ");
        assert_eq!(got[0].RequestContext, context);
        registered.wait(round);
    }
    assert_eq!(
        notified.at_dispatch.load(Ordering::SeqCst),
        notified.count()
    );
    // The poller reaps this QP's receives before the QP closes (§5.8).
    while shared.received[thread].load(Ordering::SeqCst) < ROUNDS {
        std::thread::yield_now();
    }
    // Whatever the provider still has queued (a duplicate completion) runs before the closes.
    host.flush();
    assert_eq!(
        registered.at_dispatch.load(Ordering::SeqCst),
        registered.count(),
        "completions come from the workers"
    );
    shared
        .registered
        .fetch_add(registered.count(), Ordering::SeqCst);

    close(qp.expose_provenance(), t(qp).NdkCloseQp);
    close(mr.expose_provenance(), t(mr).NdkCloseMr);
    close(pd.expose_provenance(), t(pd).NdkClosePd);
    close(cq.expose_provenance(), t(cq).NdkCloseCq);
}

/// Reaps the shared receive CQ until every consumer thread's receives came back.
fn poller(shared: &Shared) {
    let rcq = ptr::<NDK_CQ>(shared.rcq);
    let total = u32::try_from(THREADS).unwrap_or(u32::MAX) * ROUNDS;
    let mut reaped = 0;
    let mut results = [NDK_RESULT::ZEROED; 8];
    while reaped < total {
        for r in poll(rcq, &mut results) {
            let thread = r.QPContext.addr() / 0x1000 - 1;
            shared.received[thread].fetch_add(1, Ordering::SeqCst);
            reaped += 1;
        }
        std::thread::yield_now();
    }
}

/// The whole concurrent scenario. With `double`, the provider delivers one request completion
/// twice. Returns the verifier (violations untaken) and the request completions consumers saw.
fn run(double: bool) -> (Verifier, u32) {
    let host = Host::threaded(2);
    let prov = Prov::new();
    prov.defer_to(&host);
    prov.create_pending.store(true, Ordering::SeqCst);
    prov.set_close(STATUS_PENDING);
    prov.double_next.store(double, Ordering::SeqCst);
    let v = Verifier::new();
    // SAFETY: a fake adapter with a filled table, never freed.
    let adapter = unsafe { v.wrap_adapter(verifier_fake::open(&prov)) };

    // The shared receive CQ, without notifications.
    // SAFETY: consumer call through the shadow's table.
    let rcq = create::<NDK_CQ>(|ctx, out| {
        // SAFETY: consumer call through the shadow's table with valid arguments.
        unsafe {
            (t(adapter).NdkCreateCq)(
                adapter,
                256,
                None,
                core::ptr::null_mut(),
                core::ptr::null(),
                Some(on_create),
                ctx,
                out,
            )
        }
    });
    let shared = Arc::new(Shared {
        adapter: adapter.expose_provenance(),
        rcq,
        received: (0..THREADS).map(|_| AtomicU32::new(0)).collect(),
        registered: AtomicU32::new(0),
    });

    let mut threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (shared, host) = (Arc::clone(&shared), host.clone());
            std::thread::spawn(move || consumer(&shared, &host, i))
        })
        .collect();
    let poll_shared = Arc::clone(&shared);
    threads.push(std::thread::spawn(move || poller(&poll_shared)));

    // Meanwhile, on this thread: a listener whose connect events arrive from the workers.
    let connects: &'static Connects = Box::leak(Box::new(Connects {
        events: Seen::new(),
        closed: Seen::new(),
    }));
    let connect_ctx: *mut c_void = core::ptr::from_ref(connects).cast_mut().cast();
    // SAFETY: consumer call through the shadow's table.
    let listener = create::<NDK_LISTENER>(|ctx, out| {
        // SAFETY: consumer call through the shadow's table with valid arguments.
        unsafe {
            (t(adapter).NdkCreateListener)(
                adapter,
                Some(on_connect),
                connect_ctx,
                Some(on_create),
                ctx,
                out,
            )
        }
    });
    let real_listener = prov.object(NDK_OBJECT_TYPE::LISTENER, 0);
    for _ in 0..CONNECTS {
        assert!(prov.defer(move || {
            verifier_fake::connect_event(real_listener);
        }));
    }
    connects.events.wait(CONNECTS);
    connects.closed.wait(CONNECTS);
    assert_eq!(connects.events.at_dispatch.load(Ordering::SeqCst), CONNECTS);
    assert_eq!(connects.closed.at_dispatch.load(Ordering::SeqCst), CONNECTS);
    let listener = ptr::<NDK_LISTENER>(listener);
    close(listener.expose_provenance(), t(listener).NdkCloseListener);

    for thread in threads {
        thread.join().expect("consumer thread");
    }
    let rcq = ptr::<NDK_CQ>(rcq);
    close(rcq.expose_provenance(), t(rcq).NdkCloseCq);
    v.check_drained();
    v.close_adapter(adapter, |_real| host.flush());
    let registered = shared.registered.load(Ordering::SeqCst);
    (v, registered)
}

#[test]
fn concurrent_consumers_and_worker_callbacks_produce_no_false_violation() {
    let (v, registered) = run(false);
    v.assert_clean();
    let rounds = u32::try_from(THREADS).unwrap_or(u32::MAX) * ROUNDS;
    assert_eq!(registered, rounds);
    let threads = u64::try_from(THREADS).unwrap_or(u64::MAX);
    let stats = v.stats();
    // Creates: 4 per thread, the shared CQ, the listener. Closes: the same plus every
    // connector. Per round: a registration and a notification. Plus the connect events.
    let creates = 4 * threads + 2;
    let connects = u64::from(CONNECTS);
    let expected = creates + (creates + connects) + 2 * u64::from(rounds) + connects;
    assert_eq!(stats.callbacks, expected, "{stats:?}");
    assert_eq!(stats.posted, 2 * u64::from(rounds), "{stats:?}");
    assert_eq!(stats.cq_results, 2 * u64::from(rounds), "{stats:?}");
    assert!(v.open_objects().is_empty(), "{:?}", v.open_objects());
}

#[test]
fn a_double_completion_is_caught_under_concurrency() {
    let (v, registered) = run(true);
    let rounds = u32::try_from(THREADS).unwrap_or(u32::MAX) * ROUNDS;
    assert_eq!(
        registered,
        rounds + 1,
        "the duplicate reaches the consumer unchanged"
    );
    let found = v.take_violations();
    let report: String = found.iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].rule, Rule::CompletionTwice, "{report}");
    assert_eq!(found[0].object.kind, ObjectKind::Mr, "{report}");
    assert!(found[0].message.contains("NdkRegisterMr"), "{report}");
    assert!(v.open_objects().is_empty(), "{:?}", v.open_objects());
}
