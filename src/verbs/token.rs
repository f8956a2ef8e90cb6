//! Memory-token encoding: 32-bit tokens that name a token-table slot and its generation, or a
//! PD's privileged token, mixed with a per-adapter secret so they are not plain slot numbers.
//!
//! Owns the bit layout and the keyed mixing, both bijective so a token decodes to exactly one
//! `(slot, generation)`. Knows nothing about what a slot holds.
//!
//! ```text
//! raw:  bit 31 = 1  →  privileged token of PD number bits 0..31
//!       bit 31 = 0  →  slot index in bits 16..31 (15 bits), generation in bits 0..16
//! token = mix(raw ^ secret)   mix: multiply by an odd constant, xor-shift, twice (invertible)
//! ```
//!
//! With 32 bits a token cannot be cryptographically unguessable; the secret makes tokens of
//! different adapters and runs differ and keeps neighbouring slots from having neighbouring
//! tokens, and the 16-bit generation makes a stale token miss until its slot has been re-used
//! 65 536 times.
#![deny(unsafe_code)]

const M1: u32 = 0x9E37_79B9 | 1;
const M2: u32 = 0x85EB_CA6B | 1;

/// The multiplicative inverse of odd `m` modulo 2^32 (Newton's iteration doubles the correct
/// bits each step: 5 steps from 3 correct bits cover 32).
const fn inverse(m: u32) -> u32 {
    let mut y = m;
    let mut i = 0;
    while i < 5 {
        y = y.wrapping_mul(2u32.wrapping_sub(m.wrapping_mul(y)));
        i += 1;
    }
    y
}

const M1_INV: u32 = inverse(M1);
const M2_INV: u32 = inverse(M2);
const _: () = assert!(M1.wrapping_mul(M1_INV) == 1 && M2.wrapping_mul(M2_INV) == 1);

/// Bits of the slot index in a token.
pub const INDEX_BITS: u32 = 15;
/// Bits of the generation in a token.
pub const GENERATION_BITS: u32 = 16;
const GENERATION_MASK: u32 = (1 << GENERATION_BITS) - 1;
const PRIVILEGED: u32 = 1 << 31;

/// What a token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A token-table slot at a generation.
    Slot {
        /// Slot index (< 2^15).
        index: u32,
        /// Generation (16 bits).
        generation: u16,
    },
    /// The privileged token of the PD with this number.
    Privileged(u32),
}

/// A per-adapter token codec.
#[derive(Clone, Copy, Debug)]
pub struct TokenCodec {
    secret: u32,
}

impl TokenCodec {
    /// A codec keyed by `secret`.
    #[must_use]
    pub const fn new(secret: u32) -> Self {
        Self { secret }
    }

    const fn mix(self, raw: u32) -> u32 {
        let mut x = raw ^ self.secret;
        x = x.wrapping_mul(M1);
        x ^= x >> 16;
        x = x.wrapping_mul(M2);
        x ^ (x >> 16)
    }

    const fn unmix(self, token: u32) -> u32 {
        let mut x = token ^ (token >> 16);
        x = x.wrapping_mul(M2_INV);
        x ^= x >> 16;
        x = x.wrapping_mul(M1_INV);
        x ^ self.secret
    }

    /// The token of `index` at `generation` (`index` < 2^15).
    #[must_use]
    pub const fn slot(self, index: u32, generation: u16) -> u32 {
        debug_assert!(index < (1 << INDEX_BITS));
        self.mix((index << GENERATION_BITS) | generation as u32)
    }

    /// The privileged token of PD `number` (31 bits used).
    #[must_use]
    pub const fn privileged(self, number: u32) -> u32 {
        self.mix(PRIVILEGED | (number & !PRIVILEGED))
    }

    /// What `token` names.
    #[must_use]
    pub const fn decode(self, token: u32) -> Decoded {
        let raw = self.unmix(token);
        if raw & PRIVILEGED != 0 {
            Decoded::Privileged(raw & !PRIVILEGED)
        } else {
            #[allow(clippy::cast_possible_truncation)] // masked to 16 bits
            Decoded::Slot {
                index: raw >> GENERATION_BITS,
                generation: (raw & GENERATION_MASK) as u16,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_differ_by_secret() {
        let a = TokenCodec::new(0x1234_5678);
        let b = TokenCodec::new(0x8765_4321);
        for index in [0, 1, 2, 77, (1 << INDEX_BITS) - 1] {
            for generation in [0, 1, 0xFFFF] {
                let t = a.slot(index, generation);
                assert_eq!(a.decode(t), Decoded::Slot { index, generation });
                assert_ne!(t, b.slot(index, generation));
            }
        }
        assert_eq!(a.decode(a.privileged(42)), Decoded::Privileged(42));
        assert_ne!(
            a.slot(0, 0) + 1,
            a.slot(1, 0),
            "neighbouring slots look unrelated"
        );
        assert_ne!(
            a.slot(5, 0),
            a.slot(5, 1),
            "a new generation is a new token"
        );
    }

    #[test]
    fn mixing_is_a_bijection_on_a_sample() {
        let c = TokenCodec::new(0xDEAD_BEEF);
        for raw in (0..u32::MAX).step_by(65_521) {
            assert_eq!(c.unmix(c.mix(raw)), raw);
        }
    }
}
