//! Shadow objects and the process-wide maps that lead from what the provider and the consumer
//! hand the verifier (a shadow address, a callback context) back to verifier state.
//!
//! A shadow is a verifier-owned `NDK_xxx` (header + the verifier's dispatch table) standing for
//! one provider object. The consumer sees only shadows; the provider sees only its own objects.
//! Shadows are found by **address** in [`OBJECTS`], never by following a consumer pointer, so a
//! stale or foreign pointer is a reportable event rather than undefined behaviour. A shadow is
//! unregistered (and its memory released once the last in-flight call on it returns) only after
//! the real close completed and the consumer's close completion returned.
//!
//! Callback contexts handed to the provider are integer tokens (`verifier id << 40 | serial`),
//! never addresses: a provider that calls a completion twice, or late, reaches a lookup that
//! fails or finds a tombstone, never freed memory.
//!
//! The only `unsafe` here reads a provider object's header and dispatch table when it is first
//! shadowed ([`adopt`]).

// Each lock here guards one short map operation; clippy's tightening suggestions would only
// split them.
#![allow(clippy::significant_drop_tightening)]

use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering};
use std::boxed::Box;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, Weak};

use super::forward;
use super::record::{ObjectId, ObjectKind};
use super::state::Inner;
use crate::abi::upcall::NdkCell;
use crate::abi::{
    NDK_ADAPTER, NDK_ADAPTER_DISPATCH, NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, NDK_CQ,
    NDK_CQ_DISPATCH, NDK_LISTENER, NDK_LISTENER_DISPATCH, NDK_MR, NDK_MR_DISPATCH, NDK_MW,
    NDK_MW_DISPATCH, NDK_OBJECT_HEADER, NDK_PD, NDK_PD_DISPATCH, NDK_QP, NDK_QP_DISPATCH,
    NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH, NDK_SRQ, NDK_SRQ_DISPATCH,
};

/// Bits of a callback token that hold the per-verifier serial number.
const SERIAL_BITS: u32 = 40;

// Tokens pack a verifier id above a 40-bit serial into a pointer-sized context.
const _: () = assert!(usize::BITS == 64, "the verifier is a 64-bit host tool");

/// A provider object's address: an opaque handle the verifier passes back to the provider and
/// never dereferences after [`adopt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawObj(*mut c_void);

impl RawObj {
    /// The address as the provider handed it out.
    pub const fn get(self) -> *mut c_void {
        self.0
    }
}

// SAFETY: a `RawObj` is an opaque handle; the NDK contract lets any thread at or below DISPATCH
// pass it to the provider's functions. The verifier never reads through it after adoption.
unsafe impl Send for RawObj {}
// SAFETY: as above; sharing a copy of the address reads nothing through it.
unsafe impl Sync for RawObj {}

/// Declares the per-kind shadow storage and real-table enums, and [`adopt`]'s per-kind reads.
macro_rules! kinds {
    ($( $kind:ident: $obj:ident, $table:ident, $vtable:path, $ty:ident; )*) => {
        /// The real provider dispatch table of a shadowed object, copied at adoption.
        #[derive(Clone, Copy, Debug)]
        pub enum RealTable {
            $(
                #[doc = concat!("`", stringify!($table), "`.")]
                $kind($table),
            )*
        }

        /// The consumer-visible shadow struct (boxed so its address is stable).
        enum Shadow {
            $( $kind(Box<NdkCell<$obj>>), )*
        }

        impl Shadow {
            fn addr(&self) -> usize {
                match self {
                    $( Self::$kind(cell) => cell.as_ptr().addr(), )*
                }
            }

            fn ptr(&self) -> *mut c_void {
                match self {
                    $( Self::$kind(cell) => cell.as_ptr().cast(), )*
                }
            }
        }

        /// Reads the real object's header version and dispatch table and builds its shadow.
        ///
        /// # Safety
        ///
        /// `real` is non-null and points to a live provider object of kind `kind` whose
        /// `Dispatch` points to a fully filled table of that kind (what an open, a successful
        /// create or a connect event hands a consumer).
        unsafe fn read_and_shadow(kind: ObjectKind, real: *mut c_void) -> (RealTable, Shadow) {
            match kind {
                $(
                    ObjectKind::$kind => {
                        let obj = real.cast::<$obj>();
                        // SAFETY: `obj` is a live `$obj` (caller); the header is plain data
                        // the provider wrote before handing the object out.
                        let version = unsafe { (*obj).Header.Version };
                        // SAFETY: as above; `Dispatch` was stored before publication.
                        let dispatch = unsafe { (*obj).Dispatch };
                        // SAFETY: a provider's `Dispatch` points to a filled table of this
                        // kind (caller); the table is plain `Copy` data.
                        let table = unsafe { *dispatch };
                        let shadow = $obj::new(version, &$vtable);
                        (RealTable::$kind(table), Shadow::$kind(Box::new(NdkCell::new(shadow))))
                    }
                )*
            }
        }
    };
}

