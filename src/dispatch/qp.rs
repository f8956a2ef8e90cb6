//! `NDK_QP_DISPATCH`: close, flush and the work-request posts.
//!
//! Each post validates what the consumer can get wrong before anything is read or queued:
//! NULL QP, NULL `pSgl` with `nSge` > 0, flag bits outside the call's mask, `nSge` above the
//! QP's (or, for reads, the adapter's) limit, inline bytes above the QP's inline size; the engine
//! checks the total length against `MaxTransferLength`, the queue depth and the QP state. Every
//! refusal answers a status and queues nothing. Each post (bind, fast-register and invalidate
//! included, on `Queue::Initiator`) runs inside [`misuse::post`], the provider verifier's guard
//! (overlapping posts on one queue, queue overflow).
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    NDK_LOGICAL_ADDRESS, NDK_MR, NDK_MW, NDK_OBJECT_HEADER, NDK_OBJECT_TYPE, NDK_OP_FLAG_INLINE,
    NDK_QP, NDK_QP_DISPATCH, NDK_SGE, NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
    VALID_BIND_FLAGS, VALID_FAST_REGISTER_FLAGS, VALID_INVALIDATE_FLAGS, VALID_READ_FLAGS,
    VALID_SEND_AND_INVALIDATE_FLAGS, VALID_SEND_FLAGS, VALID_WRITE_FLAGS, has_flag, op_flags_valid,
};
use crate::engine::{Access, BindRequest, FastRegisterRequest, OpFlags, Payload, Sge, WorkRequest};
use crate::sync::Arc;
use crate::verbs::mr::MemoryTable;
use crate::verbs::{Mr, Mw, Qp};

use super::handle::{Borrowed, borrow, type_of};
use super::misuse::{self, Queue};
use super::{close_object, query_extension};

/// `NDK_QP_DISPATCH`.
pub static QP_TABLE: NDK_QP_DISPATCH = NDK_QP_DISPATCH {
    NdkCloseQp: close_object::<Qp>,
    NdkQueryExtension: query_extension,
    NdkFlush: flush,
    NdkSend: send,
    NdkReceive: receive,
    NdkBind: bind,
    NdkFastRegister: fast_register,
    NdkInvalidate: invalidate,
    NdkRead: read,
    NdkWrite: write,
    NdkSendAndInvalidate: send_and_invalidate,
};

/// Most SGEs a post can carry (stack storage); adapter limits never exceed it.
pub const MAX_SGE: usize = 64;
/// Most SGEs an inline post can carry (inline requests may exceed the QP's SGE limit).
pub const MAX_INLINE_SGE: usize = 64;

const _: () = {
    let l = crate::verbs::Limits::SOFTNDK;
    assert!(l.max_initiator_sge as usize <= MAX_SGE);
    assert!(l.max_receive_sge as usize <= MAX_SGE);
    assert!(l.max_read_sge as usize <= MAX_SGE);
};

/// A consumer context as an integer; handed back by `NdkGetCqResults` as the same pointer.
fn context(ctx: *mut c_void) -> usize {
    ctx.expose_provenance()
}

const fn status(r: Result<(), NTSTATUS>) -> NTSTATUS {
    match r {
        Ok(()) => STATUS_SUCCESS,
        Err(s) => s,
    }
}

/// Copies the consumer's SGE array into a stack buffer, after checking it against `limit`, and
/// hands the copy to `f`.
///
/// Most posts carry one or a few SGEs: those use a buffer of [`SMALL_SGL`] entries, so a post
/// does not zero a [`MAX_SGE`]-entry (1 KiB) array before reading one entry; longer lists use
/// the full buffer.
///
/// # Safety
///
/// `sgl` is NULL or valid for reads of `n` `NDK_SGE`s (consumer contract) — only read once `n`
/// is known to be within `limit` and [`MAX_SGE`].
pub(super) unsafe fn with_sges<R>(
    sgl: *const NDK_SGE,
    n: u32,
    limit: u32,
    f: impl FnOnce(&[Sge]) -> R,
) -> Result<R, NTSTATUS> {
    if n as usize <= SMALL_SGL {
        let mut buf = [Sge::default(); SMALL_SGL];
        // SAFETY: forwarded.
        Ok(f(unsafe { read_sges(sgl, n, limit, &mut buf) }?))
    } else {
        let mut buf = [Sge::default(); MAX_SGE];
        // SAFETY: forwarded.
        Ok(f(unsafe { read_sges(sgl, n, limit, &mut buf) }?))
    }
}

