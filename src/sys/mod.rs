//! Handwritten NDIS / ntoskrnl FFI for `softndk.sys`: C types with their C names, constants,
//! and (on the Windows kernel build only) the imported functions.
//!
//! Owns: every structure `SoftNDK` exchanges with `ndis.sys`/`ntoskrnl.exe`, pinned by `const`
//! size/offset assertions to the x64 values in `spec/ndis-miniport.md`; the `raw-dylib` import
//! declarations (`ffi`); the pure arithmetic of the kernel allocator ([`pool`]).
//! Must never: hold logic (that lives in `miniport`), or declare an import nothing calls —
//! `cargo xtask check-sys` rejects images that import anything not declared in `ffi`.
//!
//! The data half compiles on every target so the layout assertions run in every build and
//! host tests can use the types; only `ffi` is limited to `target_os = "windows"` with the
//! `kernel` feature.
#![allow(
    non_camel_case_types,
    non_snake_case,
    clippy::upper_case_acronyms,
    reason = "FFI keeps the C names of the WDK headers so they can be grepped against them"
)]

#[cfg(all(target_os = "windows", feature = "kernel"))]
pub mod ffi;
pub mod ke;
pub mod mm;
pub mod nbl;
pub mod ndis;
pub mod oid;
pub mod pnp;
pub mod pool;
// Compile-time layout comparison with the WDK's headers (Windows WDK build only).
#[cfg(all(windows, feature = "wdk"))]
mod wdk_layout;

// One definition per C type and number: the NDK slice of NDIS (and the status type it shares
// with the rest of NDIS) is owned by `abi`; `sys` re-exports what the NDIS FFI needs.
pub use crate::abi::{
    BOOLEAN, NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_STATUS, NDIS_STATUS_ADAPTER_NOT_READY,
    NDIS_STATUS_BAD_VERSION, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS, NTSTATUS,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS,
};

/// `NDIS_OID`: a 32-bit object identifier.
pub type NDIS_OID = u32;
/// `NDIS_PORT_NUMBER`.
pub type NDIS_PORT_NUMBER = u32;

/// Turns the unsigned hexadecimal spelling of a status code into its value.
#[must_use]
pub const fn status(code: u32) -> NTSTATUS {
    NTSTATUS::from_u32(code)
}

/// `NDIS_STATUS_PENDING` (= `STATUS_PENDING`).
pub const NDIS_STATUS_PENDING: NDIS_STATUS = crate::abi::STATUS_PENDING;
/// `NDIS_STATUS_FAILURE` (= `STATUS_UNSUCCESSFUL`).
pub const NDIS_STATUS_FAILURE: NDIS_STATUS = crate::abi::STATUS_UNSUCCESSFUL;
/// `NDIS_STATUS_NOT_SUPPORTED` (= `STATUS_NOT_SUPPORTED`).
pub const NDIS_STATUS_NOT_SUPPORTED: NDIS_STATUS = crate::abi::STATUS_NOT_SUPPORTED;
/// `NDIS_STATUS_INVALID_PARAMETER` (= `STATUS_INVALID_PARAMETER`).
pub const NDIS_STATUS_INVALID_PARAMETER: NDIS_STATUS = crate::abi::STATUS_INVALID_PARAMETER;
/// `NDIS_STATUS_MULTICAST_FULL`.
pub const NDIS_STATUS_MULTICAST_FULL: NDIS_STATUS = status(0xC001_0009);
/// `NDIS_STATUS_INVALID_LENGTH`: a set's buffer is too short.
pub const NDIS_STATUS_INVALID_LENGTH: NDIS_STATUS = status(0xC001_0014);
/// `NDIS_STATUS_INVALID_DATA`: a set's buffer has the right size but bad content.
pub const NDIS_STATUS_INVALID_DATA: NDIS_STATUS = status(0xC001_0015);
/// `NDIS_STATUS_BUFFER_TOO_SHORT`: a query's buffer is too short.
pub const NDIS_STATUS_BUFFER_TOO_SHORT: NDIS_STATUS = status(0xC001_0016);
/// `NDIS_STATUS_REQUEST_ABORTED` (NDIS 6 value, `STATUS_NDIS_REQUEST_ABORTED`).
pub const NDIS_STATUS_REQUEST_ABORTED: NDIS_STATUS = status(0xC023_000C);
/// `NDIS_STATUS_SEND_ABORTED` (NDIS 6: also `STATUS_NDIS_REQUEST_ABORTED`).
pub const NDIS_STATUS_SEND_ABORTED: NDIS_STATUS = status(0xC023_000C);
/// `NDIS_STATUS_PAUSED` (`STATUS_NDIS_PAUSED`): sends completed while not running.
pub const NDIS_STATUS_PAUSED: NDIS_STATUS = status(0xC023_002A);

/// An `NDIS_OBJECT_HEADER` for a structure revision of `size` bytes.
///
/// # Panics
/// When `size` does not fit the 16-bit `Size` field (at compile time in a `const`).
#[must_use]
pub const fn object_header(object_type: u8, revision: u8, size: usize) -> NDIS_OBJECT_HEADER {
    assert!(
        size <= u16::MAX as usize,
        "NDIS object size must fit a USHORT"
    );
    #[allow(clippy::cast_possible_truncation, reason = "checked just above")]
    NDIS_OBJECT_HEADER::new(object_type, revision, size as u16)
}

/// `UNICODE_STRING` / `NDIS_STRING`: counted UTF-16, lengths in bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    /// Bytes in use (no terminator).
    pub Length: u16,
    /// Bytes in the buffer.
    pub MaximumLength: u16,
    /// The characters.
    pub Buffer: *const u16,
}

const _: () = assert!(core::mem::size_of::<UNICODE_STRING>() == 16);
const _: () = assert!(core::mem::offset_of!(UNICODE_STRING, Buffer) == 8);

/// Widens ASCII text to UTF-16 at compile time, for `UNICODE_STRING` keywords.
///
/// No terminator is added.
///
/// # Panics
/// When `N` differs from the text's length or the text is not ASCII (at compile time in a
/// `const` or `static`).
#[must_use]
pub const fn ascii_utf16<const N: usize>(text: &str) -> [u16; N] {
    let bytes = text.as_bytes();
    assert!(bytes.len() == N, "N must equal the text length");
    let mut out = [0_u16; N];
    let mut i = 0;
    while i < N {
        assert!(bytes[i].is_ascii(), "ASCII only");
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

/// `DRIVER_OBJECT` is only ever handled through a pointer.
#[repr(C)]
pub struct DRIVER_OBJECT {
    _opaque: [u8; 0],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_keep_their_bits() {
        assert_eq!(NDIS_STATUS_BUFFER_TOO_SHORT.as_u32(), 0xC001_0016);
        assert!(NDIS_STATUS_PAUSED.is_error(), "error severity");
        assert_eq!(NDIS_STATUS_PENDING.as_u32(), 0x103);
        assert_eq!(NDIS_STATUS_FAILURE.as_u32(), 0xC000_0001);
        assert_eq!(NDIS_STATUS_NOT_SUPPORTED.as_u32(), 0xC000_00BB);
    }

    #[test]
    fn ascii_widens_to_utf16() {
        let wide: [u16; 14] = ascii_utf16("*NetworkDirect");
        assert_eq!(wide[0], u16::from(b'*'));
        assert_eq!(wide[13], u16::from(b't'));
    }
}
