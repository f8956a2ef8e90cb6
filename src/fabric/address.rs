//! Endpoint addresses (IP + `NetworkDirect` port) and their `SOCKADDR_IN`/`SOCKADDR_IN6` forms.
//!
//! Owns the conversion between the consumer's socket-address bytes and [`Address`], and the
//! matching rules the fabric uses (wildcards, families). It must never dereference consumer
//! memory: the dispatch layer copies the `SOCKADDR` bytes into a slice first.
#![deny(unsafe_code)]

use core::fmt;

use crate::abi::{
    AF_INET, AF_INET6, NTSTATUS, SOCKADDR_IN_SIZE, SOCKADDR_IN6_SIZE, STATUS_BUFFER_TOO_SMALL,
    STATUS_INVALID_ADDRESS, STATUS_INVALID_PARAMETER,
};

/// An IP address as NDK uses it: IPv4, or IPv6 with its scope (interface) id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpAddr {
    /// IPv4, most significant byte first.
    V4([u8; 4]),
    /// IPv6, most significant byte first, with the `sin6_scope_id` it came with.
    V6 {
        /// Address bytes.
        addr: [u8; 16],
        /// Scope id; carried for the round trip, ignored when matching (see `docs/connections.md`).
        scope_id: u32,
    },
}

impl IpAddr {
    /// `0.0.0.0`.
    pub const UNSPECIFIED_V4: Self = Self::V4([0; 4]);
    /// `::`.
    pub const UNSPECIFIED_V6: Self = Self::V6 {
        addr: [0; 16],
        scope_id: 0,
    };

    /// An IPv6 address with scope 0.
    #[must_use]
    pub const fn v6(addr: [u8; 16]) -> Self {
        Self::V6 { addr, scope_id: 0 }
    }

    /// Whether this is the wildcard of its family (`0.0.0.0` or `::`).
    #[must_use]
    pub fn is_unspecified(&self) -> bool {
        match self {
            Self::V4(a) => *a == [0; 4],
            Self::V6 { addr, .. } => *addr == [0; 16],
        }
    }

    /// Whether both are of the same family.
    #[must_use]
    pub const fn same_family(&self, other: &Self) -> bool {
        matches!(
            (self, other),
            (Self::V4(_), Self::V4(_)) | (Self::V6 { .. }, Self::V6 { .. })
        )
    }

    /// Same family and same address bytes (the IPv6 scope id is not compared).
    #[must_use]
    pub fn same_host(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::V4(a), Self::V4(b)) => a == b,
            (Self::V6 { addr: a, .. }, Self::V6 { addr: b, .. }) => a == b,
            _ => false,
        }
    }

    /// Whether an endpoint bound to `self` receives traffic for `other`: equal hosts, or `self`
    /// is the wildcard of `other`'s family.
    #[must_use]
    pub fn covers(&self, other: &Self) -> bool {
        self.same_family(other) && (self.is_unspecified() || self.same_host(other))
    }

    /// Whether endpoints bound to `self` and `other` on the same port would collide: same
    /// family and equal hosts, or either is the wildcard.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        self.covers(other) || other.covers(self)
    }
}

impl fmt::Debug for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(bytes) => {
                let [b0, b1, b2, b3] = bytes;
                write!(f, "{b0}.{b1}.{b2}.{b3}")
            }
            Self::V6 { addr, scope_id } => {
                for (i, pair) in addr.chunks_exact(2).enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", u16::from_be_bytes([pair[0], pair[1]]))?;
                }
                if *scope_id != 0 {
                    write!(f, "%{scope_id}")?;
                }
                Ok(())
            }
        }
    }
}

/// An endpoint address: IP + `NetworkDirect` port (host byte order here).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// The IP address.
    pub ip: IpAddr,
    /// The port; 0 asks the provider to choose one.
    pub port: u16,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(_) => write!(f, "{:?}:{}", self.ip, self.port),
            IpAddr::V6 { .. } => write!(f, "[{:?}]:{}", self.ip, self.port),
        }
    }
}

