//! CQ slots (`spec/ndkpi.md` §2.2): `NdkGetCqResults(Ex)` is checked against the CQ
//! accounting of the posted work, and `NdkArmCq` feeds the notification rules.
//!
//! Reads a consumer's result buffer only after the provider filled it, and only the entries
//! that lie inside it; never holds the verifier's lock across the forwarded call.

use std::format;
use std::string::String;

use super::{cq_target, request_slot, sync_slot};
use crate::abi::{NDK_CQ, NDK_CQ_DISPATCH, NDK_RESULT, NDK_RESULT_EX, NTSTATUS};

request_slot!(resize_cq, cq_target, NDK_CQ, NdkResizeCq, (depth: u32));
sync_slot!(control_cq_interrupt_moderation, cq_target, NDK_CQ, NdkControlCqInterruptModeration,
    (interval: u32, count: u32));

/// `NdkArmCq`: the arm is recorded before the provider can act on it.
pub extern "system" fn arm_cq(cq: *mut NDK_CQ, arm_type: u32) {
    let slot = "NdkArmCq";
    let Some((node, table)) = cq_target(cq.addr(), slot) else {
        return;
    };
    node.inner
        .call(node.id.index, slot, format!("type={arm_type}"));
    node.inner.arm(node.id.index);
    // SAFETY: forwarding contract (module docs).
    unsafe { (table.NdkArmCq)(node.real.get().cast(), arm_type) };
    node.inner
        .returned(node.id.index, slot, None, String::new());
}

/// Forwards a poll of either result flavour (`get` picks the table slot) and checks its
/// results against the posted work.
fn poll<R>(
    cq: *mut NDK_CQ,
    slot: &'static str,
    results: *mut R,
    n: u32,
    get: fn(&NDK_CQ_DISPATCH) -> unsafe extern "system" fn(*mut NDK_CQ, *mut R, u32) -> u32,
    fields: impl Fn(&R) -> (NTSTATUS, usize, usize),
) -> u32 {
    let Some((node, table)) = cq_target(cq.addr(), slot) else {
        return 0;
    };
    node.inner
        .call(node.id.index, slot, format!("nResults={n}"));
    let poll = node.inner.poll_start();
    // SAFETY: forwarding contract (module docs).
    let count = unsafe { get(&table)(node.real.get().cast(), results, n) };
    let valid = count.min(n) as usize;
    let seen: std::vec::Vec<_> = if results.is_null() || valid == 0 {
        std::vec::Vec::new()
    } else {
        // SAFETY: the consumer passed `results` for `n` entries (`_Out_writes_to_`), and the
        // provider initialised the first `count` of them, of which only the first
        // `min(count, n)` lie inside the buffer; nothing else accesses them until the
        // consumer reads them after this call returns.
        let slice = unsafe { core::slice::from_raw_parts(results, valid) };
        slice.iter().map(fields).collect()
    };
    node.inner
        .poll_results(node.id.index, poll, n, count, &seen);
    node.inner
        .returned(node.id.index, slot, None, format!("{count} result(s)"));
    count
}

/// `NdkGetCqResults`.
pub extern "system" fn get_cq_results(cq: *mut NDK_CQ, results: *mut NDK_RESULT, n: u32) -> u32 {
    poll(
        cq,
        "NdkGetCqResults",
        results,
        n,
        |t| t.NdkGetCqResults,
        |r| (r.Status, r.QPContext.addr(), r.RequestContext.addr()),
    )
}

/// `NdkGetCqResultsEx`.
pub extern "system" fn get_cq_results_ex(
    cq: *mut NDK_CQ,
    results: *mut NDK_RESULT_EX,
    n: u32,
) -> u32 {
    poll(
        cq,
        "NdkGetCqResultsEx",
        results,
        n,
        |t| t.NdkGetCqResultsEx,
        |r| (r.Status, r.QPContext.addr(), r.RequestContext.addr()),
    )
}
