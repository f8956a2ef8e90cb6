//! What the misuse suites (`ndk_misuse*`) share (adapters with the checks on or off are
//! `ndk_common`'s `with_checks`/`open_checked`): the reports an adapter kept, dispatch tables read the way a consumer reads them (a closed
//! object's is the poison table), the expected [`Misuse`] values, and empty posts on QPs
//! passed by address (so a sink on another thread can post too).
//!
//! Must never: decide what a scenario expects (each test states its reports).
#![allow(dead_code, unsafe_code)]

use core::ffi::c_void;
use core::ptr;

use softndk::abi::{NDK_OBJECT_HEADER, NDK_OBJECT_TYPE, NDK_QP, NTSTATUS, NdkObject};
use softndk::consumer::{self, Adapter, Cq, QpLimits};
use softndk::dispatch::misuse::{self, Detail, Misuse, MisuseKind, Queue};

/// Queues two deep, so two waiting sends fill the initiator queue.
pub const SMALL: QpLimits = QpLimits {
    receive_depth: 2,
    initiator_depth: 2,
    max_receive_sge: 4,
    max_initiator_sge: 4,
    inline_data_size: 64,
};

/// The reports `adapter` kept so far.
pub fn reports(adapter: &Adapter) -> Vec<Misuse> {
    // SAFETY: an open adapter.
    unsafe { misuse::reports(adapter.raw()) }
}

/// The object's current `Dispatch`, read the way a consumer does before each call (a closed
/// object's is the poison table). `raw` must be open or closed but still quarantined.
pub fn table_of<O: NdkObject>(raw: *mut O) -> &'static O::Dispatch {
    // SAFETY: the object's memory is alive (open, or kept by the provider verifier).
    unsafe { consumer::table(raw) }
}

/// The object's header, read the way a consumer would (open or quarantined, as for
/// [`table_of`]).
pub fn header<O: NdkObject>(raw: *mut O) -> NDK_OBJECT_HEADER {
    // SAFETY: as for `table_of`.
    unsafe { consumer::header_of(raw) }
}

/// The object's type, from its [`header`].
pub fn type_of<O: NdkObject>(raw: *mut O) -> NDK_OBJECT_TYPE {
    header(raw).ObjectType
}

/// A close completion for a close that must be refused.
pub unsafe extern "system" fn never(_: *mut c_void) {
    panic!("a refused close must never complete");
}

/// The report of `kind` on the object of type `t` at `at`, through dispatch slot `name`.
pub const fn slot(kind: MisuseKind, t: NDK_OBJECT_TYPE, at: usize, name: &'static str) -> Misuse {
    Misuse {
        kind,
        object_type: t,
        object: at,
        detail: Detail::Slot(name),
    }
}

/// The report of `kind` on `queue` (of `depth` entries) of the object of type `t` at `at`.
pub const fn on_queue(
    kind: MisuseKind,
    t: NDK_OBJECT_TYPE,
    at: usize,
    queue: Queue,
    depth: u32,
) -> Misuse {
    Misuse {
        kind,
        object_type: t,
        object: at,
        detail: Detail::Queue { queue, depth },
    }
}

/// An empty send on the open QP at address `qp` with request context `ctx` (it waits for the
/// peer's receive).
pub fn send(qp: usize, ctx: usize) -> NTSTATUS {
    let qp = ptr::with_exposed_provenance_mut::<NDK_QP>(qp);
    // SAFETY: an open QP, no SGEs; the context is only handed back.
    unsafe { (table_of(qp).NdkSend)(qp, ptr::without_provenance_mut(ctx), ptr::null(), 0, 0) }
}

/// An empty receive on the open QP at address `qp`.
pub fn receive(qp: usize) -> NTSTATUS {
    let qp = ptr::with_exposed_provenance_mut::<NDK_QP>(qp);
    // SAFETY: an open QP, no SGEs.
    unsafe { (table_of(qp).NdkReceive)(qp, ptr::null_mut(), ptr::null(), 0) }
}

/// `(request context, status)` of every result `cq` holds now (up to 16), sorted.
pub fn completed(cq: &Cq) -> Vec<(usize, u32)> {
    let mut done: Vec<(usize, u32)> = cq
        .results_ex(16)
        .iter()
        .map(|r| (r.RequestContext.addr(), r.Status.as_u32()))
        .collect();
    done.sort_unstable();
    done
}
