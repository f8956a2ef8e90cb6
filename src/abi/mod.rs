//! The NDKPI C ABI in Rust: `#[repr(C)]` objects, dispatch tables, callback and function types,
//! structures, flags, status values and the NDK slice of NDIS.
//!
//! This module owns **layout and numbers only**. Every structure's x64 size and every field and
//! slot offset is pinned by a `const` assertion beside the type, to the values in
//! `spec/ndkpi.md` (§1–§4) and `spec/ndis-miniport.md` (§1.2–§1.7). It compiles for every target
//! (`no_std`, no dependencies). It must never dereference a pointer, implement an entry point,
//! or hold provider state: the `dispatch` layer turns these types into calls on the core.
//! The only `unsafe` here reads an `NDK_SGE` union arm, proven sound at the use site.
//!
//! # Naming
//!
//! FFI items keep their C names (`NDK_QP_DISPATCH`, `NdkCloseQp`, `NDK_FN_CREATE_CQ`,
//! `STATUS_CANCELLED`) so the code can be read against the headers and the docs; hence the
//! `non_snake_case` / `non_camel_case_types` / `non_upper_case_globals` allowances below.
//! C enums (`NDK_OBJECT_TYPE`, `NDK_OPERATION_TYPE`, `NDK_RDMA_TECHNOLOGY`) are transparent
//! newtypes with associated constants (`NDK_OBJECT_TYPE::QP`), never Rust enums, because their
//! values arrive from the other side and may be anything.
//!
//! # Function pointers
//!
//! Dispatch-table slots are non-nullable `unsafe extern "system" fn`: `SoftNDK` fills every slot.
//! Every function pointer a provider function *receives* is `Option<...>`, including the ones
//! the header marks `_In_`, so a consumer's NULL is a checkable value rather than undefined
//! behaviour (see [`dispatch`]).
//!
//! # Versions
//!
//! `SoftNDK` supports NDKPI **1.2** (major 1) and **2.1** (major 2) and answers an open with the
//! highest minor of the requested major ([`negotiate_version`], `spec/ndkpi.md` §1.6). All
//! dispatch slots, including the two NDK 2.1 connector slots, are filled whatever was negotiated;
//! `NDK_RESULT_EX` uses the 2.1 layout (with `ProviderErrorCode`), identical to 1.2 on x64.
//! Decisions and header/doc discrepancies are recorded in `docs/abi.md`.

// C names are the point of this module (see "Naming" above).
#![allow(
    non_snake_case,
    non_camel_case_types,
    non_upper_case_globals,
    clippy::upper_case_acronyms
)]

pub mod callbacks;
pub mod dispatch;
pub mod flags;
pub mod ndis;
pub mod object;
pub mod status;
pub mod structs;
pub mod upcall;
pub mod version;
pub mod win;

pub use callbacks::*;
pub use dispatch::*;
pub use flags::*;
pub use ndis::*;
pub use object::*;
pub use status::*;
pub use structs::*;
pub use version::*;
pub use win::*;
