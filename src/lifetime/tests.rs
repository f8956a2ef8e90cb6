//! Unit tests of the object layer: finalisation order, cascades, handles, directory.
#![allow(clippy::unwrap_used)]

use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use super::*;
use crate::sync::Arc;

/// Records every teardown and completion, in order.
type Log = Arc<Mutex<Vec<String>>>;

struct Obj {
    name: &'static str,
    node: Node,
    log: Log,
    completion: CompletionSlot,
}

struct Done {
    name: &'static str,
    log: Log,
    words: [usize; 2],
}

impl Farewell for Done {
    fn complete(self) {
        self.log
            .lock()
            .unwrap()
            .push(std::format!("complete {} {:?}", self.name, self.words));
    }
}

impl Tracked for Obj {
    type Farewell = Done;
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) -> Done {
        self.log
            .lock()
            .unwrap()
            .push(std::format!("finalize {}", self.name));
        Done {
            name: self.name,
            log: Arc::clone(&self.log),
            words: self.completion.load(),
        }
    }
}

fn obj(name: &'static str, log: &Log, links: Links) -> Base<Obj> {
    Base::new(Obj {
        name,
        node: Node::new(links),
        log: Arc::clone(log),
        completion: CompletionSlot::new(),
    })
}

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn store(words: [usize; 2]) -> impl FnOnce(&Closing<'_, Obj>) {
    move |c| c.completion.store(words)
}

#[test]
fn idle_close_finishes_without_completion() {
    let log = log();
    let a = obj("a", &log, Links::new());
    assert_eq!(a.close(store([1, 2])), Ok(Closed::Finished));
    assert_eq!(entries(&log), ["finalize a"]);
}

#[test]
fn pending_request_delays_completion_until_it_ends() {
    let log = log();
    let a = obj("a", &log, Links::new());
    let request = a.unit();
    let arc = Arc::clone(a.arc());
    assert_eq!(a.close(store([7, 8])), Ok(Closed::Pending));
    assert!(entries(&log).is_empty());
    assert!(
        Unit::try_new(&arc).is_none(),
        "callbacks suppressed once closing"
    );
    drop(request);
    assert_eq!(entries(&log), ["finalize a", "complete a [7, 8]"]);
    assert_eq!(Arc::strong_count(&arc), 1, "no handle keeps the object");
}

#[test]
fn close_inside_callback_pends_and_completes_after_callback() {
    let log = log();
    let a = obj("a", &log, Links::new());
    let callback = Unit::try_new(a.arc()).unwrap();
    // The consumer closes from inside the callback, i.e. while the callback's unit is held.
    assert_eq!(a.close(store([3, 3])), Ok(Closed::Pending));
    assert!(entries(&log).is_empty());
    drop(callback);
    assert_eq!(entries(&log), ["finalize a", "complete a [3, 3]"]);
}

#[test]
fn antecedent_close_waits_for_successor_completion() {
    let log = log();
    let pd = obj("pd", &log, Links::new());
    let mut links = Links::new();
    links.push(pd.unit()).unwrap();
    let mr = obj("mr", &log, links);
    assert_eq!(pd.close(store([1, 0])), Ok(Closed::Pending));
    assert!(entries(&log).is_empty());
    assert_eq!(mr.close(store([2, 0])), Ok(Closed::Finished));
    // The MR's close finished inline (no completion), then the PD finalised and completed.
    assert_eq!(
        entries(&log),
        ["finalize mr", "finalize pd", "complete pd [1, 0]"]
    );
}

#[test]
fn cascade_runs_successor_completion_before_antecedents() {
    let log = log();
    let adapter = obj("adapter", &log, Links::new());
    let mut l = Links::new();
    l.push(adapter.unit()).unwrap();
    let cq = obj("cq", &log, l);
    let mut l = Links::new();
    l.push(adapter.unit()).unwrap();
    let pd = obj("pd", &log, l);
    let mut l = Links::new();
    l.push(pd.unit()).unwrap();
    l.push(cq.unit()).unwrap();
    l.push(cq.unit()).unwrap();
    let qp = obj("qp", &log, l);
    let request = qp.unit();
    assert_eq!(adapter.close(store([0, 1])), Ok(Closed::Pending));
    assert_eq!(cq.close(store([0, 2])), Ok(Closed::Pending));
    assert_eq!(pd.close(store([0, 3])), Ok(Closed::Pending));
    assert_eq!(qp.close(store([0, 4])), Ok(Closed::Pending));
    assert!(entries(&log).is_empty());
    drop(request);
    assert_eq!(
        entries(&log),
        [
            "finalize qp",
            "complete qp [0, 4]",
            "finalize pd",
            "complete pd [0, 3]",
            "finalize cq",
            "complete cq [0, 2]",
            "finalize adapter",
            "complete adapter [0, 1]",
        ]
    );
}

