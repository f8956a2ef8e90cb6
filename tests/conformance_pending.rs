//! Conformance, `spec/ndkpi.md` §5.2 items 3–5 and §5.3 C1 for creates, on adapters opened with
//! `AdapterConfig::pend_creates`: every `NdkCreateXxx` answers `STATUS_PENDING`, leaves the
//! out-pointer alone and delivers the object exactly once through the create completion from
//! deferred work; failures (allocation included) arrive the same way; an antecedent closed while
//! a create on it is in flight completes its close only after the create completion returned
//! (the create is then cancelled); the adapter's blocking close waits for it too. Every test
//! runs under the consumer-side verifier, on every delivery mode × {PASSIVE, DISPATCH}: the
//! consumer calls through the raw tables and continues in the completion, as a DISPATCH-level
//! consumer must. The last test checks that the verifier flags a provider that writes the
//! out-pointer after `STATUS_PENDING`, with SoftNDK's real pending path underneath.
#![allow(unsafe_code)]

mod conformance_common;

use core::ffi::c_void;
use core::ptr;
use std::sync::Arc;

use conformance_common::{Cell, Delivery, Env, both_irqls, close_raw};
use softndk::abi::{
    NDK_ADAPTER, NDK_ADAPTER_DISPATCH, NDK_CONNECTOR, NDK_CQ, NDK_FN_CREATE_COMPLETION,
    NDK_LISTENER, NDK_MR, NDK_MW, NDK_OBJECT_HEADER, NDK_PD, NDK_QP, NDK_SHARED_ENDPOINT, NDK_SRQ,
    NTSTATUS, NdkObject, STATUS_CANCELLED, STATUS_INSUFFICIENT_RESOURCES, STATUS_PENDING,
    STATUS_SUCCESS,
};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{Adapter, CreateWait, Delivered, ctx};
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};
use softndk::platform::Irql;
use softndk::platform::host::FaultPlan;
use softndk::verifier::Rule;

/// What the consumer's out-pointer holds until someone writes it.
const UNTOUCHED: usize = 0x0BAD_0CAF;

/// The eight pending-create cells: every delivery × {PASSIVE, DISPATCH}.
fn pending_cells() -> Vec<Cell> {
    both_irqls(true)
}

/// Runs `scenario` on every pending-create cell (verifier clean, allocations balanced).
fn pending_matrix(scenario: impl Fn(&Env)) {
    for cell in pending_cells() {
        eprintln!("pending-create cell: {cell:?}");
        let env = Env::new(cell);
        scenario(&env);
        env.finish();
    }
}

/// One raw create issued at the cell's IRQL: what it returned and its completion's context.
struct Issued<O> {
    status: NTSTATUS,
    out: Box<*mut O>,
    wait: Arc<CreateWait>,
}

impl<O> Issued<O> {
    /// Issues `call` with a [`CreateWait`] completion and an out-pointer set to [`UNTOUCHED`].
    fn new(
        env: &Env,
        call: impl FnOnce(NDK_FN_CREATE_COMPLETION, *mut c_void, *mut *mut O) -> NTSTATUS,
    ) -> Self {
        let wait = CreateWait::new(None);
        let (done, context) = CreateWait::leak(&wait);
        let mut out = Box::new(ptr::without_provenance_mut::<O>(UNTOUCHED));
        let status = env.at(|| call(done, context, &raw mut *out));
        if status != STATUS_PENDING {
            // SAFETY: the create did not pend: its completion will not run.
            unsafe { CreateWait::reclaim(context) };
        }
        Self { status, out, wait }
    }

    /// Settles the platform and returns what the one completion delivered, after checking the
    /// create pended and its out-pointer stayed untouched.
    fn delivered(&self, env: &Env) -> Delivered {
        assert_eq!(self.status, STATUS_PENDING, "every create pends");
        env.settle();
        assert_eq!(
            self.out.addr(),
            UNTOUCHED,
            "out-pointer written after PENDING"
        );
        assert_eq!(self.wait.calls(), 1, "create completion exactly once");
        self.wait.delivered().expect("delivered")
    }

