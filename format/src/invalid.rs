//! [`Invalid`]: a configuration value that cannot be used, as data (the field, the value and
//! what is allowed) rather than a sentence, so that a caller can add its own context — the
//! recipe file, or the command-line flag the value came from.

/// A value outside what its field allows. `Display` gives one line, e.g.
/// `masking.probability is 1.5, outside [0, 1]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// A count below its minimum.
    #[error("{field} must be at least {min}")]
    TooSmall {
        field: String,
        value: i128,
        min: i128,
    },
    /// A value outside an interval.
    #[error("{field} is {value}, outside {allowed}")]
    OutOfRange {
        field: String,
        value: String,
        allowed: String,
    },
    /// A value that is not of the expected form.
    #[error("{field} '{value}' is not {expected}")]
    Malformed {
        field: String,
        value: String,
        expected: &'static str,
    },
    /// A value that is unusable for the reason given.
    #[error("{field} is {value}: {reason}")]
    Unusable {
        field: String,
        value: String,
        reason: String,
    },
    /// A text that must not be empty.
    #[error("{field} is empty")]
    Empty { field: String },
}

impl Invalid {
    /// `field` is below `min`.
    pub fn too_small(field: &str, value: impl Into<i128>, min: impl Into<i128>) -> Invalid {
        Invalid::TooSmall {
            field: field.into(),
            value: value.into(),
            min: min.into(),
        }
    }

    /// `field` is `value`, outside `allowed` (an interval, written as it reads: `[0, 1]`).
    pub fn out_of_range(
        field: &str,
        value: impl std::fmt::Display,
        allowed: impl std::fmt::Display,
    ) -> Invalid {
        Invalid::OutOfRange {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }

    /// The field the value belongs to.
    pub fn field(&self) -> &str {
        match self {
            Invalid::TooSmall { field, .. }
            | Invalid::OutOfRange { field, .. }
            | Invalid::Malformed { field, .. }
            | Invalid::Unusable { field, .. }
            | Invalid::Empty { field } => field,
        }
    }

    /// The same problem, its field named inside `section` (`shards` + `zstd_level` →
    /// `shards.zstd_level`).
    pub fn within(mut self, section: &str) -> Invalid {
        let (Invalid::TooSmall { field, .. }
        | Invalid::OutOfRange { field, .. }
        | Invalid::Malformed { field, .. }
        | Invalid::Unusable { field, .. }
        | Invalid::Empty { field }) = &mut self;
        *field = format!("{section}.{field}");
        self
    }
}

/// Fails with [`Invalid::TooSmall`] unless `value >= min`.
pub fn at_least(field: &str, value: u64, min: u64) -> Result<(), Invalid> {
    if value < min {
        return Err(Invalid::too_small(field, value, min));
    }
    Ok(())
}

/// Fails with [`Invalid::OutOfRange`] unless `p` is a probability in `[0, 1]`.
pub fn probability(field: &str, p: f64) -> Result<(), Invalid> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Invalid::out_of_range(field, p, "[0, 1]"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_field() {
        let cases = [
            (
                at_least("batch_size", 0, 1).unwrap_err(),
                "batch_size must be at least 1",
            ),
            (
                probability("masking.probability", 1.5).unwrap_err(),
                "masking.probability is 1.5, outside [0, 1]",
            ),
            (
                Invalid::Empty {
                    field: "name".into(),
                },
                "name is empty",
            ),
            (
                at_least("zstd_level", 0, 1).unwrap_err().within("shards"),
                "shards.zstd_level must be at least 1",
            ),
        ];
        for (invalid, message) in cases {
            assert_eq!(invalid.to_string(), message);
        }
        assert!(probability("p", 0.0).is_ok() && probability("p", f64::NAN).is_err());
        assert_eq!(at_least("x", 0, 1).unwrap_err().within("a").field(), "a.x");
    }
}
