//! What a `SoftNDK` adapter tells NDIS about itself, and what its registry keywords mean.
//!
//! Ethernet parameters, its MAC address, the NDKPI version it reports before any open, whether
//! NDK may be enabled (`*NetworkDirect`), whether the provider verifier is on
//! (`SoftNdkVerifier`) and whether creates and requests pend (`SoftNdkPendRequests`).
//!
//! Owns: the Ethernet numbers in the general attributes and the OID answers derived from
//! them. Must never: touch NDIS (pure values, host-tested), or define an NDK limit or flag —
//! the NDK attributes are derived from the provider's configuration in
//! [`super::ndk_config`].
#![deny(unsafe_code)]

use crate::abi::{NDK_RDMA_TECHNOLOGY, NDK_VERSION, NDK_VERSION_1_2};
use crate::verbs::misuse::MisuseChecks;

/// Ethernet payload MTU.
pub const MTU: u32 = 1500;
/// Ethernet header bytes (no VLAN tag).
pub const ETHERNET_HEADER: u32 = 14;
/// Largest frame without FCS.
pub const MAX_FRAME_SIZE: u32 = MTU + ETHERNET_HEADER;
/// Frames the (future) hub buffers per direction; sizes the buffer-space OIDs.
pub const FRAME_BUFFERS: u32 = 64;
/// Reported link speed, bits per second (10 Gb/s: a software link has no wire rate).
pub const LINK_SPEED_BPS: u64 = 10_000_000_000;
/// Multicast list capacity.
pub const MAX_MULTICAST_LIST: usize = 32;
/// `OID_GEN_VENDOR_ID`: no IEEE OUI (low 24 bits all ones, as netvmini does); NIC index 0.
/// The provider reports the same `VendorId` (asserted in `ndk_config`).
pub const VENDOR_ID: u32 = 0x00FF_FFFF;
/// `OID_GEN_VENDOR_DESCRIPTION`, NUL-terminated ASCII.
pub const VENDOR_DESCRIPTION: &[u8] = b"SoftNDK virtual RDMA adapter\0";
/// NDIS version declared in the driver characteristics: 6.30, the first with NDK. Declaring
/// 6.50+ would change the NDK-enable event's buffer rule (`spec/ndis-miniport.md` §1.8).
pub const NDIS_VERSION: (u8, u8) = (6, 30);

const fn parse_version_part(text: &str) -> u32 {
    match u32::from_str_radix(text, 10) {
        Ok(value) => value,
        Err(_) => panic!("crate version parts are decimal"),
    }
}

/// Crate major version.
pub const DRIVER_MAJOR: u32 = parse_version_part(env!("CARGO_PKG_VERSION_MAJOR"));
/// Crate minor version.
pub const DRIVER_MINOR: u32 = parse_version_part(env!("CARGO_PKG_VERSION_MINOR"));
/// `OID_GEN_VENDOR_DRIVER_VERSION`: major in the high word, minor in the low word.
pub const VENDOR_DRIVER_VERSION: u32 = (DRIVER_MAJOR << 16) | DRIVER_MINOR;

/// The adapter's MAC address, derived from its interface index.
///
/// Locally administered (bit 1 of the first octet), unicast (bit 0 clear), `02-53-` ("S")
/// then the index, so every `SoftNDK` interface on a host gets a distinct, stable address
/// without registry state.
#[must_use]
pub const fn mac_for_interface(if_index: u32) -> [u8; 6] {
    let i = if_index.to_be_bytes();
    [0x02, 0x53, i[0], i[1], i[2], i[3]]
}

/// RDMA technology the INF offers: iWARP, the provider's `RdmaTechnology` (asserted in
/// `ndk_config`).
///
/// Offered by the INF's `*NetworkDirectTechnology`. A software, TCP-style transport is iWARP-shaped
/// (like Linux siw), and iWARP needs neither DCB nor a RoCE frame-size keyword.
pub const RDMA_TECHNOLOGY: NDK_RDMA_TECHNOLOGY = NDK_RDMA_TECHNOLOGY::IWARP;
/// [`RDMA_TECHNOLOGY`] as the number the INF writes.
pub const RDMA_TECHNOLOGY_IWARP: i32 = RDMA_TECHNOLOGY.0;

/// NDKPI version in the `NDK_ADAPTER_INFO` of the NDK attributes (reported before any open).
///
/// 1.2, the highest of major 1, which in-box consumers such as SMB Direct request. Each open
/// negotiates its own version with `abi::negotiate_version`.
pub const NDKPI_VERSION: NDK_VERSION = NDK_VERSION_1_2;

/// Whether NDK is reported enabled: the `*NetworkDirect` keyword allows it (absent means
/// the INF default, enabled) and the NDK provider core is present to serve opens.
#[must_use]
pub const fn ndk_enabled(network_direct_keyword: Option<u32>, provider_ready: bool) -> bool {
    let allowed = match network_direct_keyword {
        Some(value) => value != 0,
        None => true,
    };
    allowed && provider_ready
}

/// Whether the NDK provider core (objects behind `OpenNDKAdapterHandler`) is linked in: it
/// is (`dispatch::open_adapter`/`close_adapter`), so NDK is reported enabled whenever
/// `*NetworkDirect` allows it.
pub const NDK_PROVIDER_READY: bool = true;

/// The registry keyword of the provider verifier (the INF offers it as an advanced property).
pub const VERIFIER_KEYWORD: &str = "SoftNdkVerifier";

/// The registry keyword that makes every NDK create and request that may pend answer
/// `STATUS_PENDING` (the INF offers it as an advanced property).
pub const PEND_REQUESTS_KEYWORD: &str = "SoftNdkPendRequests";