#[test]
fn second_close_is_reported_not_applied() {
    let log = log();
    let a = obj("a", &log, Links::new());
    let request = a.unit();
    let again = Base::from_arc(Arc::clone(a.arc()));
    assert_eq!(a.close(store([1, 1])), Ok(Closed::Pending));
    assert_eq!(again.close(store([9, 9])), Err(AlreadyClosing));
    drop(request);
    assert_eq!(entries(&log), ["finalize a", "complete a [1, 1]"]);
}

#[test]
fn dropping_base_closes_and_releases_links() {
    let log = log();
    let pd = obj("pd", &log, Links::new());
    let mut links = Links::new();
    links.push(pd.unit()).unwrap();
    drop(obj("mr", &log, links));
    assert_eq!(entries(&log), ["finalize mr"]);
    assert_eq!(pd.close(store([0, 0])), Ok(Closed::Finished));
}

#[test]
fn node_dropped_unfinalised_releases_links() {
    let log = log();
    let pd = obj("pd", &log, Links::new());
    let mut links = Links::new();
    links.push(pd.unit()).unwrap();
    assert_eq!(links.len(), 1);
    // Construction failed after taking the links: the node is dropped without a Base.
    drop(Node::new(links));
    assert_eq!(pd.node().lifetime().units(), 1);
    assert_eq!(pd.close(store([0, 0])), Ok(Closed::Finished));
}

#[test]
fn links_full_returns_the_unit() {
    let log = log();
    let pd = obj("pd", &log, Links::new());
    let mut links = Links::new();
    for _ in 0..MAX_LINKS {
        links.push(pd.unit()).unwrap();
    }
    let extra = links.push(pd.unit()).unwrap_err();
    assert_eq!(pd.node().lifetime().units(), 2 + MAX_LINKS as u64);
    drop(extra);
    drop(links);
    assert_eq!(pd.node().lifetime().units(), 1);
}

#[test]
fn unit_clone_is_accepted_while_closing() {
    let log = log();
    let a = obj("a", &log, Links::new());
    let u = a.unit();
    assert_eq!(a.close(store([0, 5])), Ok(Closed::Pending));
    let flush = u.clone();
    drop(u);
    assert!(entries(&log).is_empty());
    drop(flush);
    assert_eq!(entries(&log), ["finalize a", "complete a [0, 5]"]);
}

#[test]
fn directory_lookup_refused_after_unpublish_and_stale_key_misses() {
    let log = log();
    let dir: Directory<Obj, Mutex<_>> = Directory::new();
    let a = obj("a", &log, Links::new());
    let key = dir.publish(a.arc()).unwrap();
    let b = obj("b", &log, Links::new());
    let held = dir.lookup(key).unwrap();
    assert_eq!(held.name, "a");
    assert_eq!(
        a.close(|c| {
            assert!(dir.lookup(key).is_none(), "closing object refuses lookups");
            assert!(dir.unpublish(key, c));
            assert!(!dir.unpublish(key, c), "second unpublish finds nothing");
        }),
        Ok(Closed::Pending)
    );
    let key_b = dir.publish(b.arc()).unwrap();
    assert_eq!(key_b.index(), key.index());
    assert!(
        dir.lookup(key).is_none(),
        "stale key never reaches the new object"
    );
    assert_eq!(dir.lookup(key_b).unwrap().name, "b");
    drop(held);
    assert_eq!(entries(&log), ["finalize a", "complete a [0, 0]"]);
    assert_eq!(dir.len(), 1);
}

#[test]
fn unpublish_leaves_another_objects_key_alone() {
    let log = log();
    let dir: Directory<Obj, Mutex<_>> = Directory::new();
    let a = obj("a", &log, Links::new());
    let b = obj("b", &log, Links::new());
    let key_b = dir.publish(b.arc()).unwrap();
    assert_eq!(
        a.close(|c| assert!(!dir.unpublish(key_b, c))),
        Ok(Closed::Finished)
    );
    assert!(dir.lookup(key_b).is_some());
}
