//! Loom models of the connection manager's publication rule (`src/cm/publication.rs`,
//! `docs/connections.md`): a connector is reachable by its peer only while *published* in the
//! connection, from attachment until its close stage, which unpublishes it under the
//! connection lock while BASE is still held; units on a peer are only taken under that lock
//! (through `Published::unit`).
//!
//! Run (exhaustively, without a preemption bound: see `loom_common::model`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom_cm
//! ```
//!
//! The connection's lock is a loom `Mutex` around the provider's own `Published` and the
//! lifetime engine's `Base`/`Unit` (whose atomics are loom's under `--cfg loom`); the steps
//! are the ones `cm/connection.rs` takes (publish on hand-up, unit for a peer's event under the
//! lock, unpublish in the close stage, suppress a ready event of an unpublished side), and the
//! delivery is `Ready::deliver`'s (skip once closing, release the unit after the call).
//! Every connector carries a payload in a `loom::cell::UnsafeCell`: event callbacks read it,
//! its finaliser writes it, so loom reports any callback racing with or following the
//! teardown. Counters check one finalisation, the completion exactly once iff the close
//! pended, and the completion only after every callback returned.
#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod loom_common;

use loom::cell::UnsafeCell;
use loom::sync::Mutex;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use softndk::cm::publication::Published;
use softndk::lifetime::{Base, Closed, Farewell, Links, Node, Tracked, Unit};
use std::sync::Arc;

use loom_common::model;

/// What the model asserts on.
#[derive(Default)]
struct Probe {
    finalized: AtomicUsize,
    completed: AtomicUsize,
    /// Event callbacks running now.
    in_callback: AtomicUsize,
    callbacks: AtomicUsize,
}

/// A connector as loom sees it.
struct Conn {
    node: Node,
    payload: Payload,
    probe: Arc<Probe>,
}

/// Object memory: callbacks read it, the finaliser writes it.
struct Payload(UnsafeCell<u64>);

// SAFETY: `Payload` never hands out its contents: `read`/`write` only record an access with
// loom (the closures ignore the pointer), which is what lets loom check that the teardown's
// write happens-after every callback's read.
unsafe impl Sync for Payload {}

impl Payload {
    fn read(&self) {
        self.0.with(|_| ());
    }
    fn write(&self) {
        self.0.with_mut(|_| ());
    }
}

struct Done(Arc<Probe>);

impl Farewell for Done {
    fn complete(self) {
        assert_eq!(self.0.finalized.load(SeqCst), 1);
        assert_eq!(
            self.0.in_callback.load(SeqCst),
            0,
            "close completion while an event callback runs"
        );
        assert_eq!(self.0.completed.fetch_add(1, SeqCst), 0, "completed twice");
    }
}

impl Tracked for Conn {
    type Farewell = Done;
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) -> Done {
        self.payload.write();
        assert_eq!(
            self.probe.finalized.fetch_add(1, SeqCst),
            0,
            "finalised twice"
        );
        Done(Arc::clone(&self.probe))
    }
}

fn connector() -> (Base<Conn>, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let base = Base::new(Conn {
        node: Node::new(Links::new()),
        payload: Payload(UnsafeCell::new(0)),
        probe: Arc::clone(&probe),
    });
    (base, probe)
}

/// One side of the connection (`cm::connection::Side`, the parts the rule is about).
#[derive(Default)]
struct Side {
    obj: Published<Conn>,
    /// A disconnect event waiting for delivery, with its unit.
    ready_event: Option<Unit<Conn>>,
}

/// Both sides under the connection lock.
#[derive(Default)]
struct Connection {
    sides: Mutex<[Side; 2]>,
}

impl Connection {
    /// Hand-up: the passive connector becomes reachable (`Connection::publish`).
    fn publish(&self, side: usize, obj: &Arc<Conn>) {
        self.sides.lock().unwrap()[side].obj.publish(obj);
    }

    /// A step of `me` that raises an event on the peer (`Connection::apply`, `event_peer`):
    /// the unit is taken under the lock, only while the peer is published.
    fn event_on_peer(&self, me: usize) -> bool {
        let mut sides = self.sides.lock().unwrap();
        let peer = &mut sides[1 - me];
        // At most one disconnect event.
        let raised = peer.ready_event.is_none()
            && peer.obj.unit().is_some_and(|unit| {
                peer.ready_event = Some(unit);
                true
            });
        drop(sides);
        raised
    }

