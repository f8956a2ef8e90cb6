//! The provider configuration of the `NDK_ADAPTER`s a miniport adapter opens, and the NDK
//! attributes derived from it.
//!
//! [`ndk_adapter_config`] is the one place the miniport builds a [`AdapterConfig`]
//! (`crate::verbs`); the NDK attributes (`NDK_ADAPTER_INFO`, `NDIS_NDK_CAPABILITIES`) are
//! derived from its result, so NDIS's copy and `NdkQueryAdapterInfo` report the same numbers.
//! Compiled where the provider is (host `std` and the Windows kernel build).
//!
//! Owns: how per-adapter state becomes a provider configuration, the capability counts and
//! missing-counter mask, and the token-secret mixing. Must never: define an NDK limit or flag
//! of its own (they come from [`crate::verbs::limits`]), or touch NDIS.
#![deny(unsafe_code)]

use crate::abi::{
    NDIS_NDK_CAPABILITIES, NDIS_NDK_CAPABILITIES_REVISION_1, NDIS_OBJECT_HEADER,
    NDIS_OBJECT_TYPE_DEFAULT, NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1, NDK_ADAPTER_INFO,
    NDK_PERFORMANCE_COUNTERS,
};
use crate::cm::ndk::NdkFabric;
use crate::fabric::IpAddr;
use crate::verbs::AdapterConfig;
use crate::verbs::limits::MAX_ADAPTER_ADDRESSES;
use crate::verbs::limits::{SOFTNDK_TECHNOLOGY, SOFTNDK_VENDOR_ID};
use crate::verbs::misuse::MisuseChecks;
use crate::verbs::stats::CONNECTIONS_COUNTED;

use super::config::{NDKPI_VERSION, RDMA_TECHNOLOGY, VENDOR_ID};
use super::netaddr::AddressSet;

// The Ethernet side and the INF report the provider's identity.
const _: () = assert!(SOFTNDK_VENDOR_ID == VENDOR_ID);
const _: () = assert!(SOFTNDK_TECHNOLOGY.0 == RDMA_TECHNOLOGY.0);

/// What the miniport knows about one adapter that goes into every `NDK_ADAPTER` it opens.
///
/// Built by the open handler for each open; [`ndk_adapter_config`] is the one place that
/// turns it into the provider's [`AdapterConfig`].
#[derive(Clone, Debug)]
pub struct NdkAdapterState {
    /// Secret mixed into the instance's memory tokens ([`token_secret`]).
    pub token_secret: u32,
    /// The driver-wide fabric, bound to this miniport adapter's id
    /// (`fabric_port::FabricPort::fabric`): the instance joins that id, so it shares the
    /// adapter's addresses with every other instance of the adapter. `None`: a private fabric
    /// of the instance's own (only the attributes are built that way).
    pub fabric: Option<NdkFabric>,
    /// The adapter's addresses at the open (informational in the provider's configuration:
    /// the fabric registration belongs to the adapter's id and follows
    /// `OID_GEN_NETWORK_LAYER_ADDRESSES`).
    pub addresses: AddressSet,
    /// The provider verifier, as the adapter's `SoftNdkVerifier` keyword set it at
    /// initialization (`config::verifier_checks`).
    pub misuse: MisuseChecks,
    /// Whether creates and requests pend, as the adapter's `SoftNdkPendRequests` keyword set it
    /// at initialization (`config::pend_requests`).
    pub pend: bool,
}

impl NdkAdapterState {
    /// State with `token_secret`, no fabric (private loopback fabric per instance), the
    /// build's default verifier setting, and creates and requests completing inline.
    #[must_use]
    pub const fn detached(token_secret: u32) -> Self {
        Self {
            token_secret,
            fabric: None,
            addresses: AddressSet::EMPTY,
            misuse: MisuseChecks::DEFAULT,
            pend: false,
        }
    }
}

/// The provider configuration of one `NDK_ADAPTER` opened on an adapter.
///
/// SoftNDK's identity and limits ([`AdapterConfig::softndk`]) with the adapter's per-open
/// state: the token secret, the provider verifier setting, whether creates and requests pend
/// (both follow `pend`), and the fabric (bound to the adapter's id) with the adapter's
/// addresses ([`AdapterConfig::on_fabric`]). The only place the miniport builds an
/// [`AdapterConfig`]; the NDK attributes are derived from its result too, so NDIS and
/// `NdkQueryAdapterInfo` report the same numbers.
#[must_use]
pub fn ndk_adapter_config(state: &NdkAdapterState) -> AdapterConfig {
    let config = AdapterConfig {
        misuse: state.misuse,
        ..AdapterConfig::softndk(state.token_secret)
    }
    .with_pending_creates(state.pend)
    .with_pending_requests(state.pend);
    match &state.fabric {
        Some(fabric) => {
            // The provider takes at most `MAX_ADAPTER_ADDRESSES`; the first ones are kept.
            let mut ips = [IpAddr::V4([0; 4]); MAX_ADAPTER_ADDRESSES];
            let mut count = 0;
            for (slot, ip) in ips.iter_mut().zip(state.addresses.iter()) {
                *slot = ip;
                count += 1;
            }
            config.on_fabric(fabric, &ips[..count])
        }
        None => config,
    }
}

