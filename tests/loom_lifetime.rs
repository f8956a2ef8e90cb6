//! Loom models of the lifetime engine (`src/lifetime`).
//!
//! Run (CI uses preemption bound 2, the default here when `LOOM_MAX_PREEMPTIONS` is unset; run
//! with 3 locally before changing the engine):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom_lifetime
//! LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --test loom_lifetime
//! ```
//!
//! Every object carries a payload in a `loom::cell::UnsafeCell`: callbacks, request completions
//! and successors *read* it, its teardown (`finalize`, which in the provider frees its resources)
//! *writes* it. Loom reports any write not ordered after every read (happens-before), which is
//! exactly a callback racing with or following finalisation. (The memory itself is an `Arc` from
//! `alloc`, correct by construction and invisible to loom, see `src/sync.rs`; what the engine
//! must order is teardown against use.) Counters check "exactly one finalisation",
//! "completion exactly once iff PENDING", and "completion after every callback returned".
#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use loom::cell::UnsafeCell;
use loom::model::Builder;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::{Condvar, Mutex};
use loom::thread;
use softndk::lifetime::{
    Base, Closed, Closing, CompletionSlot, Directory, Event, Farewell, Links, Node, Signal,
    Tracked, Unit, close_and_wait,
};
use std::sync::Arc;

const WORDS: [usize; 2] = [0xC0DE, 0xC0A7];

/// Object memory as loom sees it.
struct Payload(UnsafeCell<u64>);

// SAFETY: `Payload` never hands out its contents: `read`/`write` only record an access with
// loom (the closures ignore the pointer). Sharing it across threads is what lets loom check
// that every write (teardown, free) happens-after every read (callback).
unsafe impl Sync for Payload {}

impl Payload {
    fn new() -> Self {
        Self(UnsafeCell::new(0))
    }
    fn read(&self) {
        self.0.with(|_| ());
    }
    fn write(&self) {
        self.0.with_mut(|_| ());
    }
}

/// What the model asserts on, shared by the object, its farewell and the test threads.
#[derive(Default)]
struct Probe {
    finalized: AtomicUsize,
    completed: AtomicUsize,
    farewell_gone: AtomicUsize,
    /// Threads that finished their callback or request completion.
    returned: AtomicUsize,
}

impl Probe {
    fn get(c: &AtomicUsize) -> usize {
        c.load(Relaxed)
    }
}

struct Obj {
    node: Node,
    payload: Payload,
    probe: Arc<Probe>,
    completion: CompletionSlot,
    /// Callbacks that must have returned before this object completes.
    expect_returned: usize,
    /// Antecedent whose memory this object touches until it is finalised (a QP writing CQEs).
    touches: Option<Arc<Self>>,
    event: Option<Arc<LoomEvent>>,
}

impl Obj {
    fn new(probe: &Arc<Probe>, links: Links) -> Self {
        Self {
            node: Node::new(links),
            payload: Payload::new(),
            probe: Arc::clone(probe),
            completion: CompletionSlot::new(),
            expect_returned: 0,
            touches: None,
            event: None,
        }
    }
}

enum Bye {
    Ndk(Done),
    Adapter(Signal<LoomEvent>),
}

struct Done {
    probe: Arc<Probe>,
    words: [usize; 2],
    expect_returned: usize,
}

impl Farewell for Bye {
    fn complete(self) {
        match self {
            Self::Ndk(done) => {
                assert_eq!(
                    done.words, WORDS,
                    "completion stored by the closer is visible"
                );
                assert_eq!(Probe::get(&done.probe.finalized), 1);
                assert_eq!(
                    Probe::get(&done.probe.returned),
                    done.expect_returned,
                    "completion before a callback returned"
                );
                let prev = done.probe.completed.fetch_add(1, Relaxed);
                assert_eq!(prev, 0, "completion called twice");
            }
            Self::Adapter(signal) => signal.complete(),
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        self.probe.farewell_gone.fetch_add(1, Relaxed);
    }
}

impl Tracked for Obj {
    type Farewell = Bye;
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) -> Bye {
        self.payload.write();
        if let Some(antecedent) = &self.touches {
            antecedent.payload.read();
        }
        let prev = self.probe.finalized.fetch_add(1, Relaxed);
        assert_eq!(prev, 0, "finalised twice");
        if let Some(event) = &self.event {
            return Bye::Adapter(Signal(Arc::clone(event)));
        }
        Bye::Ndk(Done {
            probe: Arc::clone(&self.probe),
            words: self.completion.load(),
            expect_returned: self.expect_returned,
        })
    }
}

