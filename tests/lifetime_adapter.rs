//! The adapter's blocking close on real threads: `close_and_wait` returns only after every
//! descendant was closed on other threads, every callback returned and every descendant's close
//! completion returned; it waits on an event, not by polling.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use softndk::lifetime::{
    Base, Event, Farewell, Links, Node, Signal, Tracked, Unit, close_and_wait,
};

#[derive(Default)]
struct HostEvent {
    set: Mutex<bool>,
    cv: Condvar,
    waits: AtomicUsize,
}

impl Event for HostEvent {
    fn signal(&self) {
        *self.set.lock().unwrap() = true;
        self.cv.notify_all();
    }
    fn wait(&self) {
        self.waits.fetch_add(1, Ordering::Relaxed);
        drop(
            self.cv
                .wait_while(self.set.lock().unwrap(), |set| !*set)
                .unwrap(),
        );
    }
}

struct Adapter {
    node: Node,
    event: Arc<HostEvent>,
}

impl Tracked for Adapter {
    type Farewell = Signal<HostEvent>;
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) -> Signal<HostEvent> {
        Signal(Arc::clone(&self.event))
    }
}

struct Child {
    node: Node,
    returned: Arc<AtomicUsize>,
}

struct ChildDone(Arc<AtomicUsize>);

impl Farewell for ChildDone {
    fn complete(self) {
        // A slow consumer completion: the adapter close must still wait for it to return.
        thread::yield_now();
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Tracked for Child {
    type Farewell = ChildDone;
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) -> ChildDone {
        ChildDone(Arc::clone(&self.returned))
    }
}

#[test]
fn adapter_close_waits_for_children_closed_elsewhere() {
    const CHILDREN: usize = 8;
    for _round in 0..50 {
        let event = Arc::new(HostEvent::default());
        let adapter = Base::new(Adapter {
            node: Node::new(Links::new()),
            event: Arc::clone(&event),
        });
        let returned = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..CHILDREN {
            let mut links = Links::new();
            links.push(adapter.unit()).unwrap();
            let child = Base::new(Child {
                node: Node::new(links),
                returned: Arc::clone(&returned),
            });
            let callback = Unit::try_new(child.arc()).unwrap();
            workers.push(thread::spawn(move || {
                let _ = child.close(|_| {}).unwrap();
                drop(callback); // the callback returns after the close: completion follows
            }));
        }
        close_and_wait(adapter, &*event, |_| {}).unwrap();
        assert_eq!(returned.load(Ordering::SeqCst), CHILDREN);
        for w in workers {
            w.join().unwrap();
        }
    }
}

#[test]
fn idle_adapter_close_returns_without_waiting() {
    let event = Arc::new(HostEvent::default());
    let adapter = Base::new(Adapter {
        node: Node::new(Links::new()),
        event: Arc::clone(&event),
    });
    close_and_wait(adapter, &*event, |_| {}).unwrap();
    assert_eq!(event.waits.load(Ordering::Relaxed), 0);
    assert!(
        !*event.set.lock().unwrap(),
        "SUCCESS path: the farewell is dropped, not completed"
    );
}
