//! Random sequences of create / begin / end / clone / close over a graph of tracked objects,
//! checked step by step against a simple reference model of the NDK lifetime rules.
//!
//! The model counts units per object (BASE + requests/callbacks + one per open successor) and
//! derives the exact sequence of teardowns and completions a correct engine must produce,
//! including cascades (successor completion before antecedent teardown). After the random
//! sequence every remaining handle is closed or dropped, and every object must have been
//! finalised exactly once, with a completion exactly when its close returned PENDING.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use softndk::lifetime::{Base, Closed, Links, Node, Tracked, Unit};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Finalize(usize),
    Complete(usize),
}

type Log = Arc<Mutex<Vec<Event>>>;

struct Obj {
    id: usize,
    node: Node,
    log: Log,
}

struct Completion {
    id: usize,
    log: Log,
}

impl softndk::lifetime::Farewell for Completion {
    fn complete(self) {
        self.log.lock().unwrap().push(Event::Complete(self.id));
    }
}

impl Tracked for Obj {
    type Farewell = Completion;
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) -> Completion {
        self.log.lock().unwrap().push(Event::Finalize(self.id));
        Completion {
            id: self.id,
            log: Arc::clone(&self.log),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Create an object linked to up to three existing, still open objects (chosen by index).
    Create(Vec<usize>),
    /// Take a request/callback unit on an object the harness holds something on.
    Begin(usize),
    /// Drop a held unit.
    End(usize),
    /// Clone a held unit (a holder adding work, accepted even while closing).
    Clone(usize),
    /// Close an object whose handle is still open.
    Close(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => prop::collection::vec(0..16usize, 0..4).prop_map(Op::Create),
        3 => (0..16usize).prop_map(Op::Begin),
        3 => (0..16usize).prop_map(Op::End),
        1 => (0..16usize).prop_map(Op::Clone),
        3 => (0..16usize).prop_map(Op::Close),
    ]
}

#[derive(Debug, Default)]
struct ModelObj {
    units: u64,
    closing: bool,
    finalized: bool,
    links: Vec<usize>,
}

#[derive(Default)]
struct Model {
    objs: Vec<ModelObj>,
    log: Vec<Event>,
}

impl Model {
    fn end(&mut self, id: usize) {
        let obj = &mut self.objs[id];
        obj.units -= 1;
        if obj.units == 0 && obj.closing {
            self.finalize(id, true);
        }
    }

    fn finalize(&mut self, id: usize, pended: bool) {
        assert!(!self.objs[id].finalized, "model finalised twice");
        self.objs[id].finalized = true;
        self.log.push(Event::Finalize(id));
        if pended {
            self.log.push(Event::Complete(id));
        }
        for antecedent in self.objs[id].links.clone() {
            self.end(antecedent);
        }
    }
}

struct Harness {
    log: Log,
    bases: Vec<Option<Base<Obj>>>,
    arcs: Vec<Arc<Obj>>,
    units: Vec<Unit<Obj>>,
    model: Model,
}

impl Harness {
    fn new() -> Self {
        Self {
            log: Arc::new(Mutex::new(Vec::new())),
            bases: Vec::new(),
            arcs: Vec::new(),
            units: Vec::new(),
            model: Model::default(),
        }
    }

    /// I1: the harness may only begin on objects it holds a handle or a unit on.
    fn holds(&self, id: usize) -> bool {
        self.bases[id].is_some() || self.units.iter().any(|u| u.id == id)
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Create(picks) => {
                let open: Vec<usize> = (0..self.bases.len())
                    .filter(|&i| self.bases[i].is_some())
                    .collect();
                let mut antecedents: Vec<usize> = Vec::new();
                for pick in picks {
                    if let Some(&a) = open.get(pick % open.len().max(1))
                        && !antecedents.contains(&a)
                    {
                        antecedents.push(a);
                    }
                }
                let id = self.bases.len();
                let mut links = Links::new();
                for &a in &antecedents {
                    links.push(self.bases[a].as_ref().unwrap().unit()).unwrap();
                    self.model.objs[a].units += 1;
                }
                let base = Base::new(Obj {
                    id,
                    node: Node::new(links),
                    log: Arc::clone(&self.log),
                });
                self.arcs.push(Arc::clone(base.arc()));
                self.bases.push(Some(base));
                self.model.objs.push(ModelObj {
                    units: 1,
                    links: antecedents,
                    ..ModelObj::default()
                });
            }
            Op::Begin(pick) => {
                if self.arcs.is_empty() {
                    return;
                }
                let id = pick % self.arcs.len();
                if !self.holds(id) {
                    return;
                }
                let unit = Unit::try_new(&self.arcs[id]);
                let model = &mut self.model.objs[id];
                assert_eq!(
                    unit.is_some(),
                    !model.closing,
                    "try_new refuses iff closing"
                );
                if let Some(unit) = unit {
                    model.units += 1;
                    self.units.push(unit);
                }
            }
            Op::End(pick) => {
                if self.units.is_empty() {
                    return;
                }
                let unit = self.units.swap_remove(pick % self.units.len());
                let id = unit.id;
                drop(unit);
                self.model.end(id);
            }
            Op::Clone(pick) => {
                if self.units.is_empty() {
                    return;
                }
                let unit = self.units[pick % self.units.len()].clone();
                self.model.objs[unit.id].units += 1;
                self.units.push(unit);
            }
            Op::Close(pick) => {
                if self.bases.is_empty() {
                    return;
                }
                let id = pick % self.bases.len();
                let Some(base) = self.bases[id].take() else {
                    return;
                };
                let closed = base.close(|c| assert_eq!(c.id, id)).unwrap();
                let model = &mut self.model.objs[id];
                model.closing = true;
                model.units -= 1;
                let expect = if model.units == 0 {
                    self.model.finalize(id, false);
                    Closed::Finished
                } else {
                    Closed::Pending
                };
                assert_eq!(closed, expect, "SUCCESS iff nothing outstanding");
            }
        }
        self.check();
    }

    fn check(&self) {
        assert_eq!(*self.log.lock().unwrap(), self.model.log);
        for (arc, model) in self.arcs.iter().zip(&self.model.objs) {
            let lifetime = arc.node().lifetime();
            assert_eq!(lifetime.is_closing(), model.closing);
            assert_eq!(lifetime.is_final(), model.finalized);
            assert_eq!(lifetime.units(), model.units);
        }
    }

    fn finish(mut self) {
        for id in 0..self.bases.len() {
            self.apply(&Op::Close(id));
        }
        while !self.units.is_empty() {
            self.apply(&Op::End(0));
        }
        let log = self.log.lock().unwrap().clone();
        for (id, model) in self.model.objs.iter().enumerate() {
            assert!(model.finalized, "object {id} never finalised");
            let finals = log.iter().filter(|e| **e == Event::Finalize(id)).count();
            assert_eq!(finals, 1, "object {id} finalised {finals} times");
            let completes = log.iter().filter(|e| **e == Event::Complete(id)).count();
            assert!(completes <= 1);
            if completes == 1 {
                let f = log.iter().position(|e| *e == Event::Finalize(id)).unwrap();
                let c = log.iter().position(|e| *e == Event::Complete(id)).unwrap();
                assert!(f < c, "completion after teardown");
            }
            // C4: every successor's completion (if any) precedes this object's teardown.
            for (succ, m) in self.model.objs.iter().enumerate() {
                if m.links.contains(&id) {
                    let last_of_succ = log
                        .iter()
                        .rposition(|e| *e == Event::Complete(succ) || *e == Event::Finalize(succ))
                        .unwrap();
                    let mine = log.iter().position(|e| *e == Event::Finalize(id)).unwrap();
                    assert!(
                        last_of_succ < mine,
                        "antecedent {id} before successor {succ}"
                    );
                }
            }
        }
        // Successors keep their antecedents' memory (not units) until they are freed: free
        // newest first, and each object must then be held by nobody else.
        while let Some(arc) = self.arcs.pop() {
            assert_eq!(
                Arc::strong_count(&arc),
                1,
                "a handle still holds the object"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn engine_matches_reference_model(ops in prop::collection::vec(op(), 0..80)) {
        let mut harness = Harness::new();
        for op in &ops {
            harness.apply(op);
        }
        harness.finish();
    }
}

#[test]
fn ndk_sample_teardown_order() {
    // Microsoft's sample closes MRs with a no-op wait and lets the PD close pend; the QP is
    // closed after its connector; the adapter last. Here: everything closed parent-first.
    let mut h = Harness::new();
    h.apply(&Op::Create(vec![])); // 0 adapter
    h.apply(&Op::Create(vec![0])); // 1 pd
    h.apply(&Op::Create(vec![0])); // 2 cq
    h.apply(&Op::Create(vec![1, 2])); // 3 qp
    h.apply(&Op::Create(vec![1])); // 4 mr
    h.apply(&Op::Begin(3)); // a pending request on the QP
    for id in 0..5 {
        h.apply(&Op::Close(id));
    }
    assert_eq!(
        *h.log.lock().unwrap(),
        [Event::Finalize(4)],
        "only the idle MR finished inline"
    );
    h.apply(&Op::End(0));
    assert_eq!(
        *h.log.lock().unwrap(),
        [
            Event::Finalize(4),
            Event::Finalize(3),
            Event::Complete(3),
            Event::Finalize(1),
            Event::Complete(1),
            Event::Finalize(2),
            Event::Complete(2),
            Event::Finalize(0),
            Event::Complete(0),
        ]
    );
    h.finish();
}
