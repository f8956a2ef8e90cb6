//! The `dispatch_ops` harness: an arbitrary byte string decoded into a sequence of NDK calls
//! on two SoftNDK adapters, through the dispatch tables, with arbitrary but memory-safe
//! arguments: NULLs, bad lengths, unknown flag bits, forged tokens and addresses, objects of
//! the wrong type (among live objects it created), closes at any time, misuse of every kind a
//! consumer can express without handing the provider a dangling pointer.
//!
//! Checks: no panic (including the host platform's IRQL, lock-order and "no wait at DISPATCH"
//! checks), every status is one SoftNDK documents, refused closes leave the object usable,
//! and at the end every object closes, both adapter closes return and every platform
//! allocation is freed.
//!
//! Shared by the libFuzzer target and the stable replay (`tests/random_fuzz_replay.rs`).
//! Memory safety rests on this file: every pointer handed to the provider is NULL, a live
//! object of this run, or memory owned by this run that outlives every use the provider can
//! make of it (registered buffers live until the adapters are closed).

use core::ffi::c_void;
use core::ptr;
use std::sync::Arc;

use softndk::abi::{
    NDK_ADAPTER_INFO, NDK_CQ, NDK_MR, NDK_OBJECT_HEADER, NDK_PD, NDK_QP, NDK_SGE, NDK_VERSION,
    NTSTATUS, STATUS_ACCESS_VIOLATION, STATUS_BUFFER_TOO_SMALL, STATUS_CONNECTION_ACTIVE,
    STATUS_CONNECTION_INVALID, STATUS_DEVICE_NOT_READY, STATUS_IMPLEMENTATION_LIMIT,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_PENDING,
    STATUS_SUCCESS,
};
use softndk::consumer::{
    Adapter, Buffer, Closed, Cq, CqEvents, Mr, Pd, Qp, create_completion, ctx, request_completion,
};
use softndk::platform::Irql;
use softndk::platform::host::{Host, with_irql};
use softndk::verbs::AdapterConfig;

/// Statuses SoftNDK's entries document (`docs/objects.md`, `verbs`, `dispatch`).
const DOCUMENTED: [NTSTATUS; 15] = [
    STATUS_SUCCESS,
    STATUS_PENDING,
    STATUS_INVALID_PARAMETER,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_CONNECTION_INVALID,
    STATUS_CONNECTION_ACTIVE,
    STATUS_INVALID_HANDLE,
    STATUS_NOT_SUPPORTED,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_DEVICE_STATE,
    STATUS_BUFFER_TOO_SMALL,
    STATUS_ACCESS_VIOLATION,
    STATUS_IMPLEMENTATION_LIMIT,
    STATUS_DEVICE_NOT_READY,
    softndk::abi::STATUS_REMOTE_RESOURCES,
];

/// Most operations one input may run (keeps each execution short).
const MAX_OPS: usize = 96;
/// Bytes of each of the run's buffers.
const BUF: usize = 128;

fn documented(what: &str, status: NTSTATUS) {
    assert!(
        DOCUMENTED.contains(&status),
        "{what}: undocumented status {status:?}"
    );
}

/// Reads the input front to back; runs dry as zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A count: usually small, sometimes anything.
    fn count(&mut self) -> u32 {
        let b = self.byte();
        if b < 0xF0 {
            u32::from(b % 24)
        } else {
            self.u32()
        }
    }
}

/// A live object of the run.
enum Obj {
    Pd(Pd),
    Cq(Cq),
    Mr(Mr),
    Qp(Qp),
}

impl Obj {
    const fn header(&self) -> *mut NDK_OBJECT_HEADER {
        match self {
            Self::Pd(o) => o.raw().cast(),
            Self::Cq(o) => o.raw().cast(),
            Self::Mr(o) => o.raw().cast(),
            Self::Qp(o) => o.raw().cast(),
        }
    }

    fn close_slot(&self) -> softndk::abi::NDK_FN_CLOSE_OBJECT {
        match self {
            Self::Pd(o) => o.dispatch().NdkClosePd,
            Self::Cq(o) => o.dispatch().NdkCloseCq,
            Self::Mr(o) => o.dispatch().NdkCloseMr,
            Self::Qp(o) => o.dispatch().NdkCloseQp,
        }
    }

