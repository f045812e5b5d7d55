//! Verdicts: a figure against its limit, 'met' or 'not met'. A limit is either fixed
//! (the contract's 200 ms, a target of 500 profiles/s) or a measurement of the same run
//! (twice the no-op server's CPU per request); either way the report prints the limit
//! beside the figure, so a reader can check the verdict. A figure that could not be
//! measured has no verdict ('not measured'), never a silent pass.

use std::fmt;

/// Which side of the limit passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Passes when the figure is at most this (latencies, CPU, failures).
    AtMost(f64),
    /// Passes when the figure is strictly below this.
    Below(f64),
    /// Passes when the figure is at least this (rates).
    AtLeast(f64),
}

/// The outcome of checking a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The figure is within its limit.
    Met,
    /// The figure is outside its limit.
    NotMet,
    /// The figure (or a measured limit) is missing.
    NotMeasured,
}

impl Limit {
    /// Checks `figure`; `None` (not measured) or a NaN gives [`Verdict::NotMeasured`].
    pub fn check(self, figure: Option<f64>) -> Verdict {
        let Some(figure) = figure.filter(|value| !value.is_nan()) else {
            return Verdict::NotMeasured;
        };
        let passes = match self {
            Self::AtMost(limit) => figure <= limit,
            Self::Below(limit) => figure < limit,
            Self::AtLeast(limit) => figure >= limit,
        };
        if passes {
            Verdict::Met
        } else {
            Verdict::NotMet
        }
    }

    /// Checks `figure` against a limit that is itself a measurement (`None` when it
    /// could not be measured).
    pub fn check_measured(limit: Option<Self>, figure: Option<f64>) -> Verdict {
        limit.map_or(Verdict::NotMeasured, |limit| limit.check(figure))
    }
}

impl Verdict {
    /// Met when `condition` holds.
    pub fn of(condition: bool) -> Self {
        if condition {
            Self::Met
        } else {
            Self::NotMet
        }
    }
}

impl fmt::Display for Verdict {
    /// As the reports print it: a miss stands out in bold.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Met => "met",
            Self::NotMet => "**not met**",
            Self::NotMeasured => "not measured",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_pass_on_their_side_and_the_boundary_is_explicit() {
        assert_eq!(Limit::AtMost(20.0).check(Some(20.0)), Verdict::Met);
        assert_eq!(Limit::AtMost(20.0).check(Some(20.1)), Verdict::NotMet);
        assert_eq!(Limit::Below(10.0).check(Some(10.0)), Verdict::NotMet);
        assert_eq!(Limit::Below(10.0).check(Some(9.9)), Verdict::Met);
        assert_eq!(Limit::AtLeast(500.0).check(Some(500.0)), Verdict::Met);
        assert_eq!(Limit::AtLeast(500.0).check(Some(499.0)), Verdict::NotMet);
    }

    #[test]
    fn a_missing_figure_or_limit_is_never_met() {
        assert_eq!(Limit::AtMost(1.0).check(None), Verdict::NotMeasured);
        assert_eq!(
            Limit::AtMost(1.0).check(Some(f64::NAN)),
            Verdict::NotMeasured
        );
        assert_eq!(Limit::check_measured(None, Some(1.0)), Verdict::NotMeasured);
        assert_eq!(
            Limit::check_measured(Some(Limit::AtMost(2.0)), Some(1.0)),
            Verdict::Met
        );
    }

    #[test]
    fn verdicts_print_as_the_reports_show_them() {
        assert_eq!(Verdict::Met.to_string(), "met");
        assert_eq!(Verdict::NotMet.to_string(), "**not met**");
        assert_eq!(Verdict::NotMeasured.to_string(), "not measured");
    }
}
