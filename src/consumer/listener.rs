//! The consumer's listener (`NdkCreateListener` and its 5 slots) and shared endpoint
//! (`NdkCreateSharedEndpoint` and its 3 slots).

use std::sync::Arc;

use super::Adapter;
use super::cm_events::{ConnectEvents, Request, connect_event};
use super::connector::{query_address, query_address_raw, sockaddr};
use super::events::{self, Closed};
use crate::abi::{
    NDK_LISTENER, NDK_LISTENER_DISPATCH, NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH,
    NTSTATUS, STATUS_PENDING,
};
use crate::fabric::Address;

/// A listener.
#[derive(Debug)]
pub struct Listener {
    raw: *mut NDK_LISTENER,
    events: Arc<ConnectEvents>,
}

// SAFETY: NDK objects may be used from any thread; the pointer is only passed back.
unsafe impl Send for Listener {}
// SAFETY: as above.
unsafe impl Sync for Listener {}

impl Listener {
    /// `NdkCreateListener` with `events` as the connect-event context (kept until the close
    /// completion).
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create(adapter: &Adapter, events: &Arc<ConnectEvents>) -> Result<Self, NTSTATUS> {
        let (status, out) = super::pending::issue(
            adapter.platform(),
            |done, done_context, out: *mut *mut NDK_LISTENER| {
                // SAFETY: live adapter; the event and its context stay valid until the listener's
                // close completes (held by the `Listener`, then by its close signal); writable out.
                unsafe {
                    (adapter.dispatch().NdkCreateListener)(
                        adapter.raw(),
                        Some(connect_event),
                        Arc::as_ptr(events).cast_mut().cast(),
                        Some(done),
                        done_context,
                        out,
                    )
                }
            },
        );
        super::succeeded(status).map(|()| Self {
            raw: out,
            events: Arc::clone(events),
        })
    }

    object_accessors!(NDK_LISTENER, NDK_LISTENER_DISPATCH);

    /// `NdkListen` on `address`.
    #[must_use]
    pub fn listen(&self, address: &Address) -> NTSTATUS {
        let (bytes, length) = sockaddr(address);
        self.listen_raw(&bytes[..length as usize])
    }

    /// `NdkListen` with raw `SOCKADDR` bytes (their length is the slice's).
    #[must_use]
    pub fn listen_raw(&self, address: &[u8]) -> NTSTATUS {
        let request = Request::new();
        let context = request.issue();
        // SAFETY: live listener; an address buffer of the stated length; a valid completion.
        let status = unsafe {
            (self.dispatch().NdkListen)(
                self.raw,
                address.as_ptr().cast(),
                u32::try_from(address.len()).unwrap_or(u32::MAX),
                Some(super::cm_events::request_done),
                context,
            )
        };
        if status != STATUS_PENDING {
            // SAFETY: not pended: the completion will never run.
            unsafe { Request::unissue(context) };
        }
        status
    }

    /// `NdkGetLocalAddress`.
    ///
    /// # Errors
    ///
    /// The provider's status.
    pub fn local_address(&self) -> Result<Address, NTSTATUS> {
        query_address(self.raw, self.dispatch().NdkGetLocalAddress)
    }

    /// `NdkGetLocalAddress` with a raw buffer and length.
    #[must_use]
    pub fn local_address_raw(
        &self,
        buffer: Option<&mut [u8]>,
        length: Option<&mut u32>,
    ) -> NTSTATUS {
        query_address_raw(self.raw, self.dispatch().NdkGetLocalAddress, buffer, length)
    }

    /// `NdkControlConnectEvents(TRUE)`.
    pub fn pause(&self) {
        // SAFETY: live listener.
        unsafe { (self.dispatch().NdkControlConnectEvents)(self.raw, 1) };
    }

    /// `NdkControlConnectEvents(FALSE)`.
    pub fn resume(&self) {
        // SAFETY: live listener.
        unsafe { (self.dispatch().NdkControlConnectEvents)(self.raw, 0) };
    }

    /// The connect events recorded so far (and the connectors not yet taken).
    #[must_use]
    pub const fn events(&self) -> &Arc<ConnectEvents> {
        &self.events
    }

    /// `NdkCloseListener`. The connect-event context lives until the completion.
    pub fn close(self) -> Closed {
        events::close(
            self.raw.cast(),
            self.dispatch().NdkCloseListener,
            Some(self.events),
        )
    }
}

/// A shared endpoint.
#[derive(Debug)]
pub struct SharedEndpoint {
    raw: *mut NDK_SHARED_ENDPOINT,
}

// SAFETY: NDK objects may be used from any thread.
unsafe impl Send for SharedEndpoint {}
// SAFETY: as above.
unsafe impl Sync for SharedEndpoint {}

impl SharedEndpoint {
    /// `NdkCreateSharedEndpoint` on `address` (port 0: ephemeral).
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create(adapter: &Adapter, address: &Address) -> Result<Self, NTSTATUS> {
        let (bytes, length) = sockaddr(address);
        Self::create_raw(adapter, &bytes[..length as usize])
    }

    /// `NdkCreateSharedEndpoint` with raw `SOCKADDR` bytes.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_raw(adapter: &Adapter, address: &[u8]) -> Result<Self, NTSTATUS> {
        let (status, out) = super::pending::issue(
            adapter.platform(),
            |done, done_context, out: *mut *mut NDK_SHARED_ENDPOINT| {
                // SAFETY: live adapter; an address buffer of the stated length; valid completion and
                // out pointer.
                unsafe {
                    (adapter.dispatch().NdkCreateSharedEndpoint)(
                        adapter.raw(),
                        address.as_ptr().cast(),
                        u32::try_from(address.len()).unwrap_or(u32::MAX),
                        Some(done),
                        done_context,
                        out,
                    )
                }
            },
        );
        super::succeeded(status).map(|()| Self { raw: out })
    }

    object_accessors!(NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH);

    /// `NdkGetLocalAddress`.
    ///
    /// # Errors
    ///
    /// The provider's status.
    pub fn local_address(&self) -> Result<Address, NTSTATUS> {
        query_address(self.raw, self.dispatch().NdkGetLocalAddress)
    }

    /// `NdkGetLocalAddress` with a raw buffer and length.
    #[must_use]
    pub fn local_address_raw(
        &self,
        buffer: Option<&mut [u8]>,
        length: Option<&mut u32>,
    ) -> NTSTATUS {
        query_address_raw(self.raw, self.dispatch().NdkGetLocalAddress, buffer, length)
    }

    /// `NdkCloseSharedEndpoint`.
    pub fn close(self) -> Closed {
        events::close(
            self.raw.cast(),
            self.dispatch().NdkCloseSharedEndpoint,
            None,
        )
    }
}
