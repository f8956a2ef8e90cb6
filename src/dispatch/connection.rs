//! The connection manager at the ABI: the adapter's three CM creates, the shared-endpoint table,
//! and what the connector and listener tables ([`super::connector`], [`super::listener`]) share —
//! reading consumer `SOCKADDR`s and private data, answering address queries, the handle
//! impls of the three CM objects.
//!
//! Validation before anything is created or changed: NULL where the header does not allow it
//! (`STATUS_INVALID_PARAMETER`), `SOCKADDR` family and length (`STATUS_INVALID_ADDRESS` for a
//! family other than `AF_INET`/`AF_INET6`, `STATUS_INVALID_PARAMETER` for a buffer shorter than
//! its family's structure), private data longer than the adapter allows
//! (`STATUS_INVALID_BUFFER_SIZE`, before the buffer is read), objects of another adapter
//! (`STATUS_INVALID_PARAMETER`). Address queries answer `STATUS_BUFFER_TOO_SMALL` with the
//! required size for a NULL or short buffer.
//!
//! Must never: keep a consumer pointer beyond the call (addresses and private data are copied),
//! read more than the consumer said it passed, or call a consumer callback itself (the CM core
//! delivers through deferred work).
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr;

use crate::abi::upcall::{CloseCompletion, ConnectEvent, Context};
use crate::abi::{
    NDK_ADAPTER, NDK_CONNECTOR, NDK_FN_CONNECT_EVENT_CALLBACK, NDK_FN_CREATE_COMPLETION,
    NDK_LISTENER, NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH, NTSTATUS, SOCKADDR,
    SOCKADDR_IN6_SIZE, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use crate::cm::ndk::{
    NdkConnector, NdkConnectorShell, NdkEndpointShell, NdkListener, NdkListenerShell,
    NdkSharedEndpoint,
};
use crate::cm::{Connector, Listener, MAX_PRIVATE_DATA, SharedEndpoint};
use crate::fabric::Address;
use crate::lifetime::{AlreadyClosing, Base, Closed};
use crate::verbs::Adapter;

use super::create::{answer_on_adapter, creating};
use super::handle::{Embedded, Handle, borrow};
use super::misuse;
use super::{close_object, query_extension, read_size};

pub use super::connector::CONNECTOR_TABLE;
pub use super::listener::LISTENER_TABLE;

impl Embedded for NdkConnector {
    type Ndk = NDK_CONNECTOR;
}

impl Handle for NdkConnector {
    fn close_object(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing> {
        Self::close(base, |c| c.shell().store_close(completion))
    }
    fn watch(&self) -> Option<misuse::Watch<'_>> {
        Some(misuse::watch(self))
    }
}

impl Embedded for NdkListener {
    type Ndk = NDK_LISTENER;
}

impl Handle for NdkListener {
    fn close_object(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing> {
        Self::close(base, |c| c.shell().store_close(completion))
    }
    fn watch(&self) -> Option<misuse::Watch<'_>> {
        Some(misuse::watch(self))
    }
}

impl Embedded for NdkSharedEndpoint {
    type Ndk = NDK_SHARED_ENDPOINT;
}

impl Handle for NdkSharedEndpoint {
    fn close_object(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing> {
        Self::close(base, |c| c.shell().store_close(completion))
    }
    fn watch(&self) -> Option<misuse::Watch<'_>> {
        Some(misuse::watch(self))
    }
}

/// Evaluates a `Result<T, NTSTATUS>`, returning the status from the entry point on failure.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(status) => return status,
        }
    };
}
pub(super) use tri;

/// The status of a call that finishes inline.
pub(super) const fn inline(r: Result<(), NTSTATUS>) -> NTSTATUS {
    match r {
        Ok(()) => STATUS_SUCCESS,
        Err(s) => s,
    }
}

/// The status of a call that pends on success (its completion comes later, deferred).
pub(super) const fn pending(r: Result<(), NTSTATUS>) -> NTSTATUS {
    match r {
        Ok(()) => crate::abi::STATUS_PENDING,
        Err(s) => s,
    }
}

