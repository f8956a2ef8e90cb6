//! The NDIS miniport: driver entry and registration, adapter lifecycle, OIDs, the Ethernet
//! data path and the NDK open/close entry points (`spec/ndis-miniport.md` §1–§2).
//!
//! Split by NDIS concern, netvmini-style. The pure halves compile and are unit-tested on
//! every target: [`state`] (run-state machine and pause/send gate), [`oid`] (OID decoding and
//! encoding with exact buffer-length rules), [`config`] (what the adapter reports) and
//! [`counters`]. The `extern "system"` trampolines NDIS calls (`driver`, `adapter`,
//! `control`, `datapath`, `ndk`) exist only in the Windows kernel build; they convert NDIS
//! pointers into calls of the pure halves and must never hold logic of their own.
//!
//! Must never: wait at `DISPATCH_LEVEL`, keep NDIS-completable state on a stack, or unwind
//! into NDIS (the kernel build aborts on panic).

pub mod config;
pub mod counters;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub mod fabric_port;
pub mod hub;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub mod instances;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub mod ndk_adapters;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub mod ndk_config;
pub mod ndk_lists;
pub mod ndk_state;
pub mod netaddr;
pub mod oid;
pub mod rx_indicate;
pub mod state;
pub mod tick;

#[cfg(all(target_os = "windows", feature = "kernel"))]
mod adapter;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod control;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod datapath;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod driver;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod driver_fabric;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod hubport;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod ndk;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod ndk_events;
#[cfg(all(target_os = "windows", feature = "kernel"))]
mod rx_ring;
