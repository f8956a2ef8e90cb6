//! Callbacks (`spec/ndkpi.md` §3): the checks every callback entry runs (context, and "not
//! after the object's close"), the count of callbacks running per object that the close checks
//! read, notification arming (§3.4, §3.5), and connect/disconnect events (§3.2, §3.3).
//!
//! Owns the notification, connect-event and disconnect-event registrations and each object's
//! `running`, `arms` and `notifying` counters. It must never decide a close's outcome (that is
//! `close`) and never call the consumer: it returns the consumer's callback for the trampoline
//! to call after the lock is released.

use core::ffi::c_void;
use std::format;
use std::string::String;

use super::objects::{ClosedBy, Life};
use super::{Adoption, Inner, Reg, State};
use crate::abi::NTSTATUS;
use crate::abi::upcall::{ConnectEvent, CqNotification, Disconnect, SrqNotification};
use crate::platform::{Irql, host};
use crate::verifier::record::{CallbackKind, EventKind, ObjectKind, Rule};

impl State {
    /// Records that a callback concerning `obj` starts and runs the context checks (IRQL,
    /// provider locks) on the current thread.
    pub(super) fn callback_starts(
        &mut self,
        obj: u32,
        callback: CallbackKind,
        status: Option<NTSTATUS>,
    ) {
        self.stats.callbacks += 1;
        self.event(
            obj,
            EventKind::CallbackEnter { callback, status },
            String::new(),
        );
        self.stats.checks += 2;
        let irql = crate::platform::current_irql();
        if irql > Irql::Dispatch {
            let message = format!("{callback:?} invoked at {irql:?}");
            self.violate(Rule::CallbackAboveDispatch, obj, message);
        }
        let held = host::held_lock_count();
        if held > 0 {
            let message = format!("{callback:?} invoked with {held} provider spin lock(s) held");
            self.violate(Rule::CallbackWithProviderLock, obj, message);
        }
    }

    /// A callback concerning `obj` starts: common checks, the "not after the object's close"
    /// check, then it counts as running.
    pub(super) fn enter(&mut self, obj: u32, callback: CallbackKind, status: Option<NTSTATUS>) {
        self.callback_starts(obj, callback, status);
        self.stats.checks += 1;
        match self.life(obj) {
            Life::Closed(ClosedBy::Completion) => {
                let message = format!("{callback:?} after the object's close completion");
                self.violate(Rule::CallbackAfterCloseCompletion, obj, message);
            }
            Life::Closed(ClosedBy::Success) => {
                let message =
                    format!("{callback:?} after the object's close returned STATUS_SUCCESS");
                self.violate(Rule::CallbackAfterSuccessClose, obj, message);
            }
            // The close that failed was reported; the provider kept the object open, so its
            // callbacks are not judged against that close.
            Life::Open | Life::Closing | Life::Closed(ClosedBy::Error) => {}
        }
        self.count_running(obj);
    }

    /// A completion that was already reported under a more specific rule
    /// ([`Rule::CompletionTwice`], [`Rule::CompletionWithoutPending`]) starts: common checks,
    /// then it counts as running. The "after the object's close" rules are not applied to it:
    /// a duplicate or unpaired completion that also comes late is one bug, reported once.
    pub(super) fn enter_reported(
        &mut self,
        obj: u32,
        callback: CallbackKind,
        status: Option<NTSTATUS>,
    ) {
        self.callback_starts(obj, callback, status);
        self.count_running(obj);
    }

    fn count_running(&mut self, obj: u32) {
        if let Some(r) = self.objects.get_mut(obj as usize) {
            r.running += 1;
        }
    }

    /// A callback concerning `obj` returned to the provider.
    pub(super) fn exit(&mut self, obj: u32, callback: CallbackKind) {
        if let Some(r) = self.objects.get_mut(obj as usize) {
            // Every exit pairs with the entry that counted it (the trampolines exit only what
            // their entry entered), so the count cannot drop below zero. An underflow would be
            // a bookkeeping bug of the verifier itself, not of the provider.
            debug_assert!(
                r.running > 0,
                "{callback:?} exit without an entry on {}",
                r.id
            );
            r.running = r.running.saturating_sub(1);
        }
        self.event(obj, EventKind::CallbackExit { callback }, String::new());
    }

    /// A CQ or SRQ notification registered on `parent` for `queue` (`None` while the queue has
    /// not been handed out) started. `name` is the queue kind in messages. Returns the index of
    /// the object the notification is recorded on.
    fn notification(
        &mut self,
        parent: u32,
        queue: Option<u32>,
        callback: CallbackKind,
        status: NTSTATUS,
        name: &str,
    ) -> u32 {
        let Some(obj) = queue else {
            self.enter(parent, callback, Some(status));
            let message = format!("{name} notification({status}) before the {name} was handed out");
            self.stats.checks += 1;
            self.violate(Rule::NotificationWithoutArm, parent, message);
            return parent;
        };
        self.enter(obj, callback, Some(status));
        let Some(r) = self.objects.get_mut(obj as usize) else {
            return obj;
        };
        let (armed, notifying) = (r.arms > 0, r.notifying);
        r.arms = r.arms.saturating_sub(1);
        r.notifying += 1;
        self.stats.checks += 2;
        if !armed {
            let message = format!("{callback:?}({status}) without a preceding arm");
            self.violate(Rule::NotificationWithoutArm, obj, message);
        }
        if notifying > 0 {
            let message = format!("{callback:?} started while {notifying} other(s) were running");
            self.violate(Rule::NotificationOverlap, obj, message);
        }
        obj
    }
}

