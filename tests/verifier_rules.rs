//! The verifier between a test consumer and a scriptable fake provider: each buggy behaviour
//! is flagged as exactly its rule, the well-behaved path produces no violation, and every slot
//! of every table reaches the provider with the provider's own object.
#![cfg(feature = "std")]
#![allow(clippy::too_many_lines)]

mod verifier_fake;

use core::ffi::c_void;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use softndk::abi::*;
use softndk::platform::prelude::*;
use softndk::platform::{LockLevel, SpinLock};
use softndk::verifier::{CallbackKind, Rule, Verifier, Violation};
use verifier_fake::Prov;

// ---- Consumer side ----------------------------------------------------------------------------

/// What the consumer's callbacks saw: `(callback, context, status)`.
static SEEN: Mutex<Vec<(&str, usize, i32)>> = Mutex::new(Vec::new());
/// Code a consumer callback runs for its context (to re-enter the provider).
type Hook = Box<dyn Fn() + Send>;
static HOOKS: Mutex<Option<HashMap<usize, Hook>>> = Mutex::new(None);
static NEXT_CONTEXT: AtomicUsize = AtomicUsize::new(0x1000);

fn context() -> *mut c_void {
    core::ptr::without_provenance_mut(NEXT_CONTEXT.fetch_add(1, Ordering::Relaxed))
}

fn seen(ctx: *mut c_void) -> Vec<(&'static str, i32)> {
    SEEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|s| s.1 == ctx.addr())
        .map(|s| (s.0, s.2))
        .collect()
}

fn consumer_saw(name: &'static str, ctx: *mut c_void, status: NTSTATUS) {
    SEEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((name, ctx.addr(), status.0));
    let hook = HOOKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_mut()
        .and_then(|h| h.remove(&ctx.addr()));
    if let Some(hook) = hook {
        hook();
    }
}

fn on(ctx: *mut c_void, hook: impl Fn() + Send + 'static) {
    HOOKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(ctx.addr(), Box::new(hook));
}

unsafe extern "system" fn on_request(ctx: *mut c_void, status: NTSTATUS) {
    consumer_saw("request", ctx, status);
}
unsafe extern "system" fn on_close(ctx: *mut c_void) {
    consumer_saw("close", ctx, STATUS_SUCCESS);
}
unsafe extern "system" fn on_create(
    ctx: *mut c_void,
    status: NTSTATUS,
    obj: *mut NDK_OBJECT_HEADER,
) {
    consumer_saw("create", ctx, status);
    remember(ctx, obj.expose_provenance());
}
unsafe extern "system" fn on_notify(ctx: *mut c_void, status: NTSTATUS) {
    consumer_saw("notify", ctx, status);
}
unsafe extern "system" fn on_connect(ctx: *mut c_void, connector: *mut NDK_CONNECTOR) {
    consumer_saw("connect", ctx, STATUS_SUCCESS);
    remember(ctx, connector.expose_provenance());
}
unsafe extern "system" fn on_disconnect(ctx: *mut c_void) {
    consumer_saw("disconnect", ctx, STATUS_SUCCESS);
}

/// Objects handed to consumer callbacks, by context (exposed addresses).
static CREATED: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

fn remember(ctx: *mut c_void, object: usize) {
    CREATED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(ctx.addr(), object);
}
fn created(ctx: *mut c_void) -> usize {
    CREATED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|m| m.get(&ctx.addr()).copied())
        .unwrap_or(0)
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
    // SAFETY: `obj` is a live object handed out by the verifier: an NDK prefix whose
    // `Dispatch` (right after the header) points to a `'static` table of this kind.
    let table = unsafe { slot.read() };
    // SAFETY: as above.
    unsafe { &*table }
}

/// Everything a scenario needs: the fake, the verifier, the shadow adapter.
struct Rig {
    prov: Arc<Prov>,
    v: Verifier,
    adapter: *mut NDK_ADAPTER,
}

impl Rig {
    fn new() -> Self {
        let prov = Prov::new();
        let v = Verifier::new();
        let real = verifier_fake::open(&prov);
        // SAFETY: `real` is a fake adapter with a filled table, never freed.
        let adapter = unsafe { v.wrap_adapter(real) };
        Self { prov, v, adapter }
    }

    fn cq(&self) -> *mut NDK_CQ {
        let mut cq = core::ptr::null_mut();
        // SAFETY: consumer call through the shadow's table with valid arguments.
        let s = unsafe {
            (t(self.adapter).NdkCreateCq)(
                self.adapter,
                64,
                Some(on_notify),
                context(),
                core::ptr::null(),
                Some(on_create),
                context(),
                &raw mut cq,
            )
        };
        assert_eq!(s, STATUS_SUCCESS);
        assert!(!cq.is_null());
        cq
    }

    fn cq_notify_ctx(cq: *mut NDK_CQ, ctx: *mut c_void, adapter: *mut NDK_ADAPTER) -> *mut NDK_CQ {
        let mut out = cq;
        // SAFETY: consumer call through the shadow's table with valid arguments.
        let s = unsafe {
            (t(adapter).NdkCreateCq)(
                adapter,
                64,
                Some(on_notify),
                ctx,
                core::ptr::null(),
                Some(on_create),
                context(),
                &raw mut out,
            )
        };
        assert_eq!(s, STATUS_SUCCESS);
        out
    }

    fn pd(&self) -> *mut NDK_PD {
        let mut pd = core::ptr::null_mut();
        // SAFETY: consumer call through the shadow's table.
        let s = unsafe {
            (t(self.adapter).NdkCreatePd)(self.adapter, Some(on_create), context(), &raw mut pd)
        };
        assert_eq!(s, STATUS_SUCCESS);
        pd
    }

    fn mr(pd: *mut NDK_PD) -> *mut NDK_MR {
        let mut mr = core::ptr::null_mut();
        // SAFETY: consumer call through the shadow's table.
        let s = unsafe { (t(pd).NdkCreateMr)(pd, FALSE, Some(on_create), context(), &raw mut mr) };
        assert_eq!(s, STATUS_SUCCESS);
        mr
    }

    fn qp(pd: *mut NDK_PD, rcq: *mut NDK_CQ, icq: *mut NDK_CQ, qpctx: usize) -> *mut NDK_QP {
        let mut qp = core::ptr::null_mut();
        // SAFETY: consumer call through the shadow's table.
        let s = unsafe {
            (t(pd).NdkCreateQp)(
                pd,
                rcq,
                icq,
                core::ptr::without_provenance_mut(qpctx),
                8,
                8,
                1,
                1,
                0,
                Some(on_create),
                context(),
                &raw mut qp,
            )
        };
        assert_eq!(s, STATUS_SUCCESS);
        qp
    }

    fn close<O: NdkObject>(obj: *mut O, ctx: *mut c_void) -> NTSTATUS
    where
        O::Dispatch: CloseSlot + 'static,
    {
        let close = t(obj).close_slot();
        // SAFETY: consumer call through the shadow's table.
        unsafe { close(obj.cast(), Some(on_close), ctx) }
    }

    fn poll(cq: *mut NDK_CQ, n: usize) -> Vec<NDK_RESULT> {
        let mut results = vec![NDK_RESULT::ZEROED; n];
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        // SAFETY: `results` holds `n` entries.
        let got = unsafe { (t(cq).NdkGetCqResults)(cq, results.as_mut_ptr(), n32) };
        results.truncate((got as usize).min(n));
        results
    }

