//! Parsing and printing of sizes, durations, rates and lists for the command line and reports.
//!
//! Owns the accepted spellings (`4K`, `4KiB`, `1M`, `500ms`, `2.5s`, `64,4096`); must never
//! panic on user input: every parser answers a message clap shows as a usage error.

use std::time::Duration;

/// Parses a byte size: a number with an optional binary suffix `K`/`KiB`, `M`/`MiB`, `G`/`GiB`
/// (case-insensitive; `B` alone allowed). Sizes are powers of 1024, as RDMA tools print them.
///
/// # Errors
///
/// A message for an empty, non-numeric, zero or overflowing size.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (examples: 64, 4K, 1MiB)"))?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("`{other}` is not a size suffix (use K, M or G)")),
    };
    let bytes = value
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes == 0 {
        return Err("a size must be at least 1 byte".into());
    }
    Ok(bytes)
}

/// Parses a duration: a decimal number with a unit `ms`, `s` or `m` (`500ms`, `2.5s`, `1m`).
///
/// # Errors
///
/// A message for a missing unit, a negative, zero or non-finite value.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` needs a unit (ms, s or m)"))?;
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (examples: 500ms, 10s, 1m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        other => return Err(format!("`{other}` is not a duration unit (use ms, s or m)")),
    };
    if !(seconds.is_finite() && seconds > 0.0 && seconds < 86_400.0) {
        return Err(format!("`{text}` must be more than 0 and less than a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A byte size the way the tables print it (`64 B`, `4 KiB`, `1 MiB`, `1.5 MiB`): exact
/// multiples without decimals, other sizes with one.
#[must_use]
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    while unit < UNITS.len() - 1 && bytes >= 1024 << (10 * unit) {
        unit += 1;
    }
    let scale = 1u64 << (10 * unit);
    if bytes.is_multiple_of(scale) {
        return format!("{} {}", bytes / scale, UNITS[unit]);
    }
    #[allow(clippy::cast_precision_loss)] // display only
    let value = bytes as f64 / scale as f64;
    format!("{value:.1} {}", UNITS[unit])
}

/// A rate in bytes per second, in decimal GB/s or MB/s (as bandwidth tools print it).
#[must_use]
pub fn format_bandwidth(bytes_per_second: f64) -> String {
    if bytes_per_second >= 1e9 {
        format!("{:.2} GB/s", bytes_per_second / 1e9)
    } else {
        format!("{:.1} MB/s", bytes_per_second / 1e6)
    }
}

/// An operation rate (`12.3 M/s`, `450.1 K/s`, `12/s`).
#[must_use]
pub fn format_rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} K/s", per_second / 1e3)
    } else {
        format!("{per_second:.0}/s")
    }
}

/// Nanoseconds, printed in the unit that keeps 3–4 significant digits.
#[must_use]
pub fn format_nanos(nanos: f64) -> String {
    if nanos >= 1e6 {
        format!("{:.2} ms", nanos / 1e6)
    } else if nanos >= 1e3 {
        format!("{:.2} µs", nanos / 1e3)
    } else {
        format!("{nanos:.1} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_suffixes() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4kib"), Ok(4096));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
    }

    #[test]
    fn sizes_refuse_nonsense() {
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("-4").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_secs_f64(2.5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_mins(1)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn formatting_picks_readable_units() {
        assert_eq!(format_size(64), "64 B");
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(4 << 20), "4 MiB");
        assert_eq!(format_size(1536 * 1024), "1.5 MiB");
        assert_eq!(format_size(6_387_098), "6.1 MiB");
        assert_eq!(format_size(1000), "1000 B");
        assert_eq!(format_bandwidth(2.5e9), "2.50 GB/s");
        assert_eq!(format_rate(1_234_567.0), "1.23 M/s");
        assert_eq!(format_nanos(1500.0), "1.50 µs");
        assert_eq!(format_nanos(12.0), "12.0 ns");
    }
}
