//! Fast-register MRs through the dispatch tables: `NdkCreateMr(FastRegister=TRUE)`,
//! `NdkInitializeFastRegisterMr`, `NdkFastRegister` over LAM pages, `NdkInvalidate`, remote and
//! read-local invalidation, re-registration, and every validation rule.
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
    NDK_OP_FLAG_ALLOW_REMOTE_WRITE, NDK_OP_FLAG_INLINE, NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE,
    NDK_OP_FLAG_RDMA_READ_SINK, NDK_OPERATION_TYPE, STATUS_ACCESS_VIOLATION,
    STATUS_IMPLEMENTATION_LIMIT, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER, STATUS_REMOTE_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Buffer, Closed, Lam, QpLimits};
use softndk::platform::host::Host;

const S: u32 = STATUS_SUCCESS.as_u32();
const FR: i32 = NDK_OPERATION_TYPE::FAST_REGISTER.0;
const INVALIDATE: i32 = NDK_OPERATION_TYPE::INVALIDATE.0;
const PAGE: u64 = 4096;

/// A LAM over `len` bytes of a fresh buffer holding `fill`, on side `a`'s adapter.
fn lam(pair: &Pair, len: usize, fill: u8) -> Lam {
    let buf = Buffer::from_bytes(&vec![fill; len]);
    pair.adapter.build_lam(&buf, 0, len).unwrap()
}

/// A base address for a fast registration of `lam`: the required `FBO + n·PAGE_SIZE` shape.
fn base(lam: &Lam, n: u64) -> u64 {
    0x7000_0000 + n * PAGE + u64::from(lam.fbo())
}