struct LoomEvent {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Event for LoomEvent {
    fn signal(&self) {
        *self.set.lock().unwrap() = true;
        self.cv.notify_all();
    }
    #[allow(
        clippy::significant_drop_tightening,
        reason = "the guard is handed to the condvar; loom's Condvar has no wait_while"
    )]
    fn wait(&self) {
        let mut set = self.set.lock().unwrap();
        while !*set {
            set = self.cv.wait(set).unwrap();
        }
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    // `Builder::new` reads LOOM_MAX_PREEMPTIONS; default to the CI bound when it is unset.
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

fn stage(c: &Closing<'_, Obj>) {
    c.completion.store(WORDS);
}

/// An event callback delivered by a holder of an engine unit: suppressed once closing.
fn event_callback(engine: Unit<Obj>) {
    if let Some(callback) = Unit::try_new(engine.arc()) {
        callback.payload.read();
        drop(callback);
    }
    engine.probe.returned.fetch_add(1, Relaxed);
    drop(engine);
}

fn assert_closed(probe: &Probe, closed: Closed) {
    assert_eq!(Probe::get(&probe.finalized), 1, "exactly one finalisation");
    let completions = usize::from(closed == Closed::Pending);
    assert_eq!(Probe::get(&probe.completed), completions);
    assert_eq!(Probe::get(&probe.farewell_gone), 1);
}

#[test]
fn closer_vs_request_end_vs_event_callback() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let mut obj = Obj::new(&probe, Links::new());
        obj.expect_returned = 2;
        let base = Base::new(obj);
        let request = base.unit();
        let engine = base.unit();
        let t1 = thread::spawn(move || {
            // The consumer's request completion callback runs, returns, then the unit drops.
            request.payload.read();
            request.probe.returned.fetch_add(1, Relaxed);
            drop(request);
        });
        let t2 = thread::spawn(move || event_callback(engine));
        let closed = base.close(stage).unwrap();
        t1.join().unwrap();
        t2.join().unwrap();
        assert_closed(&probe, closed);
    });
}

#[test]
fn close_from_inside_inline_completion_and_event_callback() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let mut obj = Obj::new(&probe, Links::new());
        obj.expect_returned = 2;
        let base = Base::new(obj);
        let engine = base.unit();
        let t1 = thread::spawn(move || {
            // A provider entry point (e.g. NdkConnect) holds an entry guard and completes its
            // request inline; the consumer closes from inside that completion.
            let entry = base.unit();
            let request = entry.clone();
            request.payload.read();
            let closed = base.close(stage).unwrap();
            assert_eq!(
                closed,
                Closed::Pending,
                "entry guard and request are outstanding"
            );
            request.probe.returned.fetch_add(1, Relaxed);
            drop(request);
            entry.payload.read(); // the entry point unwinds, still touching the object
            drop(entry);
            closed
        });
        let t2 = thread::spawn(move || event_callback(engine));
        let closed = t1.join().unwrap();
        t2.join().unwrap();
        assert_closed(&probe, closed);
    });
}

#[test]
fn lookup_vs_unpublish() {
    type Dir = Directory<Obj, Mutex<softndk::lifetime::Table<Arc<Obj>>>>;
    model(|| {
        let probe = Arc::new(Probe::default());
        let mut obj = Obj::new(&probe, Links::new());
        obj.expect_returned = 1;
        let dir: Arc<Dir> = Arc::new(Directory::new());
        let base = Base::new(obj);
        let key = dir.publish(base.arc()).unwrap();
        let finder = Arc::clone(&dir);
        let probe1 = Arc::clone(&probe);
        let t1 = thread::spawn(move || {
            // Inbound fabric traffic finds the object by its token.
            if let Some(unit) = finder.lookup(key) {
                assert_eq!(Probe::get(&unit.probe.finalized), 0);
                unit.payload.read();
                probe1.returned.fetch_add(1, Relaxed);
                drop(unit);
            } else {
                probe1.returned.fetch_add(1, Relaxed);
            }
        });
        let closed = base
            .close(|c| {
                stage(c);
                assert!(dir.unpublish(key, c));
            })
            .unwrap();
        t1.join().unwrap();
        assert_closed(&probe, closed);
        // The slot is reused by a new object: the stale key never reaches it.
        let fresh = Base::new(Obj::new(&Arc::new(Probe::default()), Links::new()));
        let new_key = dir.publish(fresh.arc()).unwrap();
        assert_eq!(new_key.index(), key.index());
        assert!(dir.lookup(key).is_none());
        drop(fresh);
    });
}

#[test]
fn cascading_close_of_successor_and_antecedent() {
    model(|| {
        let parent_probe = Arc::new(Probe::default());
        let child_probe = Arc::new(Probe::default());
        let parent = Base::new(Obj::new(&parent_probe, Links::new()));
        let mut links = Links::new();
        links.push(parent.unit()).unwrap();
        let mut child = Obj::new(&child_probe, links);
        child.expect_returned = 1;
        child.touches = Some(Arc::clone(parent.arc()));
        let child = Base::new(child);
        let request = child.unit();
        let t1 = thread::spawn(move || child.close(stage).unwrap());
        let t2 = thread::spawn(move || {
            // A QP request completion: touches the QP and its CQ.
            request.payload.read();
            request.touches.as_ref().unwrap().payload.read();
            request.probe.returned.fetch_add(1, Relaxed);
            drop(request);
        });
        let watcher = Arc::clone(&child_probe);
        let parent_closed = parent
            .close(|c| {
                stage(c);
                // The antecedent may be closed at any point relative to the successor.
                let _ = Probe::get(&watcher.finalized);
            })
            .unwrap();
        let child_closed = t1.join().unwrap();
        t2.join().unwrap();
        assert_closed(&child_probe, child_closed);
        assert_closed(&parent_probe, parent_closed);
    });
}

