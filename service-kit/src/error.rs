//! Errors as operators read them: the whole chain of causes on one line, so a log line
//! says what failed and why ("insert failed: clickhouse: connection refused"), not only
//! the outermost context.

use std::error::Error;
use std::fmt;

/// Displays an error and every `source()` beneath it, joined by `": "`.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

/// The chain of `error` for a log field or a message: `tracing::warn!(error = %chain(&e))`.
pub fn chain<'a>(error: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(error)
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(formatter, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("insert failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_is_shown_outermost_first() {
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            chain(&error).to_string(),
            "insert failed: connection refused"
        );
    }
}
