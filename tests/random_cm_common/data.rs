//! The data-path half of the random connection-manager sequences: per-QP reference model
//! (receive queue, bytes of the registered buffer, connection state) and the expected CQ
//! entries, as in `tests/random_ops.rs` but without initiator requests that wait: a send is
//! posted only when the peer has a receive outstanding, so every initiator request completes
//! at its post and a flush only ever cancels receives, whatever the moment it happens.

use std::collections::{BTreeMap, VecDeque};

use softndk::abi::{
    NDK_OPERATION_TYPE, NTSTATUS, STATUS_CANCELLED, STATUS_CONNECTION_INVALID,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS,
};

/// Queue depths of every QP (`QpLimits::default()`).
pub const DEPTH: usize = 16;
/// Bytes of each QP's registered buffer: [0, 64) receive slots, [64, 128) RDMA target,
/// [128, 256) constant source bytes.
pub const BUF: usize = 256;

pub use crate::random_common::{Entry, Key, Queue};

/// The model of one QP.
#[derive(Debug)]
pub struct MQp {
    /// The QP context (also identifies its CQ entries).
    pub ctx: usize,
    /// The adapter (and CQ: one per adapter) it lives on.
    pub adapter: usize,
    /// The peer QP once the CM joined them (`NdkCompleteConnect`).
    pub peer: Option<usize>,
    /// In the error state (flushed, closed, or its connection torn down).
    pub error: bool,
    /// Receives not consumed: (context, slot).
    pub rq: VecDeque<(usize, usize)>,
    /// The buffer's expected bytes.
    pub bytes: Vec<u8>,
}

/// Expected statuses, entries and bytes of every QP.
#[derive(Debug, Default)]
pub struct DataModel {
    /// Every QP ever created, by index.
    pub qps: Vec<MQp>,
    /// Expected entries per key, in order.
    pub expected: BTreeMap<Key, Vec<Entry>>,
}

/// The constant bytes a QP's buffer starts with.
pub fn source_pattern(ctx: usize) -> Vec<u8> {
    (0..BUF)
        .map(|i| u8::try_from((i * 7 + ctx * 31) % 251).unwrap_or(0))
        .collect()
}

fn n32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl DataModel {
    /// A new QP on `adapter` with context `ctx`; its index.
    pub fn add(&mut self, adapter: usize, ctx: usize) -> usize {
        self.qps.push(MQp {
            ctx,
            adapter,
            peer: None,
            error: false,
            rq: VecDeque::new(),
            bytes: source_pattern(ctx),
        });
        self.qps.len() - 1
    }

    fn push(&mut self, q: usize, queue: Queue, entry: Entry) {
        let qp = &self.qps[q];
        let key = (qp.adapter, qp.ctx, queue);
        self.expected.entry(key).or_default().push(entry);
    }

    /// The QP enters the error state; its receives complete cancelled, in posting order.
    /// Idempotent.
    pub fn flush(&mut self, q: usize) {
        self.qps[q].error = true;
        while let Some((ctx, _)) = self.qps[q].rq.pop_front() {
            let ty = NDK_OPERATION_TYPE::RECEIVE.0;
            self.push(q, Queue::Receive, (ctx, STATUS_CANCELLED.as_u32(), ty, 0));
        }
    }

    /// Expected status of `NdkReceive` on `q`.
    pub fn receive(&mut self, q: usize, ctx: usize, slot: usize) -> NTSTATUS {
        let qp = &self.qps[q];
        if qp.error {
            return STATUS_CONNECTION_INVALID;
        }
        if qp.rq.len() >= DEPTH {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        self.qps[q].rq.push_back((ctx, slot));
        STATUS_SUCCESS
    }

    /// Whether `q` can send now without its request waiting: joined, healthy, and the peer
    /// has a receive outstanding.
    pub fn can_send(&self, q: usize) -> bool {
        let qp = &self.qps[q];
        qp.peer
            .is_some_and(|p| !qp.error && !self.qps[p].error && !self.qps[p].rq.is_empty())
    }

    /// A send of `len` source bytes from `q`, consuming the peer's oldest receive.
    pub fn send(&mut self, q: usize, ctx: usize, len: usize) {
        let p = self.qps[q].peer.expect("joined");
        let (rctx, slot) = self.qps[p].rq.pop_front().expect("a receive outstanding");
        let src = self.qps[q].bytes[128..128 + len].to_vec();
        self.qps[p].bytes[slot * 32..slot * 32 + len].copy_from_slice(&src);
        let ty = NDK_OPERATION_TYPE::RECEIVE.0;
        self.push(
            p,
            Queue::Receive,
            (rctx, STATUS_SUCCESS.as_u32(), ty, n32(len)),
        );
        let ty = NDK_OPERATION_TYPE::SEND.0;
        self.push(
            q,
            Queue::Initiator,
            (ctx, STATUS_SUCCESS.as_u32(), ty, n32(len)),
        );
    }

    /// An RDMA write of `len` source bytes from `q` into the peer's target area at `at`.
    pub fn write(&mut self, q: usize, ctx: usize, len: usize, at: usize) {
        let p = self.qps[q].peer.expect("joined");
        let src = self.qps[q].bytes[128..128 + len].to_vec();
        self.qps[p].bytes[64 + at..64 + at + len].copy_from_slice(&src);
        let ty = NDK_OPERATION_TYPE::WRITE.0;
        self.push(
            q,
            Queue::Initiator,
            (ctx, STATUS_SUCCESS.as_u32(), ty, n32(len)),
        );
    }
}
