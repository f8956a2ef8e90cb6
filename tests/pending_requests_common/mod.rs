//! Shared machinery of `conformance_pending_requests`: the cells (every delivery × {PASSIVE,
//! DISPATCH}) with adapters whose requests pend, a request completion that records its calls,
//! status, IRQL and return and may run a hook, and raw issuers of the five request functions
//! at the cell's IRQL.
#![allow(dead_code, unsafe_code)]

use core::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::conformance_common::{Cell, Closeable, Env, Ticket, both_irqls, close};
use softndk::abi::{NDK_FN_REQUEST_COMPLETION, NTSTATUS, STATUS_PENDING};
use softndk::consumer::{Adapter, Buffer, Cq, Mr, Srq};
use softndk::platform::Irql;
use softndk::platform::host::current_irql;

/// The eight cells: every delivery × {PASSIVE, DISPATCH}.
pub fn request_cells() -> Vec<Cell> {
    both_irqls(false)
}

/// Runs `scenario` on every cell (verifier clean, allocations balanced afterwards).
pub fn request_matrix(scenario: impl Fn(&Env)) {
    for cell in request_cells() {
        eprintln!("pending-request cell: {cell:?}");
        let env = Env::new(cell);
        scenario(&env);
        env.finish();
    }
}

/// An adapter of `env` whose requests pend.
pub fn open(env: &Env) -> Adapter {
    let config = env.config().with_pending_requests(true);
    env.try_open_with(&config).expect("open adapter")
}

/// What one request completion observed.
#[derive(Default)]
pub struct Req {
    calls: AtomicU32,
    /// The first status delivered.
    pub status: Mutex<Option<NTSTATUS>>,
    at_dispatch: AtomicBool,
    returned: AtomicBool,
    /// Runs inside the completion (taken out first).
    pub hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Req {
    /// Times the completion ran.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Whether the completion (and its hook) returned.
    pub fn returned(&self) -> bool {
        self.returned.load(Ordering::SeqCst)
    }
}

/// The request completion: `context` is one count of a [`Req`] leaked by [`Issued::with_hook`].
pub unsafe extern "system" fn req_completion(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: one count leaked for this completion, which the provider calls once.
    let req = unsafe { Arc::from_raw(context.cast_const().cast::<Req>()) };
    req.at_dispatch
        .store(current_irql() == Irql::Dispatch, Ordering::SeqCst);
    req.calls.fetch_add(1, Ordering::SeqCst);
    req.status
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert(status);
    let hook = req
        .hook
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(hook) = hook {
        hook();
    }
    req.returned.store(true, Ordering::SeqCst);
}

/// One raw request issued at the cell's IRQL: what it returned and what its completion saw.
pub struct Issued {
    /// What the request returned.
    pub status: NTSTATUS,
    /// What its completion saw.
    pub req: Arc<Req>,
}

impl Issued {
    /// Issues `call` with [`req_completion`]; `hook` runs inside the completion.
    pub fn with_hook(
        env: &Env,
        hook: Option<Box<dyn FnOnce() + Send>>,
        call: impl FnOnce(NDK_FN_REQUEST_COMPLETION, *mut c_void) -> NTSTATUS,
    ) -> Self {
        let req = Arc::new(Req {
            hook: Mutex::new(hook),
            ..Req::default()
        });
        let context = Arc::into_raw(Arc::clone(&req)).cast_mut().cast::<c_void>();
        let status = env.at(|| call(req_completion, context));
        if status != STATUS_PENDING {
            // SAFETY: the request did not pend: its completion will not run.
            drop(unsafe { Arc::from_raw(context.cast_const().cast::<Req>()) });
        }
        Self { status, req }
    }

    /// [`Issued::with_hook`] without a hook.
    pub fn new(
        env: &Env,
        call: impl FnOnce(NDK_FN_REQUEST_COMPLETION, *mut c_void) -> NTSTATUS,
    ) -> Self {
        Self::with_hook(env, None, call)
    }

    /// Settles the platform and returns the status the one completion delivered, after
    /// checking the request pended and its completion ran once, at DISPATCH, and returned.
    pub fn delivered(&self, env: &Env) -> NTSTATUS {
        assert_eq!(self.status, STATUS_PENDING, "the request pends");
        env.settle();
        assert_eq!(self.req.calls(), 1, "request completion exactly once");
        assert!(self.req.returned());
        assert!(
            self.req.at_dispatch.load(Ordering::SeqCst),
            "completion from deferred work at DISPATCH"
        );
        self.req
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .expect("delivered")
    }

    /// The request was refused inline with `status`; no completion follows.
    pub fn refused(&self, env: &Env, status: NTSTATUS) {
        assert_eq!(self.status, status, "answered inline");
        env.settle();
        assert_eq!(self.req.calls(), 0, "no completion after an inline answer");
    }
}

/// `NdkRegisterMr` of all of `buffer` on `mr`, raw.
pub fn register(env: &Env, mr: &Mr, buffer: &Buffer, flags: u32) -> Issued {
    register_hooked(env, mr, buffer, flags, None)
}

/// [`register`] whose completion runs `hook`.
pub fn register_hooked(
    env: &Env,
    mr: &Mr,
    buffer: &Buffer,
    flags: u32,
    hook: Option<Box<dyn FnOnce() + Send>>,
) -> Issued {
    let mut chain = buffer.mdl(&[]);
    let (raw, table, len) = (mr.raw(), mr.dispatch(), buffer.len());
    Issued::with_hook(env, hook, |done, c| {
        // SAFETY: live MR; a chain over a buffer the test keeps alive while registered.
        unsafe { (table.NdkRegisterMr)(raw, chain.as_mdl(), len, flags, Some(done), c) }
    })
}

/// `NdkDeregisterMr`, raw.
pub fn deregister(env: &Env, mr: &Mr) -> Issued {
    let (raw, table) = (mr.raw(), mr.dispatch());
    // SAFETY: live MR, valid completion.
    Issued::new(env, |done, c| unsafe {
        (table.NdkDeregisterMr)(raw, Some(done), c)
    })
}

/// `NdkResizeCq`, raw.
pub fn resize(env: &Env, cq: &Cq, depth: u32) -> Issued {
    let (raw, table) = (cq.raw(), cq.dispatch());
    // SAFETY: live CQ, valid completion.
    Issued::new(env, |done, c| unsafe {
        (table.NdkResizeCq)(raw, depth, Some(done), c)
    })
}

/// `NdkModifySrq`, raw.
pub fn modify(env: &Env, srq: &Srq, depth: u32, threshold: u32) -> Issued {
    let (raw, table) = (srq.raw(), srq.dispatch());
    // SAFETY: live SRQ, valid completion.
    Issued::new(env, |done, c| unsafe {
        (table.NdkModifySrq)(raw, depth, threshold, Some(done), c)
    })
}

/// `NdkInitializeFastRegisterMr`, raw.
pub fn init_fast(env: &Env, mr: &Mr, pages: u32) -> Issued {
    let (raw, table) = (mr.raw(), mr.dispatch());
    // SAFETY: live MR, valid completion.
    Issued::new(env, |done, c| unsafe {
        (table.NdkInitializeFastRegisterMr)(raw, pages, 1, Some(done), c)
    })
}

/// Closes `object` at the cell's IRQL; its close completion asserts `req`'s completion has
/// returned (§5.3 C1).
pub fn close_after<O: Closeable>(env: &Env, object: O, req: &Arc<Req>) -> Ticket {
    let req = Arc::clone(req);
    env.at(|| {
        close(object, move || {
            assert!(
                req.returned(),
                "close completed before the request completion returned"
            );
        })
    })
}
