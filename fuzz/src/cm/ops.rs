//! The `cm_ops` operations: one byte picks the operation, the following bytes its arguments
//! (see `args`). Calls go through the dispatch tables as a kernel consumer's would.

use core::ffi::c_void;
use core::ptr;
use core::time::Duration;

use softndk::abi::{
    NDK_CONNECTOR, NDK_FN_DISCONNECT_EVENT_CALLBACK, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX,
    NDK_FN_REQUEST_COMPLETION, NDK_LISTENER, NDK_QP, NDK_SHARED_ENDPOINT, NTSTATUS,
    STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER, STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::consumer::{
    ConnectEvents, Connector, Listener, QpLimits, SharedEndpoint, create_completion,
};
use softndk::dispatch::TABLES;
use softndk::fabric::Address;

use super::args::{ADDR_BUF_LEN, DATA_BUF_LEN, Data, Input, OutBuf, Sockaddr};
use super::track::{disconnect_event, disconnect_event_ex, request_done};
use super::{MAX_QPS, Obj, Req, Run, documented};

/// `MAX_PRIVATE_DATA`: no peer sends more.
const MAX_RDS: u32 = 256;

impl Run {
    #[allow(clippy::too_many_lines)] // one arm per operation
    pub(super) fn step(&mut self, input: &mut Input<'_>) {
        match input.byte() % 20 {
            0 => {
                let a = usize::from(input.byte()) % self.adapters.len();
                let c = self.at(|| Connector::create(&self.adapters[a]));
                self.keep(
                    c.map(|c| Obj::Connector(c, Vec::new())),
                    "NdkCreateConnector",
                );
            }
            1 => {
                let a = usize::from(input.byte()) % self.adapters.len();
                let events = ConnectEvents::new();
                let l = self.at(|| Listener::create(&self.adapters[a], &events));
                if l.is_ok() {
                    self.connect_events.push(events);
                }
                self.keep(l.map(Obj::Listener), "NdkCreateListener");
            }
            2 => self.create_endpoint(input),
            3 => {
                let a = usize::from(input.byte()) % self.adapters.len();
                if self.objects.iter().flatten().filter(|o| o.is_qp()).count() < MAX_QPS {
                    let (pd, cq) = (&self.pds[a], &self.cqs[a]);
                    let qp = self.at(|| pd.create_qp(cq, cq, 0x51, QpLimits::default()));
                    self.keep(qp.map(Obj::Qp), "NdkCreateQp");
                }
            }
            4 => self.listen(input),
            5 => self.connect(input, false),
            6 => self.connect(input, true),
            7 => self.accept(input),
            8 => {
                let cx = self.arg(input, Obj::is_connector).cast::<NDK_CONNECTOR>();
                let data = Data::decode(input, &self.data);
                // SAFETY: NULL or a live object of this run; `data` NULL or owned for `len`.
                let s = self.at(|| unsafe { (TABLES.connector.NdkReject)(cx, data.ptr, data.len) });
                documented("NdkReject", s);
                assert_ne!(s, STATUS_PENDING, "NdkReject completes inline");
            }
            9 => self.complete_connect(input),
            10 => self.connection_data(input),
            11 => self.address(input),
            12 => {
                let cx = self.arg(input, Obj::is_connector);
                let null = input.byte() == 0xFF;
                let c = cx.cast::<NDK_CONNECTOR>();
                let s = self.request("NdkDisconnect", null, |done, ctx| {
                    // SAFETY: NULL or a live object of this run; a completion with a context
                    // of the run's arena, or NULL (refused).
                    unsafe { (TABLES.connector.NdkDisconnect)(c, done, ctx) }
                });
                if s == Some(STATUS_PENDING) {
                    // A local disconnect started: no disconnect event may follow.
                    self.stop_events(cx);
                }
            }
            13 => {
                let l = self.arg(input, Obj::is_listener).cast::<NDK_LISTENER>();
                let pause = input.byte();
                // SAFETY: NULL or a live object of this run; any BOOLEAN value.
                self.at(|| unsafe { (TABLES.listener.NdkControlConnectEvents)(l, pause) });
            }
            14 => self.close(input),
            15 | 16 => {
                self.host.run_until_idle();
                self.check();
            }
            17 => {
                let n = usize::from(input.byte() % 8);
                self.host.run_at_most(n);
            }
            18 => {
                // Up to 16 s: past every default timeout (connect/accept 10 s, disconnect 5 s).
                self.host
                    .advance(Duration::from_secs(u64::from(input.byte() % 17)));
                self.fabric.tick();
            }
            _ => {
                if input.flag() {
                    self.take_all();
                } else if let Some(qp) = self.nth(input.byte(), Obj::is_qp)
                    && let Some(Obj::Qp(qp)) = &self.objects[qp]
                {
                    if input.flag() {
                        self.at(|| qp.flush());
                    } else {
                        documented("NdkReceive", self.at(|| qp.receive(0x52, &[])));
                    }
                }
            }
        }
    }

    /// Issues one request with a completion of the run's arena (or NULL, refused); tracks it.
    /// `None` when the arena is used up (nothing was called).
    fn request(
        &mut self,
        what: &'static str,
        null: bool,
        call: impl FnOnce(Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void) -> NTSTATUS,
    ) -> Option<NTSTATUS> {
        let slot = self.arena.take()?;
        let context = self.arena.get(slot).context();
        let done = (!null).then_some(request_done as NDK_FN_REQUEST_COMPLETION);
        let s = self.at(|| call(done, context));
        documented(what, s);
        assert_eq!(
            self.arena.get(slot).calls(),
            0,
            "{what}: completion called inside the call"
        );
        assert!(
            !null || s != STATUS_PENDING,
            "{what}: pended without completion"
        );
        self.requests.push(Req {
            slot,
            what,
            pended: s == STATUS_PENDING,
        });
        Some(s)
    }

    /// Stops every disconnect event registered on the connector behind `p`.
    fn stop_events(&mut self, p: *mut softndk::abi::NDK_OBJECT_HEADER) {
        let slots = self.connector_at(p).cloned().unwrap_or_default();
        for s in slots {
            self.arena.get(s).stop();
        }
    }

    fn create_endpoint(&mut self, input: &mut Input<'_>) {
        let a = usize::from(input.byte()) % self.adapters.len();
        let addr = Sockaddr::decode(input);
        let adapter = &self.adapters[a];
        let p = addr.ptr();
        if p.is_null() {
            let mut out: *mut NDK_SHARED_ENDPOINT = ptr::null_mut();
            // SAFETY: a live adapter, a NULL address (refused), a valid completion and out.
            let s = self.at(|| unsafe {
                (adapter.dispatch().NdkCreateSharedEndpoint)(
                    adapter.raw(),
                    p,
                    addr.len,
                    Some(create_completion),
                    ptr::null_mut(),
                    &raw mut out,
                )
            });
            assert_eq!(s, STATUS_INVALID_PARAMETER, "endpoint on a NULL address");
            assert!(out.is_null(), "a refused create wrote its out-pointer");
            return;
        }
        // SAFETY: `p` points to the `ADDR_BUF` bytes of `addr`, `len` ≤ `ADDR_BUF` of them.
        let bytes = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), addr.len as usize) };
        let e = self.at(|| SharedEndpoint::create_raw(adapter, bytes));
        self.keep(e.map(Obj::Endpoint), "NdkCreateSharedEndpoint");
    }

    fn listen(&mut self, input: &mut Input<'_>) {
        let l = self.arg(input, Obj::is_listener).cast::<NDK_LISTENER>();
        let addr = Sockaddr::decode(input);
        let null = input.byte() == 0xFF;
        let s = self.request("NdkListen", null, |done, ctx| {
            // SAFETY: NULL or a live object of this run; `addr` NULL or owned for `len`.
            unsafe { (TABLES.listener.NdkListen)(l, addr.ptr(), addr.len, done, ctx) }
        });
        assert_ne!(s, Some(STATUS_PENDING), "NdkListen completes inline");
    }

    fn connect(&mut self, input: &mut Input<'_>, shared: bool) {
        let cx = self.arg(input, Obj::is_connector).cast::<NDK_CONNECTOR>();
        let qp = self.arg(input, Obj::is_qp).cast::<NDK_QP>();
        let ep = if shared {
            self.arg(input, Obj::is_endpoint)
                .cast::<NDK_SHARED_ENDPOINT>()
        } else {
            ptr::null_mut()
        };
        let src = (!shared).then(|| Sockaddr::decode(input));
        let dst = Sockaddr::decode(input);
        let (ird, ord) = (input.count(), input.count());
        let data = Data::decode(input, &self.data);
        let null = input.byte() == 0xFF;
        let s = if let Some(src) = src {
            self.request("NdkConnect", null, |done, ctx| {
                // SAFETY: objects NULL or live objects of this run; addresses and data NULL
                // or owned for their lengths; a completion of the run's arena or NULL.
                unsafe {
                    (TABLES.connector.NdkConnect)(
                        cx,
                        qp,
                        src.ptr(),
                        src.len,
                        dst.ptr(),
                        dst.len,
                        ird,
                        ord,
                        data.ptr,
                        data.len,
                        done,
                        ctx,
                    )
                }
            })
        } else {
            self.request("NdkConnectWithSharedEndpoint", null, |done, ctx| {
                // SAFETY: as for `NdkConnect`.
                unsafe {
                    (TABLES.connector.NdkConnectWithSharedEndpoint)(
                        cx,
                        qp,
                        ep,
                        dst.ptr(),
                        dst.len,
                        ird,
                        ord,
                        data.ptr,
                        data.len,
                        done,
                        ctx,
                    )
                }
            })
        };
        self.stats.connects += usize::from(s == Some(STATUS_PENDING));
    }

    /// The context of a disconnect event for an `NdkAccept(Ex)`/`NdkCompleteConnect(Ex)` on
    /// `cx` (NULL without one); the slot is registered on the connector if it is one of ours.
    /// `None` when the arena is used up.
    fn disconnect_event(&mut self, cx: *mut NDK_CONNECTOR, with: bool) -> Option<*mut c_void> {
        if !with {
            return Some(ptr::null_mut());
        }
        let slot = self.arena.take()?;
        self.events.push(slot);
        if let Some(slots) = self.connector_at(cx.cast()) {
            slots.push(slot);
        }
        Some(self.arena.get(slot).context())
    }

    fn accept(&mut self, input: &mut Input<'_>) {
        let cx = self.arg(input, Obj::is_connector).cast::<NDK_CONNECTOR>();
        let qp = self.arg(input, Obj::is_qp).cast::<NDK_QP>();
        let (ird, ord) = (input.count(), input.count());
        let data = Data::decode(input, &self.data);
        let (ex, with) = (input.flag(), input.flag());
        let null = input.byte() == 0xFF;
        let Some(ectx) = self.disconnect_event(cx, with) else {
            return;
        };
        let s = if ex {
            let event = with.then_some(disconnect_event_ex as NDK_FN_DISCONNECT_EVENT_CALLBACK_EX);
            self.request("NdkAcceptEx", null, |done, ctx| {
                // SAFETY: objects NULL or live objects of this run; data NULL or owned for its
                // length; callbacks with contexts of the run's arena.
                unsafe {
                    (TABLES.connector.NdkAcceptEx)(
                        cx, qp, ird, ord, data.ptr, data.len, event, ectx, done, ctx,
                    )
                }
            })
        } else {
            let event = with.then_some(disconnect_event as NDK_FN_DISCONNECT_EVENT_CALLBACK);
            self.request("NdkAccept", null, |done, ctx| {
                // SAFETY: as for `NdkAcceptEx`.
                unsafe {
                    (TABLES.connector.NdkAccept)(
                        cx, qp, ird, ord, data.ptr, data.len, event, ectx, done, ctx,
                    )
                }
            })
        };
        self.stats.accepts += usize::from(s == Some(STATUS_PENDING));
    }

    fn complete_connect(&mut self, input: &mut Input<'_>) {
        let cx = self.arg(input, Obj::is_connector).cast::<NDK_CONNECTOR>();
        let (ex, with) = (input.flag(), input.flag());
        let null = input.byte() == 0xFF;
        let Some(ectx) = self.disconnect_event(cx, with) else {
            return;
        };
        let s = if ex {
            let event = with.then_some(disconnect_event_ex as NDK_FN_DISCONNECT_EVENT_CALLBACK_EX);
            self.request("NdkCompleteConnectEx", null, |done, ctx| {
                // SAFETY: NULL or a live object of this run; callbacks with contexts of the
                // run's arena.
                unsafe { (TABLES.connector.NdkCompleteConnectEx)(cx, event, ectx, done, ctx) }
            })
        } else {
            let event = with.then_some(disconnect_event as NDK_FN_DISCONNECT_EVENT_CALLBACK);
            self.request("NdkCompleteConnect", null, |done, ctx| {
                // SAFETY: as above.
                unsafe { (TABLES.connector.NdkCompleteConnect)(cx, event, ectx, done, ctx) }
            })
        };
        assert_ne!(
            s,
            Some(STATUS_PENDING),
            "NdkCompleteConnect completes inline"
        );
        self.stats.established += usize::from(s == Some(STATUS_SUCCESS));
    }

    fn connection_data(&self, input: &mut Input<'_>) {
        let cx = self.arg(input, Obj::is_connector).cast::<NDK_CONNECTOR>();
        let nulls = input.byte();
        let mut out = OutBuf::decode(input, DATA_BUF_LEN, &[0, 56, 148, MAX_RDS]);
        let (mut ird, mut ord, mut len) = (u32::MAX, u32::MAX, out.stated);
        let pick = |bit: u8, p: *mut u32| if nulls & bit == 0 { p } else { ptr::null_mut() };
        let (pi, po, pl) = (
            pick(1, &raw mut ird),
            pick(2, &raw mut ord),
            pick(4, &raw mut len),
        );
        let data = out.ptr::<c_void>();
        // SAFETY: NULL or a live object of this run; every pointer NULL or owned (`data` for
        // `stated` bytes).
        let s =
            self.at(|| unsafe { (TABLES.connector.NdkGetConnectionData)(cx, pi, po, data, pl) });
        documented("NdkGetConnectionData", s);
        out.assert_tail("NdkGetConnectionData");
        if pl.is_null() {
            assert_eq!(s, STATUS_INVALID_PARAMETER, "NULL pPrivateDataLength");
        }
        if s == STATUS_SUCCESS || s == STATUS_BUFFER_TOO_SMALL {
            assert!(len <= MAX_RDS, "RDS {len} > {MAX_RDS}");
            if s == STATUS_SUCCESS {
                assert!(data.is_null() || len <= out.stated, "RDS beyond the buffer");
            } else {
                assert!(
                    len > out.stated,
                    "BUFFER_TOO_SMALL with RDS {len} that fits"
                );
            }
        }
    }

    /// `NdkGetLocalAddress`/`NdkGetPeerAddress` of a connector, a listener's or a shared
    /// endpoint's `NdkGetLocalAddress`.
    fn address(&self, input: &mut Input<'_>) {
        let which = input.byte() % 4;
        let kind: fn(&Obj) -> bool = match which {
            0 | 1 => Obj::is_connector,
            2 => Obj::is_listener,
            _ => Obj::is_endpoint,
        };
        let o = self.arg(input, kind);
        let null_len = input.byte() == 0xFF;
        let mut out = OutBuf::decode(input, ADDR_BUF_LEN, &[16, 28]);
        let mut len = out.stated;
        let pl = if null_len {
            ptr::null_mut()
        } else {
            &raw mut len
        };
        let p = out.ptr();
        let t = TABLES;
        // Each call: NULL or a live object of this run (maybe of another type); `p` NULL or
        // owned for `stated` bytes; `pl` NULL or owned.
        let s = self.at(|| match which {
            // SAFETY: see above.
            0 => unsafe { (t.connector.NdkGetLocalAddress)(o.cast(), p, pl) },
            // SAFETY: see above.
            1 => unsafe { (t.connector.NdkGetPeerAddress)(o.cast(), p, pl) },
            // SAFETY: see above.
            2 => unsafe { (t.listener.NdkGetLocalAddress)(o.cast(), p, pl) },
            // SAFETY: see above.
            _ => unsafe { (t.shared_endpoint.NdkGetLocalAddress)(o.cast(), p, pl) },
        });
        documented("Get*Address", s);
        out.assert_tail("Get*Address");
        if null_len {
            assert_eq!(s, STATUS_INVALID_PARAMETER, "NULL pAddressLength");
        }
        if s == STATUS_BUFFER_TOO_SMALL {
            assert!(matches!(len, 16 | 28), "required size {len}");
            assert!(
                p.is_null() || len > out.stated,
                "TOO_SMALL for a buffer that fits"
            );
        }
        if s == STATUS_SUCCESS {
            assert!(len <= out.stated, "address length {len} beyond the buffer");
            Address::from_sockaddr(out.head(len)).expect("a written address parses");
        }
    }

    fn close(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.nth(input.byte(), |_| true) else {
            return;
        };
        if input.byte().is_multiple_of(8) {
            // A NULL close completion is refused and closes nothing.
            let h = self.objects[i]
                .as_ref()
                .map_or(ptr::null_mut(), Obj::header);
            let t = TABLES;
            let slot = match &self.objects[i] {
                Some(Obj::Connector(..)) => t.connector.NdkCloseConnector,
                Some(Obj::Listener(_)) => t.listener.NdkCloseListener,
                Some(Obj::Endpoint(_)) => t.shared_endpoint.NdkCloseSharedEndpoint,
                _ => t.qp.NdkCloseQp,
            };
            // SAFETY: a live object of the slot's kind.
            let s = self.at(|| unsafe { slot(h, None, ptr::null_mut()) });
            assert_eq!(s, STATUS_INVALID_PARAMETER, "close without completion");
            return;
        }
        if let Some(obj) = self.objects[i].take() {
            self.close_obj(obj);
        }
    }
}
