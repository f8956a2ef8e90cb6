//! A small, scriptable, deliberately buggy NDK provider for the verifier tests.
//!
//! It fills every slot of every dispatch table. Slots the scenarios need behave (creates,
//! closes, requests, posts, CQ polling, arming, connect/disconnect registration); the rest are
//! stubs returning `STATUS_NOT_SUPPORTED`. Every slot logs `(slot, object address)` so a test
//! can check the verifier forwarded it with the provider's own object. The provider *stores*
//! every callback it is given and never calls one by itself: the test plays the provider's
//! internals and decides when (and how often, and how wrongly) each callback fires.
//!
//! Unless the test hands it a host platform ([`Prov::defer_to`]): then it also behaves like a
//! provider with DPCs, completing every pending create, request and close once, and notifying
//! once per arm, from the host's worker threads (`try_defer`). [`Prov::double_next`] makes the
//! next deferred request completion be delivered twice (bug).
#![allow(
    dead_code,
    non_snake_case,
    clippy::missing_safety_doc,
    clippy::too_many_arguments,
    clippy::missing_const_for_fn
)]

use core::ffi::c_void;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use softndk::abi::*;
use softndk::platform::host::Host;
use softndk::platform::prelude::*;

/// A pointer stored by the fake (opaque value, never dereferenced by the fake).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ptr(pub *mut c_void);
impl Ptr {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    pub const fn get(self) -> *mut c_void {
        self.0
    }
}

