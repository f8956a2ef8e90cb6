//! NetworkDirect `ndmemorytest` cases about windows and remote memory access, ported to NDK
//! (the window descriptor travels in a send, as in the originals), and the `FailNth` sweep of
//! `NdkCreateMw`.
//!
//! ND reports a remote access fault to the requester as `ND_ACCESS_VIOLATION`; the NDK `NdkRead`
//! page names `STATUS_REMOTE_RESOURCES` for a read past the remote region, which is what SoftNDK
//! reports for every refused remote access (`docs/engine.md`).
// a/b sides, p platform: the scenario vocabulary.
#![allow(clippy::many_single_char_names)]

mod ndk_common;

use ndk_common::{Pair, config};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ, NDK_MR_FLAG_ALLOW_REMOTE_WRITE,
    NDK_OP_FLAG_ALLOW_REMOTE_READ, NDK_OP_FLAG_ALLOW_REMOTE_WRITE, NDK_VERSION, STATUS_CANCELLED,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_REMOTE_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Closed, Mr, Mw, QpLimits};
use softndk::platform::host::{FaultPlan, Host};

const XFER: usize = 4096;

/// The client's side of the ND tests: a buffer of `XFER` bytes registered with `mr_flags`, a
/// window bound over it with `bind_flags`, and its descriptor (base, token) sent to the server,
/// which posted a receive for it. Returns the server's view of the descriptor.
fn advertise(pair: &Pair, mr_flags: u32, bind_flags: u32) -> (Mr, Mw, u64, u32) {
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[0x5A; XFER], mr_flags);
    let mw = a.pd.create_mw().unwrap();
    assert_eq!(
        a.qp.bind(1, &mr, &mw, buf.va(), XFER, bind_flags),
        STATUS_SUCCESS
    );
    let mut desc = [0u8; 12];
    desc[..8].copy_from_slice(&buf.va().to_le_bytes());
    desc[8..].copy_from_slice(&mw.remote_token().to_le_bytes());
    buf.write(0, &desc);
    let (inbox, inbox_mr) = b.buffer(&[0; 12], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        b.qp.receive(2, &[inbox.sge(0, 12, inbox_mr.local_token())]),
        STATUS_SUCCESS
    );
    assert_eq!(
        a.qp.send(3, &[buf.sge(0, 12, mr.local_token())], 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.rcq.results(4)[0].Status, STATUS_SUCCESS);
    let got = inbox.read();
    let base = u64::from_le_bytes(got[..8].try_into().unwrap());
    let token = u32::from_le_bytes(got[8..].try_into().unwrap());
    assert!(matches!(inbox_mr.close(), Closed::Now));
    // The bind and the send completed on the client.
    assert_eq!(a.icq.results(4).len(), 2);
    (mr, mw, base, token)
}

/// Closes what `advertise` made and the pair; nothing may leak.
fn finish(p: &Host, pair: Pair, mr: Mr, mw: Mw, extra: Vec<Mr>) {
    assert!(matches!(mw.close(), Closed::Now));
    assert!(matches!(mr.close(), Closed::Now));
    for m in extra {
        assert!(matches!(m.close(), Closed::Now));
    }
    let _ = (pair.a.rcq.results(8), pair.b.icq.results(8));
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// `NdOverRead`: the server reads one byte more than the window holds; the read fails and no
/// byte arrives.
#[test]
fn nd_over_read() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let flags = NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
    let rw = NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
    let (mr, mw, base, token) = advertise(&pair, flags, rw);
    let b = &pair.b;
    let (sink, sink_mr) = b.buffer(&[0; XFER + 1], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let s = sink.sge(0, u32::try_from(XFER + 1).unwrap(), sink_mr.local_token());
    assert_eq!(b.qp.read(4, &[s], base, token, 0), STATUS_SUCCESS);
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    assert!(sink.read().iter().all(|&x| x == 0), "no byte moved");
    finish(&p, pair, mr, mw, vec![sink_mr]);
}

/// `NdOverWrite`: the server writes one byte more than the window holds; the write fails and
/// the client's memory is untouched.
#[test]
fn nd_over_write() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let flags = NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
    let rw = NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
    let (mr, mw, base, token) = advertise(&pair, flags, rw);
    let b = &pair.b;
    let (src, src_mr) = b.buffer(&[1; XFER + 1], 0);
    let s = src.sge(0, u32::try_from(XFER + 1).unwrap(), src_mr.local_token());
    assert_eq!(b.qp.write(4, &[s], base, token, 0), STATUS_SUCCESS);
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    finish(&p, pair, mr, mw, vec![src_mr]);
}

