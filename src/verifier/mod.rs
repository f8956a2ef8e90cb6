//! The consumer-side NDK verifier (issue 7), interposed between any NDK consumer and any NDK
//! provider at the ABI level.
//!
//! It records every call and every callback and flags each broken rule of `spec/ndkpi.md` §3,
//! §5 and §6 (see [`Rule`]).
//!
//! [`Verifier::wrap_adapter`] turns a provider's `NDK_ADAPTER*` into a *shadow* adapter whose
//! dispatch table is the verifier's own. Every object created through a shadow (and every
//! connector a connect event hands up) is shadowed the same way; objects passed as arguments
//! are translated back to the provider's; every consumer callback is wrapped in a trampoline
//! that checks before and records after calling the consumer. Shadows are released only after
//! the real close finished and the consumer's close completion returned.
//!
//! This module owns the shadows, the per-object event history and the rule checker. It must
//! never change what the provider or the consumer observes beyond the substitution of shadows
//! (statuses, arguments and callbacks pass through unchanged, including bad ones), never hold
//! its lock while calling either side, and never panic inside a forwarded call or callback:
//! violations are recorded and surface through [`Verifier::assert_clean`] or when the
//! [`Verifier`] is dropped. It is a host test tool (`std`).
//!
//! `unsafe` is confined to reading a provider object's header and table when it is shadowed
//! (`registry`), calling provider slots (`forward`), wrapping consumer callbacks in
//! `abi::upcall` values, reading the results a provider wrote into a consumer's CQ buffer and
//! writing a shadow into a consumer's create out-pointer.

mod book;
mod forward;
mod record;
mod registry;
mod state;
mod trampoline;

use std::fmt::Write as _;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

pub use record::{CallbackKind, Event, EventKind, ObjectId, ObjectKind, Rule, Stats, Violation};

use crate::abi::NDK_ADAPTER;
use state::Inner;

/// Events kept per object for reports unless [`Verifier::with_history`] says otherwise.
pub const DEFAULT_HISTORY: usize = 32;