// SAFETY: the fake only stores and returns these values; it never reads through them.
unsafe impl Send for Ptr {}
// SAFETY: as above.
unsafe impl Sync for Ptr {}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every slot call the fake saw: `(slot, object address)`.
pub static LOG: Mutex<Vec<(&'static str, usize)>> = Mutex::new(Vec::new());

fn log(slot: &'static str, object: usize) {
    lock(&LOG).push((slot, object));
}

/// Whether the fake saw `slot` called on `object`.
pub fn saw(slot: &str, object: usize) -> bool {
    lock(&LOG).iter().any(|&(s, o)| s == slot && o == object)
}

/// How many times the fake saw `slot` called on `object`.
pub fn count(slot: &str, object: usize) -> usize {
    lock(&LOG)
        .iter()
        .filter(|&&(s, o)| s == slot && o == object)
        .count()
}

/// A provider object: the NDK prefix (header + dispatch) then the fake's state.
#[repr(C)]
pub struct Fake {
    header: NDK_OBJECT_HEADER,
    dispatch: *const c_void,
    pub prov: Arc<Prov>,
    pub kind: NDK_OBJECT_TYPE,
    /// CQ: results waiting to be polled.
    pub results: Mutex<VecDeque<NDK_RESULT>>,
    /// CQ: the notification callback; SRQ likewise.
    pub notify: Mutex<Option<(NDK_FN_CQ_NOTIFICATION_CALLBACK, Ptr)>>,
    /// QP: (receive CQ, initiator CQ, `QPContext`).
    pub qp: Mutex<Option<(Ptr, Ptr, Ptr)>>,
    /// Listener: the connect-event callback.
    pub connect: Mutex<Option<(NDK_FN_CONNECT_EVENT_CALLBACK, Ptr)>>,
    /// Connector: the disconnect-event callback.
    pub disconnect: Mutex<Option<(NDK_FN_DISCONNECT_EVENT_CALLBACK, Ptr)>>,
    /// CQ, deferred mode: `(a notification is running, another one is due)` (§3.4 rule 3).
    pub notifying: Mutex<(bool, bool)>,
}

// SAFETY: `dispatch` points to a `'static` table; everything else is synchronised.
#[allow(clippy::non_send_fields_in_send_ty)]
unsafe impl Send for Fake {}
// SAFETY: as above.
unsafe impl Sync for Fake {}

impl Fake {
    pub fn addr(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }

    pub fn ptr(&'static self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }
}

/// What the fake returns and has stored.
pub struct Prov {
    /// Status every close returns (`STATUS_SUCCESS` or `STATUS_PENDING`, or a bad one).
    pub close_status: Mutex<NTSTATUS>,
    /// Status every asynchronous request returns.
    pub request_status: Mutex<NTSTATUS>,
    /// Creates return `STATUS_PENDING` (and store their completion) instead of succeeding.
    pub create_pending: AtomicBool,
    /// A pending create writes the out-pointer anyway (bug).
    pub write_out_when_pending: AtomicBool,
    /// Successful posts append a result to the right CQ.
    pub auto_results: AtomicBool,
    /// Silent-success posts produce a result too (bug).
    pub report_silent: AtomicBool,
    /// `NdkGetCqResults` claims this many more results than it wrote (bug).
    pub overcount: AtomicU32,
    pub closes: Mutex<Vec<(NDK_FN_CLOSE_COMPLETION, Ptr)>>,
    /// Close completions of closes that did not pend (kept so a test can deliver one: bug).
    pub inline_closes: Mutex<Vec<(NDK_FN_CLOSE_COMPLETION, Ptr)>>,
    pub requests: Mutex<Vec<(NDK_FN_REQUEST_COMPLETION, Ptr)>>,
    pub creates: Mutex<Vec<(NDK_FN_CREATE_COMPLETION, Ptr, Ptr)>>,
    /// Create completions of creates that succeeded inline, with the object (bug to call).
    pub inline_creates: Mutex<Vec<(NDK_FN_CREATE_COMPLETION, Ptr, Ptr)>>,
    pub objects: Mutex<Vec<&'static Fake>>,
    /// When set, pending work completes from this platform's deferred-work threads.
    pub host: Mutex<Option<Host>>,
    /// The next deferred request completion is delivered twice (bug).
    pub double_next: AtomicBool,
    /// Deferred callback deliveries running right now.
    pub in_flight: AtomicU32,
}

impl Prov {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            close_status: Mutex::new(STATUS_SUCCESS),
            request_status: Mutex::new(STATUS_PENDING),
            create_pending: AtomicBool::new(false),
            write_out_when_pending: AtomicBool::new(false),
            auto_results: AtomicBool::new(true),
            report_silent: AtomicBool::new(false),
            overcount: AtomicU32::new(0),
            closes: Mutex::default(),
            inline_closes: Mutex::default(),
            requests: Mutex::default(),
            creates: Mutex::default(),
            inline_creates: Mutex::default(),
            objects: Mutex::default(),
            host: Mutex::default(),
            double_next: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
        })
    }

    /// From now on, completes pending work and notifies armed CQs from `host`'s deferred work.
    pub fn defer_to(&self, host: &Host) {
        *lock(&self.host) = Some(host.clone());
    }

    /// Runs `f` (a callback delivery) as deferred work on the platform set by
    /// [`Prov::defer_to`], counted in `in_flight` while it runs; `false` if no platform is set.
    pub fn defer(self: &Arc<Self>, f: impl FnOnce() + Send + 'static) -> bool {
        let prov = Arc::clone(self);
        self.queue(move || {
            prov.in_flight.fetch_add(1, Ordering::SeqCst);
            f();
            prov.in_flight.fetch_sub(1, Ordering::SeqCst);
        })
    }

    /// Delivers a close completion from deferred work once no other callback of the fake is
    /// running (re-queued until then). Every callback of the object and every successor's
    /// close completion that started before has then returned: §5.3 C1, C2 and C4, coarsely.
    fn defer_close(self: &Arc<Self>, cb: NDK_FN_CLOSE_COMPLETION, ctx: Ptr) {
        let prov = Arc::clone(self);
        self.queue(move || {
            if prov
                .in_flight
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                prov.defer_close(cb, ctx);
                return;
            }
            // SAFETY: `cb`/`ctx` were handed to the fake as a close completion.
            unsafe { cb(ctx.get()) };
            prov.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    fn queue(&self, f: impl FnOnce() + Send + 'static) -> bool {
        let host = lock(&self.host).clone();
        host.is_some_and(|h| {
            h.try_defer(f)
                .expect("the host platform admits deferred work");
            true
        })
    }

    pub fn set_close(&self, s: NTSTATUS) {
        *lock(&self.close_status) = s;
    }

    pub fn set_request(&self, s: NTSTATUS) {
        *lock(&self.request_status) = s;
    }

    /// The `n`-th object of `kind` the fake created.
    pub fn object(&self, kind: NDK_OBJECT_TYPE, n: usize) -> &'static Fake {
        lock(&self.objects)
            .iter()
            .filter(|f| f.kind == kind)
            .nth(n)
            .copied()
            .expect("no such fake object")
    }

    /// Calls the `i`-th stored request completion (the fake "completes" it).
    pub fn complete_request(&self, i: usize, status: NTSTATUS) {
        let (f, ctx) = lock(&self.requests)[i];
        // SAFETY: `f`/`ctx` were handed to the fake as a request completion.
        unsafe { f(ctx.0, status) };
    }

    /// Calls the `i`-th stored close completion.
    pub fn complete_close(&self, i: usize) {
        let (f, ctx) = lock(&self.closes)[i];
        // SAFETY: `f`/`ctx` were handed to the fake as a close completion.
        unsafe { f(ctx.0) };
    }

    /// Calls the close completion of the `i`-th close that did not pend (bug).
    pub fn complete_inline_close(&self, i: usize) {
        let (f, ctx) = lock(&self.inline_closes)[i];
        // SAFETY: `f`/`ctx` were handed to the fake as a close completion.
        unsafe { f(ctx.0) };
    }

    /// Calls the `i`-th stored create completion with its object.
    pub fn complete_create(&self, i: usize, status: NTSTATUS) {
        let (f, ctx, obj) = lock(&self.creates)[i];
        // SAFETY: `f`/`ctx` were handed to the fake as a create completion.
        unsafe { f(ctx.0, status, obj.0.cast()) };
    }

    /// Calls the create completion of the `i`-th create that succeeded inline (bug).
    pub fn complete_inline_create(&self, i: usize, status: NTSTATUS) {
        let (f, ctx, obj) = lock(&self.inline_creates)[i];
        // SAFETY: `f`/`ctx` were handed to the fake as a create completion.
        unsafe { f(ctx.0, status, obj.0.cast()) };
    }

    /// Calls the `i`-th stored create completion with `object` instead of the created one.
    pub fn complete_create_with(&self, i: usize, status: NTSTATUS, object: *mut c_void) {
        let (f, ctx, _) = lock(&self.creates)[i];
        // SAFETY: `f`/`ctx` were handed to the fake as a create completion.
        unsafe { f(ctx.0, status, object.cast()) };
    }

    fn new_object(
        self: &Arc<Self>,
        kind: NDK_OBJECT_TYPE,
        dispatch: *const c_void,
    ) -> &'static Fake {
        let fake = Box::leak(Box::new(Fake {
            header: NDK_OBJECT_HEADER::new(NDK_VERSION_2_1, kind),
            dispatch,
            prov: Arc::clone(self),
            kind,
            results: Mutex::default(),
            notify: Mutex::default(),
            qp: Mutex::default(),
            connect: Mutex::default(),
            disconnect: Mutex::default(),
            notifying: Mutex::default(),
        }));
        lock(&self.objects).push(fake);
        fake
    }
}