    fn close_adapter(&self) {
        self.v.close_adapter(self.adapter, |_real| {});
    }
}

/// The close slot of any table with one.
trait CloseSlot {
    fn close_slot(&self) -> NDK_FN_CLOSE_OBJECT;
}
macro_rules! close_slot {
    ($($table:ty => $slot:ident),*) => {
        $(impl CloseSlot for $table {
            fn close_slot(&self) -> NDK_FN_CLOSE_OBJECT { self.$slot }
        })*
    };
}
close_slot!(NDK_CQ_DISPATCH => NdkCloseCq, NDK_PD_DISPATCH => NdkClosePd,
    NDK_MR_DISPATCH => NdkCloseMr, NDK_QP_DISPATCH => NdkCloseQp,
    NDK_CONNECTOR_DISPATCH => NdkCloseConnector, NDK_LISTENER_DISPATCH => NdkCloseListener,
    NDK_MW_DISPATCH => NdkCloseMw);

/// Asserts the violations are exactly of `rules` (each present, nothing else).
fn assert_rules(found: &[Violation], rules: &[Rule]) {
    let report: String = found.iter().map(ToString::to_string).collect();
    for rule in rules {
        assert!(
            found.iter().any(|v| v.rule == *rule),
            "{rule:?} not flagged:\n{report}"
        );
    }
    for v in found {
        assert!(
            rules.contains(&v.rule),
            "unexpected {:?}:\n{report}",
            v.rule
        );
    }
}

fn send(qp: *mut NDK_QP, ctx: usize, flags: u32) -> NTSTATUS {
    // SAFETY: consumer call through the shadow's table; the fake ignores the SGL.
    unsafe {
        (t(qp).NdkSend)(
            qp,
            core::ptr::without_provenance_mut(ctx),
            core::ptr::null(),
            0,
            flags,
        )
    }
}

fn write(qp: *mut NDK_QP, ctx: usize, flags: u32) -> NTSTATUS {
    // SAFETY: consumer call through the shadow's table; the fake ignores the SGL.
    unsafe {
        (t(qp).NdkWrite)(
            qp,
            core::ptr::without_provenance_mut(ctx),
            core::ptr::null(),
            0,
            0,
            0,
            flags,
        )
    }
}

fn receive(qp: *mut NDK_QP, ctx: usize) -> NTSTATUS {
    // SAFETY: consumer call through the shadow's table; the fake ignores the SGL.
    unsafe {
        (t(qp).NdkReceive)(
            qp,
            core::ptr::without_provenance_mut(ctx),
            core::ptr::null(),
            0,
        )
    }
}

fn arm(cq: *mut NDK_CQ) {
    // SAFETY: consumer call through the shadow's table.
    unsafe { (t(cq).NdkArmCq)(cq, NDK_CQ_NOTIFY_ANY) };
}

/// Arms `cq` through `table`, read from its shadow while the shadow was live. A consumer that
/// uses a closed CQ passes its stale address; reading the table from a retired shadow would be
/// a use-after-free in the test itself.
fn arm_stale(table: &NDK_CQ_DISPATCH, cq: *mut NDK_CQ) {
    // SAFETY: `table` is the verifier's static CQ table; its slot looks `cq` up by address and
    // never dereferences it.
    unsafe { (table.NdkArmCq)(cq, NDK_CQ_NOTIFY_ANY) };
}

fn register(mr: *mut NDK_MR, ctx: *mut c_void) -> NTSTATUS {
    // SAFETY: consumer call through the shadow's table; the fake ignores the MDL.
    unsafe { (t(mr).NdkRegisterMr)(mr, core::ptr::null_mut(), 4096, 0, Some(on_request), ctx) }
}

// ---- The well-behaved path ----------------------------------------------------------------------

#[test]
fn well_behaved_provider_produces_no_violation() {
    let rig = Rig::new();
    let notify_ctx = context();
    let cq = Rig::cq_notify_ctx(core::ptr::null_mut(), notify_ctx, rig.adapter);
    let pd = rig.pd();
    let mr = Rig::mr(pd);
    let qp = Rig::qp(pd, cq, cq, 0xAB);
    assert_ne!(
        cq.addr(),
        rig.prov.object(NDK_OBJECT_TYPE::CQ, 0).addr(),
        "consumer sees a shadow"
    );

    // A pending registration completed once.
    let reg_ctx = context();
    assert_eq!(register(mr, reg_ctx), STATUS_PENDING);
    rig.prov.complete_request(0, STATUS_SUCCESS);
    assert_eq!(seen(reg_ctx), vec![("request", 0)]);

    // Posts come back once each on the right CQ; one notification per arm.
    arm(cq);
    assert_eq!(send(qp, 1, 0), STATUS_SUCCESS);
    assert_eq!(receive(qp, 2), STATUS_SUCCESS);
    assert_eq!(write(qp, 3, NDK_OP_FLAG_SILENT_SUCCESS), STATUS_SUCCESS);
    assert_eq!(send(qp, 4, 0), STATUS_SUCCESS);
    verifier_fake::notify(rig.prov.object(NDK_OBJECT_TYPE::CQ, 0), STATUS_SUCCESS);
    assert_eq!(seen(notify_ctx), vec![("notify", 0)]);
    let results = Rig::poll(cq, 16);
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.QPContext.addr() == 0xAB));
    rig.v.check_drained();

    // Closes: QP pends and completes, the rest succeed inline, children before parents.
    rig.prov.set_close(STATUS_PENDING);
    let close_ctx = context();
    assert_eq!(Rig::close(qp, close_ctx), STATUS_PENDING);
    rig.prov.complete_close(0);
    assert_eq!(seen(close_ctx), vec![("close", 0)]);
    rig.prov.set_close(STATUS_SUCCESS);
    assert_eq!(Rig::close(mr, context()), STATUS_SUCCESS);
    assert_eq!(Rig::close(pd, context()), STATUS_SUCCESS);
    assert_eq!(Rig::close(cq, context()), STATUS_SUCCESS);
    rig.close_adapter();

    rig.v.assert_clean();
    let stats = rig.v.stats();
    assert!(stats.calls >= 15, "{stats:?}");
    assert_eq!(stats.callbacks, 3, "{stats:?}");
    assert_eq!(stats.posted, 4);
    assert_eq!(stats.cq_results, 3);
    assert!(stats.checks > stats.calls);
    assert!(rig.v.open_objects().is_empty());
}

#[test]
fn asynchronous_creates_hand_the_consumer_a_shadow() {
    let rig = Rig::new();
    rig.prov.create_pending.store(true, Ordering::SeqCst);
    let ctx = context();
    let mut pd = core::ptr::null_mut::<NDK_PD>();
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe { (t(rig.adapter).NdkCreatePd)(rig.adapter, Some(on_create), ctx, &raw mut pd) };
    assert_eq!(s, STATUS_PENDING);
    assert!(
        pd.is_null(),
        "a pending create leaves the out-pointer alone"
    );
    rig.prov.complete_create(0, STATUS_SUCCESS);
    let shadow = created(ctx);
    assert_ne!(shadow, 0);
    assert_ne!(shadow, rig.prov.object(NDK_OBJECT_TYPE::PD, 0).addr());
    let pd = core::ptr::with_exposed_provenance_mut::<NDK_PD>(shadow);
    // The consumer can use the shadow it was handed: the call reaches the real PD.
    let mut token = 0;
    // SAFETY: consumer call through the shadow's table.
    unsafe { (t(pd).NdkGetPrivilegedMemoryRegionToken)(pd, &raw mut token) };
    assert!(verifier_fake::saw(
        "NdkGetPrivilegedMemoryRegionToken",
        rig.prov.object(NDK_OBJECT_TYPE::PD, 0).addr()
    ));
    rig.prov.create_pending.store(false, Ordering::SeqCst);
    assert_eq!(Rig::close(pd, context()), STATUS_SUCCESS);
    rig.close_adapter();
    rig.v.assert_clean();
}

