//! One diagnostic line for the OS's debugger log ([`PlatformOps::debug_print`]), formatted
//! into a fixed-size buffer that lives on the caller's stack.
//!
//! Owns the pure part of debug printing: formatting with `core::fmt::Write`, truncation at the
//! buffer size, the NUL terminator the kernel's `DbgPrintEx("%s", …)` needs, and the
//! replacement of interior NULs (which would silently cut the line short there). The kernel
//! passes the buffer as the *argument* of a fixed `"%s"` format, never as the format itself,
//! so a `%` in the text is printed, not interpreted.
//!
//! Must never allocate, block or panic: the provider verifier formats its reports with it at
//! up to `DISPATCH_LEVEL`, possibly inside a consumer's post.
//!
//! [`PlatformOps::debug_print`]: super::PlatformOps::debug_print

use core::fmt;

/// Bytes of a [`DebugLine`] buffer, terminator included.
///
/// `DbgPrintEx` transmits at most 512 bytes per call; a verifier report is about 110, so 256 leaves room without costing much
/// stack at `DISPATCH_LEVEL`.
pub const DEBUG_LINE_CAPACITY: usize = 256;

/// What a truncated line ends with, so a reader knows text is missing.
const ELLIPSIS: &[u8] = b"...";

/// Replaces an interior NUL: `DbgPrintEx` would end the line there.
const NUL_REPLACEMENT: u8 = b'?';

/// A NUL-terminated line of at most [`DEBUG_LINE_CAPACITY`] − 1 bytes of UTF-8 text.
///
/// # Invariants
///
/// `buf[..len]` is valid UTF-8 without NUL bytes and `buf[len] == 0`; `len <
/// DEBUG_LINE_CAPACITY`. Established by [`DebugLine::new`] and kept by every write.
#[derive(Clone)]
pub struct DebugLine {
    buf: [u8; DEBUG_LINE_CAPACITY],
    len: usize,
    truncated: bool,
}

impl DebugLine {
    /// An empty line.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; DEBUG_LINE_CAPACITY],
            len: 0,
            truncated: false,
        }
    }

    /// The line `args` formats to, truncated (ending in `...`) if it does not fit.
    #[must_use]
    pub fn format(args: fmt::Arguments<'_>) -> Self {
        let mut line = Self::new();
        // An error only means the text was truncated (or a `Display` failed): keep what fits.
        let _ = fmt::Write::write_fmt(&mut line, args);
        line
    }

    /// The text, without the terminator.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Invariant: `buf[..len]` is UTF-8 (only whole `&str` characters and ASCII bytes are
        // ever written); the fallback is unreachable and keeps this free of panics.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    /// The text followed by its NUL terminator (what the kernel passes to `DbgPrintEx`).
    #[must_use]
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        &self.buf[..=self.len]
    }

    /// The line as a C string (no interior NUL by the invariant).
    #[must_use]
    pub fn as_c_str(&self) -> &core::ffi::CStr {
        core::ffi::CStr::from_bytes_with_nul(self.as_bytes_with_nul()).unwrap_or_default()
    }

    /// Whether text was cut off because it did not fit.
    #[must_use]
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Ends the text with [`ELLIPSIS`], dropping whole characters to make room.
    fn mark_truncated(&mut self) {
        self.truncated = true;
        let room = DEBUG_LINE_CAPACITY - 1 - ELLIPSIS.len();
        let mut end = self.len.min(room);
        // Back up to a character boundary: UTF-8 continuation bytes are `0b10xx_xxxx`.
        while end > 0 && self.buf[end] & 0xC0 == 0x80 {
            end -= 1;
        }
        self.buf[end..end + ELLIPSIS.len()].copy_from_slice(ELLIPSIS);
        self.len = end + ELLIPSIS.len();
        self.buf[self.len] = 0;
    }
}