    /// [`Issued::delivered`] for a create that must succeed: the new object.
    fn object(&self, env: &Env) -> *mut O {
        let d = self.delivered(env);
        assert_eq!(d.status, STATUS_SUCCESS, "pending create failed");
        assert_ne!(d.object, 0, "a successful create delivers an object");
        ptr::with_exposed_provenance_mut(d.object)
    }
}

/// The dispatch table of a live object, read as a kernel consumer does.
fn table<O: NdkObject>(raw: *mut O) -> &'static O::Dispatch {
    // SAFETY: a live object.
    unsafe { softndk::consumer::table(raw) }
}

/// Closes a raw object through `slot`, asserting the close is accepted.
fn close_object(
    env: &Env,
    raw: *mut NDK_OBJECT_HEADER,
    slot: softndk::abi::NDK_FN_CLOSE_OBJECT,
) -> conformance_common::Ticket {
    // SAFETY: a live object of `slot`'s table, given up here.
    let t = env.at(|| unsafe { close_raw(raw, slot, None, Box::new(|| {})) });
    assert!(t.accepted(), "close refused: {:?}", t.status);
    t
}

const unsafe extern "system" fn cq_notification(_context: *mut c_void, _status: NTSTATUS) {}
const unsafe extern "system" fn connect_event(
    _context: *mut c_void,
    _connector: *mut NDK_CONNECTOR,
) {
}

/// A fabric for the connection-manager creates and the adapter on it.
fn cm_adapter(env: &Env) -> (NdkFabric, Adapter) {
    let fabric = Fabric::new(env.host.clone(), FabricConfig::default()).expect("fabric");
    let config = env
        .config()
        .on_fabric(&fabric, &[IpAddr::V4([10, 0, 7, 1])]);
    let adapter = env.try_open_with(&config).expect("open adapter");
    (fabric, adapter)
}

