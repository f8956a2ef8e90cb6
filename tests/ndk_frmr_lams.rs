//! `NdkFastRegister` over page lists that are not consecutive pages of one LAM (issue #4): pages
//! of several LAMs and pages of one LAM out of order, through the dispatch tables. The
//! registration is the concatenation of the listed pages (the first from `FirstByteOffset`),
//! so a peer's RDMA write and read across a page or LAM boundary must land in the right bytes of
//! the right buffers; invalidation (local, remote) leaves a stale token; a failed allocation
//! fails the post cleanly; a LAM released under a valid registration leaves nothing dangling.
// a/b sides, p platform, l LAMs: the scenario vocabulary.
#![allow(clippy::many_single_char_names)]
// Test arithmetic on small, known values (offsets, page numbers, byte patterns).
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod ndk_common;

use std::sync::Arc;

use ndk_common::{Pair, summary};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_ALLOW_REMOTE_READ,
    NDK_OP_FLAG_ALLOW_REMOTE_WRITE, NDK_OPERATION_TYPE, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_REMOTE_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Buffer, Lam, QpLimits};
use softndk::platform::host::{FaultPlan, Host};

const S: u32 = STATUS_SUCCESS.as_u32();
const FR: i32 = NDK_OPERATION_TYPE::FAST_REGISTER.0;
const INVALIDATE: i32 = NDK_OPERATION_TYPE::INVALIDATE.0;
const PAGE: usize = 4096;
const REMOTE: u32 = NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_READ;

/// A LAM of `pages` pages over a fresh buffer filled with `fill`, whose first byte sits `fbo`
/// bytes into its page (the buffer holds one page of slack to place it there).
fn lam_at(pair: &Pair, fbo: usize, pages: usize, fill: u8) -> (Arc<Buffer>, Lam) {
    let buf = Buffer::from_bytes(&vec![fill; (pages + 1) * PAGE]);
    let start = (fbo + PAGE - buf.va() as usize % PAGE) % PAGE;
    let l = pair
        .adapter
        .build_lam(&buf, start, pages * PAGE - fbo)
        .unwrap();
    assert_eq!(l.fbo() as usize, fbo);
    assert_eq!(l.pages().len(), pages);
    (buf, l)
}

/// Offset in `l`'s buffer of byte `offset` of the LAM's page `page` (the page must hold it).
const fn at(l: &Lam, page: usize, offset: usize) -> usize {
    l.start() + page * PAGE + offset - l.fbo() as usize
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ salt).collect()
}

