//! The blocking close of the adapter (`CloseNDKAdapterHandler`, `PASSIVE_LEVEL`): close, then wait
//! on an event the adapter's finaliser signals.
//!
//! Owns the only waiting in the engine, and it happens here, in the closer, never in `end` or
//! `finalize`. The engine stays OS-independent: the platform provides the [`Event`] (a kernel
//! notification `KEVENT`, a host condition variable).
#![deny(unsafe_code)]

use super::node::{Farewell, Tracked};
use super::unit::{Base, Closed, Closing};
use super::word::AlreadyClosing;
use crate::sync::Arc;

/// A one-shot notification event: initially not signalled; once signalled it stays signalled.
pub trait Event: Send + Sync {
    /// Signals the event, releasing current and future waiters. Never blocks; callable at
    /// `DISPATCH_LEVEL`.
    fn signal(&self);
    /// Blocks the calling thread until the event is signalled. `PASSIVE_LEVEL` only.
    fn wait(&self);
}

/// A farewell that signals an event: the "close completion" of an object closed by a blocking
/// close (the adapter). Return it from the adapter's [`Tracked::finalize`].
#[derive(Debug)]
pub struct Signal<E: Event>(pub Arc<E>);

impl<E: Event> Farewell for Signal<E> {
    fn complete(self) {
        self.0.signal();
    }
}

/// Closes `base` and blocks until it is finalised: every successor closed with its close
/// completion returned, every callback returned.
///
/// `event` must be the event that `T`'s farewell signals (a [`Signal`] of the same `Arc`), fresh
/// (never signalled before). Waits by blocking on the event, never by polling. Call at
/// `PASSIVE_LEVEL`, never from inside a consumer callback.
///
/// # Errors
///
/// [`AlreadyClosing`] if the object was already closing; nothing is waited for.
///
/// # Example
///
/// See `tests/lifetime_adapter.rs` for an adapter whose children close on other threads.
pub fn close_and_wait<T: Tracked, E: Event>(
    base: Base<T>,
    event: &E,
    stage: impl FnOnce(&Closing<'_, T>),
) -> Result<(), AlreadyClosing> {
    match base.close(stage)? {
        Closed::Finished => {}
        Closed::Pending => event.wait(),
    }
    Ok(())
}
