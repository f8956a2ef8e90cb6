//! The consumer's connector: `NdkCreateConnector` and the 13 connector slots.
//!
//! Asynchronous calls take a [`Request`] and return the provider's raw status (a test asserts
//! `STATUS_PENDING`, then the request's completion); the request's context count is taken back
//! when the provider did not pend. Disconnect-event recorders registered by
//! `NdkCompleteConnect(Ex)`/`NdkAccept(Ex)` are kept until the connector's close completion.

use core::ffi::c_void;
use core::ptr;
use std::sync::{Arc, Mutex, PoisonError};
use std::vec::Vec;

use super::cm_events::{
    DisconnectEvents, Request, disconnect_event, disconnect_event_ex, request_done,
};
use super::events::{self, Closed, Keep};
use super::listener::SharedEndpoint;
use super::{Adapter, Qp};
use crate::abi::{
    NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, NDK_FN_DISCONNECT_EVENT_CALLBACK,
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, NDK_FN_GET_LOCAL_ADDRESS, NTSTATUS, SOCKADDR,
    STATUS_PENDING, STATUS_SUCCESS,
};
use crate::fabric::Address;

/// A `SOCKADDR_IN`/`SOCKADDR_IN6` as bytes, with its length.
pub(super) fn sockaddr(address: &Address) -> ([u8; 28], u32) {
    let mut bytes = [0; 28];
    let length = address.write_sockaddr(&mut bytes).unwrap_or(0);
    (bytes, length)
}

/// Reads an address through a `Get*Address` slot with a buffer of `SOCKADDR_STORAGE` size.
pub(super) fn query_address<O>(
    object: *mut O,
    slot: unsafe extern "system" fn(*mut O, *mut SOCKADDR, *mut u32) -> NTSTATUS,
) -> Result<Address, NTSTATUS> {
    let mut bytes = [0_u8; 128];
    let mut length = 128_u32;
    // SAFETY: a live object of the slot's table; a 128-byte buffer and its length.
    let status = unsafe { slot(object, bytes.as_mut_ptr().cast(), &raw mut length) };
    if status != STATUS_SUCCESS {
        return Err(status);
    }
    Address::from_sockaddr(&bytes[..length as usize])
}

/// Calls a `Get*Address` slot with `buffer` (`None`: NULL `pAddress`) and `length` (`None`:
/// NULL `pAddressLength`), as a consumer may.
pub(super) fn query_address_raw<O>(
    object: *mut O,
    slot: unsafe extern "system" fn(*mut O, *mut SOCKADDR, *mut u32) -> NTSTATUS,
    buffer: Option<&mut [u8]>,
    length: Option<&mut u32>,
) -> NTSTATUS {
    let out = buffer.map_or(ptr::null_mut(), |b| b.as_mut_ptr().cast());
    let length = length.map_or(ptr::null_mut(), ptr::from_mut);
    // SAFETY: a live object; `out` is NULL or a buffer whose length the test states in
    // `*length` (the provider never writes beyond it).
    unsafe { slot(object, out, length) }
}

/// What `NdkGetConnectionData` answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionData {
    /// The call's status.
    pub status: NTSTATUS,
    /// `*pInboundReadLimit` (IRD).
    pub ird: u32,
    /// `*pOutboundReadLimit` (ORD).
    pub ord: u32,
    /// `*pPrivateDataLength` afterwards (RDS).
    pub length: u32,
}

/// A connector (created by the consumer, or handed up by a listener's connect event).
#[derive(Debug)]
pub struct Connector {
    raw: *mut NDK_CONNECTOR,
    keep: Mutex<Vec<Keep>>,
}

// SAFETY: NDK objects may be used from any thread; the pointer is only passed back.
unsafe impl Send for Connector {}
// SAFETY: as above.
unsafe impl Sync for Connector {}