#[test]
fn connect_events_hand_up_shadow_connectors_and_close_re_entrantly() {
    let rig = Rig::new();
    let ev_ctx = context();
    let mut listener = core::ptr::null_mut();
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe {
        (t(rig.adapter).NdkCreateListener)(
            rig.adapter,
            Some(on_connect),
            ev_ctx,
            Some(on_create),
            context(),
            &raw mut listener,
        )
    };
    assert_eq!(s, STATUS_SUCCESS);
    let real = verifier_fake::connect_event(rig.prov.object(NDK_OBJECT_TYPE::LISTENER, 0));
    let connector = core::ptr::with_exposed_provenance_mut::<NDK_CONNECTOR>(created(ev_ctx));
    assert!(!connector.is_null());
    assert_ne!(connector.addr(), real.addr());
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe { (t(connector).NdkReject)(connector, core::ptr::null(), 0) };
    assert_eq!(s, STATUS_SUCCESS);
    assert!(verifier_fake::saw("NdkReject", real.addr()));
    assert_eq!(Rig::close(connector, context()), STATUS_SUCCESS);
    // The listener closes from inside its own request completion (legal re-entrancy): the
    // fake pends the close and completes it after the callback returned.
    let listen_ctx = context();
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe {
        (t(listener).NdkListen)(listener, core::ptr::null(), 0, Some(on_request), listen_ctx)
    };
    assert_eq!(s, STATUS_PENDING);
    rig.prov.set_close(STATUS_PENDING);
    let l = listener.expose_provenance();
    on(listen_ctx, move || {
        let listener = core::ptr::with_exposed_provenance_mut::<NDK_LISTENER>(l);
        assert_eq!(Rig::close(listener, context()), STATUS_PENDING);
    });
    rig.prov.complete_request(0, STATUS_SUCCESS);
    rig.prov.complete_close(0);
    rig.close_adapter();
    rig.v.assert_clean();
}

// ---- One broken rule at a time ----------------------------------------------------------------

#[test]
fn completion_delivered_twice() {
    let rig = Rig::new();
    let mr = Rig::mr(rig.pd());
    assert_eq!(register(mr, context()), STATUS_PENDING);
    rig.prov.complete_request(0, STATUS_SUCCESS);
    rig.prov.complete_request(0, STATUS_SUCCESS);
    assert_rules(&rig.v.take_violations(), &[Rule::CompletionTwice]);
}

#[test]
fn completion_for_a_call_that_did_not_pend() {
    let rig = Rig::new();
    let mr = Rig::mr(rig.pd());
    rig.prov.set_request(STATUS_SUCCESS);
    assert_eq!(register(mr, context()), STATUS_SUCCESS);
    rig.prov.complete_request(0, STATUS_SUCCESS);
    assert_rules(&rig.v.take_violations(), &[Rule::CompletionWithoutPending]);
}

