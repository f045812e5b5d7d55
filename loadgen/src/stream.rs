//! A deterministic tag stream: the same seed gives the same tags, in order.
//! Event time starts at a fixed instant and advances 1 ms per tag; cookies, origins,
//! brands and categories are skewed (a few hot values, a long tail), about one tag in
//! five is a BUY, as in the reference harness.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schemas::{Action, Device, EventTime, ProductId, ProductInfo, UserTag};

/// 2026-03-01T00:00:00Z: where every stream's event time starts.
pub const STREAM_START_MS: i64 = 1_772_323_200_000;

/// Sizes of the dimensions.
#[derive(Debug, Clone, Copy)]
pub struct Cardinalities {
    /// Distinct cookies.
    pub cookies: u32,
    /// Distinct countries.
    pub countries: u32,
    /// Distinct origins.
    pub origins: u32,
    /// Distinct brands.
    pub brands: u32,
    /// Distinct categories.
    pub categories: u32,
}

impl Default for Cardinalities {
    fn default() -> Self {
        Self {
            cookies: 1_000_000,
            countries: 100,
            origins: 1_000,
            brands: 250,
            categories: 67,
        }
    }
}

/// How many values of each dimension are hot: a quarter of the draws hit them, so a
/// stream of a few tens of thousands of tags takes each hot cookie past 200 tags per
/// action.
pub const HOT_VALUES: u32 = 16;

/// The cookie with number `number` (`cookie00000000000007`: 20 characters, like the
/// reference harness's cookies).
pub fn cookie_name(number: u32) -> String {
    format!("cookie{number:014}")
}

/// The generator.
pub struct TagStream {
    rng: StdRng,
    start_ms: i64,
    next_index: u64,
    sizes: Cardinalities,
}

impl TagStream {
    /// A stream from `seed`.
    pub fn new(seed: u64, sizes: Cardinalities) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            start_ms: STREAM_START_MS,
            next_index: 0,
            sizes,
        }
    }

    /// The same stream with event time starting at `start_ms` instead of
    /// [`STREAM_START_MS`] (so a run does not mix with an earlier run's tags).
    pub fn starting_at(mut self, start_ms: i64) -> Self {
        self.start_ms = start_ms;
        self
    }

    /// A value in `0..size`, skewed: a quarter of the draws hit the [`HOT_VALUES`] hottest.
    fn skewed(&mut self, size: u32) -> u32 {
        if self.rng.random_range(0..4) == 0 {
            self.rng.random_range(0..size.min(HOT_VALUES))
        } else {
            self.rng.random_range(0..size)
        }
    }
}

impl Iterator for TagStream {
    type Item = UserTag;

    fn next(&mut self) -> Option<UserTag> {
        let index = self.next_index;
        self.next_index += 1;
        let cookie = self.skewed(self.sizes.cookies);
        let tag = UserTag {
            time: EventTime::from_millis(self.start_ms + index as i64).into(),
            cookie: cookie_name(cookie),
            country: format!("C{:02}", self.skewed(self.sizes.countries)),
            device: [Device::Pc, Device::Mobile, Device::Tv][self.rng.random_range(0..3)],
            action: if self.rng.random_range(0..5) == 0 {
                Action::Buy
            } else {
                Action::View
            },
            origin: format!("CAMPAIGN_{}", self.skewed(self.sizes.origins)),
            product_info: ProductInfo {
                product_id: ProductId::Number(i64::from(self.rng.random_range(1..100_000))),
                brand_id: format!("Brand_{}", self.skewed(self.sizes.brands)),
                category_id: format!("Category_{}", self.skewed(self.sizes.categories)),
                price: self.rng.random_range(1..100_000),
            },
        };
        Some(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_time_advances_one_millisecond() {
        let first: Vec<UserTag> = TagStream::new(7, Cardinalities::default())
            .take(100)
            .collect();
        let second: Vec<UserTag> = TagStream::new(7, Cardinalities::default())
            .take(100)
            .collect();
        assert_eq!(first, second);
        assert_eq!(first[1].time.millis() - first[0].time.millis(), 1);
        let buys = TagStream::new(1, Cardinalities::default())
            .take(10_000)
            .filter(|tag| tag.action == Action::Buy)
            .count();
        assert!(
            (1_500..2_500).contains(&buys),
            "about one BUY in five, got {buys}"
        );
    }
}
