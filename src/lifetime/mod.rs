//! The NDK object lifetime engine (see `docs/lifetime.md`).