/// Fires `cq`'s notification callback (the fake "notifies").
pub fn notify(cq: &Fake, status: NTSTATUS) {
    let stored = *lock(&cq.notify);
    if let Some((f, ctx)) = stored {
        // SAFETY: `f`/`ctx` were handed to the fake as the CQ's notification callback.
        unsafe { f(ctx.0, status) };
    }
}

/// Fires `cq`'s notification, serialised (§3.4 rule 3): one that becomes due while another is
/// running is delivered by the running one's thread after it returned.
fn notify_serialised(cq: &Fake, status: NTSTATUS) {
    {
        let mut state = lock(&cq.notifying);
        if state.0 {
            state.1 = true;
            return;
        }
        state.0 = true;
    }
    loop {
        notify(cq, status);
        let mut state = lock(&cq.notifying);
        if !state.1 {
            state.0 = false;
            return;
        }
        state.1 = false;
    }
}

/// Fires `connector`'s disconnect event.
pub fn disconnect_event(connector: &Fake) {
    let stored = *lock(&connector.disconnect);
    if let Some((f, ctx)) = stored {
        // SAFETY: `f`/`ctx` were handed to the fake as the disconnect event.
        unsafe { f(ctx.0) };
    }
}

/// Fires `listener`'s connect event with a new fake connector; returns it.
pub fn connect_event(listener: &'static Fake) -> &'static Fake {
    let connector = listener
        .prov
        .new_object(NDK_OBJECT_TYPE::CONNECTOR, table_ptr(&CONNECTOR));
    let stored = *lock(&listener.connect);
    if let Some((f, ctx)) = stored {
        // SAFETY: `f`/`ctx` were handed to the fake as the connect event callback.
        unsafe { f(ctx.0, connector.ptr().cast()) };
    }
    connector
}

fn table_ptr<T>(t: &'static T) -> *const c_void {
    core::ptr::from_ref(t).cast()
}

/// The fake object behind a provider pointer.
fn fake<'a, T>(p: *mut T) -> &'a Fake {
    // SAFETY: the verifier forwards only pointers the fake handed out, which are leaked
    // (never freed) `Fake`s with the NDK prefix at offset 0.
    unsafe { &*p.cast::<Fake>() }
}

/// Opens a fake adapter.
pub fn open(prov: &Arc<Prov>) -> *mut NDK_ADAPTER {
    prov.new_object(NDK_OBJECT_TYPE::ADAPTER, table_ptr(&ADAPTER))
        .ptr()
        .cast()
}

// ---- Behaving slots -------------------------------------------------------------------------

fn finish_create<T>(
    parent: &Fake,
    child: &'static Fake,
    cb: Option<NDK_FN_CREATE_COMPLETION>,
    ctx: *mut c_void,
    out: *mut *mut T,
) -> NTSTATUS {
    let prov = &parent.prov;
    if prov.create_pending.load(Ordering::SeqCst)
        && let Some(cb) = cb
    {
        lock(&prov.creates).push((cb, Ptr(ctx), Ptr(child.ptr())));
        if prov.write_out_when_pending.load(Ordering::SeqCst) && !out.is_null() {
            // SAFETY: `out` is the (verifier's) out slot for this create.
            unsafe { out.write(child.ptr().cast()) };
        }
        let (ctx, object) = (Ptr(ctx), Ptr(child.ptr()));
        prov.defer(move || {
            // SAFETY: `cb`/`ctx` were handed to the fake as this create's completion.
            unsafe { cb(ctx.get(), STATUS_SUCCESS, object.get().cast()) };
        });
        return STATUS_PENDING;
    }
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `out` is a valid out-pointer for this inline create.
    unsafe { out.write(child.ptr().cast()) };
    if let Some(cb) = cb {
        lock(&prov.inline_creates).push((cb, Ptr(ctx), Ptr(child.ptr())));
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn create_cq(
    a: *mut NDK_ADAPTER,
    _depth: u32,
    n: Option<NDK_FN_CQ_NOTIFICATION_CALLBACK>,
    nctx: *mut c_void,
    _aff: *const GROUP_AFFINITY,
    cb: Option<NDK_FN_CREATE_COMPLETION>,
    ctx: *mut c_void,
    out: *mut *mut NDK_CQ,
) -> NTSTATUS {
    log("NdkCreateCq", a.addr());
    let parent = fake(a);
    let cq = parent.prov.new_object(NDK_OBJECT_TYPE::CQ, table_ptr(&CQ));
    *lock(&cq.notify) = n.map(|f| (f, Ptr(nctx)));
    finish_create(parent, cq, cb, ctx, out)
}

macro_rules! simple_create {
    ($name:ident, $slot:literal, $parent:ty, $ty:ident, $table:ident, $out:ty) => {
        unsafe extern "system" fn $name(
            p: *mut $parent,
            cb: Option<NDK_FN_CREATE_COMPLETION>,
            ctx: *mut c_void,
            out: *mut *mut $out,
        ) -> NTSTATUS {
            log($slot, p.addr());
            let parent = fake(p);
            let child = parent
                .prov
                .new_object(NDK_OBJECT_TYPE::$ty, table_ptr(&$table));
            finish_create(parent, child, cb, ctx, out)
        }
    };
}

simple_create!(create_pd, "NdkCreatePd", NDK_ADAPTER, PD, PD, NDK_PD);
simple_create!(
    create_connector,
    "NdkCreateConnector",
    NDK_ADAPTER,
    CONNECTOR,
    CONNECTOR,
    NDK_CONNECTOR
);
simple_create!(create_mw, "NdkCreateMw", NDK_PD, MW, MW, NDK_MW);

unsafe extern "system" fn create_mr(
    p: *mut NDK_PD,
    _fast: BOOLEAN,
    cb: Option<NDK_FN_CREATE_COMPLETION>,
    ctx: *mut c_void,
    out: *mut *mut NDK_MR,
) -> NTSTATUS {
    log("NdkCreateMr", p.addr());
    let parent = fake(p);
    let mr = parent.prov.new_object(NDK_OBJECT_TYPE::MR, table_ptr(&MR));
    finish_create(parent, mr, cb, ctx, out)
}

unsafe extern "system" fn create_shared_endpoint(
    a: *mut NDK_ADAPTER,
    _addr: *const SOCKADDR,
    _len: u32,
    cb: Option<NDK_FN_CREATE_COMPLETION>,
    ctx: *mut c_void,
    out: *mut *mut NDK_SHARED_ENDPOINT,
) -> NTSTATUS {
    log("NdkCreateSharedEndpoint", a.addr());
    let parent = fake(a);
    let se = parent.prov.new_object(
        NDK_OBJECT_TYPE::SHARED_ENDPOINT,
        table_ptr(&SHARED_ENDPOINT),
    );
    finish_create(parent, se, cb, ctx, out)
}

unsafe extern "system" fn create_srq(
    p: *mut NDK_PD,
    _depth: u32,
    _sge: u32,
    _threshold: u32,
    _n: Option<NDK_FN_SRQ_NOTIFICATION_CALLBACK>,
    _nctx: *mut c_void,
    _aff: *const GROUP_AFFINITY,
    cb: Option<NDK_FN_CREATE_COMPLETION>,
    ctx: *mut c_void,
    out: *mut *mut NDK_SRQ,
) -> NTSTATUS {
    log("NdkCreateSrq", p.addr());
    let parent = fake(p);
    let srq = parent
        .prov
        .new_object(NDK_OBJECT_TYPE::SRQ, table_ptr(&SRQ));
    finish_create(parent, srq, cb, ctx, out)
}

unsafe extern "system" fn create_listener(
    a: *mut NDK_ADAPTER,
    ev: Option<NDK_FN_CONNECT_EVENT_CALLBACK>,
    evctx: *mut c_void,
    cb: Option<NDK_FN_CREATE_COMPLETION>,
    ctx: *mut c_void,
    out: *mut *mut NDK_LISTENER,
) -> NTSTATUS {
    log("NdkCreateListener", a.addr());
    let parent = fake(a);
    let l = parent
        .prov
        .new_object(NDK_OBJECT_TYPE::LISTENER, table_ptr(&LISTENER));
    *lock(&l.connect) = ev.map(|f| (f, Ptr(evctx)));
    finish_create(parent, l, cb, ctx, out)
}

unsafe extern "system" fn create_qp(
    p: *mut NDK_PD,
    rcq: *mut NDK_CQ,
    icq: *mut NDK_CQ,
    qpctx: *mut c_void,
    _rd: u32,
    _id: u32,
    _rs: u32,
    _is: u32,
    _inl: u32,
    cb: Option<NDK_FN_CREATE_COMPLETION>,
    ctx: *mut c_void,
    out: *mut *mut NDK_QP,
) -> NTSTATUS {
    log("NdkCreateQp", p.addr());
    let parent = fake(p);
    let qp = parent.prov.new_object(NDK_OBJECT_TYPE::QP, table_ptr(&QP));
    *lock(&qp.qp) = Some((Ptr(rcq.cast()), Ptr(icq.cast()), Ptr(qpctx)));
    finish_create(parent, qp, cb, ctx, out)
}

unsafe extern "system" fn close(
    o: *mut NDK_OBJECT_HEADER,
    cb: Option<NDK_FN_CLOSE_COMPLETION>,
    ctx: *mut c_void,
) -> NTSTATUS {
    log("NdkClose", o.addr());
    let prov = &fake(o).prov;
    let status = *lock(&prov.close_status);
    if let Some(cb) = cb {
        if status == STATUS_PENDING {
            lock(&prov.closes).push((cb, Ptr(ctx)));
            prov.defer_close(cb, Ptr(ctx));
        } else {
            lock(&prov.inline_closes).push((cb, Ptr(ctx)));
        }
    }
    status
}

fn request(prov: &Arc<Prov>, cb: Option<NDK_FN_REQUEST_COMPLETION>, ctx: *mut c_void) -> NTSTATUS {
    let status = *lock(&prov.request_status);
    if let Some(cb) = cb {
        lock(&prov.requests).push((cb, Ptr(ctx)));
        if status == STATUS_PENDING {
            let times = if prov.double_next.swap(false, Ordering::SeqCst) {
                2
            } else {
                1
            };
            let ctx = Ptr(ctx);
            for _ in 0..times {
                prov.defer(move || {
                    // SAFETY: `cb`/`ctx` were handed to the fake as this request's completion.
                    unsafe { cb(ctx.get(), STATUS_SUCCESS) };
                });
            }
        }
    }
    status
}

macro_rules! request_fn {
    ($name:ident, $slot:literal, $obj:ty, ($($a:ident: $t:ty),*)) => {
        unsafe extern "system" fn $name(
            o: *mut $obj,
            $($a: $t,)*
            cb: Option<NDK_FN_REQUEST_COMPLETION>,
            ctx: *mut c_void,
        ) -> NTSTATUS {
            $(let _ = $a;)*
            log($slot, o.addr());
            request(&fake(o).prov, cb, ctx)
        }
    };
}

request_fn!(register_mr, "NdkRegisterMr", NDK_MR, (m: *mut MDL, l: usize, f: u32));
request_fn!(deregister_mr, "NdkDeregisterMr", NDK_MR, ());
request_fn!(init_fr_mr, "NdkInitializeFastRegisterMr", NDK_MR, (n: u32, r: BOOLEAN));
request_fn!(resize_cq, "NdkResizeCq", NDK_CQ, (d: u32));
request_fn!(modify_srq, "NdkModifySrq", NDK_SRQ, (d: u32, t: u32));
request_fn!(disconnect, "NdkDisconnect", NDK_CONNECTOR, ());
request_fn!(listen, "NdkListen", NDK_LISTENER, (a: *const SOCKADDR, l: u32));

unsafe extern "system" fn build_lam(
    a: *mut NDK_ADAPTER,
    _m: *mut MDL,
    _l: usize,
    cb: Option<NDK_FN_REQUEST_COMPLETION>,
    ctx: *mut c_void,
    _lam: *mut NDK_LOGICAL_ADDRESS_MAPPING,
    _sz: *mut u32,
    _fbo: *mut u32,
) -> NTSTATUS {
    log("NdkBuildLAM", a.addr());
    request(&fake(a).prov, cb, ctx)
}

unsafe extern "system" fn connect(
    c: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    _s: *const SOCKADDR,
    _sl: u32,
    _d: *const SOCKADDR,
    _dl: u32,
    _i: u32,
    _o: u32,
    _p: *const c_void,
    _pl: u32,
    cb: Option<NDK_FN_REQUEST_COMPLETION>,
    ctx: *mut c_void,
) -> NTSTATUS {
    log("NdkConnect", c.addr());
    log("NdkConnect.qp", qp.addr());
    request(&fake(c).prov, cb, ctx)
}

unsafe extern "system" fn connect_se(
    c: *mut NDK_CONNECTOR,
    _qp: *mut NDK_QP,
    _se: *mut NDK_SHARED_ENDPOINT,
    _d: *const SOCKADDR,
    _dl: u32,
    _i: u32,
    _o: u32,
    _p: *const c_void,
    _pl: u32,
    cb: Option<NDK_FN_REQUEST_COMPLETION>,
    ctx: *mut c_void,
) -> NTSTATUS {
    log("NdkConnectWithSharedEndpoint", c.addr());
    request(&fake(c).prov, cb, ctx)
}

unsafe extern "system" fn complete_connect(
    c: *mut NDK_CONNECTOR,
    ev: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    evctx: *mut c_void,
    cb: Option<NDK_FN_REQUEST_COMPLETION>,
    ctx: *mut c_void,
) -> NTSTATUS {
    log("NdkCompleteConnect", c.addr());
    *lock(&fake(c).disconnect) = ev.map(|f| (f, Ptr(evctx)));
    request(&fake(c).prov, cb, ctx)
}

unsafe extern "system" fn arm_cq(cq: *mut NDK_CQ, _t: u32) {
    log("NdkArmCq", cq.addr());
    let cq: &'static Fake = fake(cq);
    cq.prov.defer(move || notify_serialised(cq, STATUS_SUCCESS));
}

unsafe extern "system" fn get_cq_results(cq: *mut NDK_CQ, out: *mut NDK_RESULT, n: u32) -> u32 {
    log("NdkGetCqResults", cq.addr());
    let f = fake(cq);
    let mut results = lock(&f.results);
    let mut count = 0;
    while count < n
        && let Some(r) = results.pop_front()
    {
        let slot = out.wrapping_add(count as usize);
        // SAFETY: `out` holds `n` entries (consumer contract) and `count < n`.
        unsafe { slot.write(r) };
        count += 1;
    }
    count + f.prov.overcount.load(Ordering::SeqCst)
}

unsafe extern "system" fn get_cq_results_ex(
    cq: *mut NDK_CQ,
    out: *mut NDK_RESULT_EX,
    n: u32,
) -> u32 {
    log("NdkGetCqResultsEx", cq.addr());
    let f = fake(cq);
    let mut results = lock(&f.results);
    let mut count = 0;
    while count < n
        && let Some(r) = results.pop_front()
    {
        let ex = NDK_RESULT_EX {
            Status: r.Status,
            BytesTransferred: r.BytesTransferred,
            QPContext: r.QPContext,
            RequestContext: r.RequestContext,
            ..NDK_RESULT_EX::ZEROED
        };
        let slot = out.wrapping_add(count as usize);
        // SAFETY: `out` holds `n` entries (consumer contract) and `count < n`.
        unsafe { slot.write(ex) };
        count += 1;
    }
    count
}

/// Appends a result for a post on `qp` to its receive (`receive`) or initiator CQ.
fn complete_post(qp: &Fake, ctx: *mut c_void, flags: u32, receive: bool) -> NTSTATUS {
    let prov = &qp.prov;
    let Some((rcq, icq, qpctx)) = *lock(&qp.qp) else {
        return STATUS_INVALID_DEVICE_STATE;
    };
    let silent = flags & NDK_OP_FLAG_SILENT_SUCCESS != 0;
    if prov.auto_results.load(Ordering::SeqCst)
        && (!silent || prov.report_silent.load(Ordering::SeqCst))
    {
        let cq = fake(if receive { rcq.0 } else { icq.0 });
        lock(&cq.results).push_back(NDK_RESULT {
            Status: STATUS_SUCCESS,
            BytesTransferred: 0,
            QPContext: qpctx.0,
            RequestContext: ctx,
        });
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn send(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    _s: *const NDK_SGE,
    _n: u32,
    flags: u32,
) -> NTSTATUS {
    log("NdkSend", qp.addr());
    complete_post(fake(qp), ctx, flags, false)
}

unsafe extern "system" fn receive(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    _s: *const NDK_SGE,
    _n: u32,
) -> NTSTATUS {
    log("NdkReceive", qp.addr());
    complete_post(fake(qp), ctx, 0, true)
}

unsafe extern "system" fn write(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    _s: *const NDK_SGE,
    _n: u32,
    _ra: u64,
    _rt: u32,
    flags: u32,
) -> NTSTATUS {
    log("NdkWrite", qp.addr());
    complete_post(fake(qp), ctx, flags, false)
}

// ---- Stubs ----------------------------------------------------------------------------------

macro_rules! stub {
    ($name:ident, $slot:literal, ($o:ident: $ot:ty $(, $a:ident: $t:ty)*) -> $ret:ty = $val:expr) => {
        unsafe extern "system" fn $name($o: $ot $(, $a: $t)*) -> $ret {
            $(let _ = $a;)*
            log($slot, $o.addr());
            $val
        }
    };
}

stub!(query_extension, "NdkQueryExtension", (o: *mut NDK_OBJECT_HEADER, g: *const GUID, v: NDK_VERSION, e: *mut NDK_EXTENSION_INTERFACE) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(query_adapter_info, "NdkQueryAdapterInfo", (o: *mut NDK_ADAPTER, i: *mut NDK_ADAPTER_INFO, s: *mut u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(release_lam, "NdkReleaseLAM", (o: *mut NDK_ADAPTER, l: *mut NDK_LOGICAL_ADDRESS_MAPPING) -> () = ());
stub!(moderation, "NdkControlCqInterruptModeration", (o: *mut NDK_CQ, i: u32, c: u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(create_qp_srq, "NdkCreateQpWithSrq", (o: *mut NDK_PD, r: *mut NDK_CQ, i: *mut NDK_CQ, s: *mut NDK_SRQ, q: *mut c_void, d: u32, g: u32, l: u32, c: Option<NDK_FN_CREATE_COMPLETION>, x: *mut c_void, p: *mut *mut NDK_QP) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(privileged_token, "NdkGetPrivilegedMemoryRegionToken", (o: *mut NDK_PD, t: *mut u32) -> () = ());
stub!(remote_token_mr, "NdkGetRemoteTokenFromMr", (o: *mut NDK_MR) -> u32 = 0x11);
stub!(local_token_mr, "NdkGetLocalTokenFromMr", (o: *mut NDK_MR) -> u32 = 0x22);
stub!(remote_token_mw, "NdkGetRemoteTokenFromMw", (o: *mut NDK_MW) -> u32 = 0x33);
stub!(srq_receive, "NdkSrqReceive", (o: *mut NDK_SRQ, c: *mut c_void, s: *const NDK_SGE, n: u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(flush, "NdkFlush", (o: *mut NDK_QP) -> () = ());
stub!(bind, "NdkBind", (o: *mut NDK_QP, c: *mut c_void, m: *mut NDK_MR, w: *mut NDK_MW, v: *mut c_void, l: usize, f: u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(fast_register, "NdkFastRegister", (o: *mut NDK_QP, c: *mut c_void, m: *mut NDK_MR, n: u32, p: *const NDK_LOGICAL_ADDRESS, b: u32, l: usize, v: *mut c_void, f: u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(invalidate, "NdkInvalidate", (o: *mut NDK_QP, c: *mut c_void, m: *mut NDK_OBJECT_HEADER, f: u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(read, "NdkRead", (o: *mut NDK_QP, c: *mut c_void, s: *const NDK_SGE, n: u32, a: u64, t: u32, f: u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(send_inv, "NdkSendAndInvalidate", (o: *mut NDK_QP, c: *mut c_void, s: *const NDK_SGE, n: u32, f: u32, t: u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(se_address, "NdkGetLocalAddress", (o: *mut NDK_SHARED_ENDPOINT, a: *mut SOCKADDR, l: *mut u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(accept, "NdkAccept", (o: *mut NDK_CONNECTOR, q: *mut NDK_QP, i: u32, u: u32, p: *const c_void, pl: u32, e: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>, ec: *mut c_void, c: Option<NDK_FN_REQUEST_COMPLETION>, x: *mut c_void) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(reject, "NdkReject", (o: *mut NDK_CONNECTOR, p: *const c_void, l: u32) -> NTSTATUS = STATUS_SUCCESS);
stub!(connection_data, "NdkGetConnectionData", (o: *mut NDK_CONNECTOR, i: *mut u32, u: *mut u32, p: *mut c_void, l: *mut u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(connector_address, "NdkGetLocalAddress", (o: *mut NDK_CONNECTOR, a: *mut SOCKADDR, l: *mut u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(peer_address, "NdkGetPeerAddress", (o: *mut NDK_CONNECTOR, a: *mut SOCKADDR, l: *mut u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(complete_connect_ex, "NdkCompleteConnectEx", (o: *mut NDK_CONNECTOR, e: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>, ec: *mut c_void, c: Option<NDK_FN_REQUEST_COMPLETION>, x: *mut c_void) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(accept_ex, "NdkAcceptEx", (o: *mut NDK_CONNECTOR, q: *mut NDK_QP, i: u32, u: u32, p: *const c_void, pl: u32, e: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>, ec: *mut c_void, c: Option<NDK_FN_REQUEST_COMPLETION>, x: *mut c_void) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(listener_address, "NdkGetLocalAddress", (o: *mut NDK_LISTENER, a: *mut SOCKADDR, l: *mut u32) -> NTSTATUS = STATUS_NOT_SUPPORTED);
stub!(control_events, "NdkControlConnectEvents", (o: *mut NDK_LISTENER, p: BOOLEAN) -> () = ());

// ---- Tables ---------------------------------------------------------------------------------

pub static ADAPTER: NDK_ADAPTER_DISPATCH = NDK_ADAPTER_DISPATCH {
    NdkQueryExtension: query_extension,
    NdkQueryAdapterInfo: query_adapter_info,
    NdkCreateCq: create_cq,
    NdkCreatePd: create_pd,
    NdkCreateSharedEndpoint: create_shared_endpoint,
    NdkCreateConnector: create_connector,
    NdkCreateListener: create_listener,
    NdkBuildLAM: build_lam,
    NdkReleaseLAM: release_lam,
};
pub static CQ: NDK_CQ_DISPATCH = NDK_CQ_DISPATCH {
    NdkCloseCq: close,
    NdkQueryExtension: query_extension,
    NdkResizeCq: resize_cq,
    NdkArmCq: arm_cq,
    NdkGetCqResults: get_cq_results,
    NdkControlCqInterruptModeration: moderation,
    NdkGetCqResultsEx: get_cq_results_ex,
};
pub static PD: NDK_PD_DISPATCH = NDK_PD_DISPATCH {
    NdkClosePd: close,
    NdkQueryExtension: query_extension,
    NdkCreateMr: create_mr,
    NdkCreateMw: create_mw,
    NdkCreateSrq: create_srq,
    NdkCreateQp: create_qp,
    NdkCreateQpWithSrq: create_qp_srq,
    NdkGetPrivilegedMemoryRegionToken: privileged_token,
};
pub static MR: NDK_MR_DISPATCH = NDK_MR_DISPATCH {
    NdkCloseMr: close,
    NdkQueryExtension: query_extension,
    NdkRegisterMr: register_mr,
    NdkDeregisterMr: deregister_mr,
    NdkInitializeFastRegisterMr: init_fr_mr,
    NdkGetRemoteTokenFromMr: remote_token_mr,
    NdkGetLocalTokenFromMr: local_token_mr,
};
pub static MW: NDK_MW_DISPATCH = NDK_MW_DISPATCH {
    NdkCloseMw: close,
    NdkQueryExtension: query_extension,
    NdkGetRemoteTokenFromMw: remote_token_mw,
};
pub static SRQ: NDK_SRQ_DISPATCH = NDK_SRQ_DISPATCH {
    NdkCloseSrq: close,
    NdkQueryExtension: query_extension,
    NdkModifySrq: modify_srq,
    NdkSrqReceive: srq_receive,
};
pub static QP: NDK_QP_DISPATCH = NDK_QP_DISPATCH {
    NdkCloseQp: close,
    NdkQueryExtension: query_extension,
    NdkFlush: flush,
    NdkSend: send,
    NdkReceive: receive,
    NdkBind: bind,
    NdkFastRegister: fast_register,
    NdkInvalidate: invalidate,
    NdkRead: read,
    NdkWrite: write,
    NdkSendAndInvalidate: send_inv,
};
pub static SHARED_ENDPOINT: NDK_SHARED_ENDPOINT_DISPATCH = NDK_SHARED_ENDPOINT_DISPATCH {
    NdkCloseSharedEndpoint: close,
    NdkQueryExtension: query_extension,
    NdkGetLocalAddress: se_address,
};
pub static CONNECTOR: NDK_CONNECTOR_DISPATCH = NDK_CONNECTOR_DISPATCH {
    NdkCloseConnector: close,
    NdkQueryExtension: query_extension,
    NdkConnect: connect,
    NdkConnectWithSharedEndpoint: connect_se,
    NdkCompleteConnect: complete_connect,
    NdkAccept: accept,
    NdkReject: reject,
    NdkGetConnectionData: connection_data,
    NdkGetLocalAddress: connector_address,
    NdkGetPeerAddress: peer_address,
    NdkDisconnect: disconnect,
    NdkCompleteConnectEx: complete_connect_ex,
    NdkAcceptEx: accept_ex,
};
pub static LISTENER: NDK_LISTENER_DISPATCH = NDK_LISTENER_DISPATCH {
    NdkCloseListener: close,
    NdkQueryExtension: query_extension,
    NdkListen: listen,
    NdkGetLocalAddress: listener_address,
    NdkControlConnectEvents: control_events,
};
