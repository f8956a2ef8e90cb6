//! Decoding the `cm_ops` input into call arguments: the byte reader, `SOCKADDR`s (valid,
//! wildcard, unknown family, short, long, NULL), private data (none, at and across each
//! adapter limit, NULL with a length) and read limits.
//!
//! Every buffer handed out here is owned by the harness and at least as long as the length
//! stated with it; a NULL pointer is the only pointer that does not point into one.

use core::ffi::c_void;
use core::ptr;

use softndk::abi::{AF_INET, AF_INET6, SOCKADDR};

/// Adapter 0's IPs.
pub const A4: [u8; 4] = [10, 0, 0, 1];
/// Adapter 1's IPs.
pub const B4: [u8; 4] = [10, 0, 0, 2];
/// An IP on no adapter of the fabric.
pub const C4: [u8; 4] = [10, 0, 0, 3];
/// Adapter 0's IPv6 address.
pub const A6: [u8; 16] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// Adapter 1's IPv6 address.
pub const B6: [u8; 16] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// Bytes of every `SOCKADDR` buffer (longer than `SOCKADDR_IN6`'s 28).
pub const ADDR_BUF: usize = 64;
/// [`ADDR_BUF`] as a `ULONG` length.
pub const ADDR_BUF_LEN: u32 = 64;
/// Bytes of the private-data buffers: more than `MAX_PRIVATE_DATA` (256), so every limit can
/// be crossed with memory the harness owns.
pub const DATA_BUF: usize = 320;
/// [`DATA_BUF`] as a `ULONG` length.
pub const DATA_BUF_LEN: u32 = 320;
const _: () = assert!(ADDR_BUF_LEN as usize == ADDR_BUF && DATA_BUF_LEN as usize == DATA_BUF);

/// Reads the input front to back; runs dry as zeros.
pub struct Input<'a>(pub &'a [u8]);

impl Input<'_> {
    pub fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A read limit or count: usually small, sometimes anything.
    pub fn count(&mut self) -> u32 {
        match self.byte() {
            b @ 0..0xF0 => u32::from(b % 24),
            0xF0..0xFF => self.u32(),
            0xFF => u32::MAX,
        }
    }
}

/// A `SOCKADDR` argument: the bytes the harness owns and what the call is told.
pub struct Sockaddr {
    bytes: [u8; ADDR_BUF],
    /// NULL pointer instead of `bytes`.
    null: bool,
    /// The stated length (≤ `ADDR_BUF` unless `null`).
    pub len: u32,
}

impl Sockaddr {
    /// Decodes one address: 4 bytes (family, IP, port, length shape), more for the random
    /// parts.
    pub fn decode(input: &mut Input<'_>) -> Self {
        let mut bytes = [0_u8; ADDR_BUF];
        let family = input.byte();
        let (fam, natural) = match family % 8 {
            0..=3 => (AF_INET, 16),
            4 | 5 => (AF_INET6, 28),
            6 => (input.u16(), 16),
            _ => {
                // NULL with an arbitrary length: refused before anything is read.
                return Self {
                    bytes,
                    null: true,
                    len: input.count(),
                };
            }
        };
        bytes[0..2].copy_from_slice(&fam.to_ne_bytes());
        let ip = input.byte();
        if fam == AF_INET6 {
            let addr = match ip % 6 {
                0 | 4 => A6,
                1 | 5 => B6,
                2 => [0; 16],
                _ => {
                    let mut a = [0; 16];
                    for b in &mut a {
                        *b = input.byte();
                    }
                    a
                }
            };
            bytes[8..24].copy_from_slice(&addr);
            if ip >= 0xF0 {
                let scope = input.u32();
                bytes[24..28].copy_from_slice(&scope.to_ne_bytes());
            }
        } else {
            let addr = match ip % 8 {
                0 | 6 => A4,
                1 | 7 => B4,
                2 => [0; 4],
                3 => C4,
                4 => [127, 0, 0, 1],
                _ => [input.byte(), input.byte(), input.byte(), input.byte()],
            };
            bytes[4..8].copy_from_slice(&addr);
        }
        let port = match input.byte() % 8 {
            0 => 0,
            1 | 5..=7 => 1000,
            2 => 1001,
            3 => 1002,
            _ => input.u16(),
        };
        bytes[2..4].copy_from_slice(&port.to_be_bytes());
        let shape = input.byte();
        let len = match shape % 8 {
            0..=4 => natural,
            5 => u32::from(input.byte()) % natural,
            6 => natural + u32::from(input.byte()) % (ADDR_BUF_LEN - natural + 1),
            _ => 0,
        };
        Self {
            bytes,
            null: false,
            len,
        }
    }