/// §5.2 items 3 and 4: every create kind (CQ, PD, MR, MW, SRQ, QP, QP with SRQ, connector,
/// listener, shared endpoint) pends, leaves the out-pointer alone, and delivers a ready object
/// through exactly one completion; the objects then take calls and close normally.
#[test]
#[allow(clippy::too_many_lines)] // one create of each of the ten kinds, in dependency order
fn every_create_pends_and_delivers_its_object_once() {
    pending_matrix(|env| {
        let (_fabric, adapter) = cm_adapter(env);
        let a: *mut NDK_ADAPTER = adapter.raw();
        let at: &NDK_ADAPTER_DISPATCH = adapter.dispatch();
        let cq = |env: &Env| {
            Issued::<NDK_CQ>::new(env, |done, c, out| {
                // SAFETY: live adapter; a no-op notification; valid completion and out.
                unsafe {
                    (at.NdkCreateCq)(
                        a,
                        16,
                        Some(cq_notification),
                        ptr::null_mut(),
                        ptr::null(),
                        Some(done),
                        c,
                        out,
                    )
                }
            })
            .object(env)
        };
        let (rcq, icq) = (cq(env), cq(env));
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let pd = Issued::<NDK_PD>::new(env, |done, c, out| unsafe {
            (at.NdkCreatePd)(a, Some(done), c, out)
        })
        .object(env);
        let pt = table(pd);
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let mr = Issued::<NDK_MR>::new(env, |done, c, out| unsafe {
            (pt.NdkCreateMr)(pd, 0, Some(done), c, out)
        })
        .object(env);
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let mw = Issued::<NDK_MW>::new(env, |done, c, out| unsafe {
            (pt.NdkCreateMw)(pd, Some(done), c, out)
        })
        .object(env);
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let srq = Issued::<NDK_SRQ>::new(env, |done, c, out| unsafe {
            (pt.NdkCreateSrq)(
                pd,
                16,
                1,
                0,
                None,
                ptr::null_mut(),
                ptr::null(),
                Some(done),
                c,
                out,
            )
        })
        .object(env);
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let qp = Issued::<NDK_QP>::new(env, |done, c, out| unsafe {
            (pt.NdkCreateQp)(pd, rcq, icq, ctx(1), 8, 8, 1, 1, 0, Some(done), c, out)
        })
        .object(env);
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let qp_srq = Issued::<NDK_QP>::new(env, |done, c, out| unsafe {
            (pt.NdkCreateQpWithSrq)(pd, rcq, icq, srq, ctx(2), 8, 1, 0, Some(done), c, out)
        })
        .object(env);
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let connector = Issued::<NDK_CONNECTOR>::new(env, |done, c, out| unsafe {
            (at.NdkCreateConnector)(a, Some(done), c, out)
        })
        .object(env);
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let listener = Issued::<NDK_LISTENER>::new(env, |done, c, out| unsafe {
            (at.NdkCreateListener)(a, Some(connect_event), ptr::null_mut(), Some(done), c, out)
        })
        .object(env);
        let (bytes, len) = sockaddr(&Address::v4([10, 0, 7, 1], 4455));
        // SAFETY: live parents and CQs, valid completion and out-pointer.
        let endpoint = Issued::<NDK_SHARED_ENDPOINT>::new(env, |done, c, out| unsafe {
            (at.NdkCreateSharedEndpoint)(a, bytes.as_ptr().cast(), len, Some(done), c, out)
        })
        .object(env);
        // Ready for use: each object answers its own calls.
        let mut results = [softndk::abi::NDK_RESULT_EX::ZEROED; 4];
        // SAFETY: live CQ and result array of 4.
        let n = env.at(|| unsafe { (table(rcq).NdkGetCqResultsEx)(rcq, results.as_mut_ptr(), 4) });
        assert_eq!(n, 0);
        let mut token = 0;
        // SAFETY: live PD, writable token.
        env.at(|| unsafe { (pt.NdkGetPrivilegedMemoryRegionToken)(pd, &raw mut token) });
        assert_ne!(token, 0, "the delivered PD answers");
        let mut local = [0_u8; 28];
        let mut local_len = 28_u32;
        // SAFETY: live endpoint, 28-byte buffer.
        let status = env.at(|| unsafe {
            (table(endpoint).NdkGetLocalAddress)(
                endpoint,
                local.as_mut_ptr().cast(),
                &raw mut local_len,
            )
        });
        assert_eq!(
            status, STATUS_SUCCESS,
            "the delivered endpoint holds its address"
        );
        let tickets = vec![
            close_object(env, qp.cast(), table(qp).NdkCloseQp),
            close_object(env, qp_srq.cast(), table(qp_srq).NdkCloseQp),
            close_object(env, mw.cast(), table(mw).NdkCloseMw),
            close_object(env, mr.cast(), table(mr).NdkCloseMr),
            close_object(env, srq.cast(), table(srq).NdkCloseSrq),
            close_object(env, rcq.cast(), table(rcq).NdkCloseCq),
            close_object(env, icq.cast(), table(icq).NdkCloseCq),
            close_object(env, pd.cast(), pt.NdkClosePd),
            close_object(env, connector.cast(), table(connector).NdkCloseConnector),
            close_object(env, listener.cast(), table(listener).NdkCloseListener),
            close_object(env, endpoint.cast(), table(endpoint).NdkCloseSharedEndpoint),
        ];
        env.settle();
        assert!(tickets.iter().all(conformance_common::Ticket::complete));
        env.close_adapter(adapter);
    });
}

/// `SOCKADDR_IN` bytes of `address`.
fn sockaddr(address: &Address) -> ([u8; 28], u32) {
    let mut bytes = [0; 28];
    let length = address.write_sockaddr(&mut bytes).expect("sockaddr");
    (bytes, length)
}

