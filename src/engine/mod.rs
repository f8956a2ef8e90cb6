//! The provider core's data-movement engine: work-queue rings, QP data-path state, RC execution
//! between two connected QPs, access checks and completion generation.
//!
//! The engine is pure, safe, single-threaded logic. Every entry point takes `&mut` to the state
//! it changes; the verbs layer keeps that state under its own locks (one per connection, then
//! the CQ's — see `docs/architecture.md`) and calls in. The engine never blocks, never calls
//! the OS, never allocates after creation (except [`ReceiveStorage::try_new`], an explicit
//! request made with no lock held), never uses atomics, and never holds a pointer: it
//! reaches memory only through the [`MemorySpace`] and [`Copier`] traits and reports through
//! the [`CompletionSink`] trait, all implemented by the verbs layer.
//!
//! Shape (after rxe/siw): one file per data-path role —
//! [`requester`] (runs the head of an initiator queue), [`responder`] (checks what arrives at
//! the peer), [`completer`] (completions, error state, flush) — plus the queues ([`ring`],
//! [`queue`]), the QP state ([`endpoint`]), memory access ([`memory`]) and the connection-level
//! entry point ([`connection`]). Each request is validated completely before any byte moves;
//! errors are states that map to a [`Status`].
//!
//! # What the verbs layer calls
//!
//! * Creation: [`Endpoint::try_new`], [`ReceiveQueue::try_new`] (SRQ).
//! * Connection established: [`Endpoint::connect`] on both QPs with the effective ORD/IRD.
//! * Posts: [`Endpoint::post`] (initiator queue), [`Endpoint::post_receive`],
//!   [`ReceiveQueue::post`] (SRQ); then [`progress`] on the QP's connection.
//! * `NdkFlush`: [`Endpoint::flush`]; disconnect / connector close: [`Endpoint::disconnect`];
//!   then [`progress`] so the peer notices.
//! * `NdkModifySrq` growing the SRQ: [`ReceiveStorage::try_new`] with no lock held, then
//!   [`ReceiveQueue::grow`] under the SRQ lock (moves entries only).
//!
//! See `docs/engine.md` for the behaviour choices (DEFER, read limits, error propagation).
#![forbid(unsafe_code)]
// `#[inline(always)]` marks the functions of the per-request path whose inlining callgrind showed
// to matter (out of line, the request's entry and outcome went through memory); see
// `docs/engine.md`, "Cost".
#![allow(clippy::inline_always)]

pub mod completer;
pub mod connection;
pub mod endpoint;
pub mod memory;
pub mod queue;
pub mod requester;
pub mod responder;
pub mod ring;
pub mod types;

pub use completer::{CompletionSink, Overrun};
pub use connection::{Progress, Side, progress};
pub use endpoint::{
    Endpoint, EndpointConfig, ErrorCause, Payload, QpState, StateError, WorkRequest,
};
pub use memory::{BindRequest, Copier, FastRegisterRequest, MemorySpace, PAGE_SIZE, RegionSlice};
pub use queue::{GrowError, ReceiveQueue, ReceiveStorage};
pub use requester::Blocked;
pub use ring::{CreateError, MAX_RING_DEPTH, Ring};
pub use types::{
    Access, AccessError, Completion, CqId, MemoryHandle, OpFlags, OpType, PostError, Sge, Status,
};

#[cfg(any(test, feature = "std"))]
pub mod testkit;