#[test]
fn completion_never_delivered() {
    let rig = Rig::new();
    let s = {
        // SAFETY: consumer call through the shadow's table; the fake ignores the buffers.
        unsafe {
            (t(rig.adapter).NdkBuildLAM)(
                rig.adapter,
                core::ptr::null_mut(),
                4096,
                Some(on_request),
                context(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        }
    };
    assert_eq!(s, STATUS_PENDING);
    rig.close_adapter();
    let found = rig.v.take_violations();
    assert_rules(&found, &[Rule::CompletionMissing]);
    assert!(found[0].message.contains("NdkBuildLAM"));
}

#[test]
fn callback_after_close_completion() {
    let rig = Rig::new();
    let cq = rig.cq();
    arm(cq);
    rig.prov.set_close(STATUS_PENDING);
    assert_eq!(Rig::close(cq, context()), STATUS_PENDING);
    rig.prov.complete_close(0);
    verifier_fake::notify(rig.prov.object(NDK_OBJECT_TYPE::CQ, 0), STATUS_SUCCESS);
    let found = rig.v.take_violations();
    assert_rules(&found, &[Rule::CallbackAfterCloseCompletion]);
    // The report quotes the object's history up to the late callback.
    let history = &found[0].history;
    assert!(history.iter().any(|e| matches!(
        e.kind,
        softndk::verifier::EventKind::Call { slot: "NdkArmCq" }
    )));
    assert!(history.iter().any(|e| matches!(
        e.kind,
        softndk::verifier::EventKind::CallbackEnter {
            callback: CallbackKind::CqNotification,
            ..
        }
    )));
}

#[test]
fn callback_after_success_close() {
    let rig = Rig::new();
    let cq = rig.cq();
    arm(cq);
    assert_eq!(Rig::close(cq, context()), STATUS_SUCCESS);
    verifier_fake::notify(rig.prov.object(NDK_OBJECT_TYPE::CQ, 0), STATUS_SUCCESS);
    assert_rules(&rig.v.take_violations(), &[Rule::CallbackAfterSuccessClose]);
}

#[test]
fn close_completing_with_a_request_still_pending() {
    let rig = Rig::new();
    let mr = Rig::mr(rig.pd());
    assert_eq!(register(mr, context()), STATUS_PENDING);
    rig.prov.set_close(STATUS_PENDING);
    assert_eq!(Rig::close(mr, context()), STATUS_PENDING);
    rig.prov.complete_close(0);
    assert_rules(&rig.v.take_violations(), &[Rule::CloseCompletionNotLast]);
    // ... and the late request completion is then a callback after the close completion.
    rig.prov.complete_request(0, STATUS_CANCELLED);
    assert_rules(
        &rig.v.take_violations(),
        &[Rule::CallbackAfterCloseCompletion],
    );
}

#[test]
fn close_returning_an_error() {
    let rig = Rig::new();
    let cq = rig.cq();
    rig.prov.set_close(STATUS_UNSUCCESSFUL);
    assert_eq!(Rig::close(cq, context()), STATUS_UNSUCCESSFUL);
    assert_rules(&rig.v.take_violations(), &[Rule::CloseStatusInvalid]);
}

#[test]
fn antecedent_closed_before_its_successor() {
    let rig = Rig::new();
    let pd = rig.pd();
    let _mr = Rig::mr(pd);
    assert_eq!(Rig::close(pd, context()), STATUS_SUCCESS);
    let found = rig.v.take_violations();
    assert_rules(&found, &[Rule::ClosedBeforeSuccessors]);
    assert!(found[0].message.contains("MR#"), "{}", found[0]);
}

#[test]
fn callback_with_a_provider_lock_held() {
    let rig = Rig::new();
    let cq = rig.cq();
    arm(cq);
    let lock = SpinLock::new(LockLevel::new(1), ());
    {
        let _guard = lock.lock();
        verifier_fake::notify(rig.prov.object(NDK_OBJECT_TYPE::CQ, 0), STATUS_SUCCESS);
    }
    assert_rules(&rig.v.take_violations(), &[Rule::CallbackWithProviderLock]);
}

#[test]
fn pending_create_writing_its_out_pointer() {
    let rig = Rig::new();
    rig.prov.create_pending.store(true, Ordering::SeqCst);
    rig.prov
        .write_out_when_pending
        .store(true, Ordering::SeqCst);
    let mut pd = core::ptr::null_mut::<NDK_PD>();
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe {
        (t(rig.adapter).NdkCreatePd)(rig.adapter, Some(on_create), context(), &raw mut pd)
    };
    assert_eq!(s, STATUS_PENDING);
    assert!(
        pd.is_null(),
        "the provider wrote the verifier's slot, not the consumer's"
    );
    rig.prov.complete_create(0, STATUS_SUCCESS);
    assert_rules(
        &rig.v.take_violations(),
        &[Rule::PendingCreateOutPointerWritten],
    );
}

#[test]
fn create_succeeding_without_an_object() {
    let rig = Rig::new();
    rig.prov.create_pending.store(true, Ordering::SeqCst);
    let ctx = context();
    let mut pd = core::ptr::null_mut::<NDK_PD>();
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe { (t(rig.adapter).NdkCreatePd)(rig.adapter, Some(on_create), ctx, &raw mut pd) };
    assert_eq!(s, STATUS_PENDING);
    rig.prov
        .complete_create_with(0, STATUS_SUCCESS, core::ptr::null_mut());
    assert_eq!(
        seen(ctx),
        vec![("create", 0)],
        "the consumer still gets its completion"
    );
    assert_rules(&rig.v.take_violations(), &[Rule::CreateWithoutObject]);
}

#[test]
fn cq_result_with_unknown_context_and_duplicates() {
    let rig = Rig::new();
    let cq = rig.cq();
    let pd = rig.pd();
    let qp = Rig::qp(pd, cq, cq, 0x10);
    assert_eq!(send(qp, 7, 0), STATUS_SUCCESS);
    let fake_cq = rig.prov.object(NDK_OBJECT_TYPE::CQ, 0);
    let extra = NDK_RESULT {
        Status: STATUS_SUCCESS,
        BytesTransferred: 0,
        QPContext: core::ptr::without_provenance_mut(0x10),
        RequestContext: core::ptr::without_provenance_mut(7),
    };
    fake_cq
        .results
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push_back(extra);
    fake_cq
        .results
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push_back(NDK_RESULT {
            RequestContext: core::ptr::without_provenance_mut(99),
            ..extra
        });
    assert_eq!(Rig::poll(cq, 8).len(), 3);
    let found = rig.v.take_violations();
    assert_rules(&found, &[Rule::CqResultUnknown]);
    assert_eq!(found.len(), 2);
    assert!(found[0].message.contains("duplicate"), "{}", found[0]);
    assert!(found[1].message.contains("never posted"), "{}", found[1]);
}

#[test]
fn cq_result_on_the_wrong_cq() {
    let rig = Rig::new();
    let rcq = rig.cq();
    let icq = rig.cq();
    let qp = Rig::qp(rig.pd(), rcq, icq, 0x20);
    rig.prov.auto_results.store(false, Ordering::SeqCst);
    assert_eq!(send(qp, 5, 0), STATUS_SUCCESS);
    // The fake reports the send on the receive CQ.
    rig.prov
        .object(NDK_OBJECT_TYPE::CQ, 0)
        .results
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push_back(NDK_RESULT {
            Status: STATUS_SUCCESS,
            BytesTransferred: 0,
            QPContext: core::ptr::without_provenance_mut(0x20),
            RequestContext: core::ptr::without_provenance_mut(5),
        });
    assert_eq!(Rig::poll(rcq, 4).len(), 1);
    assert_rules(&rig.v.take_violations(), &[Rule::CqResultWrongCq]);
}

#[test]
fn cq_returning_more_results_than_asked() {
    let rig = Rig::new();
    let cq = rig.cq();
    let qp = Rig::qp(rig.pd(), cq, cq, 0x50);
    assert_eq!(send(qp, 1, 0), STATUS_SUCCESS);
    rig.prov.overcount.store(1, Ordering::SeqCst);
    assert_eq!(
        Rig::poll(cq, 1).len(),
        1,
        "only the first result lies in the buffer"
    );
    assert_rules(&rig.v.take_violations(), &[Rule::CqResultCountExceeded]);
}

#[test]
fn silent_success_reported() {
    let rig = Rig::new();
    let cq = rig.cq();
    let qp = Rig::qp(rig.pd(), cq, cq, 0x30);
    rig.prov.report_silent.store(true, Ordering::SeqCst);
    assert_eq!(write(qp, 9, NDK_OP_FLAG_SILENT_SUCCESS), STATUS_SUCCESS);
    assert_eq!(Rig::poll(cq, 4).len(), 1);
    assert_rules(&rig.v.take_violations(), &[Rule::CqSilentSuccessReported]);
}

#[test]
fn cq_result_missing_after_drain_and_after_qp_close() {
    let rig = Rig::new();
    let cq = rig.cq();
    let pd = rig.pd();
    let qp = Rig::qp(pd, cq, cq, 0x40);
    rig.prov.auto_results.store(false, Ordering::SeqCst);
    assert_eq!(send(qp, 1, 0), STATUS_SUCCESS);
    rig.v.check_drained();
    assert_rules(&rig.v.take_violations(), &[Rule::CqResultMissing]);

    // A QP whose close completed must already have flushed its work into the CQ.
    assert_eq!(receive(qp, 2), STATUS_SUCCESS);
    assert_eq!(Rig::close(qp, context()), STATUS_SUCCESS);
    assert!(Rig::poll(cq, 4).is_empty());
    let found = rig.v.take_violations();
    assert_rules(&found, &[Rule::CqResultMissing]);
    assert!(found[0].message.contains("NdkReceive"), "{}", found[0]);
}

#[test]
fn notification_without_arm() {
    let rig = Rig::new();
    let _cq = rig.cq();
    verifier_fake::notify(rig.prov.object(NDK_OBJECT_TYPE::CQ, 0), STATUS_SUCCESS);
    assert_rules(&rig.v.take_violations(), &[Rule::NotificationWithoutArm]);
}

#[test]
fn overlapping_notifications() {
    let rig = Rig::new();
    let ctx = context();
    let cq = Rig::cq_notify_ctx(core::ptr::null_mut(), ctx, rig.adapter);
    let fake_cq = rig.prov.object(NDK_OBJECT_TYPE::CQ, 0);
    let c = cq.expose_provenance();
    // The consumer re-arms inside its callback; the provider wrongly notifies again right away,
    // while the first notification is still running.
    on(ctx, move || {
        arm(core::ptr::with_exposed_provenance_mut(c));
        verifier_fake::notify(fake_cq, STATUS_SUCCESS);
    });
    arm(cq);
    verifier_fake::notify(fake_cq, STATUS_SUCCESS);
    assert_eq!(seen(ctx).len(), 2);
    assert_rules(&rig.v.take_violations(), &[Rule::NotificationOverlap]);
}

#[test]
fn disconnect_event_delivered_twice() {
    let rig = Rig::new();
    let mut connector = core::ptr::null_mut();
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe {
        (t(rig.adapter).NdkCreateConnector)(
            rig.adapter,
            Some(on_create),
            context(),
            &raw mut connector,
        )
    };
    assert_eq!(s, STATUS_SUCCESS);
    rig.prov.set_request(STATUS_SUCCESS);
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe {
        (t(connector).NdkCompleteConnect)(
            connector,
            Some(on_disconnect),
            context(),
            Some(on_request),
            context(),
        )
    };
    assert_eq!(s, STATUS_SUCCESS);
    let fake_connector = rig.prov.object(NDK_OBJECT_TYPE::CONNECTOR, 0);
    verifier_fake::disconnect_event(fake_connector);
    rig.v.assert_clean();
    verifier_fake::disconnect_event(fake_connector);
    assert_rules(&rig.v.take_violations(), &[Rule::DisconnectEventTwice]);
}

#[test]
fn adapter_close_returning_with_objects_open() {
    let rig = Rig::new();
    let _cq = rig.cq();
    rig.close_adapter();
    let found = rig.v.take_violations();
    assert_rules(&found, &[Rule::AdapterCloseReturnedEarly]);
    assert!(found[0].message.contains("CQ#1"), "{}", found[0]);
}

#[test]
fn consumer_using_a_closed_object() {
    let rig = Rig::new();
    let cq = rig.cq();
    let table = t(cq);
    assert_eq!(Rig::close(cq, context()), STATUS_SUCCESS);
    arm_stale(table, cq);
    assert_rules(&rig.v.take_violations(), &[Rule::UnknownObject]);
    assert!(!verifier_fake::saw(
        "NdkArmCq",
        rig.prov.object(NDK_OBJECT_TYPE::CQ, 0).addr()
    ));
}

#[test]
fn unreported_violations_fail_the_run_when_the_verifier_drops() {
    let rig = Rig::new();
    let cq = rig.cq();
    rig.prov.set_close(STATUS_UNSUCCESSFUL);
    let _ = Rig::close(cq, context());
    let report = rig.v.report();
    assert!(
        report.contains("CloseStatusInvalid (§2.A, §5.3) on CQ#1"),
        "{report}"
    );
    assert!(report.contains("call   NdkCloseCq"), "{report}");
    let Rig { v, .. } = rig;
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(v)));
    assert!(
        dropped.is_err(),
        "dropping with unreported violations panics"
    );
}