    fn close(self) -> Closed {
        match self {
            Self::Pd(o) => o.close(),
            Self::Cq(o) => o.close(),
            Self::Mr(o) => o.close(),
            Self::Qp(o) => o.close(),
        }
    }
}

struct Run {
    host: Host,
    irql: Irql,
    adapters: Vec<Adapter>,
    objects: Vec<Option<Obj>>,
    buffers: Vec<Arc<Buffer>>,
    closes: Vec<Closed>,
}

impl Run {
    fn at<R>(&self, f: impl FnOnce() -> R) -> R {
        with_irql(self.irql, f)
    }

    /// The `i`-th live object (any kind).
    fn any(&self, i: u8) -> Option<&Obj> {
        let live: Vec<&Obj> = self.objects.iter().flatten().collect();
        (!live.is_empty()).then(|| live[usize::from(i) % live.len()])
    }

    /// The `i`-th live object of a kind, as an index.
    fn nth(&self, i: u8, kind: fn(&Obj) -> bool) -> Option<usize> {
        crate::pick::nth_live(&self.objects, i, kind)
    }

    /// A header pointer for an object argument: usually one of the expected kind, sometimes
    /// any live object (wrong type), sometimes NULL.
    fn arg(&self, input: &mut Input<'_>, kind: fn(&Obj) -> bool) -> *mut NDK_OBJECT_HEADER {
        let (sel, i) = (input.byte(), input.byte());
        let obj = match sel % 8 {
            0 => return ptr::null_mut(),
            1 => self.any(i),
            _ => self.nth(i, kind).and_then(|n| self.objects[n].as_ref()),
        };
        obj.map_or(ptr::null_mut(), Obj::header)
    }

    fn mr_of(&self, i: u8) -> Option<&Mr> {
        self.nth(i, |o| matches!(o, Obj::Mr(_)))
            .and_then(|n| match &self.objects[n] {
                Some(Obj::Mr(m)) => Some(m),
                _ => None,
            })
    }

    /// SGEs over the run's buffers: in-bounds, out of bounds, forged tokens. `inline`:
    /// addresses stay inside the buffers (the provider reads inline data directly).
    fn sges(&self, input: &mut Input<'_>, inline: bool) -> Vec<NDK_SGE> {
        let n = input.byte() % 6;
        (0..n)
            .map(|_| {
                let buf = &self.buffers[usize::from(input.byte()) % self.buffers.len()];
                let token = match input.byte() % 4 {
                    0 => input.u32(),
                    _ => self.mr_of(input.byte()).map_or(0, Mr::local_token),
                };
                let offset = usize::from(input.byte()) % BUF;
                let len = if inline {
                    u32::try_from((BUF - offset).min(usize::from(input.byte()))).unwrap_or(0)
                } else if input.flag() {
                    input.u32()
                } else {
                    u32::from(input.byte())
                };
                if !inline && input.byte() == 0xFF {
                    // A forged address: only ever checked against a registration.
                    NDK_SGE::with_virtual(
                        ptr::without_provenance_mut(input.u32() as usize),
                        len,
                        token,
                    )
                } else {
                    buf.sge(offset, len, token)
                }
            })
            .collect()
    }