/// Pages of three LAMs, with a run of two pages of one LAM, and one LAM's pages out of order:
/// the peer writes the whole registration, then writes and reads small ranges that straddle
/// each boundary; every byte lands where the page list says, and nothing else is touched.
#[test]
fn writes_and_reads_across_pages_of_several_lams_land_in_the_listed_pages() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf_x, x) = lam_at(&pair, 100, 2, 0x11);
    let (buf_y, y) = lam_at(&pair, 0, 3, 0x22);
    let (buf_z, z) = lam_at(&pair, 0, 1, 0x33);
    let (xp, yp, zp) = (x.pages(), y.pages(), z.pages());
    // x0 x1 (one run) | y2 | y0 | z0, from byte 100 of x0, ending 50 bytes short of z0's end.
    let list = [xp[0], xp[1], yp[2], yp[0], zp[0]];
    let fbo = 100;
    let len = 5 * PAGE - fbo - 50;
    // Where byte `i` of the registration lives: (buffer, offset in it).
    let place = |i: usize| -> (&Arc<Buffer>, usize) {
        let (k, off) = ((fbo + i) / PAGE, (fbo + i) % PAGE);
        match k {
            0 | 1 => (&buf_x, at(&x, k, off)),
            2 => (&buf_y, at(&y, 2, off)),
            3 => (&buf_y, at(&y, 0, off)),
            _ => (&buf_z, at(&z, 0, off)),
        }
    };
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(8, true), STATUS_SUCCESS);
    let va = 0x5000_0000 + fbo as u64;
    assert_eq!(
        a.qp.fast_register(1, &mr, &list, fbo as u32, len, va, REMOTE),
        STATUS_SUCCESS
    );
    assert_eq!(summary(&a.icq.results_ex(4)), [(1, S, 0, FR)]);
    let token = mr.remote_token();

    // One write over the whole registration.
    let data = pattern(len, 0x5A);
    let (src, src_mr) = b.buffer(&data, 0);
    let s = src.sge(0, len as u32, src_mr.local_token());
    assert_eq!(b.qp.write(2, &[s], va, token, 0), STATUS_SUCCESS);
    let mut expect_x = vec![0x11; buf_x.len()];
    let mut expect_y = vec![0x22; buf_y.len()];
    let mut expect_z = vec![0x33; buf_z.len()];
    for (i, &byte) in data.iter().enumerate() {
        let (buf, off) = place(i);
        let expect = if Arc::ptr_eq(buf, &buf_x) {
            &mut expect_x
        } else if Arc::ptr_eq(buf, &buf_y) {
            &mut expect_y
        } else {
            &mut expect_z
        };
        expect[off] = byte;
    }
    assert_eq!(buf_x.read(), expect_x, "x: pages 0 and 1 from byte 100");
    assert_eq!(
        buf_y.read(),
        expect_y,
        "y: pages 2 then 0, page 1 untouched"
    );
    assert_eq!(buf_z.read(), expect_z, "z: page 0 but its last 50 bytes");

    // The peer reads the whole registration back in order.
    let (dst, dst_mr) = b.buffer(&vec![0; len], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let d = dst.sge(0, len as u32, dst_mr.local_token());
    assert_eq!(b.qp.read(3, &[d], va, token, 0), STATUS_SUCCESS);
    assert_eq!(dst.read(), data);

    // Small writes and reads straddling each boundary: x1|y2, y2|y0, y0|z0, and x0|x1.
    for (n, boundary) in [PAGE - fbo, 2 * PAGE - fbo, 3 * PAGE - fbo, 4 * PAGE - fbo]
        .into_iter()
        .enumerate()
    {
        let bytes = pattern(40, 0xC0 ^ n as u8);
        src.write(0, &bytes);
        let s = src.sge(0, 40, src_mr.local_token());
        let start = boundary - 20;
        assert_eq!(
            b.qp.write(10 + n, &[s], va + start as u64, token, 0),
            STATUS_SUCCESS
        );
        for (j, &byte) in bytes.iter().enumerate() {
            let (buf, off) = place(start + j);
            assert_eq!(buf.read()[off], byte, "boundary {n}, byte {j}");
        }
        let d = dst.sge(0, 40, dst_mr.local_token());
        assert_eq!(
            b.qp.read(20 + n, &[d], va + start as u64, token, 0),
            STATUS_SUCCESS
        );
        assert_eq!(dst.read()[..40], bytes);
    }
    let results = b.icq.results(16);
    assert_eq!(results.len(), 10);
    assert!(results.iter().all(|r| r.Status == STATUS_SUCCESS));
    // Past the registered length: refused, nothing written.
    let before = buf_z.read();
    let s = src.sge(0, 2, src_mr.local_token());
    assert_eq!(
        b.qp.write(30, &[s], va + len as u64 - 1, token, 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    assert_eq!(buf_z.read(), before);

    drop((mr.close(), src_mr.close(), dst_mr.close()));
    for l in [x, y, z] {
        pair.adapter.release_lam(l);
    }
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// Non-consecutive pages of one LAM, with a trailing page that holds no registered byte; then
/// local invalidation (stale token), registration again over another list, and a peer's
/// send-and-invalidate (stale token again).
#[test]
fn pages_of_one_lam_out_of_order_then_local_and_remote_invalidation() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, l) = lam_at(&pair, 0, 4, 0);
    let lp = l.pages();
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(4, true), STATUS_SUCCESS);
    let va = 0x6000_0000;
    let flags = REMOTE | NDK_OP_FLAG_ALLOW_LOCAL_WRITE;
    // Pages 3, 1 hold the 2·PAGE registered bytes; page 0 trails.
    assert_eq!(
        a.qp.fast_register(1, &mr, &[lp[3], lp[1], lp[0]], 0, 2 * PAGE, va, flags),
        STATUS_SUCCESS
    );
    let (token, first) = (mr.remote_token(), mr.remote_token());
    let (src, src_mr) = b.buffer(&pattern(64, 7), 0);
    let s = src.sge(0, 64, src_mr.local_token());
    assert_eq!(
        b.qp.write(2, &[s], va + PAGE as u64 - 32, token, 0),
        STATUS_SUCCESS
    );
    let got = buf.read();
    assert_eq!(
        got[at(&l, 3, PAGE - 32)..at(&l, 3, PAGE)],
        pattern(64, 7)[..32]
    );
    assert_eq!(got[at(&l, 1, 0)..at(&l, 1, 32)], pattern(64, 7)[32..]);
    assert!(
        got[at(&l, 0, 0)..at(&l, 1, 0)].iter().all(|&b| b == 0),
        "page 0 untouched"
    );
    assert!(
        got[at(&l, 2, 0)..at(&l, 3, 0)].iter().all(|&b| b == 0),
        "page 2 untouched"
    );

    // Local invalidation; the MR can be registered again (a stale token kills the connection,
    // so the peer tries one only at the end).
    assert_eq!(a.qp.invalidate_mr(3, &mr, 0), STATUS_SUCCESS);
    assert_eq!(
        summary(&a.icq.results_ex(4)),
        [(1, S, 0, FR), (3, S, 0, INVALIDATE)]
    );
    assert_eq!(b.icq.results(4)[0].Status, STATUS_SUCCESS);

    // Again over pages 2, 0 of the same LAM; a peer's send-and-invalidate into a receive on
    // the registration crosses its page boundary and invalidates it.
    assert_eq!(
        a.qp.fast_register(5, &mr, &[lp[2], lp[0]], 0, 2 * PAGE, va, flags),
        STATUS_SUCCESS
    );
    let token = mr.local_token();
    let r = softndk::abi::NDK_SGE::with_virtual(
        core::ptr::without_provenance_mut(va as usize + PAGE - 8),
        16,
        token,
    );
    assert_eq!(a.qp.receive(6, &[r]), STATUS_SUCCESS);
    let s16 = src.sge(0, 16, src_mr.local_token());
    assert_eq!(
        b.qp.send_and_invalidate(7, &[s16], 0, token),
        STATUS_SUCCESS
    );
    let got = buf.read();
    assert_eq!(
        got[at(&l, 2, PAGE - 8)..at(&l, 2, PAGE)],
        pattern(64, 7)[..8]
    );
    assert_eq!(got[at(&l, 0, 0)..at(&l, 0, 8)], pattern(64, 7)[8..16]);
    let rc = a.rcq.results_ex(4);
    assert_eq!(rc[0].Type, NDK_OPERATION_TYPE::RECEIVE_AND_INVALIDATE);
    assert_eq!(rc[0].TypeSpecificCompletionOutput, token as usize);
    assert_ne!(token, first, "every registration issues a new token");
    // The remotely invalidated token is stale.
    assert_eq!(b.qp.write(8, &[s], va, token, 0), STATUS_SUCCESS);
    let r = b.icq.results(4);
    assert_eq!(r.last().map(|r| r.Status), Some(STATUS_REMOTE_RESOURCES));
    let _ = a.icq.results(4);

    drop((mr.close(), src_mr.close()));
    pair.adapter.release_lam(l);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// Validation of lists that are not one LAM's consecutive pages: a released LAM's page, a page
/// past a LAM's last, an address inside a page, bytes before a LAM's buffer, and more pages
/// than initialised are refused with `STATUS_INVALID_PARAMETER` and change nothing.
#[test]
fn page_lists_over_several_lams_are_validated_before_anything_changes() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let a = &pair.a;
    let (_bx, x) = lam_at(&pair, 0, 2, 0);
    let (_by, y) = lam_at(&pair, 200, 2, 0);
    let (_bg, gone) = lam_at(&pair, 0, 1, 0);
    let stale = gone.pages()[0];
    pair.adapter.release_lam(gone);
    let (xp, yp) = (x.pages(), y.pages());
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(3, true), STATUS_SUCCESS);
    let token = mr.remote_token();
    let va = 0x7000_0000;
    let two = 2 * PAGE;
    for (i, list) in [
        vec![xp[0], stale],
        vec![xp[0], xp[1] + 4096],
        vec![xp[0], yp[1] + 8],
        // y's page 0 holds no byte before 200: a registration taking all of it is refused.
        vec![xp[1], yp[0]],
        vec![xp[0], yp[1], xp[1], yp[1]],
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            a.qp.fast_register(i, &mr, list, 0, two, va, REMOTE),
            STATUS_INVALID_PARAMETER,
            "case {i}"
        );
    }
    // Trailing pages are validated even when they hold no registered byte.
    assert_eq!(
        a.qp.fast_register(9, &mr, &[xp[1], xp[0], stale], 0, two, va, REMOTE),
        STATUS_INVALID_PARAMETER
    );
    assert!(a.icq.results(8).is_empty(), "no refusal queued anything");
    assert_eq!(mr.remote_token(), token, "no refusal issued a token");
    assert_eq!(
        a.qp.fast_register(10, &mr, &[xp[1], xp[0]], 0, two, va, REMOTE),
        STATUS_SUCCESS
    );
    drop(mr.close());
    let _ = a.icq.results(8);
    pair.adapter.release_lam(x);
    pair.adapter.release_lam(y);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// A LAM released while a registration over its pages is still valid (a consumer error): the
