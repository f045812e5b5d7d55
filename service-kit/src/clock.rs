//! The wall clock as the services stamp their figures with it: milliseconds since the
//! Unix epoch (the unit of the broker's record timestamps).

use std::time::SystemTime;

/// Now, in milliseconds since the Unix epoch (0 on a clock set before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