    #[allow(clippy::too_many_lines)] // one arm per operation
    fn step(&mut self, input: &mut Input<'_>) {
        let a = usize::from(input.byte()) % self.adapters.len();
        match input.byte() % 20 {
            0 => {
                let pd = self.at(|| self.adapters[a].create_pd());
                self.keep(pd.map(Obj::Pd), "NdkCreatePd");
            }
            1 => {
                let depth = input.count();
                let cq = self.at(|| self.adapters[a].create_cq(depth, &CqEvents::new()));
                self.keep(cq.map(Obj::Cq), "NdkCreateCq");
            }
            2 => {
                let fast = input.flag();
                let Some(pd) = self.nth(input.byte(), |o| matches!(o, Obj::Pd(_))) else {
                    return;
                };
                let Some(Obj::Pd(pd)) = &self.objects[pd] else {
                    return;
                };
                let mr = self.at(|| pd.create_mr(fast));
                self.keep(mr.map(Obj::Mr), "NdkCreateMr");
            }
            3 => self.register(input),
            4 => {
                if let Some(mr) = self.mr_of(input.byte()) {
                    documented("NdkDeregisterMr", self.at(|| mr.deregister()));
                }
            }
            5 => self.create_qp(input),
            6 => {
                let (x, y) = (input.byte(), input.byte());
                let (ord, ird) = (input.count(), input.count());
                let is_qp = |o: &Obj| matches!(o, Obj::Qp(_));
                let (Some(x), Some(y)) = (self.nth(x, is_qp), self.nth(y, is_qp)) else {
                    return;
                };
                let (Some(Obj::Qp(qa)), Some(Obj::Qp(qb))) = (&self.objects[x], &self.objects[y])
                else {
                    return;
                };
                // SAFETY: two live QPs of this run (possibly the same one: must be refused).
                let s = self.at(|| unsafe {
                    softndk::dispatch::connect_pair(qa.raw(), qb.raw(), ord, ird)
                });
                documented("connect_pair", s);
            }
            7..=10 => self.post(input),
            11 => {
                let is_cq = |o: &Obj| matches!(o, Obj::Cq(_));
                let cq = self.arg(input, is_cq).cast::<NDK_CQ>();
                let n = input.count().min(64);
                let null = input.flag();
                let mut out = vec![softndk::abi::NDK_RESULT_EX::ZEROED; 64];
                let table = self.adapter_cq_table();
                let p = if null {
                    ptr::null_mut()
                } else {
                    out.as_mut_ptr()
                };
                // SAFETY: `cq` is NULL or a live object (maybe not a CQ: must be refused);
                // `p` is NULL or holds 64 ≥ n entries.
                let got = self.at(|| unsafe { (table.NdkGetCqResultsEx)(cq, p, n) });
                assert!(got <= n, "GetCqResultsEx returned {got} > {n}");
                assert!(!null || got == 0, "results written through NULL");
            }
            12 => {
                let is_cq = |o: &Obj| matches!(o, Obj::Cq(_));
                let cq = self.arg(input, is_cq).cast::<NDK_CQ>();
                let kind = if input.flag() {
                    input.u32()
                } else {
                    u32::from(input.byte() % 3)
                };
                let table = self.adapter_cq_table();
                // SAFETY: NULL or a live object; the provider refuses other types.
                self.at(|| unsafe { (table.NdkArmCq)(cq, kind) });
            }
            13 => {
                let is_qp = |o: &Obj| matches!(o, Obj::Qp(_));
                if let Some(Some(Obj::Qp(qp))) =
                    self.nth(input.byte(), is_qp).map(|n| &self.objects[n])
                {
                    self.at(|| qp.flush());
                }
            }
            14 => self.close(input),
            15 => {
                self.host.run_until_idle();
            }
            16 => {
                let is_cq = |o: &Obj| matches!(o, Obj::Cq(_));
                let cq = self.arg(input, is_cq).cast::<NDK_CQ>();
                let depth = input.count();
                let table = self.adapter_cq_table();
                // SAFETY: NULL or a live object; a valid completion.
                let s = self.at(|| unsafe {
                    (table.NdkResizeCq)(cq, depth, Some(request_completion), ptr::null_mut())
                });
                documented("NdkResizeCq", s);
            }
            17 => {
                let size = u32::from(input.u16()) % 0x100;
                // Whole `NDK_ADAPTER_INFO`s for alignment; `len` states how many bytes count.
                let mut info = vec![NDK_ADAPTER_INFO::default(); 3];
                let mut len = size;
                let p = if input.flag() {
                    ptr::null_mut()
                } else {
                    info.as_mut_ptr()
                };
                let adapter = &self.adapters[a];
                // SAFETY: a live adapter; `p` is NULL or `size` writable bytes (stated in `len`);
                // PASSIVE as the slot requires.
                let s = unsafe {
                    (adapter.dispatch().NdkQueryAdapterInfo)(adapter.raw(), p, &raw mut len)
                };
                documented("NdkQueryAdapterInfo", s);
                assert!(
                    s != STATUS_SUCCESS || len <= size,
                    "info wrote {len} > {size}"
                );
            }
            18 => self.unsupported(input),
            _ => self.wrong_type(input),
        }
    }

