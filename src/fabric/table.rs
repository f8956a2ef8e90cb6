//! The fabric's tables as plain data: which adapter owns which IP address, which endpoints
//! (address:port) are reserved and by how many users, where connect requests are routed, and
//! which connections (4-tuples) exist. No locks, no objects: [`super::Fabric`] keeps one
//! [`Tables`] under its spin lock.
//!
//! Owns the address-in-use rules, ephemeral port choice and the endpoint reference counts of
//! `spec/ndkpi.md` §5.7. It must never call out (no callbacks, no other locks): everything here
//! runs under the fabric lock, the innermost lock of the connection manager.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use super::address::{Address, IpAddr};
use crate::abi::{
    NTSTATUS, STATUS_ADDRESS_ALREADY_EXISTS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_ADDRESS,
    STATUS_SHARING_VIOLATION, STATUS_TOO_MANY_ADDRESSES,
};

/// Identifies one adapter attached to a fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdapterId(pub u32);

/// Who reserved an endpoint (`spec/ndkpi.md` §5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    /// A listener's implicit endpoint (`NdkListen`).
    Listener,
    /// A connector's private endpoint (`NdkConnect`).
    Connector,
    /// A shared endpoint (`NdkCreateSharedEndpoint`).
    Shared,
}

struct Entry<R> {
    addr: Address,
    kind: EndpointKind,
    adapter: AdapterId,
    refs: u32,
    route: Option<R>,
}

/// Ephemeral ports: where port-0 requests are served from (`spec/ndkpi.md` §4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl PortRange {
    /// 49152–65535, the range the NDK documentation names.
    pub const DYNAMIC: Self = Self {
        first: 49152,
        last: 65535,
    };
}

/// The fabric's tables. `R` is what a listening endpoint routes connect requests to.
pub struct Tables<R> {
    addresses: Vec<(AdapterId, IpAddr)>,
    endpoints: Vec<Entry<R>>,
    tuples: Vec<(Address, Address)>,
    ephemeral: PortRange,
    next_port: u16,
    next_adapter: u32,
}

fn reserve_one<T>(v: &mut Vec<T>) -> Result<(), NTSTATUS> {
    v.try_reserve(1).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
}

impl<R> Tables<R> {
    /// Empty tables serving port 0 from `ephemeral` (an empty or reversed range serves none).
    #[must_use]
    pub const fn new(ephemeral: PortRange) -> Self {
        Self {
            addresses: Vec::new(),
            endpoints: Vec::new(),
            tuples: Vec::new(),
            ephemeral,
            next_port: ephemeral.first,
            next_adapter: 1,
        }
    }

    /// A fresh adapter id.
    pub const fn new_adapter(&mut self) -> AdapterId {
        let id = AdapterId(self.next_adapter);
        self.next_adapter = self.next_adapter.wrapping_add(1);
        id
    }

