//! `NTSTATUS` and the status values `SoftNDK` returns or receives.
//!
//! Values come from `spec/ndkpi.md` §4.8 and `spec/ndis-miniport.md` §2.10; the ones the specs do
//! not list were checked against public copies of `ntstatus.h` (see `docs/abi.md`). This file owns
//! the numbers only: which status a call returns is decided by the dispatch layer and the core.

use core::fmt;

/// `NTSTATUS`: a signed 32-bit status code (`LONG` in C).
///
/// Bits 31..30 are the severity (0 success, 1 informational, 2 warning, 3 error); `NT_SUCCESS` is
/// `status >= 0`. Kept as a transparent newtype (not an enum) because any value may arrive from
/// the other side of the ABI.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NTSTATUS(pub i32);

/// `NDIS_STATUS`: NDIS shares the `NTSTATUS` number space (`typedef int NDIS_STATUS`).
pub type NDIS_STATUS = NTSTATUS;

impl NTSTATUS {
    /// Builds a status from its usual unsigned hex spelling (`0xC000000D`), bit for bit.
    #[must_use]
    pub const fn from_u32(bits: u32) -> Self {
        Self(i32::from_ne_bytes(bits.to_ne_bytes()))
    }

    /// The status as its unsigned hex spelling, bit for bit.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        u32::from_ne_bytes(self.0.to_ne_bytes())
    }

    /// `NT_SUCCESS(status)`: success or informational (includes `STATUS_PENDING`).
    #[must_use]
    pub const fn is_success(self) -> bool {
        self.0 >= 0
    }

    /// `NT_ERROR(status)`: severity 3 (error).
    #[must_use]
    pub const fn is_error(self) -> bool {
        self.as_u32() >> 30 == 3
    }

    /// The `ntstatus.h` / `ndis.h` name of a status this module defines, if any.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        let mut i = 0;
        while i < KNOWN_STATUSES.len() {
            if KNOWN_STATUSES[i].0.0 == self.0 {
                return Some(KNOWN_STATUSES[i].1);
            }
            i += 1;
        }
        None
    }
}

impl fmt::Debug for NTSTATUS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({:#010X})", self.as_u32()),
            None => write!(f, "NTSTATUS({:#010X})", self.as_u32()),
        }
    }
}