/// The `NDK_ADAPTER_INFO` of the NDK attributes: the provider's answer for an instance opened
/// at [`NDKPI_VERSION`].
#[must_use]
pub const fn ndk_adapter_info(config: &AdapterConfig) -> NDK_ADAPTER_INFO {
    config.adapter_info(NDKPI_VERSION)
}

/// `NDIS_NDK_CAPABILITIES.MissingCounterMask`: every counter the provider does not maintain.
///
/// See [`verbs::stats`](crate::verbs::stats): the 20 reserved ones always, the five connection
/// counters until the connection manager reports them. `CQError` and the four RDMA traffic
/// counters are kept.
pub const NDK_MISSING_COUNTER_MASK: u64 = {
    let all = (1_u64 << NDK_PERFORMANCE_COUNTERS) - 1;
    let connections = 0b1_1111; // Connect .. ActiveConnection, bits 0..=4
    let kept = 0b1_1111 << 25; // CQError, RDMAIn/OutOctets, RDMAIn/OutFrames, bits 25..=29
    if CONNECTIONS_COUNTED {
        all & !(connections | kept)
    } else {
        all & !kept
    }
};

/// The `NDIS_NDK_CAPABILITIES` of the NDK attributes, derived from the provider configuration;
/// `NdkInfo` is NULL and the caller points it at [`ndk_adapter_info`]'s result.
///
/// - QP, CQ and PD counts: `u32::MAX`. The provider has no count limit for them; each create
///   allocates from pool and answers `STATUS_INSUFFICIENT_RESOURCES` when it cannot.
/// - MRs: the provider's bound on memory objects of one instance
///   ([`Limits::max_memory_objects`](crate::verbs::Limits::max_memory_objects)).
/// - MWs and SRQs: 0, because `NdkCreateMw`/`NdkCreateSrq` are not implemented (they answer
///   `STATUS_NOT_SUPPORTED`; for SRQs 0 is the documented "not supported").
/// - Read limits: 0, no adapter-wide cap (the per-QP limits in the info apply).
#[must_use]
pub const fn ndk_capabilities(config: &AdapterConfig) -> NDIS_NDK_CAPABILITIES {
    NDIS_NDK_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_NDK_CAPABILITIES_REVISION_1,
            NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1,
        ),
        Flags: 0,
        MaxQpCount: u32::MAX,
        MaxCqCount: u32::MAX,
        MaxMrCount: config.limits.max_memory_objects,
        MaxPdCount: u32::MAX,
        MaxInboundReadLimit: 0,
        MaxOutboundReadLimit: 0,
        MaxMwCount: 0,
        MaxSrqCount: 0,
        MissingCounterMask: NDK_MISSING_COUNTER_MASK,
        NdkInfo: core::ptr::null_mut(),
    }
}

