//! `log_get_flags`.

use std::collections::BTreeMap;

/// The result of `log_get_flags`: every log flag and whether it is on.
pub type LogFlags = BTreeMap<String, bool>;