/// Parses a consumer `SOCKADDR` of `length` bytes. Reads at most the size of a `SOCKADDR_IN6`
/// (the largest family SoftNDK accepts), and never more than `length`.
///
/// # Errors
///
/// `STATUS_INVALID_PARAMETER` for NULL or a short buffer, `STATUS_INVALID_ADDRESS` for an
/// unsupported family.
///
/// # Safety
///
/// `address` is NULL or readable for `length` bytes (consumer contract).
pub(super) unsafe fn read_address(
    address: *const SOCKADDR,
    length: u32,
) -> Result<Address, NTSTATUS> {
    if address.is_null() {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let mut bytes = [0_u8; SOCKADDR_IN6_SIZE as usize];
    let n = (length as usize).min(bytes.len());
    // SAFETY: `address` is non-null and readable for `length` ≥ `n` bytes; the destination is a
    // local of `n` or more bytes; a byte copy has no alignment requirement.
    unsafe { ptr::copy_nonoverlapping(address.cast::<u8>(), bytes.as_mut_ptr(), n) };
    Address::from_sockaddr(&bytes[..n])
}

/// Copies the consumer's private data (`length` 0: none, the pointer is ignored).
///
/// # Errors
///
/// `STATUS_INVALID_PARAMETER` for NULL with a non-zero length; `STATUS_INVALID_BUFFER_SIZE`
/// for more than any adapter allows ([`MAX_PRIVATE_DATA`]; the CM checks the adapter's own
/// `MaxCallerData`/`MaxCalleeData`), before anything is read.
///
/// # Safety
///
/// `data` is NULL or readable for `length` bytes.
pub(super) unsafe fn read_private_data(
    data: *const c_void,
    length: u32,
    buf: &mut [u8; MAX_PRIVATE_DATA],
) -> Result<&[u8], NTSTATUS> {
    let n = length as usize;
    if n == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if n > MAX_PRIVATE_DATA {
        return Err(STATUS_INVALID_BUFFER_SIZE);
    }
    // SAFETY: `data` is non-null and readable for `n` bytes (contract); `buf` holds
    // `MAX_PRIVATE_DATA` ≥ `n` bytes; byte copy.
    unsafe { ptr::copy_nonoverlapping(data.cast::<u8>(), buf.as_mut_ptr(), n) };
    Ok(&buf[..n])
}

/// Answers a `Get*Address` call: `address` (or `missing` when there is none yet) written as a
/// `SOCKADDR_IN`/`SOCKADDR_IN6`. NULL `pAddressLength`: `STATUS_INVALID_PARAMETER`; NULL
/// `pAddress` or a buffer shorter than the structure: `STATUS_BUFFER_TOO_SMALL` with the
/// required size in `*pAddressLength`; success stores the bytes written.
///
/// # Safety
///
/// `out` is NULL or writable for `*length` bytes; `length` is NULL or a readable and writable
/// `ULONG`.
pub(super) unsafe fn answer_address(
    address: Option<Address>,
    missing: NTSTATUS,
    out: *mut SOCKADDR,
    length: *mut u32,
) -> NTSTATUS {
    // SAFETY: per the contract.
    let Some(have) = (unsafe { read_size(length) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let Some(address) = address else {
        return missing;
    };
    let need = address.sockaddr_len();
    if out.is_null() || have < need {
        // SAFETY: `length` is non-null (read above) and writable.
        unsafe { length.write_unaligned(need) };
        return STATUS_BUFFER_TOO_SMALL;
    }
    let mut bytes = [0_u8; SOCKADDR_IN6_SIZE as usize];
    let written = match address.write_sockaddr(&mut bytes) {
        Ok(n) => n,
        Err(status) => return status,
    };
    // SAFETY: `out` is non-null and writable for `have` ≥ `need` ≥ `written` bytes; byte copy
    // from a local.
    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), written as usize) };
    // SAFETY: as above.
    unsafe { length.write_unaligned(written) };
    STATUS_SUCCESS
}