/// What reading an integer keyword from the adapter's registry parameters gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    /// Absent, or unreadable (NDIS could not open the parameters or convert the value).
    Missing,
    /// A number (`REG_DWORD`, or a string NDIS read as a number).
    Integer(u32),
    /// Present with another type (NDIS returned a non-integer parameter).
    WrongType,
}

impl Keyword {
    /// The number, if the keyword held one.
    #[must_use]
    pub const fn integer(self) -> Option<u32> {
        match self {
            Self::Integer(value) => Some(value),
            Self::Missing | Self::WrongType => None,
        }
    }
}

/// The provider verifier's setting from the `SoftNdkVerifier` keyword.
///
/// A `REG_DWORD`, offered by the INF as an advanced property (enum 0/1/2, default 0): 0 off,
/// 1 on, 2 on and breaking into the kernel debugger at each report while one is attached
/// ([`MisuseChecks::ON_BREAK`]).
///
/// Missing, of another type, or any other number: [`MisuseChecks::DEFAULT`], which is off in
/// release kernel builds (and on in debug and host builds). A bad value never turns the checks on
/// in a release driver.
#[must_use]
pub const fn verifier_checks(keyword: Keyword) -> MisuseChecks {
    match keyword {
        Keyword::Integer(value) => match MisuseChecks::from_registry(value) {
            Some(checks) => checks,
            None => MisuseChecks::DEFAULT,
        },
        Keyword::Missing | Keyword::WrongType => MisuseChecks::DEFAULT,
    }
}

/// Whether the `NDK_ADAPTER`s opened on an adapter pend, from the `SoftNdkPendRequests` keyword.
///
/// The keyword is a `REG_DWORD` offered by the INF as an advanced property (enum 0/1, default
/// 0): 1 turns on
/// both `AdapterConfig::pend_creates` and `AdapterConfig::pend_requests` (every `NdkCreateXxx`,
/// `NdkRegisterMr`, `NdkDeregisterMr`, `NdkInitializeFastRegisterMr`, `NdkResizeCq` and
/// `NdkModifySrq` answers `STATUS_PENDING` and completes from a DPC), so an NDK consumer's
/// pending paths run; 0 completes them inline.
///
/// Missing, of another type, or any other number: `false`, the default. Pending is a test mode
/// that only adds latency, so a bad value never turns it on.
#[must_use]
pub const fn pend_requests(keyword: Keyword) -> bool {
    matches!(keyword, Keyword::Integer(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_keyword_values_and_every_bad_one() {
        assert_eq!(verifier_checks(Keyword::Integer(0)), MisuseChecks::Off);
        assert_eq!(verifier_checks(Keyword::Integer(1)), MisuseChecks::ON);
        assert_eq!(verifier_checks(Keyword::Integer(2)), MisuseChecks::ON_BREAK);
        assert!(verifier_checks(Keyword::Integer(2)).breaks());
        assert!(!verifier_checks(Keyword::Integer(1)).breaks());
        for bad in [
            Keyword::Missing,
            Keyword::WrongType,
            Keyword::Integer(3),
            Keyword::Integer(0x102),
            Keyword::Integer(0x8000_0000),
            Keyword::Integer(u32::MAX),
        ] {
            assert_eq!(verifier_checks(bad), MisuseChecks::DEFAULT, "{bad:?}");
            assert!(!verifier_checks(bad).breaks(), "a bad value never breaks");
        }
        assert_eq!(Keyword::Integer(7).integer(), Some(7));
        assert_eq!(Keyword::WrongType.integer(), None);
        assert_eq!(Keyword::Missing.integer(), None);
    }

    #[test]
    fn pend_requests_keyword_values_and_every_bad_one() {
        assert!(pend_requests(Keyword::Integer(1)));
        assert!(!pend_requests(Keyword::Integer(0)));
        for bad in [
            Keyword::Missing,
            Keyword::WrongType,
            Keyword::Integer(2),
            Keyword::Integer(0x8000_0001),
            Keyword::Integer(u32::MAX),
        ] {
            assert!(!pend_requests(bad), "{bad:?} must keep the default (off)");
        }
        assert_ne!(PEND_REQUESTS_KEYWORD, VERIFIER_KEYWORD);
    }

    #[test]
    fn mac_is_locally_administered_unicast_and_distinct() {
        let a = mac_for_interface(7);
        let b = mac_for_interface(8);
        assert_eq!(a[0] & 0b11, 0b10, "locally administered, unicast");
        assert_ne!(a, b);
        assert_eq!(mac_for_interface(0x0102_0304), [0x02, 0x53, 1, 2, 3, 4]);
    }

    #[test]
    fn reported_version_is_one_an_open_of_major_1_negotiates() {
        assert_eq!(
            crate::abi::negotiate_version(NDK_VERSION::new(1, 0)),
            Ok(NDKPI_VERSION)
        );
    }

    #[test]
    fn ndk_enabled_needs_keyword_and_provider() {
        assert!(ndk_enabled(None, true));
        assert!(ndk_enabled(Some(1), true));
        assert!(!ndk_enabled(Some(0), true));
        assert!(!ndk_enabled(Some(1), false));
        assert!(
            ndk_enabled(None, NDK_PROVIDER_READY),
            "the provider is wired"
        );
    }

    #[test]
    fn driver_version_matches_the_crate() {
        assert_eq!(VENDOR_DRIVER_VERSION >> 16, DRIVER_MAJOR);
        assert_eq!(VENDOR_DRIVER_VERSION & 0xFFFF, DRIVER_MINOR);
        assert_eq!(MAX_FRAME_SIZE, 1514);
    }
}