impl Default for DebugLine {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DebugLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for DebugLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Write for DebugLine {
    /// Appends whole characters while they fit; returns an error (so formatting stops early)
    /// once the line is full, after marking it truncated.
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Err(fmt::Error);
        }
        for c in s.chars() {
            let mut utf8 = [0_u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            // Keep one byte for the terminator.
            if self.len + bytes.len() > DEBUG_LINE_CAPACITY - 1 {
                self.mark_truncated();
                return Err(fmt::Error);
            }
            for &b in bytes {
                self.buf[self.len] = if b == 0 { NUL_REPLACEMENT } else { b };
                self.len += 1;
            }
        }
        self.buf[self.len] = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn nul_count(line: &DebugLine) -> usize {
        line.as_bytes_with_nul()
            .split(|&b| b == 0)
            .count()
            .saturating_sub(1)
    }

    #[test]
    fn a_short_line_is_kept_whole_and_terminated() {
        let line = DebugLine::format(format_args!("QP {:#x} closed twice", 0xABC_usize));
        assert_eq!(line.as_str(), "QP 0xabc closed twice");
        assert_eq!(line.as_bytes_with_nul().last(), Some(&0));
        assert_eq!(nul_count(&line), 1, "exactly the terminator");
        assert!(!line.is_truncated());
        assert_eq!(line.as_c_str().to_bytes(), line.as_str().as_bytes());
    }

    #[test]
    fn an_empty_line_is_just_the_terminator() {
        let line = DebugLine::new();
        assert_eq!(line.as_bytes_with_nul(), [0]);
        assert_eq!(line.as_str(), "");
    }

    #[test]
    fn interior_nuls_are_replaced_and_percent_signs_kept() {
        let line = DebugLine::format(format_args!("a\0b%s{}", '\0'));
        assert_eq!(line.as_str(), "a?b%s?");
        assert_eq!(nul_count(&line), 1);
        assert!(!line.is_truncated());
    }

    #[test]
    fn a_line_that_exactly_fits_is_not_truncated() {
        let text = "x".repeat(DEBUG_LINE_CAPACITY - 1);
        let line = DebugLine::format(format_args!("{text}"));
        assert_eq!(line.as_str(), text);
        assert!(!line.is_truncated());
        assert_eq!(line.as_bytes_with_nul().len(), DEBUG_LINE_CAPACITY);
    }

    #[test]
    fn a_long_line_is_cut_at_the_buffer_size_and_marked() {
        let text = "y".repeat(DEBUG_LINE_CAPACITY);
        let line = DebugLine::format(format_args!("{text}tail"));
        assert!(line.is_truncated());
        assert_eq!(line.as_bytes_with_nul().len(), DEBUG_LINE_CAPACITY);
        assert!(line.as_str().ends_with("..."));
        assert!(line.as_str().starts_with("yyy"));
        assert_eq!(nul_count(&line), 1);
        assert!(!line.as_str().contains("tail"), "formatting stopped");
    }

    #[test]
    fn truncation_never_splits_a_character() {
        // 'é' is two bytes: with an odd prefix no boundary falls where the cut would.
        for prefix in 0..4 {
            let mut text = "p".repeat(prefix);
            while text.len() < 2 * DEBUG_LINE_CAPACITY {
                text.push('é');
            }
            let line = DebugLine::format(format_args!("{text}"));
            assert!(line.is_truncated());
            let shown = line.as_str();
            assert!(shown.ends_with("..."), "{shown:?}");
            assert!(shown.len() < DEBUG_LINE_CAPACITY);
            assert!(
                shown.len() >= DEBUG_LINE_CAPACITY - 1 - 2,
                "cut as late as possible"
            );
            assert!(text.starts_with(shown.trim_end_matches("...")));
        }
    }

    #[test]
    fn writes_after_truncation_are_refused() {
        let mut line = DebugLine::new();
        let long = "z".repeat(DEBUG_LINE_CAPACITY);
        assert!(fmt::Write::write_str(&mut line, &long).is_err());
        let before = String::from(line.as_str());
        assert!(fmt::Write::write_str(&mut line, "more").is_err());
        assert_eq!(line.as_str(), before);
    }
}
