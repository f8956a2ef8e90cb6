//! The loopback fabric that joins `SoftNDK` adapters.
//!
//! It knows which IP addresses each adapter has, which endpoints (address:port) are in use and
//! by how many users, where a connect request to an address:port goes, and which connection
//! steps wait under a deadline.
//!
//! Owns addressing ([`Address`], [`IpAddr`], `SOCKADDR` conversion), the endpoint tables and
//! their reference counts (`spec/ndkpi.md` §5.7), ephemeral ports, routing of connect requests
//! to listeners, and [`Fabric::expire`]. Host tests create one [`Fabric`] each; the kernel
//! driver keeps one for all adapters. It must never call the consumer or a QP, and it never
//! holds its lock while calling anything else: its locks are the innermost of the connection
//! manager.
#![deny(unsafe_code)]

mod address;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
mod instance;
mod table;

pub use address::{Address, IpAddr};
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub use instance::{Fabric, FabricConfig};
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub(crate) use instance::{Reservation, TupleGuard};
pub use table::{AdapterId, EndpointKind, PortRange, Tables};
