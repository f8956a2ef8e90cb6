//! Proves the close path allocates nothing: closing an idle object, closing with work pending,
//! ending the last unit (finalisation + completion) and a successor-to-antecedent cascade are
//! all run under a counting global allocator.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used, missing_docs)]

mod alloc_count;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use softndk::lifetime::{Base, Closed, CompletionSlot, Farewell, Links, Node, Tracked, Unit};

/// How many allocations `f` made on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    alloc_count::allocations_in(f).1
}

struct Obj {
    node: Node,
    completion: CompletionSlot,
    completed: Arc<AtomicUsize>,
}

struct Done {
    words: [usize; 2],
    completed: Arc<AtomicUsize>,
}

impl Farewell for Done {
    fn complete(self) {
        assert_eq!(self.words, [1, 2]);
        self.completed.fetch_add(1, Ordering::Relaxed);
    }
}

impl Tracked for Obj {
    type Farewell = Done;
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) -> Done {
        Done {
            words: self.completion.load(),
            completed: Arc::clone(&self.completed),
        }
    }
}

fn obj(links: Links, completed: &Arc<AtomicUsize>) -> Base<Obj> {
    Base::new(Obj {
        node: Node::new(links),
        completion: CompletionSlot::new(),
        completed: Arc::clone(completed),
    })
}

#[test]
fn close_end_and_finalize_never_allocate() {
    let completed = Arc::new(AtomicUsize::new(0));
    // The counter sees allocations at all (guards against a vacuous pass).
    assert_eq!(allocations_in(|| drop(std::hint::black_box(vec![1u8]))), 1);

    let idle = obj(Links::new(), &completed);
    let mut closed = None;
    let n = allocations_in(|| closed = Some(idle.close(|c| c.completion.store([1, 2])).unwrap()));
    assert_eq!(closed, Some(Closed::Finished));
    assert_eq!(n, 0, "closing an idle object allocated");

    let busy = obj(Links::new(), &completed);
    let request = busy.unit();
    let arc = Arc::clone(busy.arc());
    let n = allocations_in(|| {
        let callback = Unit::try_new(&arc).unwrap();
        let flush = callback.clone();
        drop(callback);
        assert_eq!(
            busy.close(|c| c.completion.store([1, 2])).unwrap(),
            Closed::Pending
        );
        assert!(Unit::try_new(&arc).is_none());
        drop(flush);
        drop(request);
    });
    assert_eq!(n, 0, "units, pending close or finalisation allocated");
    assert_eq!(completed.load(Ordering::Relaxed), 1);

    let parent = obj(Links::new(), &completed);
    let mut links = Links::new();
    links.push(parent.unit()).unwrap();
    let child = obj(links, &completed);
    let n = allocations_in(|| {
        assert_eq!(
            parent.close(|c| c.completion.store([1, 2])).unwrap(),
            Closed::Pending
        );
        assert_eq!(
            child.close(|c| c.completion.store([1, 2])).unwrap(),
            Closed::Finished
        );
    });
    assert_eq!(n, 0, "cascading finalisation allocated");
    assert_eq!(completed.load(Ordering::Relaxed), 2);
}
