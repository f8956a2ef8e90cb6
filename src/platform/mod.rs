//! What the OS provides to the provider core: locks, deferred work, IRQL, allocation.
