//! The `softndk` binary end to end: short runs with `--json`, usage errors.

use std::process::{Command, Output};

use serde_json::Value;

fn softndk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softndk"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn op<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} row"))
}

#[test]
fn run_json_is_clean_and_consistent() {
    let out = softndk(&[
        "run",
        "--duration",
        "1s",
        "--seed",
        "7",
        "--json",
        "--connections",
        "2",
        "--io-size",
        "256K",
        "--churn",
        "200ms",
        "--storms",
        "400ms",
    ]);
    let r = json(&out);
    assert!(out.status.success(), "exit {:?}: {r:#}", out.status);
    assert_eq!(r["ok"], true);
    assert_eq!(r["seed"], 7);
    // The run sits behind the consumer-side verifier: it checked calls and found nothing.
    let verifier = &r["verifier"];
    assert_eq!(verifier["interposed"], true, "{verifier:#}");
    assert_eq!(u(&verifier["violations"]), 0);
    assert_eq!(u(&verifier["open_objects"]), 0);
    assert!(u(&verifier["calls"]) > 0);
    assert!(u(&verifier["checks"]) > 0);
    assert!(verifier["report"].is_null());
    assert!(r["errors"].as_array().expect("errors").is_empty());

    // Every object created was closed; the teardowns made QPs, CQs, PDs and MRs.
    let objects = r["objects"].as_array().expect("objects");
    for kind in ["PD", "CQ", "QP", "MR"] {
        let row = objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"));
        assert!(u(&row["created"]) > 0);
        assert_eq!(row["created"], row["closed"], "{kind}");
    }
    // Connections go through the connection manager: one connector per end (so as many as
    // QPs), one listener per connection slot, all closed.
    let row = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    assert_eq!(
        r["config"]["connections_via"],
        "NdkConnect/NdkListen/NdkAccept"
    );
    assert_eq!(row("connector")["created"], row("QP")["created"]);
    assert_eq!(row("connector")["created"], row("connector")["closed"]);
    assert_eq!(u(&row("listener")["created"]), 2);
    assert_eq!(row("listener")["created"], row("listener")["closed"]);
    let closes = &r["closes"];
    assert_eq!(
        u(&closes["total"]),
        objects.iter().map(|o| u(&o["closed"])).sum::<u64>()
    );
    assert!(u(&closes["pended"]) <= u(&closes["total"]));
    assert_eq!(u(&closes["pended"]), u(&closes["pend_time"]["samples"]));

    // Bytes follow from operations: every I/O moves exactly the I/O size.
    let io_size = 256 * 1024;
    let mut ios = 0;
    for row in r["io"].as_array().expect("io") {
        assert_eq!(u(&row["bytes"]), u(&row["ops"]) * io_size, "{row}");
        assert!(u(&row["latency"]["p50_ns"]) <= u(&row["latency"]["max_ns"]));
        assert_eq!(u(&row["latency"]["samples"]), u(&row["ops"]));
        ios += u(&row["ops"]);
    }
    assert!(ios > 0, "a second of traffic finished no I/O");
    for name in ["rdma-write", "rdma-read"] {
        let row = op(&r, name);
        assert_eq!(u(&row["bytes"]), u(&row["completed"]) * io_size, "{name}");
    }
    // READs are served by RDMA writes, WRITEs by RDMA reads (teardowns may abandon a few
    // after the transfer).
    let io = |n: &str| {
        r["io"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == n))
            .map_or(0, |x| u(&x["ops"]))
    };
    assert!(u(&op(&r, "rdma-write")["completed"]) >= io("read"));
    assert!(u(&op(&r, "rdma-read")["completed"]) >= io("write"));
    // Each I/O fast-registers its buffer and is invalidated by the reply or locally.
    assert!(u(&op(&r, "fast-register")["completed"]) >= ios);
    let remote = u(&op(&r, "remote-invalidate")["completed"]);
    let local = u(&op(&r, "invalidate")["completed"]);
    assert!(
        remote > 0 && local > 0,
        "both styles: {remote} remote, {local} local"
    );
    assert!(remote + local >= ios);
    assert!(remote <= ios);
    // Each I/O is a request and a reply, each a send into a posted receive.
    assert!(u(&op(&r, "receive")["completed"]) >= 2 * ios);
    assert!(u(&r["churn"]["connections_opened"]) >= 1);
    assert!(u(&r["churn"]["connections_closed"]) >= u(&r["churn"]["connections_opened"]));
}