/// One verifier: interposes on adapters, records, checks, reports.
///
/// Dropping a verifier that recorded violations nobody took ([`Verifier::take_violations`])
/// panics with the report (unless the thread is already panicking), so a scenario that forgets
/// [`Verifier::assert_clean`] still fails.
#[derive(Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// A verifier keeping [`DEFAULT_HISTORY`] events per object.
    #[must_use]
    pub fn new() -> Self {
        Self::with_history(DEFAULT_HISTORY)
    }

    /// A verifier keeping the last `events` events per object (at least 1).
    #[must_use]
    pub fn with_history(events: usize) -> Self {
        Self {
            inner: Inner::new(events),
        }
    }

    /// Interposes on an opened adapter: returns the shadow adapter the consumer must use
    /// instead of `real`.
    ///
    /// # Safety
    ///
    /// `real` is an `NDK_ADAPTER*` returned by a provider's open, whose `Dispatch` points to a
    /// fully filled `NDK_ADAPTER_DISPATCH`, and it stays open until [`Verifier::close_adapter`]
    /// closes it. Objects created through the shadow are trusted the same way.
    #[must_use]
    pub unsafe fn wrap_adapter(&self, real: *mut NDK_ADAPTER) -> *mut NDK_ADAPTER {
        let id = self.inner.new_adapter();
        // SAFETY: forwarded from this function's contract.
        let node = unsafe { registry::adopt(&self.inner, id, real.cast()) };
        self.inner.adopted(id, node.shadow_ptr().addr());
        node.shadow_ptr().cast()
    }

    /// Closes a shadow adapter: `close` receives the real adapter and must run the provider's
    /// (blocking) `CloseNDKAdapterHandler` on it. When it returns, every object under the
    /// adapter must be closed, every request completed and every callback returned (§5.6).
    ///
    /// An unknown `shadow` is reported as [`Rule::UnknownObject`] only if it was an adapter
    /// this verifier already closed; otherwise `close` is not called.
    pub fn close_adapter(&self, shadow: *mut NDK_ADAPTER, close: impl FnOnce(*mut NDK_ADAPTER)) {
        let node = match registry::lookup(shadow.addr()) {
            registry::Lookup::Live(node) if node.id.kind == ObjectKind::Adapter => node,
            registry::Lookup::Live(node) => {
                node.inner
                    .misuse(node.id, "CloseNDKAdapterHandler", "not an adapter");
                return;
            }
            registry::Lookup::Closed(Some(inner), id) => {
                inner.misuse(id, "CloseNDKAdapterHandler", "adapter already closed");
                return;
            }
            registry::Lookup::Closed(None, _) | registry::Lookup::Unknown => return,
        };
        self.inner.adapter_close(node.id.index);
        close(node.real.get().cast());
        let retired = self.inner.adapter_closed(node.id.index);
        registry::retire(retired);
    }

    /// The real adapter behind a shadow (for provider calls the verifier does not cover, e.g.
    /// NDIS-level queries). `None` for an unknown or closed shadow.
    #[must_use]
    pub fn real_adapter(&self, shadow: *mut NDK_ADAPTER) -> Option<*mut NDK_ADAPTER> {
        registry::live(shadow.addr())
            .filter(|n| n.id.kind == ObjectKind::Adapter)
            .map(|n| n.real.get().cast())
    }

    /// The real object behind a live shadow of kind `O` (for hooks outside the NDK tables that
    /// take provider objects, e.g. SoftNDK's `dispatch::connect_pair` standing in for the
    /// connection manager). `None` for an unknown or closed shadow, or one of another kind.
    #[must_use]
    pub fn real<O: crate::abi::NdkObject>(&self, shadow: *mut O) -> Option<*mut O> {
        registry::live(shadow.addr())
            .filter(|n| object_type(n.id.kind) == O::OBJECT_TYPE)
            .map(|n| n.real.get().cast())
    }

    /// Declares that the consumer has reaped every CQ: each successfully posted request that
    /// is not silently successful and has not come back is a [`Rule::CqResultMissing`].
    pub fn check_drained(&self) {
        self.inner.drained();
    }

    /// Every violation recorded so far (taken or not).
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        self.inner.violations()
    }

    /// The violations recorded since the last call, marking them handled (tests that provoke a
    /// violation on purpose take it, so the drop check stays quiet).
    #[must_use = "taken violations are no longer reported"]
    pub fn take_violations(&self) -> Vec<Violation> {
        self.inner.take_new()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// The recorded history of an object.
    #[must_use]
    pub fn history(&self, object: ObjectId) -> Vec<Event> {
        self.inner.history(object.index)
    }

    /// Objects whose close has not finished (leaks, if the adapter is closed).
    #[must_use]
    pub fn open_objects(&self) -> Vec<ObjectId> {
        self.inner.open_objects()
    }

    /// A readable multi-line report of every violation not yet taken.
    #[must_use]
    pub fn report(&self) -> String {
        report(&self.inner.untaken(), self.stats())
    }

    /// Panics with [`Verifier::report`] if any violation has not been taken; marks them taken.
    ///
    /// # Panics
    ///
    /// When a rule was broken.
    pub fn assert_clean(&self) {
        let pending = self.inner.take_new();
        assert!(pending.is_empty(), "{}", report(&pending, self.stats()));
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let pending = self.inner.take_new();
        assert!(pending.is_empty(), "{}", report(&pending, self.stats()));
    }
}

/// The header type of a kind's objects.
const fn object_type(kind: ObjectKind) -> crate::abi::NDK_OBJECT_TYPE {
    use crate::abi::NDK_OBJECT_TYPE as T;
    match kind {
        ObjectKind::Adapter => T::ADAPTER,
        ObjectKind::Cq => T::CQ,
        ObjectKind::Pd => T::PD,
        ObjectKind::Mr => T::MR,
        ObjectKind::Mw => T::MW,
        ObjectKind::Srq => T::SRQ,
        ObjectKind::Qp => T::QP,
        ObjectKind::SharedEndpoint => T::SHARED_ENDPOINT,
        ObjectKind::Connector => T::CONNECTOR,
        ObjectKind::Listener => T::LISTENER,
    }
}

fn report(violations: &[Violation], stats: Stats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "NDK verifier: {} violation(s) ({} calls, {} callbacks, {} checks)",
        violations.len(),
        stats.calls,
        stats.callbacks,
        stats.checks
    );
    for (i, v) in violations.iter().enumerate() {
        let _ = write!(out, "[{}] {v}", i + 1);
    }
    out
}
