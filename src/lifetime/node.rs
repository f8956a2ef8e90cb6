//! The generic tracked object: its [`Node`] (lifetime word + antecedent links), the
//! [`Tracked`] trait every NDK object type implements, and the finaliser.
//!
//! This file owns the finalisation order, which is what makes the close completion the last
//! callback of an object:
//!
//! 1. claim FINAL on the word (exactly one caller ever gets here);
//! 2. copy the antecedent links into locals (`Arc` clones, no allocation);
//! 3. run the object's own teardown, [`Tracked::finalize`], which returns its [`Farewell`];
//! 4. drop the finaliser's own reference to the object;
//! 5. call [`Farewell::complete`] if the close returned PENDING, else drop the farewell;
//! 6. release the unit held on each antecedent, which may finalise it in turn (cascade).
//!
//! It must never wait, sleep or spin, and never allocate on the close path.
#![deny(unsafe_code)]

use core::fmt;

use super::unit::Unit;
use super::word::Lifetime;
use crate::sync::Arc;

/// Most antecedents an object links at creation (QP: PD, receive CQ, initiator CQ, SRQ).
///
/// Links established later (MW bound to an MR, connector associated with a QP or a shared
/// endpoint) are units the object keeps in its own state and hands back in its [`Farewell`].
pub const MAX_LINKS: usize = 4;

/// What runs after an object's teardown: its close completion, and anything that must only be
/// released after that completion has returned.
pub trait Farewell: Send {
    /// Calls the close completion. Runs exactly once, only when the close returned PENDING,
    /// after the object's teardown, at the IRQL of whoever dropped the last unit (at most
    /// `DISPATCH_LEVEL`). When the close returned SUCCESS the farewell is dropped instead.
    ///
    /// Units held in `self` (late antecedent links) are released when `self` drops, i.e. after
    /// the body of this method, so after the consumer's completion has returned.
    fn complete(self);
}

/// No completion (objects closed internally, tests).
impl Farewell for () {
    fn complete(self) {}
}

/// An object whose lifetime the engine tracks.
///
/// # Example
///
/// ```
/// use softndk::lifetime::{Base, Closed, Links, Node, Tracked};
///
/// struct Pd {
///     node: Node,
/// }
/// impl Tracked for Pd {
///     type Farewell = ();
///     fn node(&self) -> &Node {
///         &self.node
///     }
///     fn finalize(&self) -> Self::Farewell {}
/// }
///
/// let pd = Base::new(Pd { node: Node::new(Links::new()) });
/// let request = pd.unit(); // e.g. a pending NdkCreateMr on the PD
/// assert_eq!(pd.close(|_| {}), Ok(Closed::Pending));
/// drop(request); // the request's completion returned: the PD finalises now
/// ```
pub trait Tracked: Send + Sync + 'static {
    /// What finalisation hands back to run after the teardown (the close completion).
    type Farewell: Farewell;

    /// The object's lifetime node.
    fn node(&self) -> &Node;

    /// Tears the object down. Called exactly once, by the finaliser, when the object is closing
    /// and no unit remains: no request is pending, no callback is in progress, no successor is
    /// open. Must not block and must tolerate a partially built object (I3). Returns the
    /// farewell, built from state read here (e.g. the completion stored by the closer).
    fn finalize(&self) -> Self::Farewell;
}

/// Object-safe view of a tracked object, used for heterogeneous antecedent links.
///
/// Implemented for every [`Tracked`] type; not meant to be implemented by hand.
pub trait Antecedent: Send + Sync + 'static {
    /// Ends one unit of this object and finalises it if that was the last one.
    fn release(self: Arc<Self>);
}

impl<T: Tracked> Antecedent for T {
    fn release(self: Arc<Self>) {
        if self.node().lifetime().end() == super::Ended::Finalize {
            finalize(self, true);
        }
    }
}

/// The antecedents an object holds a unit on, gathered at creation.
///
/// Built from units (one per antecedent, usually taken with [`Unit::try_new`] on the parent,
/// the CQs, the SRQ, ...). A link is released only after the successor's close completion has
/// returned (NDK rule C4).
#[derive(Default)]
pub struct Links {
    slots: [Option<Arc<dyn Antecedent>>; MAX_LINKS],
}

impl fmt::Debug for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Links").field("len", &self.len()).finish()
    }
}

impl Links {
    /// No links.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a link, keeping the unit `unit` holds on its object until the successor finalises.
    ///
    /// # Errors
    ///
    /// Gives the unit back when [`MAX_LINKS`] links are already present.
    pub fn push<A: Tracked>(&mut self, unit: Unit<A>) -> Result<(), Unit<A>> {
        match self.slots.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => {
                let arc: Arc<dyn Antecedent> = unit.into_counted_arc();
                *slot = Some(arc);
                Ok(())
            }
            None => Err(unit),
        }
    }

    /// Number of links.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_some()).count()
    }

    /// Whether there are no links.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn clone_all(&self) -> [Option<Arc<dyn Antecedent>>; MAX_LINKS] {
        self.slots.clone()
    }
}

/// The lifetime state embedded in every tracked object: the word and the antecedent links.
///
/// # Invariants
///
/// Each link accounts for exactly one unit on its antecedent. The units are released by the
/// finaliser (after the farewell), or by `Drop` of the [`Links`] if the object is dropped without
/// ever having been finalised (construction failed before it was handed to a
/// [`Base`](super::Base)).
pub struct Node {
    lifetime: Lifetime,
    links: Links,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("lifetime", &self.lifetime)
            .field("links", &self.links)
            .finish()
    }
}

impl Node {
    /// A fresh node holding BASE, with the given antecedent links.
    #[must_use]
    pub fn new(links: Links) -> Self {
        Self {
            lifetime: Lifetime::new(),
            links,
        }
    }

    /// The lifetime word.
    #[must_use]
    pub const fn lifetime(&self) -> &Lifetime {
        &self.lifetime
    }

    /// Whether close has started (snapshot).
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.lifetime.is_closing()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A finalised node's units were released by the finaliser through clones; these `Arc`s
        // only keep memory. Forget them here so that `Links::drop` does not release twice.
        if self.lifetime.is_final() {
            self.links
                .slots
                .iter_mut()
                .for_each(|slot| drop(slot.take()));
        }
    }
}

impl Drop for Links {
    /// Links never handed to a finalised node (construction failed, or the object was dropped
    /// without ever being finalised) still owe their antecedents a unit each.
    fn drop(&mut self) {
        for link in self.slots.iter_mut().filter_map(Option::take) {
            link.release();
        }
    }
}

/// Runs the finalisation order described in the module doc. `pended`: the close returned
/// PENDING, so the completion must be called.
pub(super) fn finalize<T: Tracked>(obj: Arc<T>, pended: bool) {
    debug_assert!(obj.node().lifetime().is_final());
    let links = obj.node().links.clone_all();
    let farewell = obj.finalize();
    // Drop our reference before the completion: if it was the last, the object's memory is
    // gone before the consumer hears about it.
    drop(obj);
    if pended {
        farewell.complete();
    } else {
        drop(farewell);
    }
    for link in links.into_iter().flatten() {
        link.release();
    }
}
