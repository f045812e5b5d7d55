//! The contract's vocabulary of an aggregates query (`POST /aggregates`), shared by the
//! service that answers it (read-api) and the client that checks it (loadgen): which
//! aggregates may be asked for, their query-string values and answer columns, and the
//! optional filters in the contract's fixed column order.

use crate::tag::UserTag;

/// An aggregate the caller asks for, in the order asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `COUNT`: the number of matching tags, column `count`.
    Count,
    /// `SUM_PRICE`: the sum of their prices (64 bits), column `sum_price`.
    SumPrice,
}

impl Aggregate {
    /// The aggregate a query-string value names (`COUNT`, `SUM_PRICE`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "COUNT" => Some(Self::Count),
            "SUM_PRICE" => Some(Self::SumPrice),
            _ => None,
        }
    }

    /// The query-string value.
    pub const fn parameter(self) -> &'static str {
        match self {
            Self::Count => "COUNT",
            Self::SumPrice => "SUM_PRICE",
        }
    }

    /// The answer's column name.
    pub const fn column(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::SumPrice => "sum_price",
        }
    }
}

/// The optional filters of an aggregates query. A filter given with an empty value
/// (`origin=`) is present and matches tags whose field is the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `origin`: the campaign.
    pub origin: Option<String>,
    /// `brand_id`: the brand.
    pub brand_id: Option<String>,
    /// `category_id`: the category.
    pub category_id: Option<String>,
}

impl Filters {
    /// The present filters as `(column name, value)`, in the contract's fixed order.
    pub fn present(&self) -> Vec<(&'static str, &str)> {
        [
            ("origin", &self.origin),
            ("brand_id", &self.brand_id),
            ("category_id", &self.category_id),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
    }

    /// Whether `tag` passes every present filter.
    pub fn admit(&self, tag: &UserTag) -> bool {
        let matches = |filter: &Option<String>, value: &str| {
            filter.as_deref().is_none_or(|wanted| wanted == value)
        };
        matches(&self.origin, &tag.origin)
            && matches(&self.brand_id, &tag.product_info.brand_id)
            && matches(&self.category_id, &tag.product_info.category_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_aggregate_parses_back_from_its_parameter() {
        for aggregate in [Aggregate::Count, Aggregate::SumPrice] {
            assert_eq!(Aggregate::parse(aggregate.parameter()), Some(aggregate));
        }
        assert_eq!(Aggregate::parse("count"), None);
    }

    #[test]
    fn present_filters_come_in_the_contracts_order() {
        let filters = Filters {
            origin: None,
            brand_id: Some("b".into()),
            category_id: Some(String::new()),
        };
        assert_eq!(
            filters.present(),
            vec![("brand_id", "b"), ("category_id", "")]
        );
    }
}