impl fmt::Display for NTSTATUS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Declares status constants and the name table used by [`NTSTATUS::name`] from one list, so a
/// constant can never lack its name.
macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $value:literal; )*) => {
        $( $(#[$doc])* pub const $name: NTSTATUS = NTSTATUS::from_u32($value); )*

        /// Every status defined here with its C name. NDIS aliases of NTSTATUS values (same
        /// number) are listed after the NTSTATUS name, so lookups return the NTSTATUS name.
        pub const KNOWN_STATUSES: &[(NTSTATUS, &str)] = &[ $( ($name, stringify!($name)), )* ];
    };
}

statuses! {
    /// `STATUS_SUCCESS`: the operation completed successfully.
    STATUS_SUCCESS = 0x0000_0000;
    /// `STATUS_PENDING`: the operation will complete later through its callback.
    STATUS_PENDING = 0x0000_0103;
    /// `STATUS_BUFFER_OVERFLOW` (warning): CQ overrun reported to the CQ notification callback.
    STATUS_BUFFER_OVERFLOW = 0x8000_0005;
    /// `STATUS_DEVICE_BUSY` (warning): listed for completeness; close never returns it (§5.4).
    STATUS_DEVICE_BUSY = 0x8000_0011;
    /// `STATUS_UNSUCCESSFUL`: generic failure (= `NDIS_STATUS_FAILURE`).
    STATUS_UNSUCCESSFUL = 0xC000_0001;
    /// `STATUS_ACCESS_VIOLATION`: requested access not allowed by the MR/MW registration.
    STATUS_ACCESS_VIOLATION = 0xC000_0005;
    /// `STATUS_INVALID_HANDLE`: an object pointer does not name a live object of the right type.
    STATUS_INVALID_HANDLE = 0xC000_0008;
    /// `STATUS_INVALID_PARAMETER`: a parameter is out of range or malformed.
    STATUS_INVALID_PARAMETER = 0xC000_000D;
    /// `STATUS_INVALID_DEVICE_REQUEST`: request not valid for this device (= NDIS alias).
    STATUS_INVALID_DEVICE_REQUEST = 0xC000_0010;
    /// `STATUS_NO_MEMORY`: not enough virtual memory.
    STATUS_NO_MEMORY = 0xC000_0017;
    /// `STATUS_BUFFER_TOO_SMALL`: output buffer too small; the required size was stored.
    STATUS_BUFFER_TOO_SMALL = 0xC000_0023;
    /// `STATUS_INVALID_PARAMETER_MIX`: parameters are individually valid but not together.
    STATUS_INVALID_PARAMETER_MIX = 0xC000_0030;
    /// `STATUS_DATA_ERROR`: a data error (e.g. a malformed wire message).
    STATUS_DATA_ERROR = 0xC000_003E;
    /// `STATUS_SHARING_VIOLATION`: the local address is already in use.
    STATUS_SHARING_VIOLATION = 0xC000_0043;
    /// `STATUS_INTEGER_OVERFLOW`: a size computation overflowed.
    STATUS_INTEGER_OVERFLOW = 0xC000_0095;
    /// `STATUS_INSUFFICIENT_RESOURCES`: allocation or limit failure (= `NDIS_STATUS_RESOURCES`).
    STATUS_INSUFFICIENT_RESOURCES = 0xC000_009A;
    /// `STATUS_DEVICE_NOT_READY`: the device is not ready (e.g. NDK being disabled).
    STATUS_DEVICE_NOT_READY = 0xC000_00A3;
    /// `STATUS_IO_TIMEOUT`: a connection step timed out.
    STATUS_IO_TIMEOUT = 0xC000_00B5;
    /// `STATUS_NOT_SUPPORTED`: feature not supported (e.g. extensions, interrupt moderation).
    STATUS_NOT_SUPPORTED = 0xC000_00BB;
    /// `STATUS_INTERNAL_ERROR`: fatal CQ/SRQ error reported to a notification callback.
    STATUS_INTERNAL_ERROR = 0xC000_00E5;
    /// `STATUS_INVALID_PARAMETER_1`: the 1st parameter is invalid.
    STATUS_INVALID_PARAMETER_1 = 0xC000_00EF;
    /// `STATUS_INVALID_PARAMETER_2`: the 2nd parameter is invalid.
    STATUS_INVALID_PARAMETER_2 = 0xC000_00F0;
    /// `STATUS_INVALID_PARAMETER_3`: the 3rd parameter is invalid.
    STATUS_INVALID_PARAMETER_3 = 0xC000_00F1;
    /// `STATUS_INVALID_PARAMETER_4`: the 4th parameter is invalid.
    STATUS_INVALID_PARAMETER_4 = 0xC000_00F2;
    /// `STATUS_INVALID_PARAMETER_5`: the 5th parameter is invalid.
    STATUS_INVALID_PARAMETER_5 = 0xC000_00F3;
    /// `STATUS_INVALID_PARAMETER_6`: the 6th parameter is invalid.
    STATUS_INVALID_PARAMETER_6 = 0xC000_00F4;
    /// `STATUS_INVALID_PARAMETER_7`: the 7th parameter is invalid.
    STATUS_INVALID_PARAMETER_7 = 0xC000_00F5;
    /// `STATUS_INVALID_PARAMETER_8`: the 8th parameter is invalid.
    STATUS_INVALID_PARAMETER_8 = 0xC000_00F6;
    /// `STATUS_INVALID_PARAMETER_9`: the 9th parameter is invalid.
    STATUS_INVALID_PARAMETER_9 = 0xC000_00F7;
    /// `STATUS_INVALID_PARAMETER_10`: the 10th parameter is invalid.
    STATUS_INVALID_PARAMETER_10 = 0xC000_00F8;
    /// `STATUS_INVALID_PARAMETER_11`: the 11th parameter is invalid.
    STATUS_INVALID_PARAMETER_11 = 0xC000_00F9;
    /// `STATUS_INVALID_PARAMETER_12`: the 12th parameter is invalid.
    STATUS_INVALID_PARAMETER_12 = 0xC000_00FA;
    /// `STATUS_CANCELLED`: a work request was flushed (completion status).
    STATUS_CANCELLED = 0xC000_0120;
    /// `STATUS_LOCAL_DISCONNECT`: the local side disconnected.
    STATUS_LOCAL_DISCONNECT = 0xC000_013B;
    /// `STATUS_REMOTE_DISCONNECT`: the remote side disconnected.
    STATUS_REMOTE_DISCONNECT = 0xC000_013C;
    /// `STATUS_REMOTE_RESOURCES`: an RDMA read ran past the end of remote memory.
    STATUS_REMOTE_RESOURCES = 0xC000_013D;
    /// `STATUS_INVALID_CONNECTION`: the connection is invalid (transport-level spelling).
    STATUS_INVALID_CONNECTION = 0xC000_0140;
    /// `STATUS_INVALID_ADDRESS`: the local address is not on this adapter.
    STATUS_INVALID_ADDRESS = 0xC000_0141;
    /// `STATUS_INVALID_DEVICE_STATE`: the object is not in a state that allows the call.
    STATUS_INVALID_DEVICE_STATE = 0xC000_0184;
    /// `STATUS_INVALID_BUFFER_SIZE`: a buffer has an invalid size.
    STATUS_INVALID_BUFFER_SIZE = 0xC000_0206;
    /// `STATUS_TOO_MANY_ADDRESSES`: no ephemeral port left for port 0.
    STATUS_TOO_MANY_ADDRESSES = 0xC000_0209;
    /// `STATUS_ADDRESS_ALREADY_EXISTS`: the same 4-tuple is already connected.
    STATUS_ADDRESS_ALREADY_EXISTS = 0xC000_020A;
    /// `STATUS_CONNECTION_DISCONNECTED`: the connection was disconnected.
    STATUS_CONNECTION_DISCONNECTED = 0xC000_020C;
    /// `STATUS_CONNECTION_RESET`: the connection was reset by the peer.
    STATUS_CONNECTION_RESET = 0xC000_020D;
    /// `STATUS_NOT_FOUND`: the object was not found.
    STATUS_NOT_FOUND = 0xC000_0225;
    /// `STATUS_CONNECTION_REFUSED`: no listener, backlog full, paused, or the peer rejected.
    STATUS_CONNECTION_REFUSED = 0xC000_0236;
    /// `STATUS_GRACEFUL_DISCONNECT`: the peer disconnected gracefully.
    STATUS_GRACEFUL_DISCONNECT = 0xC000_0237;
    /// `STATUS_ADDRESS_ALREADY_ASSOCIATED`: the endpoint already has a connection.
    STATUS_ADDRESS_ALREADY_ASSOCIATED = 0xC000_0238;
    /// `STATUS_CONNECTION_INVALID`: the QP/connector is not connected (or not connecting).
    STATUS_CONNECTION_INVALID = 0xC000_023A;
    /// `STATUS_CONNECTION_ACTIVE`: the connector already has an active connection.
    STATUS_CONNECTION_ACTIVE = 0xC000_023B;
    /// `STATUS_NETWORK_UNREACHABLE`: the destination network is unreachable (retryable).
    STATUS_NETWORK_UNREACHABLE = 0xC000_023C;
    /// `STATUS_HOST_UNREACHABLE`: the destination host is unreachable (retryable).
    STATUS_HOST_UNREACHABLE = 0xC000_023D;
    /// `STATUS_PORT_UNREACHABLE`: nothing listens on the destination port.
    STATUS_PORT_UNREACHABLE = 0xC000_023F;
    /// `STATUS_REQUEST_ABORTED`: the request was aborted.
    STATUS_REQUEST_ABORTED = 0xC000_0240;
    /// `STATUS_CONNECTION_ABORTED`: the peer abandoned the connection attempt or connection.
    STATUS_CONNECTION_ABORTED = 0xC000_0241;
    /// `STATUS_IMPLEMENTATION_LIMIT`: e.g. an unsupported fast-register page count.
    STATUS_IMPLEMENTATION_LIMIT = 0xC000_042B;
    /// `NDIS_STATUS_SUCCESS`: open succeeded.
    NDIS_STATUS_SUCCESS = 0x0000_0000;
    /// `NDIS_STATUS_RESOURCES`: open failed for lack of memory (= `STATUS_INSUFFICIENT_RESOURCES`).
    NDIS_STATUS_RESOURCES = 0xC000_009A;
    /// `NDIS_STATUS_BAD_VERSION`: the requested NDK version is not supported (§1.6).
    NDIS_STATUS_BAD_VERSION = 0xC001_0004;
    /// `NDIS_STATUS_ADAPTER_NOT_READY`: NDK is disabled on this adapter.
    NDIS_STATUS_ADAPTER_NOT_READY = 0xC001_0011;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_sign() {
        assert_eq!(STATUS_INVALID_PARAMETER.0, -1_073_741_811);
        assert_eq!(STATUS_INVALID_PARAMETER.as_u32(), 0xC000_000D);
        assert_eq!(NTSTATUS::from_u32(0xC000_0120), STATUS_CANCELLED);
    }

    #[test]
    fn severity_classes() {
        assert!(STATUS_SUCCESS.is_success());
        assert!(STATUS_PENDING.is_success());
        assert!(!STATUS_PENDING.is_error());
        assert!(
            !STATUS_BUFFER_OVERFLOW.is_success(),
            "warnings are not NT_SUCCESS"
        );
        assert!(
            !STATUS_BUFFER_OVERFLOW.is_error(),
            "warnings are not NT_ERROR"
        );
        assert!(STATUS_CANCELLED.is_error());
        assert!(NDIS_STATUS_BAD_VERSION.is_error());
    }

    #[test]
    fn names_prefer_ntstatus_spelling_for_shared_numbers() {
        assert_eq!(STATUS_SUCCESS.name(), Some("STATUS_SUCCESS"));
        assert_eq!(
            NDIS_STATUS_RESOURCES.name(),
            Some("STATUS_INSUFFICIENT_RESOURCES")
        );
        assert_eq!(
            NDIS_STATUS_BAD_VERSION.name(),
            Some("NDIS_STATUS_BAD_VERSION")
        );
        assert_eq!(NTSTATUS::from_u32(0xC0DE_0001).name(), None);
    }

    #[test]
    fn debug_shows_name_and_hex() {
        let s = std::format!("{STATUS_CONNECTION_INVALID:?}");
        assert_eq!(s, "STATUS_CONNECTION_INVALID(0xC000023A)");
        let unknown = std::format!("{:?}", NTSTATUS::from_u32(0xC0DE_0001));
        assert_eq!(unknown, "NTSTATUS(0xC0DE0001)");
    }

    #[test]
    fn distinct_names_have_distinct_values_except_documented_aliases() {
        for (i, (a, an)) in KNOWN_STATUSES.iter().enumerate() {
            for (b, bn) in &KNOWN_STATUSES[i + 1..] {
                if a == b {
                    let alias = matches!(
                        (*an, *bn),
                        ("STATUS_SUCCESS", "NDIS_STATUS_SUCCESS")
                            | ("STATUS_INSUFFICIENT_RESOURCES", "NDIS_STATUS_RESOURCES")
                    );
                    assert!(alias, "{an} and {bn} share a value");
                }
            }
        }
    }
}
