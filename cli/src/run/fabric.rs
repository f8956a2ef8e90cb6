//! The two adapters of `softndk run` and `softndk perf`: one host platform, one
//! connection-manager fabric (`10.0.0.1` and `10.0.0.2`), and for `run` the consumer-side
//! verifier between the workload and the provider.
//!
//! Owns opening and closing the adapters (through the verifier when it is on), reading the
//! verifier's counters, and the entry to connection establishment. It must never close an
//! adapter while objects below it are open (the close would wait forever): the caller
//! abandons the fabric instead.

use softndk::abi::NDK_VERSION;
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::Adapter;
use softndk::fabric::{Fabric as NetFabric, FabricConfig};
use softndk::platform::Platform;
use softndk::verbs::AdapterConfig;
use softndk::verifier::{Stats, Verifier};

use super::cm;
use super::ndk::End;
use super::stats::Ledger;
use super::wire::Fault;

/// Both adapters on one host platform, optionally behind the consumer-side verifier.
#[derive(Debug)]
pub struct Fabric {
    /// The platform (threaded deferred work), kept for as long as the adapters use it.
    _platform: Platform,
    /// Adapter 0 (clients) and adapter 1 (servers): the verifier's shadows when it is on.
    pub adapters: [Adapter; 2],
    /// The verifier between the workload and the provider, if any.
    verifier: Option<Verifier>,
    /// The connection manager's fabric both adapters are on (dropped after they close).
    network: NdkFabric,
}

/// What the verifier saw, read once the adapters are closed.
#[derive(Debug, Default)]
pub struct Checked {
    /// The verifier's counters.
    pub stats: Stats,
    /// Objects the verifier still saw open (adapters included).
    pub open_objects: u64,
    /// The verifier's report when it recorded violations.
    pub report: Option<String>,
}

impl Fabric {
    /// Opens two SoftNDK adapters on a platform with `workers` deferred-work threads. With
    /// `interpose`, each real adapter (`dispatch::open_adapter`) is wrapped by one
    /// [`Verifier`] and the workload gets the shadows, so every NDK call and callback goes
    /// through the verifier's checks. With `pend_creates`, every create pends and delivers its
    /// object through the create completion (`AdapterConfig::pend_creates`); with
    /// `pend_requests`, registrations, resizes and modifies pend the same way
    /// (`AdapterConfig::pend_requests`). The workload's consumer wrapper waits for them on the
    /// platform.
    ///
    /// # Errors
    ///
    /// An adapter refused to open.
    pub fn open(
        workers: usize,
        secret: u32,
        interpose: bool,
        pend_creates: bool,
        pend_requests: bool,
    ) -> Result<Self, String> {
        let platform = Platform::threaded(workers);
        let network = NetFabric::new(platform.clone(), FabricConfig::default())
            .map_err(|s| format!("the fabric did not open: {s:?}"))?;
        let verifier = interpose.then(Verifier::new);
        let open = |n: u32| {
            let config = AdapterConfig::softndk(secret ^ n)
                .on_fabric(&network, &[cm::ip_of(n)])
                .with_pending_creates(pend_creates)
                .with_pending_requests(pend_requests);
            let version = NDK_VERSION::new(2, 1);
            let failed = |s| format!("adapter {n} did not open: {s:?}");
            match &verifier {
                None => Adapter::open(&config, &platform, version).map_err(failed),
                Some(v) => {
                    let real = softndk::dispatch::open_adapter(&config, platform.clone(), version)
                        .map_err(failed)?;
                    // SAFETY: `real` was just opened and stays open until `Fabric::close`
                    // hands it to `dispatch::close_adapter` through the verifier.
                    let shadow = unsafe { v.wrap_adapter(real) };
                    // SAFETY: the shadow's table is the verifier's full table; it stays open
                    // until `Fabric::close`, after every object made through it is closed.
                    Ok(unsafe { Adapter::from_raw(shadow) }.with_platform(&platform))
                }
            }
        };
        let first = open(0)?;
        let second = match open(1) {
            Ok(a) => a,
            Err(e) => {
                close_one(verifier.as_ref(), first);
                return Err(e);
            }
        };
        Ok(Self {
            _platform: platform,
            adapters: [first, second],
            verifier,
            network,
        })
    }

    /// Connects a client end with a server end through the connection manager (see
    /// [`cm::establish`]): the client's connector on adapter 0 connects to `listening`'s slot
    /// on adapter 1 and the server accepts. Both connectors go into their ends at once, so
    /// every teardown closes them.
    ///
    /// # Errors
    ///
    /// A step was refused, failed or did not complete.
    pub fn establish(
        &self,
        listening: &cm::Listening,
        ledger: &Ledger,
        client: &mut End,
        server: &mut End,
        read_limit: u32,
    ) -> Result<(), Fault> {
        cm::establish(
            &self.adapters[0],
            listening,
            ledger,
            client.cm_side(),
            server.cm_side(),
            read_limit,
        )
    }

    /// Closes both adapters (blocks until everything below them is closed) and answers what
    /// the verifier saw, if it was on.
    pub fn close(self) -> Option<Checked> {
        let [a, b] = self.adapters;
        close_one(self.verifier.as_ref(), a);
        close_one(self.verifier.as_ref(), b);
        drop(self.network);
        self.verifier.as_ref().map(checked)
    }

    /// Leaves the adapters open (closing them would wait forever for leaked objects) and
    /// answers what the verifier saw, if it was on.
    pub fn abandon(self) -> Option<Checked> {
        self.verifier.as_ref().map(checked)
    }
}

/// Reads the verifier's counters and takes its violations, so that dropping it does not
/// report them a second time (the run report carries them).
fn checked(v: &Verifier) -> Checked {
    let open_objects = v.open_objects().len() as u64;
    let report = (v.stats().violations > 0).then(|| v.report());
    let _ = v.take_violations();
    Checked {
        stats: v.stats(),
        open_objects,
        report,
    }
}

/// Closes one adapter, through the verifier when it is on.
fn close_one(verifier: Option<&Verifier>, adapter: Adapter) {
    match verifier {
        None => adapter.close(),
        Some(v) => v.close_adapter(adapter.raw(), |real| {
            // SAFETY: `real` came from `dispatch::open_adapter` and is not used again.
            unsafe { softndk::dispatch::close_adapter(real) };
        }),
    }
}