    const fn adapter_cq_table(&self) -> &'static softndk::abi::NDK_CQ_DISPATCH {
        let _ = self;
        softndk::dispatch::TABLES.cq
    }

    fn keep(&mut self, r: Result<Obj, NTSTATUS>, what: &str) {
        match r {
            Ok(o) => self.objects.push(Some(o)),
            Err(s) => {
                documented(what, s);
                assert_ne!(s, STATUS_SUCCESS);
                assert_ne!(s, STATUS_PENDING, "{what}: SoftNDK never pends a create");
            }
        }
    }

    fn register(&self, input: &mut Input<'_>) {
        let Some(mr) = self.mr_of(input.byte()) else {
            return;
        };
        let buf = Arc::clone(&self.buffers[usize::from(input.byte()) % self.buffers.len()]);
        let flags = if input.flag() {
            input.u32()
        } else {
            u32::from(input.byte() % 16)
        };
        let s = match input.byte() % 4 {
            0 => mr.register_null(usize::from(input.byte()), flags),
            1 => {
                // A chain of pieces in any order (gapped, overlapping, short): refused unless
                // virtually contiguous; `length` may exceed it.
                let pieces: Vec<(usize, usize)> = (0..=input.byte() % 3)
                    .map(|_| {
                        let off = usize::from(input.byte()) % BUF;
                        (off, usize::from(input.byte()) % (BUF - off + 1))
                    })
                    .collect();
                let mut chain = buf.mdl_pieces(&pieces);
                let length = usize::from(input.u16());
                self.at(|| mr.register_chain(&buf, &mut chain, length, flags))
            }
            _ => {
                let cut = usize::from(input.byte()) % BUF;
                let cuts: &[usize] = if cut == 0 { &[] } else { &[cut] };
                self.at(|| mr.register(&buf, flags, cuts))
            }
        };
        documented("NdkRegisterMr", s);
    }

    fn create_qp(&mut self, input: &mut Input<'_>) {
        let is_pd = |o: &Obj| matches!(o, Obj::Pd(_));
        let is_cq = |o: &Obj| matches!(o, Obj::Cq(_));
        let pd = self.arg(input, is_pd).cast::<NDK_PD>();
        let rcq = self.arg(input, is_cq).cast::<NDK_CQ>();
        let icq = self.arg(input, is_cq).cast::<NDK_CQ>();
        let (rd, id, rs, is, inl) = (
            input.count(),
            input.count(),
            input.count(),
            input.count(),
            input.count(),
        );
        let mut out: *mut NDK_QP = ptr::null_mut();
        let table = softndk::dispatch::TABLES.pd;
        let null_out = input.byte() == 0xFF;
        let out_p = if null_out {
            ptr::null_mut()
        } else {
            &raw mut out
        };
        // SAFETY: objects are NULL or live objects of this run (maybe of the wrong type);
        // `out_p` is NULL or writable.
        let s = self.at(|| unsafe {
            (table.NdkCreateQp)(
                pd,
                rcq,
                icq,
                ctx(0x51),
                rd,
                id,
                rs,
                is,
                inl,
                Some(create_completion),
                ptr::null_mut(),
                out_p,
            )
        });
        documented("NdkCreateQp", s);
        if s == STATUS_SUCCESS {
            assert!(!out.is_null(), "a successful create handed out NULL");
            // SAFETY: a QP the provider just created; only this run uses it.
            self.objects
                .push(Some(Obj::Qp(unsafe { Qp::from_raw(out) })));
        }
    }

    fn post(&self, input: &mut Input<'_>) {
        let is_qp = |o: &Obj| matches!(o, Obj::Qp(_));
        let Some(Some(Obj::Qp(qp))) = self.nth(input.byte(), is_qp).map(|n| &self.objects[n])
        else {
            return;
        };
        let flags = if input.flag() {
            input.u32()
        } else {
            u32::from(input.byte()) & 0x3FF
        };
        let inline = flags & softndk::abi::NDK_OP_FLAG_INLINE != 0;
        let sges = self.sges(input, inline);
        let c = usize::from(input.u16());
        let remote = match input.byte() % 3 {
            0 => u64::from(input.u32()),
            _ => {
                self.buffers[usize::from(input.byte()) % self.buffers.len()].va()
                    + u64::from(input.byte())
            }
        };
        let token = match input.byte() % 3 {
            0 => input.u32(),
            _ => self.mr_of(input.byte()).map_or(0, Mr::remote_token),
        };
        let which = input.byte() % 6;
        let s = self.at(|| match which {
            0 => qp.receive(c, &sges),
            1 => qp.send(c, &sges, flags),
            2 => qp.write(c, &sges, remote, token, flags),
            3 => qp.read(c, &sges, remote, token, flags),
            4 => qp.send_and_invalidate(c, &sges, flags, token),
            _ => qp.send_null_sgl(u32::from(input.byte()), flags),
        });
        documented("post", s);
    }

    fn close(&mut self, input: &mut Input<'_>) {
        let live: Vec<usize> = (0..self.objects.len())
            .filter(|&i| self.objects[i].is_some())
            .collect();
        if live.is_empty() {
            return;
        }
        let i = live[usize::from(input.byte()) % live.len()];
        if input.byte().is_multiple_of(8) {
            // A NULL close completion is refused and closes nothing.
            let obj = self.objects[i]
                .as_ref()
                .map_or(ptr::null_mut(), Obj::header);
            let slot = self.objects[i].as_ref().map(Obj::close_slot);
            if let Some(slot) = slot {
                // SAFETY: a live object of the slot's kind.
                let s = self.at(|| unsafe { slot(obj, None, ptr::null_mut()) });
                assert_eq!(s, STATUS_INVALID_PARAMETER, "close without completion");
            }
            return;
        }
        if let Some(obj) = self.objects[i].take() {
            let closed = self.at(|| obj.close());
            assert!(
                !matches!(closed, Closed::Refused(_)),
                "close refused: {closed:?}"
            );
            self.closes.push(closed);
        }
    }

    /// Connection-object creates with a missing mandatory argument (the CM objects themselves
    /// are not yet part of this harness's object set), and the query-extension slot: refused
    /// without creating or touching anything.
    fn unsupported(&self, input: &mut Input<'_>) {
        let a = &self.adapters[usize::from(input.byte()) % self.adapters.len()];
        let ad = a.dispatch();
        let mut out: *mut c_void = ptr::null_mut();
        let which = input.byte() % 4;
        let out_p: *mut *mut c_void = &raw mut out;
        // Each call: a live adapter, a writable out pointer and one missing mandatory argument
        // (a NULL create completion, a NULL address, a NULL connect-event callback); SoftNDK
        // answers with a documented failure and creates nothing.
        let s = self.at(|| match which {
            // SAFETY: see above (a NULL create completion).
            0 => unsafe { (ad.NdkCreateConnector)(a.raw(), None, ptr::null_mut(), out_p.cast()) },
            // SAFETY: see above (a NULL address of length 0).
            1 => unsafe {
                (ad.NdkCreateSharedEndpoint)(
                    a.raw(),
                    ptr::null(),
                    0,
                    Some(create_completion),
                    ptr::null_mut(),
                    out_p.cast(),
                )
            },
            // SAFETY: see above (a NULL connect-event callback).
            2 => unsafe {
                (ad.NdkCreateListener)(
                    a.raw(),
                    None,
                    ptr::null_mut(),
                    Some(create_completion),
                    ptr::null_mut(),
                    out_p.cast(),
                )
            },
            _ => a.query_extension(),
        });
        documented("refused create", s);
        assert_ne!(
            s, STATUS_SUCCESS,
            "a create with a missing argument succeeded"
        );
        assert!(out.is_null(), "a refused create wrote its out-pointer");
        if let Some(Some(Obj::Qp(qp))) = self
            .nth(input.byte(), |o| matches!(o, Obj::Qp(_)))
            .map(|n| &self.objects[n])
        {
            for s in [
                qp.bind_nothing(),
                qp.fast_register_nothing(),
                qp.invalidate_nothing(),
            ] {
                documented("QP memory-window slots", s);
            }
        }
    }

    /// A slot of one table called with a live object of another type.
    fn wrong_type(&mut self, input: &mut Input<'_>) {
        let Some(obj) = self.any(input.byte()) else {
            return;
        };
        let h = obj.header();
        let which = input.byte() % 5;
        let mut token = 0_u32;
        let mut out: *mut NDK_MR = ptr::null_mut();
        let t = softndk::dispatch::TABLES;
        let out_p: *mut *mut NDK_MR = &raw mut out;
        let token_p: *mut u32 = &raw mut token;
        // Each call: `h` is a live object of this run, maybe of another type; each slot reads
        // only its header before refusing a wrong type (and with the right type the call is a
        // valid one with valid arguments).
        let s = self.at(|| match which {
            // SAFETY: see above.
            0 => unsafe {
                (t.pd.NdkCreateMr)(h.cast(), 0, Some(create_completion), ptr::null_mut(), out_p)
            },
            // SAFETY: see above; no SGE.
            1 => unsafe { (t.qp.NdkSend)(h.cast(), ptr::null_mut(), ptr::null(), 0, 0) },
            // SAFETY: see above.
            2 => unsafe {
                (t.mr.NdkDeregisterMr)(h.cast(), Some(request_completion), ptr::null_mut())
            },
            3 => {
                // SAFETY: see above; a writable token.
                unsafe { (t.pd.NdkGetPrivilegedMemoryRegionToken)(h.cast(), token_p) };
                STATUS_SUCCESS
            }
            _ => {
                // SAFETY: see above.
                unsafe { (t.qp.NdkFlush)(h.cast()) };
                STATUS_SUCCESS
            }
        });
        documented("wrong type", s);
        if which == 0 && s == STATUS_SUCCESS {
            // It was a PD after all.
            // SAFETY: an MR the provider just created; only this run uses it.
            self.objects
                .push(Some(Obj::Mr(unsafe { Mr::from_raw(out) })));
        }
    }
}

