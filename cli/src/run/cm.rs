//! How `softndk run` makes connections: the NDK connection manager through the consumer
//! wrapper (`NdkListen`, `NdkConnect`, `NdkAccept`, `NdkCompleteConnect`).
//!
//! Owns the addresses, one listener per connection slot on the server adapter, and the
//! establishment of one connection: an active connector on the client adapter and the passive
//! one the listener hands up. The connectors belong to the [`End`](super::ndk::End)s, which
//! close them first in every teardown. Each slot has its own listener (its own port) so that a
//! slot can only ever accept its own connection attempt. Every wait here runs on a slot thread
//! at PASSIVE, never at DISPATCH.

use std::sync::Arc;
use std::time::Instant;

use softndk::abi::{NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};
use softndk::consumer::{Adapter, ConnectEvents, Connector, Listener, Qp, Request};
use softndk::fabric::{Address, IpAddr};

use super::ndk::{Closing, finish_closes};
use super::stats::Ledger;
use super::wire::Fault;

/// The client adapter's IPv4 address (adapter 0).
pub const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
/// The server adapter's IPv4 address (adapter 1).
pub const SERVER_IP: [u8; 4] = [10, 0, 0, 2];

/// The address of adapter `n` of the run's fabric.
#[must_use]
pub const fn ip_of(n: u32) -> IpAddr {
    IpAddr::V4(if n == 0 { CLIENT_IP } else { SERVER_IP })
}
/// Port of slot 0's listener; slot `n` listens on `PORT_BASE + n`.
const PORT_BASE: u16 = 5445;

/// Longest wait for a connect event or a request completion.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// A slot's listener on the server adapter.
pub struct Listening {
    listener: Listener,
    events: Arc<ConnectEvents>,
    address: Address,
}

impl core::fmt::Debug for Listening {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Listening")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Listening {
    /// `NdkCreateListener` + `NdkListen` on `adapter` at the slot's port.
    ///
    /// # Errors
    ///
    /// The create or the listen was refused (the listener is closed again).
    pub fn open(adapter: &Adapter, ledger: &Ledger, slot: u16) -> Result<Self, Fault> {
        let events = ConnectEvents::new();
        let listener = Listener::create(adapter, &events)
            .map_err(|s| Fault(format!("NdkCreateListener failed: {s:?}")))?;
        ledger.created("listener");
        let address = Address::v4(SERVER_IP, PORT_BASE.saturating_add(slot));
        let status = listener.listen(&address);
        let listening = Self {
            listener,
            events,
            address,
        };
        if status == STATUS_SUCCESS {
            Ok(listening)
        } else {
            listening.close(ledger)?;
            Err(Fault(format!("NdkListen refused: {status:?}")))
        }
    }

    /// Closes the listener and waits for its close.
    ///
    /// # Errors
    ///
    /// The close was refused or did not finish.
    pub fn close(self, ledger: &Ledger) -> Result<(), Fault> {
        let closing = vec![Closing {
            kind: "listener",
            closed: self.listener.close(),
            at: Instant::now(),
        }];
        finish_closes(closing, ledger, PATIENCE)
    }
}

/// One end's part in establishment: its QP and where its connector goes.
pub struct Side<'a> {
    /// The end's QP.
    pub qp: &'a Qp,
    /// The end's connector slot, filled as soon as the connector exists (so a failure later
    /// still closes it).
    pub connector: &'a mut Option<Connector>,
}

/// Connects `client` (on `adapter`) to `listening`'s slot and accepts with `server`:
/// `NdkCreateConnector`, `NdkConnect`, the connect event, `NdkAccept`, `NdkCompleteConnect`,
/// waiting for each completion. `read_limit` is both sides' IRD and ORD.
///
/// # Errors
///
/// A call was refused, a completion failed, or nothing arrived within the patience.
pub fn establish(
    adapter: &Adapter,
    listening: &Listening,
    ledger: &Ledger,
    client: Side<'_>,
    server: Side<'_>,
    read_limit: u32,
) -> Result<(), Fault> {
    let active = Connector::create(adapter)
        .map_err(|s| Fault(format!("NdkCreateConnector failed: {s:?}")))?;
    ledger.created("connector");
    let Side {
        qp: client_qp,
        connector: client_connector,
    } = client;
    let Side {
        qp: server_qp,
        connector: server_connector,
    } = server;
    let active = client_connector.insert(active);
    let src = Address::v4(CLIENT_IP, 0);
    let connect = Request::new();
    let status = active.connect(
        client_qp,
        &src,
        &listening.address,
        read_limit,
        read_limit,
        b"softndk",
        &connect,
    );
    let connecting = started(status, "NdkConnect")?;
    let passive = listening
        .events
        .wait_take(PATIENCE)
        .ok_or_else(|| Fault("no connect event arrived".into()))?;
    ledger.created("connector");
    let passive = server_connector.insert(passive);
    let accept = Request::new();
    let status = passive.accept(server_qp, read_limit, read_limit, b"ok", None, &accept);
    let accepting = started(status, "NdkAccept")?;
    if connecting {
        finished(&connect, "NdkConnect")?;
    }
    let status = active.complete_connect(None);
    if status != STATUS_SUCCESS {
        return Err(Fault(format!("NdkCompleteConnect refused: {status:?}")));
    }
    if accepting {
        finished(&accept, "NdkAccept")?;
    }
    Ok(())
}

/// Whether a request call pended (its completion is still to come); an error if it failed.
fn started(status: NTSTATUS, what: &str) -> Result<bool, Fault> {
    if status == STATUS_PENDING {
        Ok(true)
    } else if status == STATUS_SUCCESS {
        Ok(false)
    } else {
        Err(Fault(format!("{what} refused: {status:?}")))
    }
}

/// Waits for a pended request's completion; an error unless it succeeded.
fn finished(request: &Request, what: &str) -> Result<(), Fault> {
    match request.wait(PATIENCE) {
        Some(s) if s == STATUS_SUCCESS => Ok(()),
        Some(s) => Err(Fault(format!("{what} failed: {s:?}"))),
        None => Err(Fault(format!("{what} did not complete"))),
    }
}