/// `NdWriteViolation`: the window was bound for remote read only; the server's write through it
/// fails, and the client's posted receive is flushed (`STATUS_CANCELLED`) because the
/// connection broke.
#[test]
fn nd_write_violation() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (mr, mw, base, token) = advertise(
        &pair,
        NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
        NDK_OP_FLAG_ALLOW_REMOTE_READ,
    );
    let (a, b) = (&pair.a, &pair.b);
    assert_eq!(a.qp.receive(5, &[]), STATUS_SUCCESS);
    let (src, src_mr) = b.buffer(&[1; XFER], 0);
    let s = src.sge(0, u32::try_from(XFER).unwrap(), src_mr.local_token());
    assert_eq!(b.qp.write(4, &[s], base, token, 0), STATUS_SUCCESS);
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    let r = a.rcq.results(4);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].Status, STATUS_CANCELLED);
    finish(&p, pair, mr, mw, vec![src_mr]);
}

/// `FailNth` over every allocation of `NdkCreateMw`: each failure answers
/// `STATUS_INSUFFICIENT_RESOURCES` and leaks nothing.
#[test]
fn create_mw_under_allocation_failure() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let pd = adapter.create_pd().unwrap();
    let live = p.alloc_stats().live;
    let before = p.alloc_stats().attempts;
    let mw = pd.create_mw().unwrap();
    assert!(matches!(mw.close(), Closed::Now));
    let attempts = p.alloc_stats().attempts - before;
    for n in 0..attempts {
        p.set_fault_plan(FaultPlan::FailNth(n));
        let made = pd.create_mw();
        p.set_fault_plan(FaultPlan::Off);
        match made {
            Ok(mw) => assert!(matches!(mw.close(), Closed::Now)),
            Err(status) => assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES),
        }
        assert_eq!(p.alloc_stats().live, live);
    }
    assert!(p.alloc_stats().injected_failures > 0);
    // The PD create path too.
    let before = p.alloc_stats().attempts;
    let extra = adapter.create_pd().unwrap();
    assert!(matches!(extra.close(), Closed::Now));
    for n in 0..p.alloc_stats().attempts - before {
        p.set_fault_plan(FaultPlan::FailNth(n));
        let made = adapter.create_pd();
        p.set_fault_plan(FaultPlan::Off);
        match made {
            Ok(pd) => assert!(matches!(pd.close(), Closed::Now)),
            Err(status) => assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES),
        }
    }
    assert!(matches!(pd.close(), Closed::Now));
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// `NdMRInvalidBuffer`: registering a NULL buffer, or a real buffer with length 0, fails with
/// `STATUS_INVALID_PARAMETER` (ND: `ND_INVALID_PARAMETER` / `ND_INVALID_BUFFER_SIZE`) and leaves
/// the MR unregistered (its deregistration then fails too).
#[test]
fn nd_mr_invalid_buffer() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let pd = adapter.create_pd().unwrap();
    let mr = pd.create_mr(false).unwrap();
    assert_eq!(
        mr.register_null(0, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
        softndk::abi::STATUS_INVALID_PARAMETER
    );
    let buf = softndk::consumer::Buffer::zeroed(10);
    let mut chain = buf.mdl(&[]);
    assert_eq!(
        mr.register_chain(&buf, &mut chain, 0, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
        softndk::abi::STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        mr.register_chain(&buf, &mut chain, 20, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
        softndk::abi::STATUS_INVALID_PARAMETER,
        "a length beyond the buffer"
    );
    assert_eq!(mr.deregister(), softndk::abi::STATUS_INVALID_DEVICE_STATE);
    assert!(matches!(mr.close(), Closed::Now));
    assert!(matches!(pd.close(), Closed::Now));
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}