/// Decodes and runs one input.
///
/// # Panics
///
/// On any broken rule (the fuzzer's finding).
pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte();
    let host = if mode & 1 == 0 {
        Host::deterministic()
    } else {
        Host::deterministic_seeded(u64::from(mode))
    };
    let irql = if mode & 2 == 0 {
        Irql::Passive
    } else {
        Irql::Dispatch
    };
    let config = AdapterConfig::softndk(0xF022);
    let adapters: Vec<Adapter> = (0..2)
        .map(|_| Adapter::open(&config, &host, NDK_VERSION::new(1, 2)).expect("open"))
        .collect();
    let buffers = (0..3)
        .map(|i| Buffer::from_bytes(&[u8::try_from(i).unwrap_or(0); BUF]))
        .collect();
    let mut run = Run {
        host: host.clone(),
        irql,
        adapters,
        objects: Vec::new(),
        buffers,
        closes: Vec::new(),
    };
    let mut ops = 0;
    while !input.0.is_empty() && ops < MAX_OPS {
        run.step(&mut input);
        ops += 1;
    }
    // Close everything left, in creation order (antecedents before successors: they pend).
    let left: Vec<Obj> = run.objects.drain(..).flatten().collect();
    for obj in left {
        let closed = run.at(|| obj.close());
        assert!(
            !matches!(closed, Closed::Refused(_)),
            "close refused: {closed:?}"
        );
        run.closes.push(closed);
    }
    host.run_until_idle();
    for closed in &run.closes {
        assert!(closed.is_complete(), "a close never completed: {closed:?}");
        if let Closed::Pending(signal) = closed {
            assert_eq!(signal.calls(), 1, "close completion count");
        }
    }
    for adapter in run.adapters.drain(..) {
        adapter.close();
    }
    drop(run);
    assert_eq!(host.alloc_stats().live, 0, "allocations leaked");
}
