//! Adapter open/close, version negotiation, `NdkQueryAdapterInfo`, PD and CQ lifecycle, all
//! through the dispatch tables with the consumer wrapper.

use std::sync::Arc;

use softndk::abi::{
    NDIS_STATUS_BAD_VERSION, NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED,
    NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED,
    NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED, NDK_ADAPTER_INFO, NDK_OBJECT_TYPE,
    NDK_RDMA_TECHNOLOGY, NDK_VERSION, NDK_VERSION_1_2, NDK_VERSION_2_1, STATUS_BUFFER_TOO_SMALL,
    STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Closed, CqEvents};
use softndk::platform::Irql;
use softndk::platform::host::{Host, with_irql};
use softndk::verbs::{AdapterConfig, Limits};

const fn config() -> AdapterConfig {
    AdapterConfig::softndk(0x5EED_0001)
}

fn open(p: &Host) -> Adapter {
    Adapter::open(&config(), p, NDK_VERSION::new(1, 0)).expect("open")
}

#[test]
fn open_negotiates_the_highest_minor_of_the_requested_major() {
    let p = Host::deterministic();
    for (asked, got) in [
        ((1, 0), NDK_VERSION_1_2),
        ((1, 2), NDK_VERSION_1_2),
        ((2, 0), NDK_VERSION_2_1),
    ] {
        let a = Adapter::open(&config(), &p, NDK_VERSION::new(asked.0, asked.1)).unwrap();
        assert_eq!(a.header().Version, got);
        assert_eq!(a.header().ObjectType, NDK_OBJECT_TYPE::ADAPTER);
        assert_eq!(a.query_info().unwrap().Version, got);
        let pd = a.create_pd().unwrap();
        assert_eq!(pd.header().Version, got, "every object header carries it");
        let cq = a.create_cq(4, &CqEvents::new()).unwrap();
        assert_eq!(cq.header().Version, got);
        assert_eq!(cq.header().ObjectType, NDK_OBJECT_TYPE::CQ);
        assert!(matches!(cq.close(), Closed::Now));
        assert!(matches!(pd.close(), Closed::Now));
        a.close();
    }
    for bad in [(3, 0), (1, 3), (0, 0), (2, 2)] {
        let r = Adapter::open(&config(), &p, NDK_VERSION::new(bad.0, bad.1));
        assert_eq!(r.unwrap_err(), NDIS_STATUS_BAD_VERSION, "{bad:?}");
    }
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn adapter_info_reports_the_limits_and_only_implemented_flags() {
    let p = Host::deterministic();
    let a = open(&p);
    let info = a.query_info().unwrap();
    let l = Limits::SOFTNDK;
    assert_eq!(info.MaxCqDepth, l.max_cq_depth);
    assert_eq!(info.MaxInitiatorRequestSge, l.max_initiator_sge);
    assert_eq!(info.MaxTransferLength, l.max_transfer_length);
    assert_eq!(info.MaxInlineDataSize, l.max_inline_data);
    assert!(info.FRMRPageCount >= 16);
    assert_eq!(info.RdmaTechnology, NDK_RDMA_TECHNOLOGY::IWARP);
    assert_ne!(info.AdapterFlags & NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, 0);
    assert_ne!(
        info.AdapterFlags & NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED,
        0
    );
    assert_eq!(
        info.AdapterFlags & NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED,
        0
    );
    // Moderation is not advertised, so the CQ must refuse it (and resize must work).
    assert_eq!(
        info.AdapterFlags & NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED,
        0
    );
    let cq = a.create_cq(8, &CqEvents::new()).unwrap();
    assert_eq!(cq.moderate(10, 4), STATUS_NOT_SUPPORTED);
    assert_eq!(cq.resize(16), STATUS_SUCCESS);
    let _ = cq.close();
    a.close();
}

#[test]
fn adapter_info_buffer_rules() {
    let p = Host::deterministic();
    let a = open(&p);
    let full = u32::try_from(size_of::<NDK_ADAPTER_INFO>()).unwrap();

    // Size probe: NULL pInfo.
    let mut size = 0;
    assert_eq!(
        a.query_info_raw(None, Some(&mut size)),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(size, full);

    // Too small: required size reported, buffer untouched.
    let mut buf = [0xAA_u8; 0x68];
    let mut size = 0x20;
    assert_eq!(
        a.query_info_raw(Some(&mut buf), Some(&mut size)),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(size, full);
    assert!(buf.iter().all(|&b| b == 0xAA));

    // An old consumer's 0x60 bytes: filled up to AdapterFlags, nothing beyond.
    let mut size = 0x60;
    assert_eq!(
        a.query_info_raw(Some(&mut buf), Some(&mut size)),
        STATUS_SUCCESS
    );
    assert_eq!(size, 0x60);
    assert!(buf[0x60..].iter().all(|&b| b == 0xAA), "wrote past 0x60");
    let flags = u32::from_le_bytes(buf[0x5C..0x60].try_into().unwrap());
    assert_eq!(flags, a.query_info().unwrap().AdapterFlags);

    // A bigger buffer gets the whole structure and its size.
    let mut big = [0_u8; 0x80];
    let mut size = 0x80;
    assert_eq!(
        a.query_info_raw(Some(&mut big), Some(&mut size)),
        STATUS_SUCCESS
    );
    assert_eq!(size, full);

    // NULL size pointer.
    assert_eq!(
        a.query_info_raw(Some(&mut buf), None),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(a.query_extension(), STATUS_NOT_SUPPORTED);
    a.close();
}

#[test]
fn pd_and_cq_create_and_close_at_passive_and_dispatch() {
    let p = Host::deterministic();
    let a = open(&p);
    for irql in [Irql::Passive, Irql::Dispatch] {
        with_irql(irql, || {
            let pd = a.create_pd().unwrap();
            let pd2 = a.create_pd().unwrap();
            assert_ne!(pd.privileged_token(), pd2.privileged_token());
            assert_eq!(pd.query_extension(), STATUS_NOT_SUPPORTED);
            let events = CqEvents::new();
            let cq = a.create_cq(16, &events).unwrap();
            assert_eq!(cq.query_extension(), STATUS_NOT_SUPPORTED);
            assert!(matches!(cq.close(), Closed::Now));
            assert!(matches!(pd.close(), Closed::Now));
            assert!(matches!(pd2.close(), Closed::Now));
        });
    }
    a.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn cq_depth_is_validated() {
    let p = Host::deterministic();
    let a = open(&p);
    let events = CqEvents::new();
    let max = a.query_info().unwrap().MaxCqDepth;
    assert_eq!(
        a.create_cq(0, &events).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.create_cq(max + 1, &events).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    let cq = a.create_cq(max, &events).unwrap();
    assert_eq!(cq.resize(0), STATUS_INVALID_PARAMETER);
    assert_eq!(cq.resize(max + 1), STATUS_INVALID_PARAMETER);
    assert_eq!(cq.resize(1), STATUS_SUCCESS);
    let _ = cq.close();
    a.close();
}

#[test]
fn adapter_close_blocks_until_children_are_closed() {
    let p = Host::threaded(2);
    let a = Arc::new(open(&p));
    let pd = a.create_pd().unwrap();
    let cq = a.create_cq(4, &CqEvents::new()).unwrap();
    let closer = {
        let a = Arc::clone(&a);
        std::thread::spawn(move || {
            // Wait for the test to drop its handle, then close.
            while Arc::strong_count(&a) > 1 {
                std::thread::yield_now();
            }
            Arc::into_inner(a).unwrap().close();
        })
    };
    drop(a);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        !closer.is_finished(),
        "adapter close returned with children open"
    );
    assert!(matches!(cq.close(), Closed::Now));
    assert!(matches!(pd.close(), Closed::Now));
    closer.join().unwrap();
    assert_eq!(p.alloc_stats().live, 0);
}