/// Entries of the small SGE buffer of [`with_sges`].
const SMALL_SGL: usize = 4;

/// Copies the consumer's SGE array into `buf`, after checking it against `limit`.
///
/// # Safety
///
/// As [`with_sges`].
unsafe fn read_sges(
    sgl: *const NDK_SGE,
    n: u32,
    limit: u32,
    buf: &mut [Sge],
) -> Result<&[Sge], NTSTATUS> {
    let n = n as usize;
    if n == 0 {
        return Ok(&[]);
    }
    if sgl.is_null() || n > limit as usize || n > MAX_SGE {
        return Err(STATUS_INVALID_PARAMETER);
    }
    // `with_sges` picks a buffer of at least `n` entries; a shorter one would be refused, never
    // overrun.
    let Some(into) = buf.get_mut(..n) else {
        return Err(STATUS_INVALID_PARAMETER);
    };
    for (i, slot) in into.iter_mut().enumerate() {
        // SAFETY: `i < n` and the array holds `n` entries (caller's contract).
        let sge = unsafe { sgl.wrapping_add(i).read_unaligned() };
        *slot = Sge {
            // Registered addresses are indices, never dereferenced: keep the bits.
            #[allow(clippy::cast_sign_loss)]
            address: sge.logical_address() as u64,
            length: sge.Length,
            token: sge.MemoryRegionToken,
        };
    }
    Ok(into)
}