    /// Registers `ip` as a local address of `adapter`.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_ADDRESS` for a wildcard, `STATUS_ADDRESS_ALREADY_EXISTS` if any adapter
    /// already has it, `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn add_address(&mut self, adapter: AdapterId, ip: IpAddr) -> Result<(), NTSTATUS> {
        if ip.is_unspecified() {
            return Err(STATUS_INVALID_ADDRESS);
        }
        if self.owner(&ip).is_some() {
            return Err(STATUS_ADDRESS_ALREADY_EXISTS);
        }
        reserve_one(&mut self.addresses)?;
        self.addresses.push((adapter, ip));
        Ok(())
    }

    /// Removes every address of `adapter` (existing endpoints stay until released).
    pub fn remove_adapter(&mut self, adapter: AdapterId) {
        self.addresses.retain(|(a, _)| *a != adapter);
    }

    /// The adapter that has `ip`.
    #[must_use]
    pub fn owner(&self, ip: &IpAddr) -> Option<AdapterId> {
        self.addresses
            .iter()
            .find(|(_, a)| a.same_host(ip))
            .map(|(id, _)| *id)
    }

    /// The address `adapter` uses for `ip`: `ip` itself if the adapter has it, the adapter's
    /// first address of that family for a wildcard (`resolve_wildcard`) or the wildcard itself
    /// (`!resolve_wildcard`, listeners and shared endpoints stay bound to "any").
    fn local_ip(
        &self,
        adapter: AdapterId,
        ip: IpAddr,
        resolve_wildcard: bool,
    ) -> Result<IpAddr, NTSTATUS> {
        if ip.is_unspecified() {
            let any = self
                .addresses
                .iter()
                .find(|(id, a)| *id == adapter && a.same_family(&ip));
            return match any {
                Some((_, a)) if resolve_wildcard => Ok(*a),
                Some(_) => Ok(ip),
                None => Err(STATUS_INVALID_ADDRESS),
            };
        }
        match self.owner(&ip) {
            Some(id) if id == adapter => Ok(ip),
            _ => Err(STATUS_INVALID_ADDRESS),
        }
    }

    /// Whether `ip:port` on `adapter` collides with a reserved endpoint: same port and equal
    /// hosts, or a wildcard on the same adapter (a wildcard only covers its own adapter).
    fn busy(&self, adapter: AdapterId, ip: &IpAddr, port: u16) -> bool {
        self.endpoints.iter().any(|e| {
            e.addr.port == port
                && (e.addr.ip.same_host(ip) || (e.adapter == adapter && e.addr.ip.overlaps(ip)))
        })
    }

    fn pick_port(&mut self, adapter: AdapterId, ip: &IpAddr) -> Result<u16, NTSTATUS> {
        let PortRange { first, last } = self.ephemeral;
        if first == 0 || first > last {
            return Err(STATUS_TOO_MANY_ADDRESSES);
        }
        let span = u32::from(last - first) + 1;
        for _ in 0..span {
            let port = self.next_port.clamp(first, last);
            self.next_port = if port == last { first } else { port + 1 };
            if !self.busy(adapter, ip, port) {
                return Ok(port);
            }
        }
        Err(STATUS_TOO_MANY_ADDRESSES)
    }

    /// Reserves an endpoint for `adapter` with one reference; returns the address actually
    /// bound (port chosen for port 0; a connector's wildcard IP resolved to the adapter's
    /// first address of that family).
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_ADDRESS` (IP not on this adapter), `STATUS_SHARING_VIOLATION` (the
    /// address:port, or an overlapping wildcard one, is reserved), `STATUS_TOO_MANY_ADDRESSES`
    /// (no ephemeral port left), `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn reserve(
        &mut self,
        adapter: AdapterId,
        addr: Address,
        kind: EndpointKind,
    ) -> Result<Address, NTSTATUS> {
        let ip = self.local_ip(adapter, addr.ip, kind == EndpointKind::Connector)?;
        reserve_one(&mut self.endpoints)?;
        let port = if addr.port == 0 {
            self.pick_port(adapter, &ip)?
        } else if self.busy(adapter, &ip, addr.port) {
            return Err(STATUS_SHARING_VIOLATION);
        } else {
            addr.port
        };
        let addr = Address { ip, port };
        self.endpoints.push(Entry {
            addr,
            kind,
            adapter,
            refs: 1,
            route: None,
        });
        Ok(addr)
    }

    fn entry_mut(&mut self, addr: &Address) -> Option<&mut Entry<R>> {
        self.endpoints.iter_mut().find(|e| e.addr == *addr)
    }

    /// Adds a reference to a reserved endpoint; `false` if it is not reserved.
    pub fn add_ref(&mut self, addr: &Address) -> bool {
        self.entry_mut(addr).is_some_and(|e| {
            e.refs += 1;
            true
        })
    }

    /// Drops a reference; at zero the endpoint is freed and its route (if any) is returned so
    /// the caller can drop it outside the lock.
    pub fn release(&mut self, addr: &Address) -> Option<R> {
        let i = self.endpoints.iter().position(|e| e.addr == *addr)?;
        let e = &mut self.endpoints[i];
        e.refs -= 1;
        if e.refs == 0 {
            self.endpoints.swap_remove(i).route
        } else {
            None
        }
    }

    /// References held on `addr` (`None`: not reserved).
    #[must_use]
    pub fn refs(&self, addr: &Address) -> Option<u32> {
        self.endpoints
            .iter()
            .find(|e| e.addr == *addr)
            .map(|e| e.refs)
    }

    /// Makes a listener endpoint accept connect requests through `route`; returns the route it
    /// replaced (if any), to drop outside the lock.
    pub fn set_route(&mut self, addr: &Address, route: R) -> Option<R> {
        self.entry_mut(addr).and_then(|e| e.route.replace(route))
    }

    /// Stops routing connect requests to `addr` (the endpoint stays reserved).
    pub fn clear_route(&mut self, addr: &Address) -> Option<R> {
        self.entry_mut(addr).and_then(|e| e.route.take())
    }

    /// The route for a connect request to `dest`: a listener bound to exactly that address,
    /// else one bound to the wildcard of its family on the adapter that owns the address.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_ADDRESS` for a wildcard destination or port 0; `STATUS_HOST_UNREACHABLE`
    /// if no adapter on the fabric has the IP; `STATUS_CONNECTION_REFUSED` if nothing listens.
    pub fn route(&self, dest: &Address) -> Result<&R, NTSTATUS> {
        if dest.ip.is_unspecified() || dest.port == 0 {
            return Err(STATUS_INVALID_ADDRESS);
        }
        let owner = self
            .owner(&dest.ip)
            .ok_or(crate::abi::STATUS_HOST_UNREACHABLE)?;
        let listening = |e: &&Entry<R>| e.kind == EndpointKind::Listener && e.route.is_some();
        let exact = self
            .endpoints
            .iter()
            .filter(listening)
            .find(|e| e.addr.port == dest.port && e.addr.ip.same_host(&dest.ip));
        let any = || {
            self.endpoints.iter().filter(listening).find(|e| {
                e.addr.port == dest.port
                    && e.adapter == owner
                    && e.addr.ip.is_unspecified()
                    && e.addr.ip.same_family(&dest.ip)
            })
        };
        exact
            .or_else(any)
            .and_then(|e| e.route.as_ref())
            .ok_or(crate::abi::STATUS_CONNECTION_REFUSED)
    }

    /// Records the connection `local`→`remote`.
    ///
    /// # Errors
    ///
    /// `STATUS_ADDRESS_ALREADY_EXISTS` if that 4-tuple is already connected,
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn add_tuple(&mut self, local: Address, remote: Address) -> Result<(), NTSTATUS> {
        if self.tuples.contains(&(local, remote)) {
            return Err(STATUS_ADDRESS_ALREADY_EXISTS);
        }
        reserve_one(&mut self.tuples)?;
        self.tuples.push((local, remote));
        Ok(())
    }

    /// Forgets the connection `local`→`remote`.
    pub fn remove_tuple(&mut self, local: Address, remote: Address) {
        if let Some(i) = self.tuples.iter().position(|t| *t == (local, remote)) {
            self.tuples.swap_remove(i);
        }
    }

    /// Number of reserved endpoints.
    #[must_use]
    pub const fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{STATUS_CONNECTION_REFUSED, STATUS_HOST_UNREACHABLE};

    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];

    fn tables() -> (Tables<u32>, AdapterId, AdapterId) {
        let mut t = Tables::new(PortRange {
            first: 50000,
            last: 50002,
        });
        let a = t.new_adapter();
        let b = t.new_adapter();
        t.add_address(a, IpAddr::V4(A)).unwrap();
        t.add_address(b, IpAddr::V4(B)).unwrap();
        t.add_address(a, IpAddr::v6([1; 16])).unwrap();
        (t, a, b)
    }

    #[test]
    fn addresses_belong_to_one_adapter() {
        let (mut t, a, b) = tables();
        assert_eq!(
            t.add_address(b, IpAddr::V4(A)),
            Err(STATUS_ADDRESS_ALREADY_EXISTS)
        );
        assert_eq!(
            t.add_address(b, IpAddr::UNSPECIFIED_V4),
            Err(STATUS_INVALID_ADDRESS)
        );
        assert_eq!(
            t.reserve(b, Address::v4(A, 1), EndpointKind::Listener),
            Err(STATUS_INVALID_ADDRESS)
        );
        assert_eq!(t.owner(&IpAddr::V4(A)), Some(a));
        t.remove_adapter(a);
        assert_eq!(t.owner(&IpAddr::V4(A)), None);
    }

    #[test]
    fn overlapping_endpoints_are_a_sharing_violation() {
        let (mut t, a, _) = tables();
        t.reserve(a, Address::v4([0; 4], 445), EndpointKind::Listener)
            .unwrap();
        assert_eq!(
            t.reserve(a, Address::v4(A, 445), EndpointKind::Connector),
            Err(STATUS_SHARING_VIOLATION)
        );
        // Another family on the same port is fine.
        t.reserve(a, Address::v6([1; 16], 445), EndpointKind::Shared)
            .unwrap();
        assert_eq!(
            t.reserve(a, Address::v6([0; 16], 445), EndpointKind::Listener),
            Err(STATUS_SHARING_VIOLATION)
        );
    }

    #[test]
    fn ephemeral_ports_rotate_and_run_out() {
        let (mut t, a, _) = tables();
        let got: Vec<u16> = (0..3)
            .map(|_| {
                t.reserve(a, Address::v4(A, 0), EndpointKind::Connector)
                    .unwrap()
                    .port
            })
            .collect();
        assert_eq!(got, [50000, 50001, 50002]);
        assert_eq!(
            t.reserve(a, Address::v4(A, 0), EndpointKind::Connector),
            Err(STATUS_TOO_MANY_ADDRESSES)
        );
        assert!(t.release(&Address::v4(A, 50001)).is_none());
        let again = t
            .reserve(a, Address::v4([0; 4], 0), EndpointKind::Connector)
            .unwrap();
        assert_eq!(
            again,
            Address::v4(A, 50001),
            "wildcard resolved, port reused"
        );
    }

    #[test]
    fn references_keep_the_port_until_zero() {
        let (mut t, a, _) = tables();
        let l = t
            .reserve(a, Address::v4(A, 7), EndpointKind::Listener)
            .unwrap();
        assert!(t.add_ref(&l) && t.add_ref(&l));
        assert_eq!(t.set_route(&l, 99), None);
        assert_eq!(t.release(&l), None);
        assert_eq!(t.release(&l), None);
        assert_eq!(t.refs(&l), Some(1));
        assert_eq!(t.release(&l), Some(99), "last release hands the route back");
        assert_eq!(t.refs(&l), None);
        assert!(!t.add_ref(&l));
    }

    #[test]
    fn routing_prefers_exact_then_wildcard_of_the_owner() {
        let (mut t, a, b) = tables();
        assert_eq!(
            t.route(&Address::v4([9, 9, 9, 9], 1)).err(),
            Some(STATUS_HOST_UNREACHABLE)
        );
        assert_eq!(
            t.route(&Address::v4(A, 1)).err(),
            Some(STATUS_CONNECTION_REFUSED)
        );
        let any = t
            .reserve(a, Address::v4([0; 4], 1), EndpointKind::Listener)
            .unwrap();
        t.set_route(&any, 1);
        assert_eq!(t.route(&Address::v4(A, 1)), Ok(&1));
        assert_eq!(
            t.route(&Address::v4(B, 1)).err(),
            Some(STATUS_CONNECTION_REFUSED),
            "a wildcard covers its own adapter only"
        );
        let exact = t
            .reserve(b, Address::v4(B, 1), EndpointKind::Listener)
            .unwrap();
        t.set_route(&exact, 2);
        assert_eq!(t.route(&Address::v4(B, 1)), Ok(&2));
        assert_eq!(t.clear_route(&exact), Some(2));
        assert_eq!(
            t.route(&Address::v4(B, 1)).err(),
            Some(STATUS_CONNECTION_REFUSED)
        );
        assert_eq!(
            t.route(&Address::v4([0; 4], 1)).err(),
            Some(STATUS_INVALID_ADDRESS)
        );
    }

    #[test]
    fn four_tuples_are_unique() {
        let (mut t, ..) = tables();
        let (l, r) = (Address::v4(A, 1), Address::v4(B, 2));
        t.add_tuple(l, r).unwrap();
        assert_eq!(t.add_tuple(l, r), Err(STATUS_ADDRESS_ALREADY_EXISTS));
        t.add_tuple(l, Address::v4(B, 3)).unwrap();
        t.remove_tuple(l, r);
        t.add_tuple(l, r).unwrap();
    }
}