#[test]
fn every_rule_names_its_spec_section() {
    assert_eq!(Rule::ALL.len(), 24);
    for rule in Rule::ALL {
        assert!(rule.spec_section().starts_with('§'), "{rule:?}");
        assert!(!rule.summary().is_empty());
    }
}

// ---- One event, one rule (regressions) -----------------------------------------------------

/// Exactly one violation, of `rule`.
fn assert_one(found: &[Violation], rule: Rule) {
    assert_rules(found, &[rule]);
    let report: String = found.iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 1, "{rule:?} flagged more than once:\n{report}");
}

#[test]
fn close_completion_delivered_twice_is_only_a_double_completion() {
    let rig = Rig::new();
    let cq = rig.cq();
    rig.prov.set_close(STATUS_PENDING);
    assert_eq!(Rig::close(cq, context()), STATUS_PENDING);
    rig.prov.complete_close(0);
    rig.v.assert_clean();
    rig.prov.complete_close(0);
    assert_one(&rig.v.take_violations(), Rule::CompletionTwice);
}

#[test]
fn close_completion_after_a_success_close_is_only_an_unpaired_completion() {
    let rig = Rig::new();
    let cq = rig.cq();
    let ctx = context();
    assert_eq!(Rig::close(cq, ctx), STATUS_SUCCESS);
    rig.prov.complete_inline_close(0);
    assert_eq!(seen(ctx).len(), 1, "the consumer still gets the callback");
    assert_one(&rig.v.take_violations(), Rule::CompletionWithoutPending);
}

#[test]
fn late_duplicate_or_unpaired_request_completions_are_one_rule_each() {
    let rig = Rig::new();
    let pd = rig.pd();
    // Completed once while the MR was open, then again after its close.
    let mr = Rig::mr(pd);
    assert_eq!(register(mr, context()), STATUS_PENDING);
    rig.prov.complete_request(0, STATUS_SUCCESS);
    assert_eq!(Rig::close(mr, context()), STATUS_SUCCESS);
    rig.prov.complete_request(0, STATUS_SUCCESS);
    assert_one(&rig.v.take_violations(), Rule::CompletionTwice);
    // Returned STATUS_SUCCESS inline, then "completed" after the MR's close.
    let mr = Rig::mr(pd);
    rig.prov.set_request(STATUS_SUCCESS);
    assert_eq!(register(mr, context()), STATUS_SUCCESS);
    assert_eq!(Rig::close(mr, context()), STATUS_SUCCESS);
    rig.prov.complete_request(1, STATUS_SUCCESS);
    assert_one(&rig.v.take_violations(), Rule::CompletionWithoutPending);
}

#[test]
fn close_completion_delivered_again_while_the_first_is_running() {
    let rig = Rig::new();
    let cq = rig.cq();
    let table = t(cq);
    rig.prov.set_close(STATUS_PENDING);
    let ctx = context();
    // The provider delivers the close completion a second time while the consumer's first
    // invocation is still running (as a second thread would).
    let prov = Arc::clone(&rig.prov);
    on(ctx, move || prov.complete_close(0));
    assert_eq!(Rig::close(cq, ctx), STATUS_PENDING);
    rig.prov.complete_close(0);
    assert_eq!(seen(ctx).len(), 2, "the consumer sees both deliveries");
    assert_one(&rig.v.take_violations(), Rule::CompletionTwice);
    // The first completion finished the close: the CQ is no longer open, its shadow is
    // retired, and the adapter close finds nothing running.
    assert!(
        rig.v.open_objects().iter().all(|o| o.index != 1),
        "{:?}",
        rig.v.open_objects()
    );
    arm_stale(table, cq);
    assert_one(&rig.v.take_violations(), Rule::UnknownObject);
    rig.close_adapter();
    rig.v.assert_clean();
}

#[test]
fn create_completion_after_an_inline_create_is_only_an_unpaired_completion() {
    let rig = Rig::new();
    let pd = rig.pd();
    let open = rig.v.open_objects().len();
    rig.prov.complete_inline_create(0, STATUS_SUCCESS);
    assert_one(&rig.v.take_violations(), Rule::CompletionWithoutPending);
    // The out slot was written by the inline success, legitimately, and the stray completion
    // creates no second PD.
    assert_eq!(rig.v.open_objects().len(), open);
    assert_eq!(Rig::close(pd, context()), STATUS_SUCCESS);
    rig.close_adapter();
    rig.v.assert_clean();
}

#[test]
fn pending_create_writing_its_out_pointer_is_flagged_once() {
    let rig = Rig::new();
    rig.prov.create_pending.store(true, Ordering::SeqCst);
    rig.prov
        .write_out_when_pending
        .store(true, Ordering::SeqCst);
    let mut pd = core::ptr::null_mut::<NDK_PD>();
    // SAFETY: consumer call through the shadow's table.
    let s = unsafe {
        (t(rig.adapter).NdkCreatePd)(rig.adapter, Some(on_create), context(), &raw mut pd)
    };
    assert_eq!(s, STATUS_PENDING);
    // Seen at the return and still there at the completion: one write, one report.
    rig.prov.complete_create(0, STATUS_SUCCESS);
    assert_one(
        &rig.v.take_violations(),
        Rule::PendingCreateOutPointerWritten,
    );
}

