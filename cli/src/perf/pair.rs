//! A connected QP pair for `perf`: the initiator on adapter 0 with a source buffer, the target
//! on adapter 1 with a destination buffer, each with its own PD and one CQ for both queues,
//! all through `softndk::consumer`. Connected by the `connect_pair` stand-in.

use std::sync::Arc;

use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ, NDK_MR_FLAG_ALLOW_REMOTE_WRITE,
    NDK_RESULT, NTSTATUS, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Closed, Cq, CqEvents, Mr, Pd, Qp, QpLimits};

/// One side.
#[derive(Debug)]
pub struct Side {
    pd: Pd,
    /// The CQ of both queues.
    pub cq: Cq,
    /// The QP.
    pub qp: Qp,
    /// The side's buffer.
    pub buf: Arc<Buffer>,
    mr: Mr,
    /// The MR's tokens, read once after registration (they never change while it stays
    /// registered): asking the provider per post would measure `NdkGetLocalToken` too.
    local_token: u32,
    remote_token: u32,
}

fn check(status: NTSTATUS, what: &str) -> Result<(), String> {
    if status == STATUS_SUCCESS {
        Ok(())
    } else {
        Err(format!("{what}: {status:?}"))
    }
}

impl Side {
    fn new(adapter: &Adapter, size: usize, depth: u32) -> Result<Self, String> {
        let e = |what: &'static str| move |s: NTSTATUS| format!("{what}: {s:?}");
        let pd = adapter.create_pd().map_err(e("NdkCreatePd"))?;
        let cq = adapter
            .create_cq(2 * depth, &CqEvents::new())
            .map_err(e("NdkCreateCq"))?;
        let limits = QpLimits {
            receive_depth: depth,
            initiator_depth: depth,
            max_receive_sge: 1,
            max_initiator_sge: 1,
            inline_data_size: 0,
        };
        let qp = pd
            .create_qp(&cq, &cq, 0, limits)
            .map_err(e("NdkCreateQp"))?;
        let buf = Buffer::zeroed(size);
        let mr = pd.create_mr(false).map_err(e("NdkCreateMr"))?;
        let flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE
            | NDK_MR_FLAG_ALLOW_REMOTE_READ
            | NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
        check(mr.register(&buf, flags, &[]), "NdkRegisterMr")?;
        let (local_token, remote_token) = (mr.local_token(), mr.remote_token());
        Ok(Self {
            pd,
            cq,
            qp,
            buf,
            mr,
            local_token,
            remote_token,
        })
    }

    /// The buffer's SGE for `len` bytes.
    #[must_use]
    pub fn sge(&self, len: u32) -> softndk::abi::NDK_SGE {
        self.buf.sge(0, len, self.local_token)
    }

    /// Remote address and token of the buffer.
    #[must_use]
    pub fn remote(&self) -> (u64, u32) {
        (self.buf.va(), self.remote_token)
    }

    /// Reaps up to `scratch.len()` results into `scratch` (no allocation per poll, so the
    /// harness does not add a heap round trip to every measured operation); answers them.
    pub fn poll<'s>(&self, scratch: &'s mut [NDK_RESULT]) -> &'s [NDK_RESULT] {
        let n = self.cq.results_into(scratch);
        &scratch[..n]
    }

    fn close(self) -> Vec<Closed> {
        self.qp.flush();
        vec![
            self.qp.close(),
            self.cq.close(),
            self.mr.close(),
            self.pd.close(),
        ]
    }
}

/// Initiator and target.
#[derive(Debug)]
pub struct Pair {
    /// Adapter 0's side: posts.
    pub initiator: Side,
    /// Adapter 1's side: receives sends, is the RDMA target.
    pub target: Side,
}

impl Pair {
    /// Creates and connects a pair with buffers of `size` and queues `depth` deep.
    ///
    /// # Errors
    ///
    /// A create, registration or the connection failed.
    pub fn new(adapters: &[Adapter; 2], size: usize, depth: u32) -> Result<Self, String> {
        let initiator = Side::new(&adapters[0], size, depth)?;
        let target = Side::new(&adapters[1], size, depth)?;
        check(
            initiator.qp.connect_to(&target.qp, depth, depth),
            "connect_pair",
        )?;
        Ok(Self { initiator, target })
    }

    /// Closes both sides; answers a message for any close that did not finish.
    pub fn close(self) -> Vec<String> {
        let mut closes = self.initiator.close();
        closes.extend(self.target.close());
        closes
            .into_iter()
            .filter_map(|c| match c {
                Closed::Now => None,
                Closed::Pending(s) if s.wait(std::time::Duration::from_secs(10)) => None,
                other => Some(format!("perf close did not finish: {other:?}")),
            })
            .collect()
    }
}