/// The antecedent's completion runs only after the successor's farewell (completion) is gone.
#[test]
fn antecedent_completes_after_successor_completion_returned() {
    struct Ordered {
        node: Node,
        child_probe: Arc<Probe>,
        probe: Arc<Probe>,
    }
    impl Tracked for Ordered {
        type Farewell = ();
        fn node(&self) -> &Node {
            &self.node
        }
        fn finalize(&self) {
            assert_eq!(
                Probe::get(&self.child_probe.farewell_gone),
                1,
                "antecedent finalised before the successor's completion returned"
            );
            self.probe.finalized.fetch_add(1, Relaxed);
        }
    }
    model(|| {
        let child_probe = Arc::new(Probe::default());
        let probe = Arc::new(Probe::default());
        let parent = Base::new(Ordered {
            node: Node::new(Links::new()),
            child_probe: Arc::clone(&child_probe),
            probe: Arc::clone(&probe),
        });
        let mut links = Links::new();
        links.push(parent.unit()).unwrap();
        let mut child = Obj::new(&child_probe, links);
        child.expect_returned = 1;
        let child = Base::new(child);
        let request = child.unit();
        let t1 = thread::spawn(move || {
            request.probe.returned.fetch_add(1, Relaxed);
            drop(request);
        });
        let t2 = thread::spawn(move || child.close(stage).unwrap());
        let _ = parent.close(|_| {}).unwrap();
        t1.join().unwrap();
        let child_closed = t2.join().unwrap();
        assert_closed(&child_probe, child_closed);
        assert_eq!(Probe::get(&probe.finalized), 1);
    });
}

#[test]
fn adapter_close_waits_for_descendants_and_callbacks() {
    model(|| {
        let adapter_probe = Arc::new(Probe::default());
        let child_probe = Arc::new(Probe::default());
        let event = Arc::new(LoomEvent {
            set: Mutex::new(false),
            cv: Condvar::new(),
        });
        let mut adapter = Obj::new(&adapter_probe, Links::new());
        adapter.event = Some(Arc::clone(&event));
        let adapter = Base::new(adapter);
        let mut links = Links::new();
        links.push(adapter.unit()).unwrap();
        let mut child = Obj::new(&child_probe, links);
        child.expect_returned = 1;
        let child = Base::new(child);
        let engine = child.unit();
        let t1 = thread::spawn(move || event_callback(engine));
        let t2 = thread::spawn(move || child.close(stage).unwrap());
        close_and_wait(adapter, &*event, |_| {}).unwrap();
        // Returned from the blocking close: everything below the adapter is done.
        assert_eq!(Probe::get(&adapter_probe.finalized), 1);
        assert_eq!(Probe::get(&child_probe.finalized), 1);
        assert_eq!(Probe::get(&child_probe.farewell_gone), 1);
        assert_eq!(Probe::get(&child_probe.returned), 1);
        let child_closed = t2.join().unwrap();
        t1.join().unwrap();
        assert_closed(&child_probe, child_closed);
    });
}

/// Four threads: a lookup from the fabric, an event callback, a request completion, and the
/// closer that unpublishes. The widest interleaving the engine sees on one object.
#[test]
fn lookup_event_request_and_close_together() {
    type Dir = Directory<Obj, Mutex<softndk::lifetime::Table<Arc<Obj>>>>;
    model(|| {
        let probe = Arc::new(Probe::default());
        let mut obj = Obj::new(&probe, Links::new());
        obj.expect_returned = 2;
        let dir: Arc<Dir> = Arc::new(Directory::new());
        let base = Base::new(obj);
        let key = dir.publish(base.arc()).unwrap();
        let request = base.unit();
        let engine = base.unit();
        let finder = Arc::clone(&dir);
        let t1 = thread::spawn(move || {
            // A refused lookup holds nothing, so it is not ordered with the completion; a hit
            // is checked through the payload (its read must precede the teardown's write).
            if let Some(unit) = finder.lookup(key) {
                unit.payload.read();
            }
        });
        let t2 = thread::spawn(move || event_callback(engine));
        let t3 = thread::spawn(move || {
            request.payload.read();
            request.probe.returned.fetch_add(1, Relaxed);
            drop(request);
        });
        let closed = base
            .close(|c| {
                stage(c);
                assert!(dir.unpublish(key, c));
            })
            .unwrap();
        t1.join().unwrap();
        t2.join().unwrap();
        t3.join().unwrap();
        assert_closed(&probe, closed);
    });
}
