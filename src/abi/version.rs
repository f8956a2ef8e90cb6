//! `NDK_VERSION`, the NDKPI versions `SoftNDK` supports, and open-time version negotiation.
//!
//! Negotiation (`spec/ndkpi.md` §1.6) is a pure function here so the miniport's
//! `OpenNDKAdapterHandler` and the host tests share one implementation.
//!
//! `SoftNDK` supports two majors: **1 up to minor 2** (NDKPI 1.2, what Windows Server 2012 R2+
//! consumers such as SMB Direct ask for as {1, x}) and **2 up to minor 1** (NDKPI 2.1). A request
//! is answered with the highest minor of the *requested* major; every dispatch slot (including the
//! 2.1 connector slots) is filled whatever version was negotiated, as §1.6 recommends.

use super::status::{NDIS_STATUS, NDIS_STATUS_BAD_VERSION};

/// `NDK_VERSION` (`ndkinfo.h`): `{ USHORT Major; USHORT Minor; }`, passed by value.
///
/// Ordering compares `Major` first, then `Minor` (field order), which is version order.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct NDK_VERSION {
    /// Major version.
    pub Major: u16,
    /// Minor version.
    pub Minor: u16,
}

impl NDK_VERSION {
    /// `{ Major, Minor }`.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self {
            Major: major,
            Minor: minor,
        }
    }

    /// True if `self` is at least `other` (same or later version).
    #[must_use]
    pub const fn at_least(self, other: Self) -> bool {
        self.Major > other.Major || (self.Major == other.Major && self.Minor >= other.Minor)
    }
}

/// NDKPI 1.1 (Windows Server 2012, NDIS 6.30): the base interface.
pub const NDK_VERSION_1_1: NDK_VERSION = NDK_VERSION::new(1, 1);
/// NDKPI 1.2 (Windows Server 2012 R2, NDIS 6.40): `NdkGetCqResultsEx`, `NdkSendAndInvalidate`, DEFER.
pub const NDK_VERSION_1_2: NDK_VERSION = NDK_VERSION::new(1, 2);
/// NDKPI 2.1 (Windows Server 2022): `NdkCompleteConnectEx`, `NdkAcceptEx`, `ProviderErrorCode`.
pub const NDK_VERSION_2_1: NDK_VERSION = NDK_VERSION::new(2, 1);

/// The highest version `SoftNDK` implements for each major it supports, one entry per major.
pub const SOFTNDK_SUPPORTED_VERSIONS: [NDK_VERSION; 2] = [NDK_VERSION_1_2, NDK_VERSION_2_1];

/// §1.6 negotiation against a list of highest-supported versions (one entry per major).
///
/// Returns the version to operate at (and to report in `NDK_ADAPTER_INFO.Version` and every
/// object header): the highest minor of the requested major. Fails with
/// `NDIS_STATUS_BAD_VERSION` if the major is not in `highest`, or if the requested (lowest
/// acceptable) minor is above the highest minor of that major.
///
/// # Errors
/// `NDIS_STATUS_BAD_VERSION` as described above.
pub const fn negotiate_version_among(
    requested: NDK_VERSION,
    highest: &[NDK_VERSION],
) -> Result<NDK_VERSION, NDIS_STATUS> {
    let mut i = 0;
    while i < highest.len() {
        let h = highest[i];
        if h.Major == requested.Major {
            return if requested.Minor <= h.Minor {
                Ok(h)
            } else {
                Err(NDIS_STATUS_BAD_VERSION)
            };
        }
        i += 1;
    }
    Err(NDIS_STATUS_BAD_VERSION)
}

/// §1.6 negotiation against [`SOFTNDK_SUPPORTED_VERSIONS`].
///
/// # Errors
/// `NDIS_STATUS_BAD_VERSION` if `SoftNDK` cannot serve the requested version.
pub const fn negotiate_version(requested: NDK_VERSION) -> Result<NDK_VERSION, NDIS_STATUS> {
    negotiate_version_among(requested, &SOFTNDK_SUPPORTED_VERSIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_consumer_request_gets_highest_minor_of_major_1() {
        assert_eq!(
            negotiate_version(NDK_VERSION::new(1, 0)),
            Ok(NDK_VERSION_1_2)
        );
        assert_eq!(negotiate_version(NDK_VERSION_1_1), Ok(NDK_VERSION_1_2));
        assert_eq!(negotiate_version(NDK_VERSION_1_2), Ok(NDK_VERSION_1_2));
    }

    #[test]
    fn major_2_is_answered_with_2_1() {
        assert_eq!(
            negotiate_version(NDK_VERSION::new(2, 0)),
            Ok(NDK_VERSION_2_1)
        );
        assert_eq!(negotiate_version(NDK_VERSION_2_1), Ok(NDK_VERSION_2_1));
    }

    #[test]
    fn unsupported_requests_are_bad_version() {
        for v in [(0, 0), (1, 3), (1, u16::MAX), (2, 2), (3, 0), (u16::MAX, 0)] {
            let req = NDK_VERSION::new(v.0, v.1);
            assert_eq!(
                negotiate_version(req),
                Err(NDIS_STATUS_BAD_VERSION),
                "{req:?}"
            );
        }
    }

    #[test]
    fn empty_support_list_rejects_everything() {
        assert_eq!(
            negotiate_version_among(NDK_VERSION_1_1, &[]),
            Err(NDIS_STATUS_BAD_VERSION)
        );
    }

    #[test]
    fn ordering_is_major_then_minor() {
        assert!(NDK_VERSION_1_2 > NDK_VERSION_1_1);
        assert!(NDK_VERSION_2_1 > NDK_VERSION::new(1, 9));
        assert!(NDK_VERSION_2_1.at_least(NDK_VERSION_1_2));
        assert!(!NDK_VERSION_1_1.at_least(NDK_VERSION_1_2));
        assert!(NDK_VERSION_1_2.at_least(NDK_VERSION_1_2));
    }
}