impl Inner {
    /// Registers a CQ notification callback for a CQ being created on `parent`.
    pub fn register_cq_notify(&self, parent: u32, up: CqNotification) -> usize {
        self.lock().register(Reg::CqNotify {
            parent,
            cq: None,
            up,
        })
    }

    /// Registers an SRQ notification callback for an SRQ being created on `parent`.
    pub fn register_srq_notify(&self, parent: u32, up: SrqNotification) -> usize {
        self.lock().register(Reg::SrqNotify {
            parent,
            srq: None,
            up,
        })
    }

    /// Registers a connect-event callback for a listener being created on `parent`.
    pub fn register_connect(&self, parent: u32, up: ConnectEvent) -> usize {
        self.lock().register(Reg::Connect {
            parent,
            listener: None,
            up,
        })
    }

    /// Registers a disconnect-event callback for `connector`.
    pub fn register_disconnect(&self, connector: u32, up: Disconnect) -> usize {
        self.lock().register(Reg::Disconnect {
            connector,
            up,
            count: 0,
        })
    }

    /// The consumer armed `obj` (CQ arm, or SRQ modify with a non-zero threshold).
    pub fn arm(&self, obj: u32) {
        if let Some(r) = self.lock().objects.get_mut(obj as usize) {
            if r.arms == 0 || r.reaped_since_arm {
                r.arms += 1;
            }
            r.reaped_since_arm = false;
        }
    }

    /// A CQ notification arrived. Returns the consumer's callback and the CQ's index.
    pub fn cq_notification(&self, token: usize, status: NTSTATUS) -> Option<(CqNotification, u32)> {
        let mut st = self.lock();
        let Some(&Reg::CqNotify { parent, cq, up }) = st.regs.get(&token) else {
            return None;
        };
        let obj = st.notification(parent, cq, CallbackKind::CqNotification, status, "CQ");
        Some((up, obj))
    }

    /// An SRQ notification arrived. Returns the consumer's callback and the SRQ's index.
    pub fn srq_notification(
        &self,
        token: usize,
        status: NTSTATUS,
    ) -> Option<(SrqNotification, u32)> {
        let mut st = self.lock();
        let Some(&Reg::SrqNotify { parent, srq, up }) = st.regs.get(&token) else {
            return None;
        };
        let obj = st.notification(parent, srq, CallbackKind::SrqNotification, status, "SRQ");
        Some((up, obj))
    }

    /// A CQ/SRQ notification on `obj` returned.
    pub fn notification_returned(&self, obj: u32, callback: CallbackKind) {
        let mut st = self.lock();
        if let Some(r) = st.objects.get_mut(obj as usize) {
            // Paired with the increment in `notification` (the trampoline exits only what it
            // entered).
            debug_assert!(
                r.notifying > 0,
                "{callback:?} exit without an entry on {}",
                r.id
            );
            r.notifying = r.notifying.saturating_sub(1);
        }
        st.exit(obj, callback);
    }

    /// A connect event arrived with the provider's new connector `real`. Returns the consumer's
    /// callback, the listener's index and the connector to adopt.
    pub fn connect_event(
        &self,
        token: usize,
        real: *mut c_void,
    ) -> Option<(ConnectEvent, u32, Option<Adoption>)> {
        let mut st = self.lock();
        let Some(&Reg::Connect {
            parent,
            listener,
            up,
        }) = st.regs.get(&token)
        else {
            return None;
        };
        let obj = listener.unwrap_or(parent);
        st.enter(obj, CallbackKind::ConnectEvent, None);
        let adopt = (!real.is_null()).then(|| {
            let mut antecedents = std::vec![parent];
            if listener.is_some() {
                antecedents.push(obj);
            }
            st.new_adoption(ObjectKind::Connector, antecedents, real)
        });
        Some((up, obj, adopt))
    }

    /// A disconnect event arrived. Returns the consumer's callback and the connector's index.
    pub fn disconnect_event(&self, token: usize, reason: Option<u32>) -> Option<(Disconnect, u32)> {
        let mut st = self.lock();
        let Some(Reg::Disconnect {
            connector,
            up,
            count,
        }) = st.regs.get_mut(&token)
        else {
            return None;
        };
        *count += 1;
        let (obj, up, count) = (*connector, *up, *count);
        st.enter(obj, CallbackKind::DisconnectEvent, None);
        st.stats.checks += 1;
        if count > 1 {
            let message =
                format!("disconnect event #{count} for one connection (reason {reason:?})");
            st.violate(Rule::DisconnectEventTwice, obj, message);
        }
        Some((up, obj))
    }

    /// An event callback (connect, disconnect) on `obj` returned.
    pub fn event_returned(&self, obj: u32, callback: CallbackKind) {
        self.lock().exit(obj, callback);
    }
}