/// §5.2 item 2 / "failure through the completion": with pending creates, a failure of the
/// object's own allocation (made by the deferred work) arrives through the create completion
/// with a NULL object, and a failure to allocate the deferred work itself is answered inline
/// (nothing pends, no completion). Either way nothing is created and nothing leaks.
#[test]
fn allocation_failure_while_pending_is_delivered_by_the_completion() {
    pending_matrix(|env| {
        let adapter = env.open();
        let (a, at) = (adapter.raw(), adapter.dispatch());
        let create_pd = |env: &Env| {
            // SAFETY: live adapter, valid completion and out-pointer.
            Issued::<NDK_PD>::new(env, |done, c, out| unsafe {
                (at.NdkCreatePd)(a, Some(done), c, out)
            })
        };
        // Attempt 0 is the deferred item, attempt 1 the PD inside it.
        env.host.set_fault_plan(FaultPlan::FailNth(1));
        let late = create_pd(env);
        let d = late.delivered(env);
        assert_eq!(
            (d.status, d.object),
            (STATUS_INSUFFICIENT_RESOURCES, 0),
            "the PD's allocation failure arrives through the completion"
        );
        env.host.set_fault_plan(FaultPlan::FailNth(0));
        let early = create_pd(env);
        assert_eq!(
            early.status, STATUS_INSUFFICIENT_RESOURCES,
            "inline refusal"
        );
        env.settle();
        assert_eq!(
            early.wait.calls(),
            0,
            "no completion after an inline failure"
        );
        assert_eq!(early.out.addr(), UNTOUCHED);
        env.host.set_fault_plan(FaultPlan::Off);
        assert!(env.v.open_objects().len() <= 1, "only the adapter is open");
        env.close_adapter(adapter);
    });
}

/// §5.2 item 5 and §5.3 C1: a PD closed while an MR create on it is in flight pends; the create
/// is cancelled (`STATUS_CANCELLED`, no object) and the PD's close completion runs only after the
/// create completion returned.
#[test]
fn parent_close_waits_for_the_pending_create_which_is_cancelled() {
    for delivery in [Delivery::Fifo, Delivery::Seeded(conformance_common::seed())] {
        for irql in [Irql::Passive, Irql::Dispatch] {
            let env = Env::new(Cell {
                delivery,
                irql,
                pend: true,
            });
            let adapter = env.open();
            let (a, at) = (adapter.raw(), adapter.dispatch());
            // SAFETY: live adapter, valid completion and out-pointer.
            let pd = Issued::<NDK_PD>::new(&env, |done, c, out| unsafe {
                (at.NdkCreatePd)(a, Some(done), c, out)
            })
            .object(&env);
            let pt = table(pd);
            // SAFETY: live PD, valid completion and out-pointer.
            let mr = Issued::<NDK_MR>::new(&env, |done, c, out| unsafe {
                (pt.NdkCreateMr)(pd, 0, Some(done), c, out)
            });
            assert_eq!(mr.status, STATUS_PENDING);
            let wait = Arc::clone(&mr.wait);
            // SAFETY: the PD is live; given up here.
            let ticket = env.at(|| unsafe {
                close_raw(
                    pd.cast(),
                    pt.NdkClosePd,
                    None,
                    Box::new(move || {
                        assert_eq!(wait.calls(), 1, "PD close completed before the create");
                    }),
                )
            });
            assert_eq!(
                ticket.status, STATUS_PENDING,
                "the in-flight create holds the PD"
            );
            assert_eq!(ticket.calls(), 0);
            let d = mr.delivered(&env);
            assert_eq!((d.status, d.object), (STATUS_CANCELLED, 0));
            assert!(
                ticket.complete(),
                "PD close completes after the create completion"
            );
            env.close_adapter(adapter);
            env.finish();
        }
    }
}

