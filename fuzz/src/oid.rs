//! The `oid_decoder` harness: one arbitrary OID request (id, direction, buffer length and
//! contents) against `softndk::miniport::oid`, checked against the module's documented answers.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/oid_decoder.rs`) and the stable corpus
//! replay (`tests/random_fuzz_replay.rs`), so the same checks run with and without a fuzzer.
//! Must never: depend on anything but `softndk` and `core`/`std`.

use softndk::miniport::counters::CounterSnapshot;
use softndk::miniport::ndk_lists::NdkLists;
use softndk::miniport::oid::{self, OidOutcome, OidState, SUPPORTED_OIDS};
use softndk::sys::{
    NDIS_STATUS, NDIS_STATUS_BUFFER_TOO_SHORT, NDIS_STATUS_INVALID_DATA,
    NDIS_STATUS_INVALID_LENGTH, NDIS_STATUS_MULTICAST_FULL, NDIS_STATUS_NOT_SUPPORTED,
    NDIS_STATUS_SUCCESS,
};

/// The statuses `miniport::oid` documents (module docs and each handler).
const DOCUMENTED: [NDIS_STATUS; 6] = [
    NDIS_STATUS_SUCCESS,
    NDIS_STATUS_BUFFER_TOO_SHORT,
    NDIS_STATUS_INVALID_LENGTH,
    NDIS_STATUS_INVALID_DATA,
    NDIS_STATUS_NOT_SUPPORTED,
    NDIS_STATUS_MULTICAST_FULL,
];

/// Largest buffer the harness builds (the biggest OID payload is a few hundred bytes).
const MAX_BUFFER: usize = 1024;

/// Reads bytes from the front of the input; runs dry as zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
}

/// Which handler a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Query,
    DirectQuery,
    Set,
}

/// Decodes and runs one request; panics (the fuzzer's finding) on any broken documented rule.
pub fn run(data: &[u8]) {
    let mut input = Input(data);
    // Half the inputs name a supported OID (by index), the rest any 32-bit value.
    let selector = input.byte();
    let raw = input.u32();
    let id = if selector & 1 == 0 {
        SUPPORTED_OIDS[usize::from(selector >> 1) % SUPPORTED_OIDS.len()]
    } else {
        raw
    };
    let direction = match input.byte() % 3 {
        0 => Direction::Query,
        1 => Direction::DirectQuery,
        _ => Direction::Set,
    };
    let len = usize::from(input.u16()) % (MAX_BUFFER + 1);
    let fill = input.byte();
    let mut buf = vec![fill; len];
    // The rest of the input overwrites the buffer's start (set payloads).
    for (slot, byte) in buf.iter_mut().zip(input.0) {
        *slot = *byte;
    }
    let mut state = OidState::new([0x02, 0x53, 0, 0, 0, fill]);
    let counters = CounterSnapshot {
        xmit_ok: u64::from(raw),
        xmit_discards: u64::from(fill),
        rcv_ok: u64::from(raw).rotate_left(32),
        ..CounterSnapshot::default()
    };
    let before_buf = buf.clone();
    let before_state = state.clone();
    let outcome = match direction {
        Direction::Query => oid::query(id, &mut buf, &state, &counters, &NdkLists::EMPTY),
        Direction::DirectQuery => oid::direct_query(id, &mut buf, &counters),
        Direction::Set => oid::set(id, &buf, &mut state),
    };
    check(id, direction, &outcome, len);
    if outcome.status != NDIS_STATUS_SUCCESS {
        assert_eq!(buf, before_buf, "a refused request wrote the buffer");
        assert_eq!(
            state, before_state,
            "a refused set changed the adapter state"
        );
        assert_eq!(
            outcome.ndk_request, None,
            "a refused set requested an NDK state change"
        );
    }
    if direction == Direction::Set {
        assert_eq!(buf, before_buf, "a set wrote its input buffer");
    } else {
        assert_eq!(state, before_state, "a query changed the adapter state");
        assert_eq!(
            outcome.ndk_request, None,
            "a query requested an NDK state change"
        );
    }
}

fn check(id: u32, direction: Direction, outcome: &OidOutcome, len: usize) {
    let status = outcome.status;
    assert!(
        DOCUMENTED.contains(&status),
        "OID {id:#010x} {direction:?} len {len}: undocumented status {status:?}"
    );
    let done = usize::try_from(outcome.bytes_done).unwrap_or(usize::MAX);
    let needed = usize::try_from(outcome.bytes_needed).unwrap_or(usize::MAX);
    assert!(
        done <= len,
        "{id:#010x}: {done} bytes done of a {len}-byte buffer"
    );
    if status != NDIS_STATUS_SUCCESS {
        assert_eq!(done, 0, "{id:#010x}: bytes done on failure");
    }
    if status == NDIS_STATUS_BUFFER_TOO_SHORT || status == NDIS_STATUS_INVALID_LENGTH {
        assert!(
            needed > len || (status == NDIS_STATUS_INVALID_LENGTH && needed != len),
            "{id:#010x}: too short with {len} bytes but {needed} needed"
        );
    }
    if !SUPPORTED_OIDS.contains(&id) {
        assert_eq!(
            status, NDIS_STATUS_NOT_SUPPORTED,
            "{id:#010x} is not in SUPPORTED_OIDS but was answered"
        );
    }
    if direction == Direction::DirectQuery && id != softndk::sys::oid::OID_NDK_STATISTICS {
        assert_eq!(status, NDIS_STATUS_NOT_SUPPORTED, "{id:#010x}: direct OID");
    }
}