#[test]
fn aggressive_churn_closes_everything() {
    // Churn faster than negotiation sometimes finishes, storms on top: every teardown path.
    let out = softndk(&[
        "run",
        "--duration",
        "1s",
        "--seed",
        "3",
        "--json",
        "--connections",
        "3",
        "--io-size",
        "64K",
        "--churn",
        "5ms",
        "--storms",
        "100ms",
    ]);
    let r = json(&out);
    assert!(out.status.success(), "{r:#}");
    for row in r["objects"].as_array().expect("objects") {
        assert_eq!(row["created"], row["closed"], "{row}");
    }
    let churn = &r["churn"];
    assert!(u(&churn["churn_events"]) > 0, "{churn:#}");
    // An orderly teardown cancels exactly the posted receives: credits (32) on each side.
    assert_eq!(u(&churn["cancelled"]) % 64, 0, "{churn:#}");
}

#[test]
fn pending_creates_and_requests_run_clean_with_churn() {
    // Every create pends and arrives through its completion, every registration through its
    // request completion; churn creates, registers and closes connectors, QPs and MRs all the
    // time.
    let out = softndk(&[
        "run",
        "--duration",
        "500ms",
        "--seed",
        "5",
        "--json",
        "--churn",
        "20ms",
        "--pend-creates",
        "--pend-requests",
    ]);
    let r = json(&out);
    assert!(out.status.success(), "{r:#}");
    assert_eq!(r["config"]["pend_creates"], true, "{r:#}");
    assert_eq!(r["config"]["pend_requests"], true, "{r:#}");
    for row in r["objects"].as_array().expect("objects") {
        assert!(u(&row["created"]) > 0, "{row}");
        assert_eq!(row["created"], row["closed"], "{row}");
    }
}

#[test]
fn run_table_on_a_pipe_has_no_progress_bar() {
    let out = softndk(&[
        "run",
        "--duration",
        "300ms",
        "--seed",
        "1",
        "--connections",
        "1",
        "--io-size",
        "64K",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("result: OK"), "{text}");
    assert!(text.contains("rdma-read"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes on a pipe: {text:?}");
}

#[test]
fn perf_quick_json_has_positive_ratios() {
    let out = softndk(&["perf", "--sizes", "64,4096", "--quick", "--json"]);
    let r = json(&out);
    assert!(out.status.success(), "{r:#}");
    assert!(r["atomic_ns"].as_f64().expect("atomic") > 0.0);
    // Cross points ran, so the cross-core limit was measured too.
    assert!(r["handoff_ns"].as_f64().expect("hand-off") > 0.0);
    let baselines = r["baselines"].as_array().expect("baselines");
    assert_eq!(baselines.len(), 2);
    assert!(
        baselines
            .iter()
            .all(|b| b["memcpy_ns"].as_f64() > Some(0.0))
    );
    let rows = r["rows"].as_array().expect("rows");
    // 3 ops x 2 sizes x 2 placements, depth 1 and 1 QP in quick mode.
    assert_eq!(rows.len(), 12);
    for row in rows {
        for field in [
            "ops_per_second",
            "bytes_per_second",
            "bandwidth_ratio",
            "latency_ratio",
        ] {
            assert!(row[field].as_f64() > Some(0.0), "{field} in {row}");
        }
        let expected =
            row["ops_per_second"].as_f64().unwrap_or(0.0) * row["size"].as_f64().unwrap_or(0.0);
        let bytes = row["bytes_per_second"].as_f64().unwrap_or(0.0);
        assert!((bytes - expected).abs() <= expected * 1e-9, "{row}");
    }
}

#[test]
fn perf_same_core_only_measures_no_handoff() {
    let out = softndk(&[
        "perf",
        "--ops",
        "write",
        "--sizes",
        "64",
        "--placement",
        "same",
        "--quick",
        "--json",
    ]);
    let r = json(&out);
    assert!(out.status.success(), "{r:#}");
    assert!(r["handoff_ns"].is_null(), "{r:#}");
    assert_eq!(r["rows"].as_array().expect("rows").len(), 1);
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    for (args, needle) in [
        (&["run", "--connections", "0"][..], "--connections"),
        (&["run", "--duration", "ten"], "--duration"),
        (
            &["run", "--credits", "5", "--outstanding", "8"],
            "--credits 5",
        ),
        (&["perf", "--sizes", "64,1X"], "--sizes"),
        (&["frobnicate"], "frobnicate"),
    ] {
        let out = softndk(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
