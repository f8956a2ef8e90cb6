//! Consumer callbacks as values the provider core can store and call without `unsafe`, and the
//! cell that holds a consumer-visible NDK object inside a provider object.
//!
//! This is the one sanctioned way a raw consumer function pointer becomes callable. The
//! `dispatch` layer receives `Option<NDK_FN_...>` plus a context from the consumer, checks it
//! for NULL, and constructs an upcall with an `unsafe` constructor whose contract is the NDK
//! rule that the consumer's callback and context stay valid until the provider has invoked it
//! (or, for event callbacks, until the owning object's close completes). From then on `call` is
//! safe: the invariant was established once, at the boundary.
//!
//! Upcalls never run provider code: they only call into the consumer. The provider core decides
//! *when* (never with a provider lock held, never above `DISPATCH_LEVEL`, each exactly as often
//! as `spec/ndkpi.md` §3 allows); this module only makes the call expressible in safe code.
//!
//! Contexts are opaque: the provider stores and returns them and never dereferences them.

use core::cell::UnsafeCell;
use core::ffi::c_void;

use super::callbacks::{
    NDK_FN_CLOSE_COMPLETION, NDK_FN_CONNECT_EVENT_CALLBACK, NDK_FN_CQ_NOTIFICATION_CALLBACK,
    NDK_FN_CREATE_COMPLETION, NDK_FN_DISCONNECT_EVENT_CALLBACK,
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, NDK_FN_REQUEST_COMPLETION,
    NDK_FN_SRQ_NOTIFICATION_CALLBACK,
};
use super::object::{NDK_CONNECTOR, NDK_OBJECT_HEADER};
use super::status::NTSTATUS;

/// A consumer context pointer, carried but never dereferenced by the provider.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Context(*mut c_void);

impl Context {
    /// The null context.
    pub const NULL: Self = Self(core::ptr::null_mut());

    /// Wraps a context exactly as the consumer passed it.
    #[must_use]
    pub const fn new(raw: *mut c_void) -> Self {
        Self(raw)
    }

    /// The raw pointer, for handing back to the consumer.
    #[must_use]
    pub const fn as_raw(self) -> *mut c_void {
        self.0
    }

    /// The context as an integer, for tests and diagnostics (never used as an address).
    #[must_use]
    pub fn addr(self) -> usize {
        self.0.addr()
    }
}

// SAFETY: a context is an opaque value the provider never dereferences; the NDK contract lets
// the provider pass it back to the consumer from any thread at or below DISPATCH_LEVEL.
unsafe impl Send for Context {}
// SAFETY: as above; sharing a copy of an opaque pointer value reads nothing through it.
unsafe impl Sync for Context {}