    /// The pointer to pass: NULL or `len` readable bytes that live as long as `self`.
    pub const fn ptr(&self) -> *const SOCKADDR {
        if self.null {
            ptr::null()
        } else {
            self.bytes.as_ptr().cast()
        }
    }
}

/// A private-data argument: a pointer into the harness's buffer (or NULL) and a length no
/// larger than what it points to.
pub struct Data {
    pub ptr: *const c_void,
    pub len: u32,
}

impl Data {
    /// Decodes one private-data argument over `buf`.
    pub fn decode(input: &mut Input<'_>, buf: &[u8; DATA_BUF]) -> Self {
        let within = |len: u32| Self {
            ptr: buf.as_ptr().cast(),
            len: len.min(DATA_BUF_LEN),
        };
        match input.byte() % 8 {
            0 => within(0),
            1 => within(u32::from(input.byte() % 64)),
            // Around `MaxCallerData` (56), `MaxCalleeData` (148) and `MAX_PRIVATE_DATA` (256).
            2 => within(55 + u32::from(input.byte() % 3)),
            3 => within(147 + u32::from(input.byte() % 3)),
            4 => within(255 + u32::from(input.byte() % 3)),
            5 => within(u32::from(input.u16()) % (DATA_BUF_LEN + 1)),
            // NULL with a length: refused before anything is read.
            6 => Self {
                ptr: ptr::null(),
                len: input.count(),
            },
            _ => Self {
                ptr: ptr::null(),
                len: 0,
            },
        }
    }
}

/// An output buffer with a canary tail: the call is told `stated` bytes (≤ the buffer), and
/// nothing beyond them may change.
pub struct OutBuf {
    bytes: [u8; DATA_BUF],
    /// NULL pointer instead of `bytes`.
    pub null: bool,
    /// The length stated to the provider.
    pub stated: u32,
}

/// The canary byte of [`OutBuf`].
const CANARY: u8 = 0xA5;

impl OutBuf {
    /// Decodes an output buffer of at most `most` bytes (sizes around `fits`).
    pub fn decode(input: &mut Input<'_>, most: u32, fits: &[u32]) -> Self {
        let shape = input.byte();
        let stated = match shape % 8 {
            0 => 0,
            1 | 2 => fits[usize::from(input.byte()) % fits.len()],
            3 => fits[usize::from(input.byte()) % fits.len()].saturating_sub(1),
            4 => u32::from(input.byte()) % (most + 1),
            _ => most,
        };
        Self {
            bytes: [CANARY; DATA_BUF],
            null: shape >= 0xE0,
            stated: stated.min(most),
        }
    }

    /// The pointer to pass: NULL or `stated` writable bytes.
    pub const fn ptr<T>(&mut self) -> *mut T {
        if self.null {
            ptr::null_mut()
        } else {
            self.bytes.as_mut_ptr().cast()
        }
    }

    /// The bytes before `len`.
    pub fn head(&self, len: u32) -> &[u8] {
        &self.bytes[..(len as usize).min(DATA_BUF)]
    }

    /// Panics if anything past the stated length was written.
    pub fn assert_tail(&self, what: &str) {
        assert!(
            self.bytes[self.stated as usize..]
                .iter()
                .all(|&b| b == CANARY),
            "{what}: wrote beyond the stated {} bytes",
            self.stated
        );
    }
}