#[test]
fn close_returning_an_error_is_reported_once_and_treated_as_closed() {
    let rig = Rig::new();
    let cq = rig.cq();
    let table = t(cq);
    let pd = rig.pd();
    let qp = Rig::qp(pd, cq, cq, 0x60);
    rig.prov.auto_results.store(false, Ordering::SeqCst);
    assert_eq!(send(qp, 1, 0), STATUS_SUCCESS);
    arm(cq);
    rig.prov.set_close(STATUS_UNSUCCESSFUL);
    // The PD fails its close while its QP is open: not also ClosedBeforeSuccessors.
    assert_eq!(Rig::close(pd, context()), STATUS_UNSUCCESSFUL);
    assert_one(&rig.v.take_violations(), Rule::CloseStatusInvalid);
    // The QP fails its close with a send outstanding: not also CqResultMissing once the CQ
    // runs empty.
    assert_eq!(Rig::close(qp, context()), STATUS_UNSUCCESSFUL);
    assert!(Rig::poll(cq, 4).is_empty());
    assert_one(&rig.v.take_violations(), Rule::CloseStatusInvalid);
    // The CQ fails its close; the provider, which did not close it, still notifies and then
    // delivers the close completion: the same bug, not CallbackAfterSuccessClose or
    // CompletionWithoutPending.
    let ctx = context();
    assert_eq!(Rig::close(cq, ctx), STATUS_UNSUCCESSFUL);
    assert_one(&rig.v.take_violations(), Rule::CloseStatusInvalid);
    verifier_fake::notify(rig.prov.object(NDK_OBJECT_TYPE::CQ, 0), STATUS_SUCCESS);
    rig.prov.complete_inline_close(2);
    assert_eq!(seen(ctx), vec![("close", 0)]);
    rig.v.assert_clean();
    // The consumer treats a non-PENDING close as closed (§5.3): the shadows are retired and
    // the adapter close finds nothing open.
    assert!(rig.v.open_objects().iter().all(|o| o.index == 0));
    arm_stale(table, cq);
    assert_one(&rig.v.take_violations(), Rule::UnknownObject);
    rig.close_adapter();
    rig.v.assert_clean();
}

/// A shared endpoint, a connector and a QP (on its own PD and CQ), all created inline.
fn connection_parts(rig: &Rig) -> (*mut NDK_SHARED_ENDPOINT, *mut NDK_CONNECTOR, *mut NDK_QP) {
    let mut se = core::ptr::null_mut();
    let mut conn = core::ptr::null_mut();
    let a = rig.adapter;
    // SAFETY: consumer call through the shadow's table with valid arguments.
    let s = unsafe {
        (t(a).NdkCreateSharedEndpoint)(
            a,
            core::ptr::null(),
            0,
            Some(on_create),
            context(),
            &raw mut se,
        )
    };
    assert_eq!(s, STATUS_SUCCESS);
    // SAFETY: as above.
    let s = unsafe { (t(a).NdkCreateConnector)(a, Some(on_create), context(), &raw mut conn) };
    assert_eq!(s, STATUS_SUCCESS);
    let cq = rig.cq();
    let qp = Rig::qp(rig.pd(), cq, cq, 0x70);
    (se, conn, qp)
}

fn connect_with_endpoint(
    conn: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    se: *mut NDK_SHARED_ENDPOINT,
) -> NTSTATUS {
    // SAFETY: consumer call through the shadow's table; the fake ignores the addresses.
    unsafe {
        (t(conn).NdkConnectWithSharedEndpoint)(
            conn,
            qp,
            se,
            core::ptr::null(),
            0,
            0,
            0,
            core::ptr::null(),
            0,
            Some(on_request),
            context(),
        )
    }
}

fn close_endpoint(se: *mut NDK_SHARED_ENDPOINT) -> NTSTATUS {
    // SAFETY: consumer call through the shadow's table.
    unsafe { (t(se).NdkCloseSharedEndpoint)(se.cast(), Some(on_close), context()) }
}

#[test]
fn connect_links_are_dropped_together_when_the_connect_fails() {
    // A pended connect whose completion reports a failure: neither the QP nor the shared
    // endpoint is the connector's antecedent any more.
    let rig = Rig::new();
    let (se, conn, qp) = connection_parts(&rig);
    assert_eq!(connect_with_endpoint(conn, qp, se), STATUS_PENDING);
    rig.prov.complete_request(0, STATUS_CONNECTION_REFUSED);
    assert_eq!(close_endpoint(se), STATUS_SUCCESS);
    assert_eq!(Rig::close(qp, context()), STATUS_SUCCESS);
    rig.v.assert_clean();

    // An inline success-class code that is neither SUCCESS nor PENDING fails the connect:
    // both links go, not only the QP's.
    let (se, conn2, qp) = connection_parts(&rig);
    let timeout = NTSTATUS::from_u32(0x0000_0102);
    assert!(timeout.is_success());
    rig.prov.set_request(timeout);
    assert_eq!(connect_with_endpoint(conn2, qp, se), timeout);
    assert_eq!(close_endpoint(se), STATUS_SUCCESS);
    assert_eq!(Rig::close(qp, context()), STATUS_SUCCESS);
    rig.v.assert_clean();
    assert_eq!(Rig::close(conn, context()), STATUS_SUCCESS);
    assert_eq!(Rig::close(conn2, context()), STATUS_SUCCESS);
}

#[test]
fn connect_links_stand_when_the_connect_succeeds() {
    let rig = Rig::new();
    let (se, conn, qp) = connection_parts(&rig);
    assert_eq!(connect_with_endpoint(conn, qp, se), STATUS_PENDING);
    rig.prov.complete_request(0, STATUS_SUCCESS);
    assert_eq!(close_endpoint(se), STATUS_SUCCESS);
    let found = rig.v.take_violations();
    assert_one(&found, Rule::ClosedBeforeSuccessors);
    assert_eq!(
        found[0].object.kind,
        softndk::verifier::ObjectKind::SharedEndpoint
    );
    assert_eq!(Rig::close(qp, context()), STATUS_SUCCESS);
    let found = rig.v.take_violations();
    assert_one(&found, Rule::ClosedBeforeSuccessors);
    assert_eq!(found[0].object.kind, softndk::verifier::ObjectKind::Qp);
    assert_eq!(Rig::close(conn, context()), STATUS_SUCCESS);
}

#[test]
fn create_with_a_null_out_pointer_is_consumer_misuse_and_not_forwarded() {
    let rig = Rig::new();
    let ctx = context();
    // SAFETY: consumer call through the shadow's table (with the bug under test: no out slot).
    let s = unsafe {
        (t(rig.adapter).NdkCreatePd)(rig.adapter, Some(on_create), ctx, core::ptr::null_mut())
    };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    let found = rig.v.take_violations();
    assert_one(&found, Rule::CreateOutPointerNull);
    assert_eq!(found[0].object.kind, softndk::verifier::ObjectKind::Adapter);
    // The provider never saw it, so it neither created a PD nor blamed itself.
    assert!(!verifier_fake::saw(
        "NdkCreatePd",
        rig.prov.object(NDK_OBJECT_TYPE::ADAPTER, 0).addr()
    ));
    assert!(seen(ctx).is_empty());
    rig.close_adapter();
    rig.v.assert_clean();
}