/// `NdkCreateConnector` (adapter table). Mandatory: adapter, `CreateCompletion`,
/// `ppNdkConnector`. Completes inline, or pends ([`super::create`]).
pub(super) unsafe extern "system" fn create_connector(
    adapter: *mut NDK_ADAPTER,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_CONNECTOR,
) -> NTSTATUS {
    // SAFETY: NDK contract for the adapter pointer.
    let Some((adapter, completion)) = (unsafe { creating::<Adapter, _>(adapter, completion, out) })
    else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe {
        answer_on_adapter(&adapter, completion, context, out, move |owner| {
            let link = owner.link()?;
            let shell =
                NdkConnectorShell::new(owner.version(), owner.tables().connector, owner.misuse());
            Connector::new(owner.cm().fabric(), link, shell)
        })
    }
}

/// `NdkCreateListener` (adapter table). Mandatory: adapter, `ConnectEvent`,
/// `CreateCompletion`, `ppNdkListener`. Completes inline, or pends ([`super::create`]).
pub(super) unsafe extern "system" fn create_listener(
    adapter: *mut NDK_ADAPTER,
    event: Option<NDK_FN_CONNECT_EVENT_CALLBACK>,
    event_context: *mut c_void,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_LISTENER,
) -> NTSTATUS {
    // SAFETY: NDK contract for the adapter pointer.
    let (Some((adapter, completion)), Some(event)) = (
        unsafe { creating::<Adapter, _>(adapter, completion, out) },
        event,
    ) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the consumer's connect event, callable with its context until the listener's
    // close completes (NdkCreateListener contract); the CM calls it only before then.
    let event = unsafe { ConnectEvent::new(event, Context::new(event_context)) };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe {
        answer_on_adapter(&adapter, completion, context, out, move |owner| {
            let link = owner.link()?;
            let tables = owner.tables();
            let shell = NdkListenerShell::new(
                owner.version(),
                tables.listener,
                tables.connector,
                event,
                owner.misuse(),
            );
            Listener::new(owner.cm().fabric(), link, shell)
        })
    }
}

/// `NdkCreateSharedEndpoint` (adapter table). Mandatory: adapter, `pAddress`,
/// `CreateCompletion`, `ppNdkSharedEndpoint`. The address is reserved (port 0: an ephemeral
/// port) when the object is built: before the call returns inline, or before a pending
/// create's completion ([`super::create`]). The address is copied before the call returns.
pub(super) unsafe extern "system" fn create_shared_endpoint(
    adapter: *mut NDK_ADAPTER,
    address: *const SOCKADDR,
    length: u32,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_SHARED_ENDPOINT,
) -> NTSTATUS {
    // SAFETY: NDK contract for the adapter pointer.
    let Some((adapter, completion)) = (unsafe { creating::<Adapter, _>(adapter, completion, out) })
    else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `address` is NULL or readable for `length` bytes (contract).
    let address = match unsafe { read_address(address, length) } {
        Ok(a) => a,
        Err(status) => return status,
    };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe {
        answer_on_adapter(&adapter, completion, context, out, move |owner| {
            let link = owner.link()?;
            let shell = NdkEndpointShell::new(
                owner.version(),
                owner.tables().shared_endpoint,
                owner.misuse(),
            );
            SharedEndpoint::new(owner.cm().fabric(), link, shell, address)
        })
    }
}

/// `NdkGetLocalAddress` of a shared endpoint: the bound address with the chosen port.
unsafe extern "system" fn endpoint_local_address(
    endpoint: *mut NDK_SHARED_ENDPOINT,
    address: *mut SOCKADDR,
    length: *mut u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the endpoint pointer.
    let Some(endpoint) = (unsafe { borrow::<NdkSharedEndpoint>(endpoint) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `address`/`length` as the consumer passed them (contract of the slot).
    unsafe {
        answer_address(
            Some(endpoint.local_address()),
            STATUS_INVALID_PARAMETER,
            address,
            length,
        )
    }
}

/// `NDK_SHARED_ENDPOINT_DISPATCH`.
pub static SHARED_ENDPOINT_TABLE: NDK_SHARED_ENDPOINT_DISPATCH = NDK_SHARED_ENDPOINT_DISPATCH {
    NdkCloseSharedEndpoint: close_object::<NdkSharedEndpoint>,
    NdkQueryExtension: query_extension,
    NdkGetLocalAddress: endpoint_local_address,
};