/// §5.6 with a create in flight: the adapter's blocking close waits until the pending create's
/// completion has returned (delivered as `STATUS_CANCELLED`: the adapter is going away), then
/// returns.
#[test]
fn adapter_close_waits_for_a_pending_create() {
    for delivery in [Delivery::Fifo, Delivery::Seeded(conformance_common::seed())] {
        let env = Env::new(Cell {
            delivery,
            irql: Irql::Passive,
            pend: true,
        });
        let adapter = env.open();
        let (a, at) = (adapter.raw(), adapter.dispatch());
        // SAFETY: live adapter, valid completion and out-pointer.
        let cq = Issued::<NDK_CQ>::new(&env, |done, c, out| unsafe {
            (at.NdkCreateCq)(
                a,
                8,
                Some(cq_notification),
                ptr::null_mut(),
                ptr::null(),
                Some(done),
                c,
                out,
            )
        });
        assert_eq!(cq.status, STATUS_PENDING);
        assert_eq!(cq.wait.calls(), 0, "deterministic: not delivered yet");
        env.close_adapter(adapter);
        assert_eq!(
            cq.wait.calls(),
            1,
            "adapter close returned before the completion"
        );
        assert_eq!(
            cq.wait.delivered(),
            Some(Delivered {
                status: STATUS_CANCELLED,
                object: 0
            })
        );
        env.finish();
    }
}

/// The verifier's `PendingCreateOutPointerWritten` rule against SoftNDK's real pending path: a
/// provider whose `NdkCreatePd` is SoftNDK's, except that it also writes the out-pointer after
/// answering `STATUS_PENDING`, is flagged; the object still arrives through the completion.
#[test]
fn verifier_flags_an_out_pointer_written_after_pending() {
    static BUGGY: std::sync::OnceLock<NDK_ADAPTER_DISPATCH> = std::sync::OnceLock::new();
    unsafe extern "system" fn buggy_create_pd(
        adapter: *mut NDK_ADAPTER,
        completion: Option<NDK_FN_CREATE_COMPLETION>,
        context: *mut c_void,
        out: *mut *mut NDK_PD,
    ) -> NTSTATUS {
        // SAFETY: forwarded arguments of the consumer (the verifier).
        let status = unsafe {
            (softndk::dispatch::TABLES.adapter.NdkCreatePd)(adapter, completion, context, out)
        };
        if status == STATUS_PENDING {
            // SAFETY: the verifier's out slot is valid for the call (the bug is writing it).
            unsafe { out.write(ptr::without_provenance_mut(0x1000)) };
        }
        status
    }
    let env = Env::new(Cell {
        delivery: Delivery::Fifo,
        irql: Irql::Passive,
        pend: true,
    });
    let real = softndk::dispatch::open_adapter(
        &env.config(),
        env.host.clone(),
        softndk::abi::NDK_VERSION::new(1, 2),
    )
    .expect("open");
    let table = BUGGY.get_or_init(|| NDK_ADAPTER_DISPATCH {
        NdkCreatePd: buggy_create_pd,
        ..*softndk::dispatch::TABLES.adapter
    });
    // SAFETY: `real` is open; a consumer may overwrite `Dispatch` (§1.4); `table` is 'static.
    unsafe { (*real).Dispatch = table };
    // SAFETY: open until `close_adapter`.
    let shadow = unsafe { env.v.wrap_adapter(real) };
    // SAFETY: as above.
    let adapter = unsafe { Adapter::from_raw(shadow) }.with_platform(&env.host);
    let pd = adapter
        .create_pd()
        .expect("the PD still arrives through the completion");
    let violations = env.v.take_violations();
    assert!(
        violations
            .iter()
            .any(|v| v.rule == Rule::PendingCreateOutPointerWritten),
        "not flagged: {violations:?}"
    );
    drop(pd.close());
    env.settle();
    env.close_adapter(adapter);
    env.finish();
}