#[test]
fn fast_register_write_read_invalidate_and_register_again() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(8, true), STATUS_SUCCESS);
    let l = lam(&pair, 3 * 4096, 0);
    let va = base(&l, 16);
    let before = mr.remote_token();
    let flags = NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_READ;
    assert_eq!(
        a.qp.fast_register(1, &mr, &l.pages(), l.fbo(), 3 * 4096, va, flags),
        STATUS_SUCCESS
    );
    let token = mr.remote_token();
    assert_ne!(token, before, "every fast registration issues a new token");
    assert_eq!(mr.local_token(), token);
    // The peer writes across a page boundary and reads it back.
    let (src, src_mr) = b.buffer(&[0xAB; 100], 0);
    let s = src.sge(0, 100, src_mr.local_token());
    assert_eq!(b.qp.write(2, &[s], va + 4050, token, 0), STATUS_SUCCESS);
    assert_eq!(l.buffer().read()[4050..4150], [0xAB; 100]);
    let (dst, dst_mr) = b.buffer(&[0; 100], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let d = dst.sge(0, 100, dst_mr.local_token());
    assert_eq!(b.qp.read(3, &[d], va + 4050, token, 0), STATUS_SUCCESS);
    assert_eq!(dst.read(), [0xAB; 100]);
    assert_eq!(b.icq.results(8).len(), 2);
    // Invalidate locally: the token goes stale. Register again: a new token works.
    assert_eq!(a.qp.invalidate_mr(5, &mr, 0), STATUS_SUCCESS);
    assert_eq!(
        a.qp.fast_register(6, &mr, &l.pages()[..1], l.fbo(), 8, va, 0),
        STATUS_SUCCESS,
        "registering again after the invalidation"
    );
    assert_ne!(mr.remote_token(), token);
    let r = a.icq.results_ex(8);
    assert_eq!(
        summary(&r),
        [(1, S, 0, FR), (5, S, 0, INVALIDATE), (6, S, 0, FR)]
    );
    // Past the registered length (8 bytes now): refused by the owner's memory.
    assert_eq!(
        b.qp.write(7, &[s], va, mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.icq.results(8)[0].Status, STATUS_REMOTE_RESOURCES);
    drop((mr.close(), src_mr.close(), dst_mr.close()));
    pair.adapter.release_lam(l);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn a_stale_fast_register_token_fails() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(1, true), STATUS_SUCCESS);
    let l = lam(&pair, 64, 0);
    let va = base(&l, 0);
    let w = NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
    assert_eq!(
        a.qp.fast_register(1, &mr, &l.pages(), l.fbo(), 64, va, w),
        STATUS_SUCCESS
    );
    let old = mr.remote_token();
    assert_eq!(a.qp.invalidate_mr(2, &mr, 0), STATUS_SUCCESS);
    assert_eq!(
        a.qp.fast_register(3, &mr, &l.pages(), l.fbo(), 64, va, w),
        STATUS_SUCCESS
    );
    let (src, src_mr) = b.buffer(&[1; 8], 0);
    let s = src.sge(0, 8, src_mr.local_token());
    assert_eq!(
        b.qp.write(4, &[s], va, mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.qp.write(5, &[s], va, old, 0), STATUS_SUCCESS);
    let r = b.icq.results(8);
    assert_eq!(r[0].Status, STATUS_SUCCESS);
    assert_eq!(
        r[1].Status, STATUS_REMOTE_RESOURCES,
        "the old generation is stale"
    );
    drop((mr.close(), src_mr.close()));
    let _ = a.icq.results(8);
    pair.adapter.release_lam(l);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn fast_register_mr_rules() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let a = &pair.a;
    let fast = a.pd.create_mr(true).unwrap();
    let buf = Buffer::zeroed(64);
    assert_eq!(
        fast.register(&buf, 0, &[]),
        STATUS_INVALID_DEVICE_STATE,
        "NdkRegisterMr is refused on a fast-register MR"
    );
    assert_eq!(fast.deregister(), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(
        fast.initialize_fast_register(0, false),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        fast.initialize_fast_register(257, false),
        STATUS_IMPLEMENTATION_LIMIT,
        "above the adapter's FRMRPageCount"
    );
    let info = pair.adapter.query_info().unwrap();
    assert_eq!(info.FRMRPageCount, 256);
    assert_eq!(fast.initialize_fast_register(256, false), STATUS_SUCCESS);
    assert_eq!(
        fast.initialize_fast_register(2, true),
        STATUS_SUCCESS,
        "repeatable"
    );
    let normal = a.pd.create_mr(false).unwrap();
    assert_eq!(
        normal.initialize_fast_register(2, false),
        STATUS_INVALID_DEVICE_STATE
    );
    let l = lam(&pair, 64, 0);
    assert_eq!(
        a.qp.fast_register(1, &normal, &l.pages(), l.fbo(), 8, base(&l, 0), 0),
        STATUS_INVALID_PARAMETER,
        "NdkFastRegister needs a fast-register MR"
    );
    assert!(a.icq.results(4).is_empty());
    drop((fast.close(), normal.close()));
    pair.adapter.release_lam(l);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn fast_register_validation() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let a = &pair.a;
    let qp = &a.qp;
    let mr = a.pd.create_mr(true).unwrap();
    // One byte more than two pages: three pages whatever the buffer's offset in its first page
    // (heap buffers are at least 8-aligned, so that offset is at most 4088 and the last page
    // stays partial), which the cases below index.
    let l = lam(&pair, 2 * 4096 + 1, 0);
    let pages = l.pages();
    assert_eq!(pages.len(), 3);
    let (fbo, va) = (l.fbo(), base(&l, 0));
    // The buffer need not start on a page: its pages span `fbo` + 2·4096 + 1 bytes.
    let span = pages.len() * 4096 - fbo as usize;
    // Not initialised yet.
    assert_eq!(
        qp.fast_register(1, &mr, &pages, fbo, 8, va, 0),
        STATUS_INVALID_DEVICE_STATE
    );
    assert_eq!(
        mr.initialize_fast_register(u32::try_from(pages.len()).unwrap(), false),
        STATUS_SUCCESS
    );
    let refused = [
        // Remote access on an MR initialised without RemoteAccess.
        (
            qp.fast_register(1, &mr, &pages, fbo, 8, va, NDK_OP_FLAG_ALLOW_REMOTE_READ),
            STATUS_ACCESS_VIOLATION,
        ),
        (
            qp.fast_register(1, &mr, &pages, fbo, 8, va, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
            STATUS_ACCESS_VIOLATION,
        ),
        // Length beyond pages·PAGE_SIZE − FBO, zero length.
        (
            qp.fast_register(1, &mr, &pages, fbo, span + 1, va, 0),
            STATUS_INVALID_PARAMETER,
        ),
        (
            qp.fast_register(1, &mr, &pages, fbo, 0, va, 0),
            STATUS_INVALID_PARAMETER,
        ),
        // BaseVirtualAddress must be FBO + n·PAGE_SIZE.
        (
            qp.fast_register(1, &mr, &pages, fbo, 8, va + 1, 0),
            STATUS_INVALID_PARAMETER,
        ),
        // FBO inside the first page only.
        (
            qp.fast_register(1, &mr, &pages, 4096, 8, 0x7000_1000, 0),
            STATUS_INVALID_PARAMETER,
        ),
        // No pages.
        (
            qp.fast_register(1, &mr, &[], fbo, 8, va, 0),
            STATUS_INVALID_PARAMETER,
        ),
        // Within the pages' span but beyond the LAM's buffer (the last page is partial).
        (
            qp.fast_register(1, &mr, &pages, fbo, span, va, 0),
            STATUS_INVALID_PARAMETER,
        ),
        // Other lists (`tests/ndk_frmr_lams.rs`): here page 2 holds one byte of the buffer.
        (
            qp.fast_register(1, &mr, &[pages[2], pages[0]], fbo, 4096, va, 0),
            STATUS_INVALID_PARAMETER,
        ),
        (
            qp.fast_register(1, &mr, &[0x1000, 0x2000], 0, 8, 0x7000_0000, 0),
            STATUS_INVALID_PARAMETER,
        ),
        // Flags outside the fast-register mask.
        (
            qp.fast_register(1, &mr, &pages, fbo, 8, va, NDK_OP_FLAG_INLINE),
            STATUS_INVALID_PARAMETER,
        ),
    ];
    let small = a.pd.create_mr(true).unwrap();
    assert_eq!(small.initialize_fast_register(1, false), STATUS_SUCCESS);
    assert_eq!(
        qp.fast_register(1, &small, &pages[..2], fbo, 8, va, 0),
        STATUS_INVALID_PARAMETER,
        "more pages than initialised"
    );
    drop(small.close());
    for (i, (got, want)) in refused.iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
    assert!(a.icq.results(4).is_empty(), "no refusal queued anything");
    // A fast registration over bytes before the LAM's buffer (page 0, offset < FBO) is refused
    // when the buffer does not start on a page boundary.
    if fbo > 0 {
        assert_eq!(
            qp.fast_register(1, &mr, &pages, 0, 8, 0x7000_0000, 0),
            STATUS_INVALID_PARAMETER
        );
    }
    // Local write, read sink and a full span are fine; a second FR of a valid MR is refused.
    let ok = NDK_OP_FLAG_ALLOW_LOCAL_WRITE | NDK_OP_FLAG_RDMA_READ_SINK;
    assert_eq!(
        qp.fast_register(2, &mr, &pages, fbo, 2 * 4096, va, ok),
        STATUS_SUCCESS
    );
    assert_eq!(
        qp.fast_register(3, &mr, &pages, fbo, 8, va, 0),
        STATUS_INVALID_DEVICE_STATE
    );
    assert_eq!(summary(&a.icq.results_ex(4)), [(2, S, 0, FR)]);
    drop(mr.close());
    pair.adapter.release_lam(l);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// A fast-registered MR as a local buffer (receive target), invalidated by the peer's
/// send-and-invalidate, and by a read's local invalidation.
#[test]
fn remote_and_read_local_invalidation() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(1, true), STATUS_SUCCESS);
    let l = lam(&pair, 64, 0);
    let va = base(&l, 3);
    let f = NDK_OP_FLAG_ALLOW_LOCAL_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
    assert_eq!(
        a.qp.fast_register(1, &mr, &l.pages(), l.fbo(), 64, va, f),
        STATUS_SUCCESS
    );
    let token = mr.local_token();
    // b sends into a receive on the FR region and invalidates its token.
    let r = softndk::abi::NDK_SGE::with_virtual(
        core::ptr::without_provenance_mut(usize::try_from(va).unwrap()),
        16,
        token,
    );
    assert_eq!(a.qp.receive(2, &[r]), STATUS_SUCCESS);
    let (src, src_mr) = b.buffer(b"sixteen bytes!!!", 0);
    let s = src.sge(0, 16, src_mr.local_token());
    assert_eq!(b.qp.send_and_invalidate(3, &[s], 0, token), STATUS_SUCCESS);
    assert_eq!(&l.buffer().read()[..16], b"sixteen bytes!!!");
    let got = a.rcq.results_ex(4);
    assert_eq!(got[0].Type, NDK_OPERATION_TYPE::RECEIVE_AND_INVALIDATE);
    assert_eq!(got[0].TypeSpecificCompletionOutput, token as usize);
    // A later NdkInvalidate of that token fails as usual.
    assert_eq!(a.qp.invalidate_mr(4, &mr, 0), STATUS_SUCCESS);
    let r = a.icq.results_ex(4);
    assert_eq!(
        summary(&r),
        [
            (1, S, 0, FR),
            (4, STATUS_INVALID_HANDLE.as_u32(), 0, INVALIDATE)
        ]
    );
    drop((mr.close(), src_mr.close()));
    let _ = b.icq.results(4);
    pair.adapter.release_lam(l);
    pair.close();

    // Read with RDMA_READ_LOCAL_INVALIDATE: the FR sink's token is invalidated on success.
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(1, false), STATUS_SUCCESS);
    let l = lam(&pair, 64, 0);
    let va = base(&l, 0);
    assert_eq!(
        a.qp.fast_register(
            1,
            &mr,
            &l.pages(),
            l.fbo(),
            64,
            va,
            NDK_OP_FLAG_ALLOW_LOCAL_WRITE
        ),
        STATUS_SUCCESS
    );
    let (remote, remote_mr) = b.buffer(b"read me", softndk::abi::NDK_MR_FLAG_ALLOW_REMOTE_READ);
    let sink = softndk::abi::NDK_SGE::with_virtual(
        core::ptr::without_provenance_mut(usize::try_from(va).unwrap()),
        7,
        mr.local_token(),
    );
    assert_eq!(
        a.qp.read(
            2,
            &[sink],
            remote.va(),
            remote_mr.remote_token(),
            NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE
        ),
        STATUS_SUCCESS
    );
    assert_eq!(&l.buffer().read()[..7], b"read me");
    // The MR is invalid now, so it can be fast-registered again right away.
    assert_eq!(
        a.qp.fast_register(3, &mr, &l.pages(), l.fbo(), 64, va, 0),
        STATUS_SUCCESS
    );
    assert_eq!(a.icq.results(4).len(), 3);
    drop((mr.close(), remote_mr.close()));
    pair.adapter.release_lam(l);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// `FailNth` over every allocation of the fast-register create path (`NdkCreateMr` with
/// `FastRegister` TRUE, then `NdkInitializeFastRegisterMr`): every failure answers
/// `STATUS_INSUFFICIENT_RESOURCES` and leaks nothing.
#[test]
fn fast_register_mr_create_under_allocation_failure() {
    use softndk::platform::host::FaultPlan;
    let p = Host::deterministic();
    let adapter = ndk_common::open_adapter(&p);
    let pd = adapter.create_pd().unwrap();
    let before = p.alloc_stats().attempts;
    let mr = pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(4, true), STATUS_SUCCESS);
    drop(mr.close());
    let attempts = p.alloc_stats().attempts - before;
    assert!(attempts > 0);
    for n in 0..attempts {
        p.set_fault_plan(FaultPlan::FailNth(n));
        match pd.create_mr(true) {
            Ok(mr) => {
                assert_eq!(mr.initialize_fast_register(4, true), STATUS_SUCCESS);
                drop(mr.close());
            }
            Err(status) => assert_eq!(status, softndk::abi::STATUS_INSUFFICIENT_RESOURCES),
        }
        p.set_fault_plan(FaultPlan::Off);
    }
    assert!(p.alloc_stats().injected_failures > 0);
    assert!(matches!(pd.close(), Closed::Now));
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}