/// Builds the byte slices of an inline post, after checking their total against the QP's
/// inline size (so no slice is formed over more memory than the call may read).
///
/// # Safety
///
/// `sgl` is NULL or valid for reads of `n` `NDK_SGE`s, and every SGE's virtual address is valid
/// for reads of its length for the duration of the call (the inline contract).
unsafe fn read_inline<'a>(
    sgl: *const NDK_SGE,
    n: u32,
    inline_size: u32,
    buf: &'a mut [&'a [u8]; MAX_INLINE_SGE],
) -> Result<&'a [&'a [u8]], NTSTATUS> {
    let n = n as usize;
    if n == 0 {
        return Ok(&[]);
    }
    if sgl.is_null() || n > MAX_INLINE_SGE {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let mut total = 0u64;
    for i in 0..n {
        // SAFETY: `i < n`, within the consumer's array.
        let sge = unsafe { sgl.wrapping_add(i).read_unaligned() };
        total += u64::from(sge.Length);
        if sge.Length > 0 && sge.virtual_address().is_null() {
            return Err(STATUS_INVALID_PARAMETER);
        }
    }
    if total > u64::from(inline_size) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    for (i, slot) in buf.iter_mut().enumerate().take(n) {
        // SAFETY: as above.
        let sge = unsafe { sgl.wrapping_add(i).read_unaligned() };
        if sge.Length > 0 {
            // SAFETY: non-null (checked), readable for `Length` bytes during the call (inline
            // contract); the total is within the QP's inline size, checked above.
            *slot = unsafe {
                core::slice::from_raw_parts(
                    sge.virtual_address().cast_const().cast::<u8>(),
                    sge.Length as usize,
                )
            };
        }
    }
    Ok(&buf[..n])
}

/// The payload of a send or write: inline bytes or registered SGEs.
///
/// # Safety
///
/// As [`with_sges`] and [`read_inline`].
unsafe fn post_payload(
    qp: &Arc<Qp>,
    sgl: *const NDK_SGE,
    n: u32,
    flags: u32,
    mut post: impl FnMut(Payload<'_>) -> Result<(), NTSTATUS>,
) -> Result<(), NTSTATUS> {
    if has_flag(flags, NDK_OP_FLAG_INLINE) {
        let mut buf: [&[u8]; MAX_INLINE_SGE] = [&[]; MAX_INLINE_SGE];
        // SAFETY: forwarded.
        let parts = unsafe { read_inline(sgl, n, qp.config().inline_data_size, &mut buf) }?;
        post(Payload::Inline(parts))
    } else {
        // SAFETY: forwarded.
        unsafe {
            with_sges(sgl, n, qp.config().max_initiator_sge, |sges| {
                post(Payload::Sges(sges))
            })
        }?
    }
}

/// The QP of a post whose flags must lie within `valid`; `None` (the post answers
/// `STATUS_INVALID_PARAMETER`) for a NULL QP or a flag outside the mask.
///
/// # Safety
///
/// `qp` per the NDK contract for QP pointers (as [`borrow`]).
unsafe fn posting_qp<'a>(qp: *mut NDK_QP, flags: u32, valid: u32) -> Option<Borrowed<'a, Qp>> {
    // SAFETY: forwarded contract.
    let qp = unsafe { borrow::<Qp>(qp) }?;
    op_flags_valid(flags, valid).then_some(qp)
}

/// Posts a send, send-and-invalidate or write carrying `request(payload)` on the initiator
/// queue, inside the verifier's guard.
///
/// # Safety
///
/// As [`post_payload`]: the consumer's SGE array and inline memory, per the calling slot's
/// contract.
unsafe fn post_initiator(
    qp: &Arc<Qp>,
    ctx: *mut c_void,
    sgl: *const NDK_SGE,
    n: u32,
    flags: u32,
    request: impl Fn(Payload<'_>) -> WorkRequest<'_>,
) -> NTSTATUS {
    misuse::post(&**qp, Queue::Initiator, || {
        // SAFETY: forwarded (caller's contract).
        status(unsafe {
            post_payload(qp, sgl, n, flags, |payload| {
                qp.post(context(ctx), request(payload), OpFlags(flags))
            })
        })
    })
}

/// `NdkFlush`: `VOID`; a NULL QP is ignored.
unsafe extern "system" fn flush(qp: *mut NDK_QP) {
    // SAFETY: NDK contract for the QP pointer.
    if let Some(qp) = unsafe { borrow::<Qp>(qp) } {
        qp.flush();
    }
}

/// `NdkSend`.
unsafe extern "system" fn send(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    sgl: *const NDK_SGE,
    n: u32,
    flags: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP pointer.
    let Some(qp) = (unsafe { posting_qp(qp, flags, VALID_SEND_FLAGS) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the consumer's SGE array and inline memory, per the NdkSend contract.
    unsafe {
        post_initiator(&qp, ctx, sgl, n, flags, |payload| WorkRequest::Send {
            payload,
        })
    }
}

/// `NdkSendAndInvalidate`.
unsafe extern "system" fn send_and_invalidate(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    sgl: *const NDK_SGE,
    n: u32,
    flags: u32,
    remote_token: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP pointer.
    let Some(qp) = (unsafe { posting_qp(qp, flags, VALID_SEND_AND_INVALIDATE_FLAGS) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: as for `send`.
    unsafe {
        post_initiator(&qp, ctx, sgl, n, flags, |payload| {
            WorkRequest::SendAndInvalidate {
                payload,
                remote_token,
            }
        })
    }
}

/// `NdkWrite` (INLINE accepted, see `abi::flags`).
unsafe extern "system" fn write(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    sgl: *const NDK_SGE,
    n: u32,
    remote_address: u64,
    remote_token: u32,
    flags: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP pointer.
    let Some(qp) = (unsafe { posting_qp(qp, flags, VALID_WRITE_FLAGS) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: as for `send`.
    unsafe {
        post_initiator(&qp, ctx, sgl, n, flags, |payload| WorkRequest::Write {
            payload,
            remote_address,
            remote_token,
        })
    }
}

/// `NdkRead` (SGE limit: the adapter's `MaxReadRequestSge`).
unsafe extern "system" fn read(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    sgl: *const NDK_SGE,
    n: u32,
    remote_address: u64,
    remote_token: u32,
    flags: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP pointer.
    let Some(qp) = (unsafe { posting_qp(qp, flags, VALID_READ_FLAGS) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let limit = qp.pd().adapter().limits().max_read_sge;
    // SAFETY: the consumer's SGE array per the NdkRead contract.
    let posted = unsafe {
        with_sges(sgl, n, limit, |sges| {
            let request = WorkRequest::Read {
                sges,
                remote_address,
                remote_token,
            };
            misuse::post(&**qp, Queue::Initiator, || {
                status(qp.post(context(ctx), request, OpFlags(flags)))
            })
        })
    };
    posted.unwrap_or_else(|s| s)
}

/// `NdkReceive`.
unsafe extern "system" fn receive(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    sgl: *const NDK_SGE,
    n: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP pointer.
    let Some(qp) = (unsafe { borrow::<Qp>(qp) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the consumer's SGE array per the NdkReceive contract.
    let posted = unsafe {
        with_sges(sgl, n, qp.config().max_receive_sge, |sges| {
            misuse::post(&**qp, Queue::Receive, || {
                status(qp.post_receive(context(ctx), sges))
            })
        })
    };
    posted.unwrap_or_else(|s| s)
}

/// `NdkBind`: binds window `mw` to `[va, va + length)` of registered MR `mr`. Refused before
/// anything is queued: NULL QP/MR/MW or objects of the wrong type, flags outside
/// `VALID_BIND_FLAGS`, length 0 or above `MaxWindowSize` (`STATUS_INVALID_PARAMETER`); then by
/// the memory table at post time (see `verbs::qp::memory_post_status`): remote write through an
/// MR registered without local write, or objects of another PD → `STATUS_ACCESS_VIOLATION`; MR
/// not registered or window already bound → `STATUS_INVALID_DEVICE_STATE`; range outside the MR
/// → `STATUS_INVALID_PARAMETER`. On success the window's token is valid when this returns.
unsafe extern "system" fn bind(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    mr: *mut NDK_MR,
    mw: *mut NDK_MW,
    va: *mut c_void,
    length: usize,
    flags: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP, MR and MW pointers.
    let (Some(qp), Some(mr), Some(mw)) = (
        unsafe { borrow::<Qp>(qp) },
        unsafe { borrow::<Mr>(mr) },
        unsafe { borrow::<Mw>(mw) },
    ) else {
        return STATUS_INVALID_PARAMETER;
    };
    if !op_flags_valid(flags, VALID_BIND_FLAGS)
        || length == 0
        || length > qp.pd().adapter().limits().max_window_size
    {
        return STATUS_INVALID_PARAMETER;
    }
    let request = WorkRequest::Bind(BindRequest {
        mr: MemoryTable::handle(mr.token()),
        mw: MemoryTable::handle(mw.token()),
        virtual_address: va.addr() as u64,
        length: length as u64,
        access: Access::LOCAL_READ,
    });
    misuse::post(&**qp, Queue::Initiator, || {
        status(qp.post(context(ctx), request, OpFlags(flags)))
    })
}

/// Most pages one `NdkFastRegister` may carry (stack storage); `FRMRPageCount` never exceeds it.
pub const MAX_FR_PAGES: usize = 256;
const _: () = assert!(crate::verbs::Limits::SOFTNDK.frmr_page_count as usize <= MAX_FR_PAGES);

/// `NdkFastRegister`: maps `pages` logical pages (consecutive pages of one LAM, see
/// `verbs::lam`) onto fast-register MR `mr`. Refused before anything is queued: NULL QP/MR or
/// page array, a normal MR, flags outside `VALID_FAST_REGISTER_FLAGS`, 0 pages or more than
/// [`MAX_FR_PAGES`], length 0 or above `MaxRegistrationSize` (`STATUS_INVALID_PARAMETER`); the
/// engine checks `FBO` < `PAGE_SIZE`, `Length` ≤ pages·`PAGE_SIZE` − `FBO` and
/// `BaseVirtualAddress` = `FBO` + n·`PAGE_SIZE` (`STATUS_INVALID_PARAMETER`); the memory table
/// refuses remote rights on an MR initialised without `RemoteAccess`
/// (`STATUS_ACCESS_VIOLATION`), an MR not initialised or still valid
/// (`STATUS_INVALID_DEVICE_STATE`), and more pages than initialised or pages that are not
/// consecutive pages of one live LAM (`STATUS_INVALID_PARAMETER`). On success the MR's token is
/// valid when this returns.
unsafe extern "system" fn fast_register(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    mr: *mut NDK_MR,
    pages: u32,
    page_array: *const NDK_LOGICAL_ADDRESS,
    fbo: u32,
    length: usize,
    base: *mut c_void,
    flags: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP and MR pointers.
    let (Some(qp), Some(mr)) = (unsafe { borrow::<Qp>(qp) }, unsafe { borrow::<Mr>(mr) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let count = pages as usize;
    if !mr.is_fast()
        || !op_flags_valid(flags, VALID_FAST_REGISTER_FLAGS)
        || page_array.is_null()
        || count == 0
        || count > MAX_FR_PAGES
        || length == 0
        || length > qp.pd().adapter().limits().max_registration_size
    {
        return STATUS_INVALID_PARAMETER;
    }
    let mut buf = [0u64; MAX_FR_PAGES];
    for (i, slot) in buf.iter_mut().enumerate().take(count) {
        // SAFETY: the consumer's array holds `pages` entries (`i < count`), read unaligned.
        let page = unsafe { page_array.wrapping_add(i).read_unaligned() };
        // Logical addresses are opaque handles: keep the bits.
        #[allow(clippy::cast_sign_loss)]
        {
            *slot = page as u64;
        }
    }
    let request = WorkRequest::FastRegister(FastRegisterRequest {
        mr: MemoryTable::handle(mr.token()),
        pages: &buf[..count],
        first_byte_offset: fbo,
        length: length as u64,
        base_virtual_address: base.addr() as u64,
        access: Access::LOCAL_READ,
    });
    misuse::post(&**qp, Queue::Initiator, || {
        status(qp.post(context(ctx), request, OpFlags(flags)))
    })
}

/// `NdkInvalidate` of a fast-register MR or a window, given by its header. Refused before
/// anything is queued: NULL QP or object, an object that is neither an MR nor an MW, an MR
/// registered with `NdkRegisterMr`, flags outside `VALID_INVALIDATE_FLAGS`
/// (`STATUS_INVALID_PARAMETER`). Executed in queue order: an object that is not valid by then
/// (never registered/bound, already invalidated locally or by the peer, closed) completes with
/// `STATUS_INVALID_HANDLE`.
unsafe extern "system" fn invalidate(
    qp: *mut NDK_QP,
    ctx: *mut c_void,
    object: *mut NDK_OBJECT_HEADER,
    flags: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the QP pointer.
    let Some(qp) = (unsafe { posting_qp(qp, flags, VALID_INVALIDATE_FLAGS) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // One borrow only, chosen by the header's type, so that a closed object is refused (and,
    // with the provider verifier on, reported) exactly once.
    // SAFETY: NDK contract: `object` is NULL or an MR or MW this provider handed out.
    let token = if unsafe { type_of(object) } == Some(NDK_OBJECT_TYPE::MW) {
        // SAFETY: as above; `borrow` checks the type again.
        unsafe { borrow::<Mw>(object.cast()) }.map(|mw| mw.token())
    } else {
        // SAFETY: as above; anything but an MR is refused by `borrow`.
        unsafe { borrow::<Mr>(object.cast()) }
            .filter(|mr| mr.is_fast())
            .map(|mr| mr.token())
    };
    let Some(token) = token else {
        return STATUS_INVALID_PARAMETER;
    };
    let request = WorkRequest::Invalidate {
        target: MemoryTable::handle(token),
    };
    misuse::post(&**qp, Queue::Initiator, || {
        status(qp.post(context(ctx), request, OpFlags(flags)))
    })
}
