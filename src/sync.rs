//! Atomics facade: `core` atomics normally, loom's under `--cfg loom`.
