//! Logical address mappings and the privileged token through the dispatch tables:
//! `NdkBuildLAM` (sizes, FBO, NULL completion), `NdkReleaseLAM`, privileged-token SGEs over
//! LAM logical addresses (local only, own PD only), and LAMs left at adapter close.
// a/b sides, p platform: the scenario vocabulary.
#![allow(clippy::many_single_char_names)]
// Test arithmetic on small, known values (offsets, page numbers, byte patterns).
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod ndk_common;

use core::ptr;

use ndk_common::{Pair, config};
use softndk::abi::{
    NDK_LOGICAL_ADDRESS_MAPPING, NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_SGE, NDK_VERSION,
    STATUS_ACCESS_VIOLATION, STATUS_BUFFER_TOO_SMALL, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_REMOTE_RESOURCES, STATUS_SUCCESS, lam_size_for_pages,
};
use softndk::consumer::{Adapter, Buffer, Closed, QpLimits};
use softndk::platform::host::{FaultPlan, Host};

#[test]
fn build_lam_sizes_pages_and_first_byte_offset() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let base = p.alloc_stats().live;
    let buf = Buffer::zeroed(3 * 4096);
    // Start 100 bytes into the buffer so the first byte offset is known relative to its page.
    let start = 100;
    let len = 2 * 4096;
    let first = usize::try_from(buf.va()).unwrap() + start;
    let fbo = u32::try_from(first % 4096).unwrap();
    let pages = u32::try_from((fbo as usize + len).div_ceil(4096)).unwrap();
    let mut mdl = buf.mdl_pieces(&[(start, len)]);
    // Size probe with a NULL mapping, then a buffer one byte short.
    let mut size = 0;
    let mut out_fbo = 0;
    assert_eq!(
        adapter.build_lam_raw(&mut mdl, len, None, Some(&mut size), Some(&mut out_fbo)),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(Some(size), lam_size_for_pages(pages));
    let mut storage = vec![0u64; 64];
    let mapping: *mut NDK_LOGICAL_ADDRESS_MAPPING = storage.as_mut_ptr().cast();
    let mut short = size - 1;
    assert_eq!(
        adapter.build_lam_raw(
            &mut mdl,
            len,
            Some(mapping),
            Some(&mut short),
            Some(&mut out_fbo)
        ),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(short, size);
    assert_eq!(p.alloc_stats().live, base, "a refused build keeps nothing");
    // The real build: pages are PAGE_SIZE aligned, distinct, and FBO is the buffer's offset.
    let lam = adapter.build_lam(&buf, start, len).unwrap();
    assert_eq!(p.alloc_stats().live, base + 1, "a built LAM is accounted");
    assert_eq!(lam.page_count(), pages);
    assert_eq!(lam.fbo(), fbo);
    let addrs = lam.pages();
    assert!(addrs.iter().all(|a| a % 4096 == 0 && *a > 0));
    assert!(addrs.windows(2).all(|w| w[0] != w[1]));
    adapter.release_lam(lam);
    assert_eq!(p.alloc_stats().live, base);
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn build_lam_refusals() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let buf = Buffer::zeroed(8192);
    let mut size = 4096;
    let mut fbo = 0;
    let mut storage = vec![0u64; 512];
    let mapping: *mut NDK_LOGICAL_ADDRESS_MAPPING = storage.as_mut_ptr().cast();
    let mut mdl = buf.mdl(&[]);
    // Zero length, NULL size or FBO pointer, a chain shorter than the length, a gapped chain.
    assert_eq!(
        adapter.build_lam_raw(&mut mdl, 0, Some(mapping), Some(&mut size), Some(&mut fbo)),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        adapter.build_lam_raw(&mut mdl, 64, Some(mapping), None, Some(&mut fbo)),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        adapter.build_lam_raw(&mut mdl, 64, Some(mapping), Some(&mut size), None),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        adapter.build_lam_raw(
            &mut mdl,
            8193,
            Some(mapping),
            Some(&mut size),
            Some(&mut fbo)
        ),
        STATUS_INVALID_PARAMETER
    );
    let mut gapped = buf.mdl_pieces(&[(0, 100), (200, 100)]);
    assert_eq!(
        adapter.build_lam_raw(
            &mut gapped,
            200,
            Some(mapping),
            Some(&mut size),
            Some(&mut fbo)
        ),
        STATUS_INVALID_PARAMETER
    );
    // A NULL completion is tolerated (spec §0 #10): SoftNDK never pends a build.
    let d = adapter.dispatch();
    let mut size = 4096;
    // SAFETY: live adapter, a live MDL chain, a mapping buffer of `size` bytes.
    let status = unsafe {
        (d.NdkBuildLAM)(
            adapter.raw(),
            mdl.as_mdl(),
            64,
            None,
            ptr::null_mut(),
            mapping,
            &raw mut size,
            &raw mut fbo,
        )
    };
    assert_eq!(status, STATUS_SUCCESS);
    // Releasing it twice, or a forged context, is ignored; a NULL LAM too.
    let context = storage[0];
    adapter.release_lam_context(context);
    adapter.release_lam_context(context);
    adapter.release_lam_context(0xDEAD_BEEF);
    // SAFETY: live adapter; a NULL LAM is ignored.
    unsafe { (d.NdkReleaseLAM)(adapter.raw(), ptr::null_mut()) };
    assert_eq!(softndk::consumer::unexpected_completions(), 0);
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// Privileged-token SGEs address LAM memory directly for local reads and writes: a send from a
/// LAM and a receive into one, with a logical range crossing a page boundary.
#[test]
fn privileged_token_sges_move_bytes_through_lam_addresses() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let source = Buffer::from_bytes(&(0..8192u32).map(|i| (i % 253) as u8).collect::<Vec<_>>());
    let src = pair.adapter.build_lam(&source, 0, 8192).unwrap();
    let sink = Buffer::zeroed(8192);
    let dst = pair.adapter.build_lam(&sink, 0, 8192).unwrap();
    let (ta, tb) = (a.pd.privileged_token(), b.pd.privileged_token());
    assert_ne!(ta, tb, "each PD has its own privileged token");
    // Receive into 2 SGEs of b's LAM, send 300 bytes across a's first page boundary.
    let r0 = NDK_SGE::with_logical(dst.logical(4000), 200, tb);
    let r1 = NDK_SGE::with_logical(dst.logical(0), 100, tb);
    assert_eq!(b.qp.receive(1, &[r0, r1]), STATUS_SUCCESS);
    let at = 4096 - 150;
    let s = NDK_SGE::with_logical(src.logical(at), 300, ta);
    assert_eq!(a.qp.send(2, &[s], 0), STATUS_SUCCESS);
    let got = sink.read();
    let want = &source.read()[at..at + 300];
    assert_eq!(&got[4000..4200], &want[..200]);
    assert_eq!(&got[..100], &want[200..]);
    assert_eq!(a.icq.results(4)[0].Status, STATUS_SUCCESS);
    assert_eq!(b.rcq.results(4)[0].BytesTransferred, 300);
    pair.adapter.release_lam(src);
    pair.adapter.release_lam(dst);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// The privileged token never grants remote access, works only for its own PD, and a released
/// LAM's logical addresses resolve to nothing.
#[test]
fn privileged_token_limits() {
    let p = Host::deterministic();
    // Remote: the peer writes with a's privileged token → refused.
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let target = Buffer::zeroed(4096);
    let lam = pair.adapter.build_lam(&target, 0, 4096).unwrap();
    let (src, src_mr) = b.buffer(&[1; 8], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
    let s = src.sge(0, 8, src_mr.local_token());
    let logical = u64::try_from(lam.logical(0)).unwrap();
    assert_eq!(
        b.qp.write(1, &[s], logical, a.pd.privileged_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.icq.results(4)[0].Status, STATUS_REMOTE_RESOURCES);
    assert_eq!(target.read()[..8], [0; 8]);
    drop(src_mr.close());
    pair.adapter.release_lam(lam);
    pair.close();

    // Another PD's privileged token in a local SGE → the request fails locally.
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let data = Buffer::from_bytes(&[7; 64]);
    let lam = pair.adapter.build_lam(&data, 0, 64).unwrap();
    assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
    let s = NDK_SGE::with_logical(lam.logical(0), 8, b.pd.privileged_token());
    assert_eq!(a.qp.send(2, &[s], 0), STATUS_SUCCESS);
    assert_eq!(a.icq.results(4)[0].Status, STATUS_ACCESS_VIOLATION);
    pair.adapter.release_lam(lam);
    let _ = b.rcq.results(4);
    pair.close();

    // A released LAM, a range past the LAM's end, an address that is no logical address: each
    // fails the send locally (a fresh pair per case: a failed request ends the connection).
    for case in 0..3 {
        let pair = Pair::new(&p, 16, QpLimits::default());
        let (a, b) = (&pair.a, &pair.b);
        let data = Buffer::from_bytes(&[7; 64]);
        let lam = pair.adapter.build_lam(&data, 0, 64).unwrap();
        let token = a.pd.privileged_token();
        let sge = match case {
            0 => NDK_SGE::with_logical(lam.logical(0), 8, token),
            1 => NDK_SGE::with_logical(lam.logical(60), 8, token),
            _ => NDK_SGE::with_logical(0x1000, 8, token),
        };
        let context = lam.adapter_context();
        pair.adapter.release_lam(lam);
        if case > 0 {
            // Rebuild so only the range (or the address) is wrong, not the LAM's existence.
            let again = pair.adapter.build_lam(&data, 0, 64).unwrap();
            assert_ne!(again.adapter_context(), context, "a new generation");
            let sge = match case {
                1 => NDK_SGE::with_logical(again.logical(60), 8, token),
                _ => sge,
            };
            assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
            assert_eq!(a.qp.send(2, &[sge], 0), STATUS_SUCCESS);
            pair.adapter.release_lam(again);
        } else {
            assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
            assert_eq!(a.qp.send(2, &[sge], 0), STATUS_SUCCESS);
        }
        assert_eq!(
            a.icq.results(4)[0].Status,
            STATUS_ACCESS_VIOLATION,
            "case {case}"
        );
        let _ = b.rcq.results(4);
        pair.close();
    }
    assert_eq!(p.alloc_stats().live, 0);
}

/// LAMs the consumer never released are freed by the adapter's close (§5.6 inference).
#[test]
fn lams_outstanding_at_adapter_close_are_freed() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let buf = Buffer::zeroed(4096);
    let lams: Vec<_> = (0..5)
        .map(|i| adapter.build_lam(&buf, i * 8, 64).unwrap())
        .collect();
    assert!(p.alloc_stats().live > 1);
    let pd = adapter.create_pd().unwrap();
    assert!(matches!(pd.close(), Closed::Now));
    adapter.close();
    assert_eq!(
        p.alloc_stats().live,
        0,
        "the adapter's close freed every LAM"
    );
    drop(lams);
}

/// `FailNth` over every allocation of `NdkBuildLAM`: each failure answers
/// `STATUS_INSUFFICIENT_RESOURCES` and keeps nothing.
#[test]
fn build_lam_under_allocation_failure() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let buf = Buffer::zeroed(8192);
    let before = p.alloc_stats().attempts;
    let lam = adapter.build_lam(&buf, 0, 8192).unwrap();
    adapter.release_lam(lam);
    let attempts = p.alloc_stats().attempts - before;
    for n in 0..attempts {
        let live = p.alloc_stats().live;
        p.set_fault_plan(FaultPlan::FailNth(n));
        let built = adapter.build_lam(&buf, 0, 8192);
        p.set_fault_plan(FaultPlan::Off);
        match built {
            Ok(lam) => adapter.release_lam(lam),
            Err(status) => assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES),
        }
        assert_eq!(p.alloc_stats().live, live);
    }
    assert!(p.alloc_stats().injected_failures > 0);
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}