kinds! {
    Adapter: NDK_ADAPTER, NDK_ADAPTER_DISPATCH, forward::ADAPTER_TABLE, ADAPTER;
    Cq: NDK_CQ, NDK_CQ_DISPATCH, forward::CQ_TABLE, CQ;
    Pd: NDK_PD, NDK_PD_DISPATCH, forward::PD_TABLE, PD;
    Mr: NDK_MR, NDK_MR_DISPATCH, forward::MR_TABLE, MR;
    Mw: NDK_MW, NDK_MW_DISPATCH, forward::MW_TABLE, MW;
    Srq: NDK_SRQ, NDK_SRQ_DISPATCH, forward::SRQ_TABLE, SRQ;
    Qp: NDK_QP, NDK_QP_DISPATCH, forward::QP_TABLE, QP;
    SharedEndpoint: NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH, forward::SHARED_ENDPOINT_TABLE, SHARED_ENDPOINT;
    Connector: NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, forward::CONNECTOR_TABLE, CONNECTOR;
    Listener: NDK_LISTENER, NDK_LISTENER_DISPATCH, forward::LISTENER_TABLE, LISTENER;
}

/// One shadowed object: the verifier that owns it, its identity, the real object and table.
pub struct Node {
    /// The verifier recording this object.
    pub inner: Arc<Inner>,
    /// The object's identity in reports.
    pub id: ObjectId,
    /// The provider's object.
    pub real: RawObj,
    /// The provider's dispatch table, copied when the object was shadowed.
    pub table: RealTable,
    shadow: Shadow,
}

impl Node {
    /// The shadow's address as handed to the consumer.
    pub fn shadow_ptr(&self) -> *mut c_void {
        self.shadow.ptr()
    }

    /// The real object as an `NDK_OBJECT_HEADER` pointer (the header is at offset 0).
    pub const fn real_header(&self) -> *mut NDK_OBJECT_HEADER {
        self.real.get().cast()
    }
}

impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("real", &self.real)
            .field("shadow", &self.shadow.addr())
            .finish_non_exhaustive()
    }
}

/// What a shadow address leads to.
enum Slot {
    /// A shadow the consumer may use.
    Live(Arc<Node>),
    /// A shadow whose close finished; kept so a late use can be reported to its verifier
    /// (replaced when the allocator reuses the address for a new shadow).
    Closed(Weak<Inner>, ObjectId),
}

static OBJECTS: LazyLock<RwLock<HashMap<usize, Slot>>> = LazyLock::new(RwLock::default);
static VERIFIERS: LazyLock<Mutex<HashMap<u32, Weak<Inner>>>> = LazyLock::new(Mutex::default);
static NEXT_VERIFIER: AtomicU32 = AtomicU32::new(1);

/// Result of looking up an address the consumer passed.
pub enum Lookup {
    /// A live shadow.
    Live(Arc<Node>),
    /// A shadow that was closed; its verifier (if still alive) and identity.
    Closed(Option<Arc<Inner>>, ObjectId),
    /// Not an address the verifier handed out.
    Unknown,
}

