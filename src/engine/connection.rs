//! RC execution between two connected endpoints: the progress entry point the verbs layer calls
//! after every post, flush or disconnect on either side of a connection.
//!
//! `progress` runs each side's requester against the other side's responder until both block
//! or the budget is spent, and reports every outcome through the completer. It holds no state
//! of its own: everything lives in the two [`Endpoint`]s (and SRQs), which the caller keeps
//! under the connection's lock for the whole call.

use super::completer::{CompletionSink, deliver, settle};
use super::endpoint::Endpoint;
use super::memory::{Copier, MemorySpace};
use super::queue::ReceiveQueue;
use super::requester::{Blocked, Peer, Step, step};

/// One side of a connection as `progress` needs it.
pub struct Side<'a, M: MemorySpace + ?Sized> {
    /// The QP.
    pub endpoint: &'a mut Endpoint,
    /// Its protection domain's memory.
    pub memory: &'a M,
    /// The SRQ its receives come from, for QPs created with one (must be given for them).
    pub srq: Option<&'a mut ReceiveQueue>,
}

/// What a `progress` call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Requests executed (each produced its completions, or was silent).
    pub executed: u32,
    /// Why side `a`'s requester stopped.
    pub a: Blocked,
    /// Why side `b`'s requester stopped.
    pub b: Blocked,
}

/// Execute, in posting order, every request of `a` and of `b` that can run, up to `budget`
/// requests in total. A send whose peer has no receive stays at the head of its queue
/// ([`Blocked::WaitingForReceive`]) until a later call after the peer posts a receive. Errors
/// move the QPs concerned to the error state and flush them; CQ overruns reported by `sink`
/// do the same for every QP of the pair using that CQ.
///
/// The verbs layer calls this after every successful post on either QP, after a post to an SRQ
/// (for every connected QP using it whose peer is waiting), and after a flush or disconnect of
/// either QP (so the peer's waiting requests fail as the connection requires).
pub fn progress<MA, MB, C, S>(
    a: Side<'_, MA>,
    b: Side<'_, MB>,
    copier: &mut C,
    sink: &mut S,
    budget: u32,
) -> Progress
where
    MA: MemorySpace + ?Sized,
    MB: MemorySpace + ?Sized,
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    let Side { endpoint: ea, memory: ma, srq: mut srq_a } = a;
    let Side { endpoint: eb, memory: mb, srq: mut srq_b } = b;
    let mut executed = 0;
    settle(ea, eb, sink);
    let (why_a, left) = run(ea, ma, &mut Peer { endpoint: eb, memory: mb, srq: srq_b.as_deref_mut() }, copier, sink, budget);
    executed += budget - left;
    let (why_b, left2) = run(eb, mb, &mut Peer { endpoint: ea, memory: ma, srq: srq_a.as_deref_mut() }, copier, sink, left);
    executed += left - left2;
    Progress { executed, a: why_a, b: why_b }
}

/// Run `local`'s requester until it blocks or `budget` requests ran; returns why it stopped and
/// the budget left.
fn run<ML, MP, C, S>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    sink: &mut S,
    mut budget: u32,
) -> (Blocked, u32)
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    loop {
        if budget == 0 {
            return (Blocked::Budget, 0);
        }
        match step(local, local_memory, peer, copier) {
            Step::Blocked(why) => return (why, budget),
            Step::Executed(outcome) => {
                budget -= 1;
                deliver(&outcome, local, peer.endpoint, sink);
            }
        }
    }
}