/// registration keeps the LAM's region, so the peer's access still reaches the buffer (which the
/// test keeps alive) and nothing dangles; invalidation then releases the last holder.
#[test]
fn a_lam_released_under_a_valid_registration_leaves_nothing_dangling() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (bx, x) = lam_at(&pair, 0, 1, 0);
    let (by, y) = lam_at(&pair, 0, 1, 0);
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(2, true), STATUS_SUCCESS);
    let va = 0x7000_0000;
    let list = [y.pages()[0], x.pages()[0]];
    assert_eq!(
        a.qp.fast_register(1, &mr, &list, 0, 2 * PAGE, va, REMOTE),
        STATUS_SUCCESS
    );
    let token = mr.remote_token();
    let (x_at, y_at) = (at(&x, 0, 0), at(&y, 0, PAGE - 8));
    pair.adapter.release_lam(x);
    pair.adapter.release_lam(y);
    let (src, src_mr) = b.buffer(&[0xAB; 16], 0);
    let s = src.sge(0, 16, src_mr.local_token());
    assert_eq!(
        b.qp.write(2, &[s], va + PAGE as u64 - 8, token, 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.icq.results(4)[0].Status, STATUS_SUCCESS);
    assert_eq!(by.read()[y_at..y_at + 8], [0xAB; 8]);
    assert_eq!(bx.read()[x_at..x_at + 8], [0xAB; 8]);
    assert!(
        by.read().iter().filter(|&&v| v == 0xAB).nth(8).is_none(),
        "8 bytes in y"
    );
    assert!(
        bx.read().iter().filter(|&&v| v == 0xAB).nth(8).is_none(),
        "8 bytes in x"
    );
    // The released LAMs' pages name nothing for a new registration.
    assert_eq!(a.qp.invalidate_mr(3, &mr, 0), STATUS_SUCCESS);
    assert_eq!(
        a.qp.fast_register(4, &mr, &list, 0, 2 * PAGE, va, REMOTE),
        STATUS_INVALID_PARAMETER
    );
    // The locally invalidated token is stale.
    assert_eq!(b.qp.write(5, &[s], va, token, 0), STATUS_SUCCESS);
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    let _ = a.icq.results(8);
    drop((mr.close(), src_mr.close()));
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// `FailNth` over every allocation of a fast registration over two LAMs: each failure answers
/// `STATUS_INSUFFICIENT_RESOURCES`, queues nothing, issues no token and leaks nothing; the MR
/// stays usable, and a registration made right after works end to end.
#[test]
fn fast_register_over_several_lams_under_allocation_failure() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 64, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (bx, x) = lam_at(&pair, 0, 1, 0);
    let (by, y) = lam_at(&pair, 0, 1, 0);
    let list = [x.pages()[0], y.pages()[0]];
    let mr = a.pd.create_mr(true).unwrap();
    assert_eq!(mr.initialize_fast_register(2, true), STATUS_SUCCESS);
    let (src, src_mr) = b.buffer(&[0x77; 16], 0);
    let va = 0x7000_0000;
    let post = |id: usize| a.qp.fast_register(id, &mr, &list, 0, 2 * PAGE, va, REMOTE);
    // A clean run counts the attempts.
    let before = p.alloc_stats();
    assert_eq!(post(1), STATUS_SUCCESS);
    let attempts = p.alloc_stats().attempts - before.attempts;
    assert!(
        attempts >= 2,
        "the composite's list and tables are admitted"
    );
    assert_eq!(a.qp.invalidate_mr(2, &mr, 0), STATUS_SUCCESS);
    assert_eq!(a.icq.results(8).len(), 2);
    for n in 0..attempts {
        let live = p.alloc_stats().live;
        let token = mr.remote_token();
        p.set_fault_plan(FaultPlan::FailNth(n));
        let status = post(10 + n as usize);
        p.set_fault_plan(FaultPlan::Off);
        assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES, "attempt {n}");
        assert_eq!(mr.remote_token(), token, "attempt {n}: no token issued");
        assert!(a.icq.results(4).is_empty(), "attempt {n}: nothing queued");
        assert_eq!(p.alloc_stats().live, live, "attempt {n}: nothing leaked");
        // Still usable: register, write across the LAM boundary, invalidate.
        assert_eq!(post(100 + n as usize), STATUS_SUCCESS);
        let token = mr.remote_token();
        let s = src.sge(0, 16, src_mr.local_token());
        assert_eq!(
            b.qp.write(200 + n as usize, &[s], va + PAGE as u64 - 8, token, 0),
            STATUS_SUCCESS
        );
        assert_eq!(b.icq.results(4)[0].Status, STATUS_SUCCESS);
        assert_eq!(bx.read()[x.start() + PAGE - 8..x.start() + PAGE], [0x77; 8]);
        assert_eq!(by.read()[y.start()..y.start() + 8], [0x77; 8]);
        assert_eq!(a.qp.invalidate_mr(300 + n as usize, &mr, 0), STATUS_SUCCESS);
        assert_eq!(a.icq.results(4).len(), 2);
        bx.write(x.start(), &[0; PAGE]);
        by.write(y.start(), &[0; PAGE]);
    }
    assert!(p.alloc_stats().injected_failures >= attempts);
    drop((mr.close(), src_mr.close()));
    pair.adapter.release_lam(x);
    pair.adapter.release_lam(y);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}