/// Finds the shadow at `addr`.
pub fn lookup(addr: usize) -> Lookup {
    let map = OBJECTS.read().unwrap_or_else(PoisonError::into_inner);
    match map.get(&addr) {
        Some(Slot::Live(node)) => Lookup::Live(Arc::clone(node)),
        Some(Slot::Closed(inner, id)) => Lookup::Closed(inner.upgrade(), *id),
        None => Lookup::Unknown,
    }
}

/// The live node at `addr`, if any.
pub fn live(addr: usize) -> Option<Arc<Node>> {
    match lookup(addr) {
        Lookup::Live(node) => Some(node),
        Lookup::Closed(..) | Lookup::Unknown => None,
    }
}

/// Translates an object pointer the consumer passes as an argument: a live shadow becomes its
/// real object; anything else (null, unknown) passes through unchanged for the provider to
/// judge. Returns the pointer to forward and the shadow's node if there was one.
pub fn translate<T>(ptr: *mut T) -> (*mut T, Option<Arc<Node>>) {
    if ptr.is_null() {
        return (ptr, None);
    }
    live(ptr.addr()).map_or((ptr, None), |node| (node.real.get().cast(), Some(node)))
}

/// Builds and registers the shadow of a provider object.
///
/// # Safety
///
/// `real` is non-null and points to a live provider object of `id.kind` whose `Dispatch`
/// points to a fully filled table of that kind.
pub unsafe fn adopt(inner: &Arc<Inner>, id: ObjectId, real: *mut c_void) -> Arc<Node> {
    // SAFETY: forwarded from this function's contract.
    let (table, shadow) = unsafe { read_and_shadow(id.kind, real) };
    let node = Arc::new(Node {
        inner: Arc::clone(inner),
        id,
        real: RawObj(real),
        table,
        shadow,
    });
    OBJECTS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(node.shadow.addr(), Slot::Live(Arc::clone(&node)));
    node
}

/// Unregisters a shadow whose close finished; later uses of its address are reported.
pub fn retire(addr: usize) {
    let mut map = OBJECTS.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(slot) = map.get_mut(&addr)
        && let Slot::Live(node) = slot
    {
        *slot = Slot::Closed(Arc::downgrade(&node.inner), node.id);
    }
}

/// Registers a new verifier and returns its id.
pub fn register_verifier(inner: Weak<Inner>) -> u32 {
    let mut map = VERIFIERS.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let id = NEXT_VERIFIER.fetch_add(1, Ordering::Relaxed) & 0x00FF_FFFF;
        if id != 0 && !map.contains_key(&id) {
            map.insert(id, inner);
            return id;
        }
    }
}

/// Forgets a verifier (its `Inner` is being dropped) and the tombstones of its shadows.
pub fn unregister_verifier(id: u32) {
    VERIFIERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    OBJECTS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|_, slot| match slot {
            Slot::Live(_) => true,
            Slot::Closed(inner, _) => inner.strong_count() > 0,
        });
}

/// The callback token for serial `serial` of verifier `verifier`.
// The module asserts 64-bit pointers, so the packed `u64` fits a `usize`.
#[allow(clippy::cast_possible_truncation)]
pub const fn token(verifier: u32, serial: u64) -> usize {
    // Serials are per verifier and stay far below 2^40 in any test run; the mask keeps a
    // runaway counter from corrupting the verifier id.
    let packed = ((verifier as u64) << SERIAL_BITS) | (serial & ((1 << SERIAL_BITS) - 1));
    packed as usize
}

/// The verifier a callback token belongs to, if it is still alive.
pub fn verifier_of(token: usize) -> Option<Arc<Inner>> {
    let id = u32::try_from(token >> SERIAL_BITS).ok()?;
    VERIFIERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
        .and_then(Weak::upgrade)
}

/// The context pointer that carries `token` to the provider (never dereferenced).
pub const fn token_ptr(token: usize) -> *mut c_void {
    core::ptr::without_provenance_mut(token)
}