/// The memory-token secret of one `NDK_ADAPTER` instance, from values a peer cannot predict.
///
/// Inputs: the performance counter at the open (`KeQueryPerformanceCounter`, sub-microsecond ticks
/// since boot), the interrupt time, the adapter's pool address (randomised by the kernel's
/// pool layout) and the adapter's open sequence number (so two opens within one tick differ).
///
/// A splitmix64 finaliser spreads every input bit over the result. This is not cryptographic:
/// it only has to keep a peer from guessing another instance's tokens (which also carry a
/// generation and a PD check), not to withstand analysis of many tokens.
#[must_use]
pub const fn token_secret(
    performance_counter: u64,
    interrupt_time: u64,
    address: usize,
    sequence: u64,
) -> u32 {
    const fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let mut h = mix(performance_counter.wrapping_add(0x9E37_79B9_7F4A_7C15));
    h = mix(h ^ interrupt_time.rotate_left(17));
    h = mix(h ^ (address as u64).rotate_left(32));
    h = mix(h ^ sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    #[allow(clippy::cast_possible_truncation, reason = "folding 64 bits into 32")]
    let folded = (h ^ (h >> 32)) as u32;
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::NDK_RDMA_TECHNOLOGY;
    use crate::miniport::config::RDMA_TECHNOLOGY_IWARP;

    #[test]
    fn ndk_info_meets_the_documented_minimums() {
        let config = ndk_adapter_config(&NdkAdapterState::detached(7));
        let info = ndk_adapter_info(&config);
        assert!(
            info.FRMRPageCount >= 16,
            "NDKPI requires at least 16 FRMR pages"
        );
        assert_ne!(
            info.AdapterFlags & crate::abi::NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED,
            0
        );
        assert_eq!(info.RdmaTechnology, NDK_RDMA_TECHNOLOGY::IWARP);
        assert_eq!(RDMA_TECHNOLOGY_IWARP, 1, "the INF's iWARP value");
        assert_eq!(info.Version, NDKPI_VERSION);
        assert_eq!(info.VendorId, VENDOR_ID);
        assert!(
            info.MaxTransferLength >= 1 << 20,
            "SMB Direct moves 1 MiB transfers"
        );
        assert!(info.MaxCqDepth >= info.MaxReceiveQueueDepth + info.MaxInitiatorQueueDepth);
    }

    #[test]
    fn the_configuration_carries_the_per_open_secret_and_the_provider_limits() {
        let config = ndk_adapter_config(&NdkAdapterState::detached(0xABCD));
        assert_eq!(config.token_secret, 0xABCD);
        assert_eq!(config.limits, crate::verbs::Limits::SOFTNDK);
        assert_eq!(
            ndk_adapter_info(&config).AdapterFlags,
            crate::verbs::ADAPTER_FLAGS
        );
    }

    #[test]
    fn the_configuration_carries_the_verifier_setting() {
        assert_eq!(
            ndk_adapter_config(&NdkAdapterState::detached(1)).misuse,
            MisuseChecks::DEFAULT
        );
        for checks in [MisuseChecks::Off, MisuseChecks::ON] {
            let state = NdkAdapterState {
                misuse: checks,
                ..NdkAdapterState::detached(1)
            };
            assert_eq!(ndk_adapter_config(&state).misuse, checks);
        }
    }

    #[test]
    fn the_configuration_pends_creates_and_requests_as_the_keyword_says() {
        let inline = ndk_adapter_config(&NdkAdapterState::detached(1));
        assert!(
            !inline.pend_creates && !inline.pend_requests,
            "off by default"
        );
        let state = NdkAdapterState {
            pend: true,
            ..NdkAdapterState::detached(1)
        };
        let pending = ndk_adapter_config(&state);
        assert!(pending.pend_creates && pending.pend_requests);
        assert_eq!(
            ndk_adapter_info(&pending),
            ndk_adapter_info(&inline),
            "pending changes no reported limit or flag"
        );
    }

    #[test]
    fn capabilities_follow_the_provider_and_its_counters() {
        let config = ndk_adapter_config(&NdkAdapterState::detached(0));
        let caps = ndk_capabilities(&config);
        assert_eq!(caps.Header.Type, NDIS_OBJECT_TYPE_DEFAULT);
        assert_eq!(caps.Header.Revision, 1);
        assert_eq!(caps.Header.Size, 0x38, "NDIS refuses less than 0x38");
        assert!(caps.NdkInfo.is_null(), "the caller points it at its info");
        assert_eq!(caps.MaxMrCount, config.limits.max_memory_objects);
        assert_eq!(caps.MaxSrqCount, 0, "NdkCreateSrq is not implemented");
        assert_eq!(caps.MaxMwCount, 0, "NdkCreateMw is not implemented");
        let mask = caps.MissingCounterMask;
        assert_eq!(mask >> 30, 0, "only 30 counters exist");
        for kept in 25..30 {
            assert_eq!(mask & (1 << kept), 0, "counter {kept} is maintained");
        }
        for reserved in 5..25 {
            assert_ne!(mask & (1 << reserved), 0, "reserved counter {reserved}");
        }
        assert_eq!(mask.trailing_zeros() >= 5, CONNECTIONS_COUNTED);
    }

    #[test]
    fn token_secret_depends_on_every_input() {
        let base = token_secret(1_000_000, 5_000, 0xFFFF_8000_1234_5000, 1);
        let variants = [
            token_secret(1_000_001, 5_000, 0xFFFF_8000_1234_5000, 1),
            token_secret(1_000_000, 5_001, 0xFFFF_8000_1234_5000, 1),
            token_secret(1_000_000, 5_000, 0xFFFF_8000_1234_5040, 1),
            token_secret(1_000_000, 5_000, 0xFFFF_8000_1234_5000, 2),
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, base, "input {i} changes the secret");
            // A one-bit input change flips many output bits, not one.
            assert!((v ^ base).count_ones() >= 4, "input {i} is mixed");
        }
        assert_ne!(base, 1_000_000, "not the counter itself");
    }
}
