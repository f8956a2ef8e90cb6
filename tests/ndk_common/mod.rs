//! Shared fixtures for the `ndk_*` scenario tests: an adapter with a PD, CQs and a connected QP
//! pair, everything created through the dispatch tables.
#![allow(dead_code)]

use std::sync::Arc;

use softndk::abi::{NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_RESULT_EX, NDK_VERSION, STATUS_SUCCESS};
use softndk::consumer::{Adapter, Buffer, Closed, Cq, CqEvents, Mr, Pd, Qp, QpLimits, Srq};
use softndk::dispatch::misuse::MisuseChecks;
use softndk::platform::Platform;
use softndk::platform::host::Host;
use softndk::verbs::AdapterConfig;

pub const fn config() -> AdapterConfig {
    AdapterConfig::softndk(0xC0FF_EE00)
}

/// An NDK 1.0 adapter of [`config`] on `p`.
pub fn open_adapter(p: &Platform) -> Adapter {
    Adapter::open(&config(), p, NDK_VERSION::new(1, 0)).unwrap()
}

/// [`config`] with the provider's misuse checks set to `misuse`.
pub fn with_checks(misuse: MisuseChecks) -> AdapterConfig {
    AdapterConfig { misuse, ..config() }
}

/// An NDK 1.0 adapter of [`with_checks`] on `p`.
pub fn open_checked(p: &Host, misuse: MisuseChecks) -> Adapter {
    Adapter::open(&with_checks(misuse), p, NDK_VERSION::new(1, 0)).unwrap()
}

/// One side: PD, receive CQ, initiator CQ, QP.
pub struct Side {
    pub pd: Pd,
    pub rcq: Cq,
    pub icq: Cq,
    pub qp: Qp,
    pub revents: Arc<CqEvents>,
    pub ievents: Arc<CqEvents>,
}

impl Side {
    pub fn new(adapter: &Adapter, qp_context: usize, cq_depth: u32, limits: QpLimits) -> Self {
        let pd = adapter.create_pd().unwrap();
        let revents = CqEvents::new();
        let ievents = CqEvents::new();
        let rcq = adapter.create_cq(cq_depth, &revents).unwrap();
        let icq = adapter.create_cq(cq_depth, &ievents).unwrap();
        let qp = pd.create_qp(&rcq, &icq, qp_context, limits).unwrap();
        Self {
            pd,
            rcq,
            icq,
            qp,
            revents,
            ievents,
        }
    }

    /// A registered buffer of this side's PD.
    pub fn buffer(&self, bytes: &[u8], flags: u32) -> (Arc<Buffer>, Mr) {
        let buf = Buffer::from_bytes(bytes);
        let mr = self.pd.create_mr(false).unwrap();
        assert_eq!(mr.register(&buf, flags, &[]), STATUS_SUCCESS);
        (buf, mr)
    }

    /// Closes everything in the sample consumer's order; every close must finish now.
    pub fn close(self) {
        self.qp.flush();
        assert!(matches!(self.qp.close(), Closed::Now));
        assert!(matches!(self.rcq.close(), Closed::Now));
        assert!(matches!(self.icq.close(), Closed::Now));
        assert!(matches!(self.pd.close(), Closed::Now));
    }

    /// Closes everything in the sample consumer's order, waiting for each close that pends.
    ///
    /// For threaded hosts: a successor's finaliser (on a worker) releases its unit on this
    /// side's QP only after its own close completion has returned (§5.3 C4), so a QP close
    /// issued right after that completion was observed may legitimately pend for a moment.
    #[allow(dead_code)] // not every test binary including this module uses it
    pub fn close_waiting(self, timeout: std::time::Duration) {
        self.qp.flush();
        for closed in [
            self.qp.close(),
            self.rcq.close(),
            self.icq.close(),
            self.pd.close(),
        ] {
            match closed {
                Closed::Now => {}
                Closed::Pending(signal) => assert!(signal.wait(timeout), "close never completed"),
                Closed::Refused(status) => panic!("close refused: {status:?}"),
            }
        }
    }
}

/// A PD with one CQ pair its QPs share.
pub struct Domain {
    pub pd: Pd,
    pub rcq: Cq,
    pub icq: Cq,
}

impl Domain {
    pub fn new(adapter: &Adapter, cq_depth: u32) -> Self {
        let pd = adapter.create_pd().unwrap();
        let rcq = adapter.create_cq(cq_depth, &CqEvents::new()).unwrap();
        let icq = adapter.create_cq(cq_depth, &CqEvents::new()).unwrap();
        Self { pd, rcq, icq }
    }

    /// A QP of default limits on the domain's CQs.
    pub fn qp(&self, context: usize) -> Qp {
        self.pd
            .create_qp(&self.rcq, &self.icq, context, QpLimits::default())
            .unwrap()
    }

    /// A QP of default limits on the domain's CQs taking its receives from `srq`.
    pub fn srq_qp(&self, srq: &Srq, context: usize) -> Qp {
        self.pd
            .create_qp_with_srq(&self.rcq, &self.icq, srq, context, QpLimits::default())
            .unwrap()
    }

    /// `buf` with a new MR of this PD registered over it, locally writable.
    pub fn register(&self, buf: Arc<Buffer>) -> (Arc<Buffer>, Mr) {
        let mr = self.pd.create_mr(false).unwrap();
        assert_eq!(
            mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]),
            STATUS_SUCCESS
        );
        (buf, mr)
    }

    /// Closes the CQs and the PD; every close must finish now.
    pub fn close(self) {
        for c in [self.rcq.close(), self.icq.close(), self.pd.close()] {
            closed(c);
        }
    }
}

/// Asserts a close finished now.
#[allow(clippy::needless_pass_by_value)] // takes the close's outcome as the call returns it
pub fn closed(c: Closed) {
    assert!(matches!(c, Closed::Now), "{c:?}");
}

/// Two connected sides on one adapter.
pub struct Pair {
    pub adapter: Adapter,
    pub a: Side,
    pub b: Side,
}

impl Pair {
    pub fn new(p: &Platform, cq_depth: u32, limits: QpLimits) -> Self {
        let adapter = open_adapter(p);
        let a = Side::new(&adapter, 0xA, cq_depth, limits);
        let b = Side::new(&adapter, 0xB, cq_depth, limits);
        assert_eq!(a.qp.connect_to(&b.qp, 4, 4), STATUS_SUCCESS);
        Self { adapter, a, b }
    }

    pub fn close(self) {
        self.a.close();
        self.b.close();
        self.adapter.close();
    }
}

/// (request context, status, bytes, type) of each result.
pub fn summary(results: &[NDK_RESULT_EX]) -> Vec<(usize, u32, u32, i32)> {
    results
        .iter()
        .map(|r| {
            (
                r.RequestContext.addr(),
                r.Status.as_u32(),
                r.BytesTransferred,
                r.Type.0,
            )
        })
        .collect()
}