#[test]
fn second_close_is_a_double_close_and_not_forwarded() {
    let rig = Rig::new();
    let cq = rig.cq();
    let table = t(cq);
    let real = rig.prov.object(NDK_OBJECT_TYPE::CQ, 0).addr();
    rig.prov.set_close(STATUS_PENDING);
    assert_eq!(Rig::close(cq, context()), STATUS_PENDING);
    // While the first close is pending: the provider may free the CQ at any moment.
    let ctx = context();
    assert_eq!(Rig::close(cq, ctx), STATUS_INVALID_HANDLE);
    assert_one(&rig.v.take_violations(), Rule::CloseTwice);
    assert_eq!(verifier_fake::count("NdkClose", real), 1);
    rig.prov.complete_close(0);
    assert!(seen(ctx).is_empty(), "the refused close gets no completion");
    rig.v.assert_clean();
    // After the close finished and the shadow was retired.
    // SAFETY: `table` is the verifier's static CQ table; the close slot looks the stale
    // address up and never dereferences it.
    let s = unsafe { (table.NdkCloseCq)(cq.cast(), Some(on_close), context()) };
    assert_eq!(s, STATUS_INVALID_HANDLE);
    assert_one(&rig.v.take_violations(), Rule::CloseTwice);
    assert_eq!(verifier_fake::count("NdkClose", real), 1);
    rig.close_adapter();
    rig.v.assert_clean();
}

// ---- Every slot is forwarded ------------------------------------------------------------------

/// Asserts the fake saw `slot` on `real` (the provider's object, not the shadow).
fn reached(slot: &str, real: &verifier_fake::Fake) {
    assert!(
        verifier_fake::saw(slot, real.addr()),
        "{slot} did not reach the provider's object"
    );
}