    /// The close stage of `me`'s connector (`Connection::close`): abort the peer (an event on
    /// it) and unpublish, under the lock, while BASE is held.
    fn close_stage(&self, me: usize) {
        let mut sides = self.sides.lock().unwrap();
        let peer = &mut sides[1 - me];
        if peer.ready_event.is_none()
            && let Some(unit) = peer.obj.unit()
        {
            peer.ready_event = Some(unit);
        }
        let _ = sides[me].obj.unpublish();
    }

    /// The side's deferred work (`Connection::take_ready` + `Ready::deliver`): an event of an
    /// unpublished side is suppressed; a delivered one is skipped once its connector is
    /// closing; the unit goes after the call, outside the lock.
    fn deliver(&self, side: usize) {
        let mut sides = self.sides.lock().unwrap();
        let (unit, published) = (
            sides[side].ready_event.take(),
            sides[side].obj.is_published(),
        );
        drop(sides);
        let Some(unit) = unit else { return };
        if published && !unit.node().is_closing() {
            let probe = &unit.probe;
            probe.in_callback.fetch_add(1, SeqCst);
            unit.payload.read();
            probe.callbacks.fetch_add(1, SeqCst);
            probe.in_callback.fetch_sub(1, SeqCst);
        }
        drop(unit);
    }
}

fn close(conn: &Connection, me: usize, base: Base<Conn>) -> Closed {
    base.close(|_| conn.close_stage(me)).unwrap()
}

fn assert_closed(probe: &Probe, closed: Closed) {
    assert_eq!(probe.finalized.load(SeqCst), 1, "never finalised");
    let expected = usize::from(matches!(closed, Closed::Pending));
    assert_eq!(
        probe.completed.load(SeqCst),
        expected,
        "completion exactly once iff PENDING"
    );
}

/// The passive connector is published by the hand-up and closed by its consumer while the
/// active side's step raises an event on it: the peer's unit is taken only while published,
/// the event is delivered before the teardown or not at all, and the close completes after
/// it returned.
#[test]
fn publish_lookup_and_close_race() {
    model(|| {
        let conn = Arc::new(Connection::default());
        let (passive, probe) = connector();
        let peer = {
            let conn = Arc::clone(&conn);
            thread::spawn(move || {
                if conn.event_on_peer(0) {
                    conn.deliver(1);
                }
            })
        };
        conn.publish(1, passive.arc());
        let closed = close(&conn, 1, passive);
        peer.join().unwrap();
        // Whatever is still ready is delivered by the side's work (suppressed: unpublished).
        conn.deliver(1);
        assert_closed(&probe, closed);
    });
}

/// Both connectors close at once; each close stage raises an abort event on the other side
/// (a unit taken under the lock only while that side is still published), and each side's
/// work delivers what is ready. No callback touches a finalised connector, both close
/// completions run exactly once iff pending, after the callbacks they waited for.
#[test]
fn both_sides_close_while_aborting_each_other() {
    model(|| {
        let conn = Arc::new(Connection::default());
        let (active, probe_a) = connector();
        let (passive, probe_p) = connector();
        conn.publish(0, active.arc());
        conn.publish(1, passive.arc());
        let other = {
            let conn = Arc::clone(&conn);
            thread::spawn(move || {
                let closed = close(&conn, 1, passive);
                conn.deliver(0);
                closed
            })
        };
        let closed_a = close(&conn, 0, active);
        conn.deliver(1);
        let closed_p = other.join().unwrap();
        conn.deliver(0);
        conn.deliver(1);
        assert_closed(&probe_a, closed_a);
        assert_closed(&probe_p, closed_p);
    });
}

/// A peer event raised while the connector is open is delivered (not suppressed) unless its
/// close began, and a close that starts while the callback runs pends until it returned.
#[test]
fn event_delivery_vs_close_pends_until_the_callback_returned() {
    model(|| {
        let conn = Arc::new(Connection::default());
        let (active, probe) = connector();
        conn.publish(0, active.arc());
        assert!(conn.event_on_peer(1), "published: the unit is taken");
        let work = {
            let conn = Arc::clone(&conn);
            thread::spawn(move || conn.deliver(0))
        };
        let closed = close(&conn, 0, active);
        work.join().unwrap();
        assert_closed(&probe, closed);
        assert!(probe.callbacks.load(SeqCst) <= 1);
    });
}
