//! Choosing a fuzz call's object argument from the harness's table of live objects (shared by
//! the `dispatch` and `cm` harnesses).
//!
//! Must never: pick a closed object (closed slots are `None`).

/// The index of the `i`-th live object (wrapping) of `objects` that `kind` accepts, if any.
pub fn nth_live<T>(objects: &[Option<T>], i: u8, kind: fn(&T) -> bool) -> Option<usize> {
    let live: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.as_ref().is_some_and(kind))
        .map(|(i, _)| i)
        .collect();
    (!live.is_empty()).then(|| live[usize::from(i) % live.len()])
}