#[test]
#[allow(clippy::multiple_unsafe_ops_per_block)]
fn every_slot_reaches_the_provider_with_its_own_object() {
    let rig = Rig::new();
    rig.prov.set_request(STATUS_SUCCESS);
    let (a, p) = (rig.adapter, &rig.prov);
    let null = core::ptr::null_mut::<c_void>();
    let ext = GUID::default();
    let mut ext_out = NDK_EXTENSION_INTERFACE {
        Dispatch: core::ptr::null(),
    };
    let real_adapter = p.object(NDK_OBJECT_TYPE::ADAPTER, 0);
    let mut size = 0u32;

    // SAFETY: every call below is a consumer call through a shadow's table with arguments
    // the fake provider accepts (it ignores buffers and tolerates nulls); one obligation,
    // the same for each slot, hence one block.
    unsafe {
        // Adapter (9 slots).
        let _ =
            (t(a).NdkQueryExtension)(a.cast(), &raw const ext, NDK_VERSION_2_1, &raw mut ext_out);
        let _ = (t(a).NdkQueryAdapterInfo)(a, core::ptr::null_mut(), &raw mut size);
        let cq = rig.cq();
        let pd = rig.pd();
        let mut se = core::ptr::null_mut();
        assert_eq!(
            (t(a).NdkCreateSharedEndpoint)(a, core::ptr::null(), 0, None, null, &raw mut se),
            STATUS_SUCCESS
        );
        let mut conn = core::ptr::null_mut();
        assert_eq!(
            (t(a).NdkCreateConnector)(a, None, null, &raw mut conn),
            STATUS_SUCCESS
        );
        let mut listener = core::ptr::null_mut();
        assert_eq!(
            (t(a).NdkCreateListener)(a, None, null, None, null, &raw mut listener),
            STATUS_SUCCESS
        );
        let _ = (t(a).NdkBuildLAM)(
            a,
            core::ptr::null_mut(),
            0,
            Some(on_request),
            context(),
            core::ptr::null_mut(),
            &raw mut size,
            &raw mut size,
        );
        (t(a).NdkReleaseLAM)(a, core::ptr::null_mut());
        for slot in [
            "NdkQueryExtension",
            "NdkQueryAdapterInfo",
            "NdkCreateCq",
            "NdkCreatePd",
            "NdkCreateSharedEndpoint",
            "NdkCreateConnector",
            "NdkCreateListener",
            "NdkBuildLAM",
            "NdkReleaseLAM",
        ] {
            reached(slot, real_adapter);
        }

        // CQ (7 slots, close at the end).
        let real_cq = p.object(NDK_OBJECT_TYPE::CQ, 0);
        let _ =
            (t(cq).NdkQueryExtension)(cq.cast(), &raw const ext, NDK_VERSION_2_1, &raw mut ext_out);
        let _ = (t(cq).NdkResizeCq)(cq, 32, Some(on_request), context());
        (t(cq).NdkArmCq)(cq, NDK_CQ_NOTIFY_ANY);
        let _ = (t(cq).NdkGetCqResults)(cq, core::ptr::null_mut(), 0);
        let _ = (t(cq).NdkControlCqInterruptModeration)(cq, 0, 0);
        let _ = (t(cq).NdkGetCqResultsEx)(cq, core::ptr::null_mut(), 0);
        for slot in [
            "NdkQueryExtension",
            "NdkResizeCq",
            "NdkArmCq",
            "NdkGetCqResults",
            "NdkControlCqInterruptModeration",
            "NdkGetCqResultsEx",
        ] {
            reached(slot, real_cq);
        }

        // PD (8 slots).
        let real_pd = p.object(NDK_OBJECT_TYPE::PD, 0);
        let _ =
            (t(pd).NdkQueryExtension)(pd.cast(), &raw const ext, NDK_VERSION_2_1, &raw mut ext_out);
        let mr = Rig::mr(pd);
        let mut mw = core::ptr::null_mut();
        assert_eq!(
            (t(pd).NdkCreateMw)(pd, None, null, &raw mut mw),
            STATUS_SUCCESS
        );
        let mut srq = core::ptr::null_mut();
        assert_eq!(
            (t(pd).NdkCreateSrq)(
                pd,
                8,
                1,
                0,
                None,
                null,
                core::ptr::null(),
                None,
                null,
                &raw mut srq
            ),
            STATUS_SUCCESS
        );
        let qp = Rig::qp(pd, cq, cq, 0x77);
        // A create is forwarded only with an out-pointer (the fake's stub fails it anyway).
        let mut srq_qp = core::ptr::null_mut();
        let _ =
            (t(pd).NdkCreateQpWithSrq)(pd, cq, cq, srq, null, 8, 1, 0, None, null, &raw mut srq_qp);
        assert!(srq_qp.is_null());
        let mut token = 0;
        (t(pd).NdkGetPrivilegedMemoryRegionToken)(pd, &raw mut token);
        for slot in [
            "NdkQueryExtension",
            "NdkCreateMr",
            "NdkCreateMw",
            "NdkCreateSrq",
            "NdkCreateQp",
            "NdkCreateQpWithSrq",
            "NdkGetPrivilegedMemoryRegionToken",
        ] {
            reached(slot, real_pd);
        }

        // MR (7 slots) and MW (3 slots); token values pass through unchanged.
        let real_mr = p.object(NDK_OBJECT_TYPE::MR, 0);
        let _ =
            (t(mr).NdkQueryExtension)(mr.cast(), &raw const ext, NDK_VERSION_2_1, &raw mut ext_out);
        let _ = register(mr, context());
        let _ = (t(mr).NdkDeregisterMr)(mr, Some(on_request), context());
        let _ = (t(mr).NdkInitializeFastRegisterMr)(mr, 1, FALSE, Some(on_request), context());
        assert_eq!((t(mr).NdkGetRemoteTokenFromMr)(mr), 0x11);
        assert_eq!((t(mr).NdkGetLocalTokenFromMr)(mr), 0x22);
        for slot in [
            "NdkQueryExtension",
            "NdkRegisterMr",
            "NdkDeregisterMr",
            "NdkInitializeFastRegisterMr",
            "NdkGetRemoteTokenFromMr",
            "NdkGetLocalTokenFromMr",
        ] {
            reached(slot, real_mr);
        }
        let real_window = p.object(NDK_OBJECT_TYPE::MW, 0);
        let _ =
            (t(mw).NdkQueryExtension)(mw.cast(), &raw const ext, NDK_VERSION_2_1, &raw mut ext_out);
        assert_eq!((t(mw).NdkGetRemoteTokenFromMw)(mw), 0x33);
        reached("NdkQueryExtension", real_window);
        reached("NdkGetRemoteTokenFromMw", real_window);

        // SRQ (4 slots).
        let real_srq = p.object(NDK_OBJECT_TYPE::SRQ, 0);
        let _ = (t(srq).NdkQueryExtension)(
            srq.cast(),
            &raw const ext,
            NDK_VERSION_2_1,
            &raw mut ext_out,
        );
        let _ = (t(srq).NdkModifySrq)(srq, 8, 0, Some(on_request), context());
        let _ = (t(srq).NdkSrqReceive)(srq, null, core::ptr::null(), 0);
        for slot in ["NdkQueryExtension", "NdkModifySrq", "NdkSrqReceive"] {
            reached(slot, real_srq);
        }

        // QP (11 slots).
        let real_qp = p.object(NDK_OBJECT_TYPE::QP, 0);
        let _ =
            (t(qp).NdkQueryExtension)(qp.cast(), &raw const ext, NDK_VERSION_2_1, &raw mut ext_out);
        (t(qp).NdkFlush)(qp);
        let _ = send(qp, 1, 0);
        let _ = receive(qp, 2);
        let _ = (t(qp).NdkBind)(qp, null, mr, mw, null, 0, 0);
        let _ = (t(qp).NdkFastRegister)(qp, null, mr, 0, core::ptr::null(), 0, 0, null, 0);
        let _ = (t(qp).NdkInvalidate)(qp, null, mr.cast(), 0);
        let _ = (t(qp).NdkRead)(qp, null, core::ptr::null(), 0, 0, 0, 0);
        let _ = write(qp, 3, 0);
        let _ = (t(qp).NdkSendAndInvalidate)(qp, null, core::ptr::null(), 0, 0, 0);
        for slot in [
            "NdkQueryExtension",
            "NdkFlush",
            "NdkSend",
            "NdkReceive",
            "NdkBind",
            "NdkFastRegister",
            "NdkInvalidate",
            "NdkRead",
            "NdkWrite",
            "NdkSendAndInvalidate",
        ] {
            reached(slot, real_qp);
        }
        assert_eq!(
            Rig::poll(cq, 8).len(),
            3,
            "send, receive and write came back"
        );

        // Shared endpoint (3 slots).
        let real_se = p.object(NDK_OBJECT_TYPE::SHARED_ENDPOINT, 0);
        let _ =
            (t(se).NdkQueryExtension)(se.cast(), &raw const ext, NDK_VERSION_2_1, &raw mut ext_out);
        let _ = (t(se).NdkGetLocalAddress)(se, core::ptr::null_mut(), &raw mut size);
        reached("NdkQueryExtension", real_se);
        reached("NdkGetLocalAddress", real_se);

        // Connector (13 slots); the QP argument arrives as the provider's QP.
        let real_conn = p.object(NDK_OBJECT_TYPE::CONNECTOR, 0);
        let _ = (t(conn).NdkQueryExtension)(
            conn.cast(),
            &raw const ext,
            NDK_VERSION_2_1,
            &raw mut ext_out,
        );
        let _ = (t(conn).NdkConnect)(
            conn,
            qp,
            core::ptr::null(),
            0,
            core::ptr::null(),
            0,
            0,
            0,
            core::ptr::null(),
            0,
            Some(on_request),
            context(),
        );
        reached("NdkConnect.qp", real_qp);
        let _ = (t(conn).NdkConnectWithSharedEndpoint)(
            conn,
            qp,
            se,
            core::ptr::null(),
            0,
            0,
            0,
            core::ptr::null(),
            0,
            Some(on_request),
            context(),
        );
        let _ = (t(conn).NdkCompleteConnect)(conn, None, null, Some(on_request), context());
        let _ = (t(conn).NdkAccept)(
            conn,
            qp,
            0,
            0,
            core::ptr::null(),
            0,
            None,
            null,
            Some(on_request),
            context(),
        );
        let _ = (t(conn).NdkReject)(conn, core::ptr::null(), 0);
        let _ = (t(conn).NdkGetConnectionData)(
            conn,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            null,
            &raw mut size,
        );
        let _ = (t(conn).NdkGetLocalAddress)(conn, core::ptr::null_mut(), &raw mut size);
        let _ = (t(conn).NdkGetPeerAddress)(conn, core::ptr::null_mut(), &raw mut size);
        let _ = (t(conn).NdkDisconnect)(conn, Some(on_request), context());
        let _ = (t(conn).NdkCompleteConnectEx)(conn, None, null, Some(on_request), context());
        let _ = (t(conn).NdkAcceptEx)(
            conn,
            qp,
            0,
            0,
            core::ptr::null(),
            0,
            None,
            null,
            Some(on_request),
            context(),
        );
        for slot in [
            "NdkQueryExtension",
            "NdkConnect",
            "NdkConnectWithSharedEndpoint",
            "NdkCompleteConnect",
            "NdkAccept",
            "NdkReject",
            "NdkGetConnectionData",
            "NdkGetLocalAddress",
            "NdkGetPeerAddress",
            "NdkDisconnect",
            "NdkCompleteConnectEx",
            "NdkAcceptEx",
        ] {
            reached(slot, real_conn);
        }

        // Listener (5 slots).
        let real_listener = p.object(NDK_OBJECT_TYPE::LISTENER, 0);
        let _ = (t(listener).NdkQueryExtension)(
            listener.cast(),
            &raw const ext,
            NDK_VERSION_2_1,
            &raw mut ext_out,
        );
        let _ =
            (t(listener).NdkListen)(listener, core::ptr::null(), 0, Some(on_request), context());
        let _ = (t(listener).NdkGetLocalAddress)(listener, core::ptr::null_mut(), &raw mut size);
        (t(listener).NdkControlConnectEvents)(listener, TRUE);
        for slot in [
            "NdkQueryExtension",
            "NdkListen",
            "NdkGetLocalAddress",
            "NdkControlConnectEvents",
        ] {
            reached(slot, real_listener);
        }

        // Every close slot, successors first.
        assert_eq!(Rig::close(conn, context()), STATUS_SUCCESS);
        assert_eq!(Rig::close(listener, context()), STATUS_SUCCESS);
        assert_eq!(Rig::close(qp, context()), STATUS_SUCCESS);
        let close_srq = t(srq).NdkCloseSrq;
        assert_eq!(
            close_srq(srq.cast(), Some(on_close), context()),
            STATUS_SUCCESS
        );
        assert_eq!(Rig::close(mw, context()), STATUS_SUCCESS);
        assert_eq!(Rig::close(mr, context()), STATUS_SUCCESS);
        assert_eq!(Rig::close(pd, context()), STATUS_SUCCESS);
        let close_se = t(se).NdkCloseSharedEndpoint;
        assert_eq!(
            close_se(se.cast(), Some(on_close), context()),
            STATUS_SUCCESS
        );
        assert_eq!(Rig::close(cq, context()), STATUS_SUCCESS);
        for real in [
            real_conn,
            real_listener,
            real_qp,
            real_srq,
            real_window,
            real_mr,
            real_pd,
            real_se,
            real_cq,
        ] {
            reached("NdkClose", real);
        }
    }
    rig.close_adapter();
    rig.v.assert_clean();
}