impl Address {
    /// An IPv4 endpoint.
    #[must_use]
    pub const fn v4(ip: [u8; 4], port: u16) -> Self {
        Self {
            ip: IpAddr::V4(ip),
            port,
        }
    }

    /// An IPv6 endpoint with scope 0.
    #[must_use]
    pub const fn v6(ip: [u8; 16], port: u16) -> Self {
        Self {
            ip: IpAddr::v6(ip),
            port,
        }
    }

    /// The same IP with another port.
    #[must_use]
    pub const fn with_port(self, port: u16) -> Self {
        Self { ip: self.ip, port }
    }

    /// Bytes [`Address::write_sockaddr`] needs: 16 (`SOCKADDR_IN`) or 28 (`SOCKADDR_IN6`).
    #[must_use]
    pub const fn sockaddr_len(&self) -> u32 {
        match self.ip {
            IpAddr::V4(_) => SOCKADDR_IN_SIZE,
            IpAddr::V6 { .. } => SOCKADDR_IN6_SIZE,
        }
    }

    /// Parses the `AddressLength` bytes of a consumer `SOCKADDR` (`SOCKADDR_IN` or
    /// `SOCKADDR_IN6`): family in native byte order, port and address in network byte order.
    /// Bytes past the family's size are ignored (consumers pass `SOCKADDR_STORAGE`).
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` when the buffer is shorter than its family's structure or
    /// shorter than the family field; `STATUS_INVALID_ADDRESS` for a family other than
    /// `AF_INET`/`AF_INET6`.
    pub fn from_sockaddr(bytes: &[u8]) -> Result<Self, NTSTATUS> {
        let family = match bytes {
            [a, b, ..] => u16::from_ne_bytes([*a, *b]),
            _ => return Err(STATUS_INVALID_PARAMETER),
        };
        let need = match family {
            AF_INET => SOCKADDR_IN_SIZE,
            AF_INET6 => SOCKADDR_IN6_SIZE,
            _ => return Err(STATUS_INVALID_ADDRESS),
        };
        let Some(b) = bytes.get(..need as usize) else {
            return Err(STATUS_INVALID_PARAMETER);
        };
        let port = u16::from_be_bytes([b[2], b[3]]);
        let ip = if family == AF_INET {
            IpAddr::V4([b[4], b[5], b[6], b[7]])
        } else {
            let mut addr = [0; 16];
            addr.copy_from_slice(&b[8..24]);
            IpAddr::V6 {
                addr,
                scope_id: u32::from_ne_bytes([b[24], b[25], b[26], b[27]]),
            }
        };
        Ok(Self { ip, port })
    }

    /// Writes the address as `SOCKADDR_IN`/`SOCKADDR_IN6` into `out` (the `Get*Address`
    /// calls). Returns the bytes written.
    ///
    /// # Errors
    ///
    /// `STATUS_BUFFER_TOO_SMALL` when `out` is shorter than [`Address::sockaddr_len`]; nothing
    /// is written then (the caller reports the required size).
    pub fn write_sockaddr(&self, out: &mut [u8]) -> Result<u32, NTSTATUS> {
        let len = self.sockaddr_len();
        let Some(b) = out.get_mut(..len as usize) else {
            return Err(STATUS_BUFFER_TOO_SMALL);
        };
        b.fill(0);
        b[2..4].copy_from_slice(&self.port.to_be_bytes());
        match self.ip {
            IpAddr::V4(a) => {
                b[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
                b[4..8].copy_from_slice(&a);
            }
            IpAddr::V6 { addr, scope_id } => {
                b[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
                b[8..24].copy_from_slice(&addr);
                b[24..28].copy_from_slice(&scope_id.to_ne_bytes());
            }
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{IN_ADDR, IN6_ADDR, SOCKADDR_IN, SOCKADDR_IN6};

    fn in4_bytes(s: &SOCKADDR_IN) -> [u8; 16] {
        let mut b = [0; 16];
        b[0..2].copy_from_slice(&s.sin_family.to_ne_bytes());
        b[2..4].copy_from_slice(&s.sin_port.to_ne_bytes());
        b[4..8].copy_from_slice(&s.sin_addr.s_addr);
        b
    }

    #[test]
    fn ipv4_sockaddr_round_trips_in_network_order() {
        let s = SOCKADDR_IN {
            sin_family: AF_INET,
            sin_port: 445_u16.to_be(),
            sin_addr: IN_ADDR {
                s_addr: [192, 168, 1, 7],
            },
            sin_zero: [0; 8],
        };
        let a = Address::from_sockaddr(&in4_bytes(&s)).unwrap();
        assert_eq!(a, Address::v4([192, 168, 1, 7], 445));
        let mut out = [0xAA; 20];
        assert_eq!(a.write_sockaddr(&mut out), Ok(16));
        assert_eq!(&out[..16], &in4_bytes(&s));
        assert_eq!(out[16], 0xAA, "nothing written past the structure");
    }

    #[test]
    fn ipv6_sockaddr_round_trips_with_scope() {
        let s = SOCKADDR_IN6 {
            sin6_family: AF_INET6,
            sin6_port: 5445_u16.to_be(),
            sin6_flowinfo: 0,
            sin6_addr: IN6_ADDR {
                s6_addr: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            },
            sin6_scope_id: 9,
        };
        let mut bytes = [0; 28];
        bytes[0..2].copy_from_slice(&s.sin6_family.to_ne_bytes());
        bytes[2..4].copy_from_slice(&s.sin6_port.to_ne_bytes());
        bytes[8..24].copy_from_slice(&s.sin6_addr.s6_addr);
        bytes[24..28].copy_from_slice(&s.sin6_scope_id.to_ne_bytes());
        let a = Address::from_sockaddr(&bytes).unwrap();
        assert_eq!(a.port, 5445);
        assert_eq!(
            a.ip,
            IpAddr::V6 {
                addr: s.sin6_addr.s6_addr,
                scope_id: 9
            }
        );
        let mut out = [0; 128];
        assert_eq!(a.write_sockaddr(&mut out), Ok(28));
        assert_eq!(&out[..28], &bytes);
    }

    #[test]
    fn bad_sockaddrs_are_refused_with_a_status() {
        assert_eq!(Address::from_sockaddr(&[]), Err(STATUS_INVALID_PARAMETER));
        let mut b = [0; 16];
        b[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
        assert_eq!(Address::from_sockaddr(&b), Err(STATUS_INVALID_PARAMETER));
        b[0..2].copy_from_slice(&7_u16.to_ne_bytes());
        assert_eq!(Address::from_sockaddr(&b), Err(STATUS_INVALID_ADDRESS));
        let a = Address::v6([1; 16], 1);
        assert_eq!(a.write_sockaddr(&mut [0; 27]), Err(STATUS_BUFFER_TOO_SMALL));
    }

    #[test]
    fn wildcards_cover_their_family_only() {
        let any4 = IpAddr::UNSPECIFIED_V4;
        let one = IpAddr::V4([10, 0, 0, 1]);
        let v6 = IpAddr::v6([1; 16]);
        assert!(any4.covers(&one) && !one.covers(&any4) && any4.overlaps(&one));
        assert!(!any4.covers(&v6) && !IpAddr::UNSPECIFIED_V6.covers(&one));
        assert!(IpAddr::UNSPECIFIED_V6.covers(&v6));
        let scoped = IpAddr::V6 {
            addr: [1; 16],
            scope_id: 3,
        };
        assert!(scoped.same_host(&v6));
        assert_eq!(
            std::format!("{:?}", Address::v4([1, 2, 3, 4], 5)),
            "1.2.3.4:5"
        );
    }
}
