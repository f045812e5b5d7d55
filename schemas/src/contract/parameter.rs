//! A query string as `(key, value)` pairs, and [`InvalidParameter`]: the one refusal a
//! malformed query gets, naming its parameter (the service answers it with a 400).
//!
//! Parameters the contract does not know are ignored; a known parameter given twice is
//! refused (except `aggregates`, which is repeatable by contract).

/// A parameter that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct InvalidParameter {
    /// The parameter's name as in the contract (`time_range`, `limit`, ...).
    pub parameter: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl InvalidParameter {
    /// A refusal of `parameter`.
    pub fn new(parameter: &'static str, message: impl Into<String>) -> Self {
        Self {
            parameter,
            message: message.into(),
        }
    }
}

/// The one value of `name`, or a refusal when it is missing or repeated.
pub(crate) fn required<'a>(
    pairs: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, InvalidParameter> {
    single(pairs, name)?.ok_or_else(|| InvalidParameter::new(name, "missing"))
}

/// The value of `name` when given once, `None` when absent, a refusal when repeated.
pub(crate) fn single<'a>(
    pairs: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, InvalidParameter> {
    let mut values = pairs
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(InvalidParameter::new(name, "given more than once"));
    }
    Ok(first)
}

/// Owned pairs from borrowed ones (tests).
#[cfg(test)]
pub(crate) fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_missing_given_once_or_repeated() {
        let query = pairs(&[("a", "1"), ("b", "2"), ("b", "3"), ("other", "x")]);
        assert_eq!(required(&query, "a"), Ok("1"));
        assert_eq!(single(&query, "c"), Ok(None));
        assert_eq!(
            required(&query, "c").map_err(|error| error.to_string()),
            Err("c: missing".to_owned())
        );
        assert_eq!(
            single(&query, "b").map_err(|error| error.to_string()),
            Err("b: given more than once".to_owned())
        );
    }
}