impl Connector {
    pub(super) const fn from_raw(raw: *mut NDK_CONNECTOR) -> Self {
        Self {
            raw,
            keep: Mutex::new(Vec::new()),
        }
    }

    /// `NdkCreateConnector`.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create(adapter: &Adapter) -> Result<Self, NTSTATUS> {
        let (status, out) = super::pending::issue(
            adapter.platform(),
            |done, done_context, out: *mut *mut NDK_CONNECTOR| {
                // SAFETY: live adapter, a valid create completion, a writable out pointer.
                unsafe {
                    (adapter.dispatch().NdkCreateConnector)(
                        adapter.raw(),
                        Some(done),
                        done_context,
                        out,
                    )
                }
            },
        );
        super::succeeded(status).map(|()| Self::from_raw(out))
    }

    object_accessors!(NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH);

    /// Issues a request: `call` gets the completion and its context; the count is taken back
    /// unless the provider pended.
    fn issue(
        request: &Arc<Request>,
        call: impl FnOnce(Option<crate::abi::NDK_FN_REQUEST_COMPLETION>, *mut c_void) -> NTSTATUS,
    ) -> NTSTATUS {
        let context = request.issue();
        let status = call(Some(request_done), context);
        if status != STATUS_PENDING {
            // SAFETY: issued above and not pended: the provider never calls the completion.
            unsafe { Request::unissue(context) };
        }
        status
    }

    /// Keeps a disconnect-event recorder until the close completion; its context pointer.
    fn keep(&self, events: &Arc<DisconnectEvents>) -> *mut c_void {
        self.keep
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(events) as Keep);
        Arc::as_ptr(events).cast_mut().cast()
    }

    /// `NdkConnect` from `src` to `dst` with `qp`, `ird`/`ord` and `data`.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        &self,
        qp: &Qp,
        src: &Address,
        dst: &Address,
        ird: u32,
        ord: u32,
        data: &[u8],
        request: &Arc<Request>,
    ) -> NTSTATUS {
        let (s, sl) = sockaddr(src);
        let (d, dl) = sockaddr(dst);
        self.connect_raw(
            qp,
            (&s[..sl as usize], &d[..dl as usize]),
            (ird, ord),
            data,
            request,
        )
    }

    /// `NdkConnect` with the addresses given as raw `SOCKADDR` bytes (their lengths are the
    /// slices'), for validation tests.
    #[must_use]
    pub fn connect_raw(
        &self,
        qp: &Qp,
        (src, dst): (&[u8], &[u8]),
        (ird, ord): (u32, u32),
        data: &[u8],
        request: &Arc<Request>,
    ) -> NTSTATUS {
        let len = |b: &[u8]| u32::try_from(b.len()).unwrap_or(u32::MAX);
        Self::issue(request, |completion, context| {
            // SAFETY: live connector and QP; address and data buffers of the stated lengths;
            // the completion and its context stay valid until called.
            unsafe {
                (self.dispatch().NdkConnect)(
                    self.raw,
                    qp.raw(),
                    src.as_ptr().cast(),
                    len(src),
                    dst.as_ptr().cast(),
                    len(dst),
                    ird,
                    ord,
                    data.as_ptr().cast(),
                    len(data),
                    completion,
                    context,
                )
            }
        })
    }

    /// `NdkConnectWithSharedEndpoint`.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn connect_with_shared_endpoint(
        &self,
        qp: &Qp,
        endpoint: &SharedEndpoint,
        dst: &Address,
        ird: u32,
        ord: u32,
        data: &[u8],
        request: &Arc<Request>,
    ) -> NTSTATUS {
        let (d, dl) = sockaddr(dst);
        Self::issue(request, |completion, context| {
            // SAFETY: live connector, QP and endpoint; buffers of the stated lengths; valid
            // completion.
            unsafe {
                (self.dispatch().NdkConnectWithSharedEndpoint)(
                    self.raw,
                    qp.raw(),
                    endpoint.raw(),
                    d.as_ptr().cast(),
                    dl,
                    ird,
                    ord,
                    data.as_ptr().cast(),
                    u32::try_from(data.len()).unwrap_or(u32::MAX),
                    completion,
                    context,
                )
            }
        })
    }

    /// `NdkCompleteConnect` registering `events` (plain flavour) if given.
    #[must_use]
    pub fn complete_connect(&self, events: Option<&Arc<DisconnectEvents>>) -> NTSTATUS {
        let (event, context) = events.map_or((None, ptr::null_mut()), |e| {
            (
                Some(disconnect_event as NDK_FN_DISCONNECT_EVENT_CALLBACK),
                self.keep(e),
            )
        });
        let request = Request::new();
        Self::issue(&request, |completion, ctx| {
            // SAFETY: live connector; event and completion valid with their contexts.
            unsafe {
                (self.dispatch().NdkCompleteConnect)(self.raw, event, context, completion, ctx)
            }
        })
    }

    /// `NdkCompleteConnectEx` registering `events` (`_EX` flavour) if given.
    #[must_use]
    pub fn complete_connect_ex(&self, events: Option<&Arc<DisconnectEvents>>) -> NTSTATUS {
        let (event, context) = events.map_or((None, ptr::null_mut()), |e| {
            (
                Some(disconnect_event_ex as NDK_FN_DISCONNECT_EVENT_CALLBACK_EX),
                self.keep(e),
            )
        });
        let request = Request::new();
        Self::issue(&request, |completion, ctx| {
            // SAFETY: as in `complete_connect`.
            unsafe {
                (self.dispatch().NdkCompleteConnectEx)(self.raw, event, context, completion, ctx)
            }
        })
    }

    /// `NdkAccept` with `qp`, registering `events` (plain flavour) if given.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        &self,
        qp: &Qp,
        ird: u32,
        ord: u32,
        data: &[u8],
        events: Option<&Arc<DisconnectEvents>>,
        request: &Arc<Request>,
    ) -> NTSTATUS {
        let (event, context) = events.map_or((None, ptr::null_mut()), |e| {
            (
                Some(disconnect_event as NDK_FN_DISCONNECT_EVENT_CALLBACK),
                self.keep(e),
            )
        });
        Self::issue(request, |completion, ctx| {
            // SAFETY: live connector and QP; data of the stated length; callbacks valid.
            unsafe {
                (self.dispatch().NdkAccept)(
                    self.raw,
                    qp.raw(),
                    ird,
                    ord,
                    data.as_ptr().cast(),
                    u32::try_from(data.len()).unwrap_or(u32::MAX),
                    event,
                    context,
                    completion,
                    ctx,
                )
            }
        })
    }

    /// `NdkAcceptEx` with `qp`, registering `events` (`_EX` flavour) if given.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn accept_ex(
        &self,
        qp: &Qp,
        ird: u32,
        ord: u32,
        data: &[u8],
        events: Option<&Arc<DisconnectEvents>>,
        request: &Arc<Request>,
    ) -> NTSTATUS {
        let (event, context) = events.map_or((None, ptr::null_mut()), |e| {
            (
                Some(disconnect_event_ex as NDK_FN_DISCONNECT_EVENT_CALLBACK_EX),
                self.keep(e),
            )
        });
        Self::issue(request, |completion, ctx| {
            // SAFETY: as in `accept`.
            unsafe {
                (self.dispatch().NdkAcceptEx)(
                    self.raw,
                    qp.raw(),
                    ird,
                    ord,
                    data.as_ptr().cast(),
                    u32::try_from(data.len()).unwrap_or(u32::MAX),
                    event,
                    context,
                    completion,
                    ctx,
                )
            }
        })
    }

    /// `NdkReject` with `data`.
    #[must_use]
    pub fn reject(&self, data: &[u8]) -> NTSTATUS {
        // SAFETY: live connector; data of the stated length.
        unsafe {
            (self.dispatch().NdkReject)(
                self.raw,
                data.as_ptr().cast(),
                u32::try_from(data.len()).unwrap_or(u32::MAX),
            )
        }
    }

    /// `NdkDisconnect`.
    #[must_use]
    pub fn disconnect(&self, request: &Arc<Request>) -> NTSTATUS {
        Self::issue(request, |completion, context| {
            // SAFETY: live connector; valid completion.
            unsafe { (self.dispatch().NdkDisconnect)(self.raw, completion, context) }
        })
    }

    /// `NdkGetConnectionData` with IRD/ORD pointers and `buffer` (`None`: NULL `pPrivateData`
    /// with `*pPrivateDataLength` = 0, the size probe).
    #[must_use]
    pub fn connection_data(&self, buffer: Option<&mut [u8]>) -> ConnectionData {
        let (mut ird, mut ord) = (0, 0);
        let (data, mut length) = buffer.map_or((ptr::null_mut(), 0), |b| {
            (
                b.as_mut_ptr().cast::<c_void>(),
                u32::try_from(b.len()).unwrap_or(u32::MAX),
            )
        });
        // SAFETY: live connector; writable IRD/ORD/length; `data` NULL or `length` bytes.
        let status = unsafe {
            (self.dispatch().NdkGetConnectionData)(
                self.raw,
                &raw mut ird,
                &raw mut ord,
                data,
                &raw mut length,
            )
        };
        ConnectionData {
            status,
            ird,
            ord,
            length,
        }
    }

    /// `NdkGetConnectionData` exactly as given (NULL IRD/ORD, NULL buffer with a length, NULL
    /// length), for validation tests.
    #[must_use]
    pub fn connection_data_raw(
        &self,
        limits: bool,
        buffer: Option<&mut [u8]>,
        length: Option<&mut u32>,
    ) -> NTSTATUS {
        let (mut ird, mut ord) = (0, 0);
        let (pi, po) = if limits {
            (&raw mut ird, &raw mut ord)
        } else {
            (ptr::null_mut(), ptr::null_mut())
        };
        let data = buffer.map_or(ptr::null_mut(), |b| b.as_mut_ptr().cast());
        let length = length.map_or(ptr::null_mut(), ptr::from_mut);
        // SAFETY: live connector; pointers NULL or valid for what the test states.
        unsafe { (self.dispatch().NdkGetConnectionData)(self.raw, pi, po, data, length) }
    }

    /// `NdkGetLocalAddress`.
    ///
    /// # Errors
    ///
    /// The provider's status.
    pub fn local_address(&self) -> Result<Address, NTSTATUS> {
        query_address(self.raw, self.dispatch().NdkGetLocalAddress)
    }

    /// `NdkGetPeerAddress`.
    ///
    /// # Errors
    ///
    /// The provider's status.
    pub fn peer_address(&self) -> Result<Address, NTSTATUS> {
        query_address(self.raw, self.dispatch().NdkGetPeerAddress)
    }

    /// `NdkGetLocalAddress` (`peer`: `NdkGetPeerAddress`) with a raw buffer and length.
    #[must_use]
    pub fn address_raw(
        &self,
        peer: bool,
        buffer: Option<&mut [u8]>,
        length: Option<&mut u32>,
    ) -> NTSTATUS {
        let slot: NDK_FN_GET_LOCAL_ADDRESS = if peer {
            self.dispatch().NdkGetPeerAddress
        } else {
            self.dispatch().NdkGetLocalAddress
        };
        query_address_raw(self.raw, slot, buffer, length)
    }

    /// `NdkCloseConnector`. Disconnect-event recorders live until the completion.
    pub fn close(self) -> Closed {
        let kept: Vec<Keep> =
            core::mem::take(&mut *self.keep.lock().unwrap_or_else(PoisonError::into_inner));
        events::close(
            self.raw.cast(),
            self.dispatch().NdkCloseConnector,
            Some(Arc::new(kept)),
        )
    }
}
