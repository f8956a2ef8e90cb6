//! Memory windows through the dispatch tables: `NdkCreateMw`, `NdkBind`, remote access through
//! the window's token, `NdkInvalidate`, the MR→MW link, and the NetworkDirect `ndmw` and
//! `NdMRDeregister` scenarios ported to NDK.
// a/b sides, p platform: the scenario vocabulary.
#![allow(clippy::many_single_char_names)]
// Test arithmetic on small, known values (offsets, page numbers, byte patterns).
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod ndk_common;

use ndk_common::{Pair, summary};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_ALLOW_REMOTE_READ,
    NDK_OP_FLAG_ALLOW_REMOTE_WRITE, NDK_OP_FLAG_INLINE, NDK_OP_FLAG_SILENT_SUCCESS,
    NDK_OPERATION_TYPE, STATUS_ACCESS_VIOLATION, STATUS_DEVICE_BUSY, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, STATUS_REMOTE_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Closed, QpLimits};
use softndk::platform::host::Host;

const S: u32 = STATUS_SUCCESS.as_u32();
const BIND: i32 = NDK_OPERATION_TYPE::BIND.0;
const INVALIDATE: i32 = NDK_OPERATION_TYPE::INVALIDATE.0;
const RW: u32 = NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;

/// `ndmw`: a large window bound over a whole registered buffer; the peer reads and writes through
/// the window's token at several offsets and the contents are checked on both sides.
#[test]
fn ndmw() {
    const LEN: usize = 1 << 20;
    const HALF: usize = LEN / 2;
    let p = Host::deterministic();
    let pair = Pair::new(&p, 64, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    // Client (a): buffer registered for local write only; remote access comes from the window.
    let pattern: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let (buf, mr) = a.buffer(&pattern, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let mw = a.pd.create_mw().unwrap();
    assert_eq!(a.qp.bind(1, &mr, &mw, buf.va(), LEN, RW), STATUS_SUCCESS);
    let token = mw.remote_token();
    assert_eq!(summary(&a.icq.results_ex(4)), [(1, S, 0, BIND)]);

    // Server (b): read the upper half through the window, invert it, write it to the lower half.
    let (mine, mine_mr) = b.buffer(&vec![0; LEN], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let upper = mine.sge(HALF, u32::try_from(HALF).unwrap(), mine_mr.local_token());
    assert_eq!(
        b.qp.read(2, &[upper], buf.va() + HALF as u64, token, 0),
        STATUS_SUCCESS
    );
    assert_eq!(mine.read()[HALF..], pattern[HALF..]);
    let inverted: Vec<u8> = pattern[HALF..].iter().map(|x| !x).collect();
    mine.write(HALF, &inverted);
    // Two writes of a quarter each, the second half first (offsets inside the window).
    let quarter = HALF / 2;
    let q = u32::try_from(quarter).unwrap();
    let hi = mine.sge(HALF + quarter, q, mine_mr.local_token());
    let lo = mine.sge(HALF, q, mine_mr.local_token());
    assert_eq!(
        b.qp.write(3, &[hi], buf.va() + quarter as u64, token, 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.qp.write(4, &[lo], buf.va(), token, 0), STATUS_SUCCESS);
    let got = buf.read();
    assert!(
        (0..HALF).all(|i| got[i] == !got[i + HALF]),
        "lower half is the bitwise NOT of the upper half"
    );
    // Small writes at the very end of the window, 4 bytes each, in reverse order.
    for i in 0..16u64 {
        let s = mine.sge(HALF + (i as usize) * 4, 4, mine_mr.local_token());
        let at = buf.va() + LEN as u64 - 4 - i * 4;
        assert_eq!(
            b.qp.write(10 + i as usize, &[s], at, token, 0),
            STATUS_SUCCESS
        );
    }
    let got = buf.read();
    for i in 0..16 {
        let at = LEN - 4 - i * 4;
        assert_eq!(got[at..at + 4], inverted[i * 4..i * 4 + 4]);
    }
    let done = b.icq.results(64);
    assert_eq!(done.len(), 19);
    assert!(done.iter().all(|r| r.Status == STATUS_SUCCESS));
    // One byte past the window: refused by the peer's memory.
    let past = mine.sge(0, 1, mine_mr.local_token());
    assert_eq!(
        b.qp.write(99, &[past], buf.va() + LEN as u64, token, 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);

    assert!(matches!(mw.close(), Closed::Now));
    drop((mine_mr.close(), mr.close()));
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// `NdMRDeregister`: deregistering an MR while a window is bound to it is refused
/// (`ND_DEVICE_BUSY` → `STATUS_DEVICE_BUSY`) and changes nothing; after the window is
/// invalidated the deregistration succeeds.
#[test]
fn nd_mr_deregister() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[5; 256], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let mw = a.pd.create_mw().unwrap();
    let read_only = NDK_OP_FLAG_ALLOW_REMOTE_READ;
    assert_eq!(
        a.qp.bind(1, &mr, &mw, buf.va(), 128, read_only),
        STATUS_SUCCESS
    );
    assert_eq!(mr.deregister(), STATUS_DEVICE_BUSY);
    // Still registered: the MR's own token works locally, the window remotely.
    let (dst, dst_mr) = b.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let d = dst.sge(0, 8, dst_mr.local_token());
    assert_eq!(
        b.qp.read(2, &[d], buf.va(), mw.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(dst.read(), [5; 8], "the registration is intact");
    assert_eq!(a.qp.invalidate_mw(3, &mw, 0), STATUS_SUCCESS);
    assert_eq!(mr.deregister(), STATUS_SUCCESS);
    let r = a.icq.results_ex(4);
    assert_eq!(summary(&r), [(1, S, 0, BIND), (3, S, 0, INVALIDATE)]);
    drop((mw.close(), mr.close(), dst_mr.close()));
    let _ = b.icq.results(4);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn bind_validation() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[0; 64], 0); // local read only
    let mw = a.pd.create_mw().unwrap();
    let qp = &a.qp;
    // Remote write through an MR registered without local write.
    assert_eq!(
        qp.bind(1, &mr, &mw, buf.va(), 64, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
        STATUS_ACCESS_VIOLATION
    );
    // Range outside the MR, zero length, a length beyond MaxWindowSize.
    assert_eq!(
        qp.bind(1, &mr, &mw, buf.va() + 1, 64, 0),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        qp.bind(1, &mr, &mw, buf.va() - 1, 2, 0),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        qp.bind(1, &mr, &mw, buf.va(), 0, 0),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        qp.bind(1, &mr, &mw, buf.va(), (1 << 30) + 1, 0),
        STATUS_INVALID_PARAMETER
    );
    // Flags outside the bind mask (local write is an FR flag; inline is not a bind flag).
    assert_eq!(
        qp.bind(1, &mr, &mw, buf.va(), 8, NDK_OP_FLAG_INLINE),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        qp.bind(1, &mr, &mw, buf.va(), 8, 0x20),
        STATUS_INVALID_PARAMETER,
        "the remote-only bit of ALLOW_REMOTE_WRITE without its local-write bit"
    );
    // NULLs and objects of the wrong type.
    assert_eq!(
        qp.bind_raw(1, core::ptr::null_mut(), mw.raw(), buf.va(), 8, 0),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        qp.bind_raw(1, mr.raw(), mr.raw().cast(), buf.va(), 8, 0),
        STATUS_INVALID_PARAMETER
    );
    // MR not registered.
    let bare = a.pd.create_mr(false).unwrap();
    assert_eq!(
        qp.bind(1, &bare, &mw, buf.va(), 8, 0),
        STATUS_INVALID_DEVICE_STATE
    );
    // A fast-register MR is not a bind target.
    let fast = a.pd.create_mr(true).unwrap();
    assert_eq!(
        qp.bind(1, &fast, &mw, buf.va(), 8, 0),
        STATUS_INVALID_DEVICE_STATE
    );
    // An MR or window of another PD.
    let (other_buf, other_mr) = b.buffer(&[0; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        qp.bind(1, &other_mr, &mw, other_buf.va(), 8, 0),
        STATUS_ACCESS_VIOLATION
    );
    // Nothing was queued by any refusal; a valid bind works, a second bind of a bound window
    // is refused.
    assert!(a.icq.results(8).is_empty());
    assert_eq!(qp.bind(2, &mr, &mw, buf.va(), 8, 0), STATUS_SUCCESS);
    assert_eq!(
        qp.bind(3, &mr, &mw, buf.va(), 8, 0),
        STATUS_INVALID_DEVICE_STATE
    );
    assert_eq!(summary(&a.icq.results_ex(8)), [(2, S, 0, BIND)]);
    // An unconnected QP refuses binds like every initiator request.
    let lone =
        a.pd.create_qp(&a.rcq, &a.icq, 0x77, QpLimits::default())
            .unwrap();
    let mw2 = a.pd.create_mw().unwrap();
    assert_eq!(
        lone.bind(4, &mr, &mw2, buf.va(), 8, 0),
        softndk::abi::STATUS_CONNECTION_INVALID
    );
    drop((lone.close(), mw2.close()));
    drop((
        mw.close(),
        mr.close(),
        bare.close(),
        fast.close(),
        other_mr.close(),
    ));
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// The window's token is valid as soon as `NdkBind` returns, even while the bind's completion
/// waits behind a send that has no receive yet; its rights are those of the bind flags.
#[test]
fn window_token_is_usable_when_the_bind_returns() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[0; 32], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let mw = a.pd.create_mw().unwrap();
    let before = mw.remote_token();
    assert_eq!(a.qp.send(1, &[], 0), STATUS_SUCCESS); // blocks: b has no receive
    assert_eq!(
        a.qp.bind(
            2,
            &mr,
            &mw,
            buf.va() + 8,
            16,
            NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_SILENT_SUCCESS
        ),
        STATUS_SUCCESS
    );
    let token = mw.remote_token();
    assert_ne!(token, before, "a bind issues a new token");
    assert!(
        a.icq.results(4).is_empty(),
        "completions wait behind the send"
    );
    let (src, src_mr) = b.buffer(b"0123456789abcdef", 0);
    let s = src.sge(0, 16, src_mr.local_token());
    assert_eq!(b.qp.write(3, &[s], buf.va() + 8, token, 0), STATUS_SUCCESS);
    assert_eq!(&buf.read()[8..24], b"0123456789abcdef");
    assert_eq!(b.icq.results(4)[0].Status, STATUS_SUCCESS);
    // The send completes once b posts a receive; the silent bind leaves no entry.
    assert_eq!(b.qp.receive(5, &[]), STATUS_SUCCESS);
    assert_eq!(
        summary(&a.icq.results_ex(4)),
        [(1, S, 0, NDK_OPERATION_TYPE::SEND.0)]
    );
    // Write-only window: a remote read through it fails.
    let (dst, dst_mr) = b.buffer(&[0; 4], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let d = dst.sge(0, 4, dst_mr.local_token());
    assert_eq!(b.qp.read(4, &[d], buf.va() + 8, token, 0), STATUS_SUCCESS);
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    drop((mw.close(), mr.close(), src_mr.close(), dst_mr.close()));
    let _ = b.rcq.results(4);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// Invalidating a window that is not bound fails "as usual": an error completion
/// (`STATUS_INVALID_HANDLE`), and the QP goes to error like after any failed request.
#[test]
fn invalidating_an_unbound_window_completes_with_an_error() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let a = &pair.a;
    let mw = a.pd.create_mw().unwrap();
    assert_eq!(a.qp.invalidate_mw(1, &mw, 0), STATUS_SUCCESS);
    let r = a.icq.results_ex(4);
    assert_eq!(
        summary(&r),
        [(1, STATUS_INVALID_HANDLE.as_u32(), 0, INVALIDATE)]
    );
    assert!(matches!(mw.close(), Closed::Now));
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn invalidate_makes_the_window_token_stale_and_rebinding_issues_a_new_one() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[1; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let (buf2, mr2) = a.buffer(&[2; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let mw = a.pd.create_mw().unwrap();
    let (a2, b2) = (a, b);
    let (dst, dst_mr) = b2.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let d = dst.sge(0, 8, dst_mr.local_token());
    let read_only = NDK_OP_FLAG_ALLOW_REMOTE_READ;
    assert_eq!(
        a2.qp.bind(1, &mr, &mw, buf.va(), 64, read_only),
        STATUS_SUCCESS
    );
    let first = mw.remote_token();
    assert_eq!(a2.qp.invalidate_mw(2, &mw, 0), STATUS_SUCCESS);
    // Rebind to another MR: a new token, reading the new MR's bytes.
    assert_eq!(
        a2.qp.bind(3, &mr2, &mw, buf2.va(), 64, read_only),
        STATUS_SUCCESS
    );
    let second = mw.remote_token();
    assert_ne!(first, second);
    assert_eq!(b2.qp.read(4, &[d], buf2.va(), second, 0), STATUS_SUCCESS);
    assert_eq!(dst.read(), [2; 8]);
    assert_eq!(b2.icq.results(4)[0].Status, STATUS_SUCCESS);
    // The first token is stale: the read fails remotely.
    assert_eq!(b2.qp.read(5, &[d], buf.va(), first, 0), STATUS_SUCCESS);
    assert_eq!(b2.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    let r = a2.icq.results_ex(8);
    assert_eq!(
        summary(&r),
        [(1, S, 0, BIND), (2, S, 0, INVALIDATE), (3, S, 0, BIND)]
    );
    // The first MR is no longer bound: it deregisters; the second is busy.
    assert_eq!(mr.deregister(), STATUS_SUCCESS);
    assert_eq!(mr2.deregister(), STATUS_DEVICE_BUSY);
    drop((mw.close(), mr.close(), mr2.close(), dst_mr.close()));
    let _ = b2.icq.results(8);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// A window's token is remote-only: used in a local SGE it fails the request.
#[test]
fn window_tokens_are_not_local_tokens() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[3; 16], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let mw = a.pd.create_mw().unwrap();
    assert_eq!(a.qp.bind(1, &mr, &mw, buf.va(), 16, RW), STATUS_SUCCESS);
    assert_eq!(b.qp.receive(2, &[]), STATUS_SUCCESS);
    let s = buf.sge(0, 4, mw.remote_token());
    assert_eq!(a.qp.send(3, &[s], 0), STATUS_SUCCESS);
    let r = a.icq.results(4);
    assert_eq!(r[1].Status, STATUS_ACCESS_VIOLATION);
    drop((mw.close(), mr.close()));
    let _ = b.rcq.results(4);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// The MR→MW link (§5.1): once bound, the window keeps its MR open; the MR's close pends until
/// the window's close completion has returned, even after the window was invalidated.
#[test]
fn mr_close_pends_while_a_window_bound_to_it_is_open() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let a = &pair.a;
    let (buf, mr) = a.buffer(&[0; 16], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let mw = a.pd.create_mw().unwrap();
    assert_eq!(a.qp.bind(1, &mr, &mw, buf.va(), 16, 0), STATUS_SUCCESS);
    assert_eq!(a.qp.invalidate_mw(2, &mw, 0), STATUS_SUCCESS);
    let closing = mr.close();
    assert!(!closing.is_complete(), "pends while the window is open");
    assert!(matches!(mw.close(), Closed::Now));
    assert_eq!(
        closing.pending().calls(),
        1,
        "completes after the window's close"
    );
    // A window that was never bound holds no MR link.
    let (_, mr2) = a.buffer(&[0; 16], 0);
    let unbound = a.pd.create_mw().unwrap();
    assert!(matches!(mr2.close(), Closed::Now));
    assert!(matches!(unbound.close(), Closed::Now));
    let _ = a.icq.results(4);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// `NdkInvalidate` of an MR registered with `NdkRegisterMr`, of NULL or of an object that is
/// neither an MR nor an MW is refused at the call; an MW close makes its token stale.
#[test]
fn invalidate_refusals_and_close_staleness() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[9; 16], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(a.qp.invalidate_mr(1, &mr, 0), STATUS_INVALID_PARAMETER);
    assert_eq!(
        a.qp.invalidate_raw(1, core::ptr::null_mut(), 0),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.qp.invalidate_raw(1, a.pd.raw().cast(), 0),
        STATUS_INVALID_PARAMETER
    );
    let mw = a.pd.create_mw().unwrap();
    assert_eq!(
        a.qp.invalidate_mw(1, &mw, NDK_OP_FLAG_ALLOW_LOCAL_WRITE),
        STATUS_INVALID_PARAMETER,
        "flags outside the invalidate mask"
    );
    assert_eq!(
        a.qp.bind(2, &mr, &mw, buf.va(), 16, NDK_OP_FLAG_ALLOW_REMOTE_READ),
        STATUS_SUCCESS
    );
    let token = mw.remote_token();
    assert!(matches!(mw.close(), Closed::Now));
    let (dst, dst_mr) = b.buffer(&[0; 4], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let d = dst.sge(0, 4, dst_mr.local_token());
    assert_eq!(b.qp.read(3, &[d], buf.va(), token, 0), STATUS_SUCCESS);
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    assert_eq!(
        mr.deregister(),
        STATUS_SUCCESS,
        "a closed window is unbound"
    );
    drop((mr.close(), dst_mr.close()));
    let _ = a.icq.results(4);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}