/// Defines one upcall type: a non-null consumer function pointer plus its context.
macro_rules! upcall {
    (
        $(#[$doc:meta])*
        $name:ident, $fnty:ty, ( $($arg:ident : $argty:ty),* )
    ) => {
        $(#[$doc])*
        ///
        /// # Invariants
        ///
        /// `func` is a consumer function with the NDK signature of this callback that may be
        /// called with `context` at or below `DISPATCH_LEVEL` for as long as this value exists
        /// (established by [`Self::new`]'s caller).
        #[derive(Clone, Copy)]
        pub struct $name {
            func: $fnty,
            context: Context,
        }

        impl $name {
            /// Wraps a consumer callback and its context.
            ///
            /// # Safety
            ///
            /// `func` must be the consumer's callback of this kind, callable with `context` at
            /// or below `DISPATCH_LEVEL` until the provider has made every call the NDK contract
            /// allows for it (the consumer's obligation in `spec/ndkpi.md` §3 and §5).
            #[must_use]
            pub const unsafe fn new(func: $fnty, context: Context) -> Self {
                Self { func, context }
            }

            /// The context this callback will be called with.
            #[must_use]
            pub const fn context(&self) -> Context {
                self.context
            }

            /// Calls the consumer.
            // Pointer arguments (a new object's address) are handed to the consumer, never
            // dereferenced here.
            #[allow(clippy::not_unsafe_ptr_arg_deref)]
            pub fn call(self, $($arg: $argty),*) {
                // SAFETY: the type invariant says `func` may be called with `context` now; the
                // caller (provider core) upholds the IRQL and no-lock-held rules.
                unsafe { (self.func)(self.context.as_raw() $(, $arg)*) }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("func", &(self.func as *const ()))
                    .field("context", &self.context)
                    .finish()
            }
        }

        // SAFETY: NDK callbacks may be invoked from any thread at or below DISPATCH_LEVEL
        // (spec §5.9); the context is opaque (see `Context`).
        unsafe impl Send for $name {}
        // SAFETY: calling requires only a copy of the two words; nothing is shared mutably.
        unsafe impl Sync for $name {}
    };
}

upcall!(
    /// `NDK_FN_CLOSE_COMPLETION` with its context: the end of a pending close.
    CloseCompletion, NDK_FN_CLOSE_COMPLETION, ()
);
upcall!(
    /// `NDK_FN_REQUEST_COMPLETION` with its context: the end of a pending request.
    RequestCompletion, NDK_FN_REQUEST_COMPLETION, (status: NTSTATUS)
);
upcall!(
    /// `NDK_FN_CREATE_COMPLETION` with its context: the end of a pending create.
    CreateCompletion, NDK_FN_CREATE_COMPLETION, (status: NTSTATUS, object: *mut NDK_OBJECT_HEADER)
);
upcall!(
    /// `NDK_FN_CQ_NOTIFICATION_CALLBACK` with its context: one CQ notification per arm.
    CqNotification, NDK_FN_CQ_NOTIFICATION_CALLBACK, (status: NTSTATUS)
);
upcall!(
    /// `NDK_FN_SRQ_NOTIFICATION_CALLBACK` with its context: SRQ low-water or error event.
    SrqNotification, NDK_FN_SRQ_NOTIFICATION_CALLBACK, (status: NTSTATUS)
);
upcall!(
    /// `NDK_FN_CONNECT_EVENT_CALLBACK` with its context: an incoming connection on a listener.
    ConnectEvent, NDK_FN_CONNECT_EVENT_CALLBACK, (connector: *mut NDK_CONNECTOR)
);
upcall!(
    /// `NDK_FN_DISCONNECT_EVENT_CALLBACK` with its context: the peer disconnected.
    DisconnectEvent, NDK_FN_DISCONNECT_EVENT_CALLBACK, ()
);
upcall!(
    /// `NDK_FN_DISCONNECT_EVENT_CALLBACK_EX` with its context: the peer disconnected (NDK 2.1,
    /// with a provider reason code).
    DisconnectEventEx, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, (reason: u32)
);

/// Either flavour of disconnect event, as negotiated by `NdkCompleteConnect(Ex)`/`NdkAccept(Ex)`.
#[derive(Clone, Copy, Debug)]
pub enum Disconnect {
    /// The NDK 1.x callback.
    Plain(DisconnectEvent),
    /// The NDK 2.1 callback with a reason.
    Ex(DisconnectEventEx),
}

impl Disconnect {
    /// Delivers the event; `reason` is passed only to the `_EX` flavour.
    pub fn call(self, reason: u32) {
        match self {
            Self::Plain(event) => event.call(),
            Self::Ex(event) => event.call(reason),
        }
    }
}

/// The consumer-visible `NDK_xxx` struct embedded at offset 0 of a provider object.
///
/// The consumer owns parts of it (`NdkReserved`, and it may overwrite `Dispatch`), so it is
/// interior-mutable memory the provider writes once, before publication, and never reads back
/// while the object is open (provider-verifier mode poisons it after close).
#[repr(transparent)]
pub struct NdkCell<T>(UnsafeCell<T>);

impl<T> NdkCell<T> {
    /// A cell holding the fully initialised NDK struct (header + dispatch pointer).
    #[must_use]
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// The address handed to the consumer (`NDK_xxx*`).
    #[must_use]
    pub const fn as_ptr(&self) -> *mut T {
        self.0.get()
    }
}

// SAFETY: while the object is open the provider never reads or writes the contents after
// construction (it only takes the address); those accesses are the consumer's, which the NDK
// contract serialises with the object's lifetime. The one later provider write — poisoning a
// closed object's header in provider-verifier mode (`dispatch::misuse`) — happens after the
// consumer gave the object up and uses atomic accesses, as do the reads that detect it. So
// sharing `&NdkCell<T>` across threads performs no unsynchronised access in Rust code.
unsafe impl<T> Sync for NdkCell<T> {}
// SAFETY: as above; moving the cell moves plain data (the NDK struct holds only a header and a
// pointer to a `'static` dispatch table, both valid from any thread).
#[allow(clippy::non_send_fields_in_send_ty)]
unsafe impl<T> Send for NdkCell<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicUsize, Ordering};

    static CLOSES: AtomicUsize = AtomicUsize::new(0);
    static LAST_STATUS: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "system" fn on_close(context: *mut c_void) {
        CLOSES.fetch_add(context.addr(), Ordering::SeqCst);
    }

    unsafe extern "system" fn on_request(context: *mut c_void, status: NTSTATUS) {
        LAST_STATUS.store(context.addr() ^ status.as_u32() as usize, Ordering::SeqCst);
    }

    #[test]
    fn upcalls_pass_context_and_arguments_through() {
        let ctx = Context::new(core::ptr::without_provenance_mut(7));
        // SAFETY: `on_close` is a valid close completion for any context.
        let close = unsafe { CloseCompletion::new(on_close, ctx) };
        close.call();
        close.call();
        assert_eq!(CLOSES.load(Ordering::SeqCst), 14);
        assert_eq!(close.context(), ctx);

        // SAFETY: `on_request` is a valid request completion for any context.
        let request = unsafe {
            RequestCompletion::new(
                on_request,
                Context::new(core::ptr::without_provenance_mut(0x10)),
            )
        };
        request.call(super::super::status::STATUS_CANCELLED);
        assert_eq!(
            LAST_STATUS.load(Ordering::SeqCst),
            0x10 ^ super::super::status::STATUS_CANCELLED.as_u32() as usize
        );
    }

    #[test]
    fn ndk_cell_hands_out_a_stable_address() {
        let cell = NdkCell::new(5_u64);
        assert_eq!(cell.as_ptr(), cell.as_ptr());
        assert!(!cell.as_ptr().is_null());
    }
}
