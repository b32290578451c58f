//! The validation error: always names the field it is about.

/// A value that failed validation, with the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A required field is absent or empty.
    #[error("{field}: missing")]
    Missing {
        /// The field's name, as in the interchange format.
        field: String,
    },
    /// A field has a value that is not allowed.
    #[error("{field}: {reason} (got {value:?})")]
    Invalid {
        /// The field's name, as in the interchange format.
        field: String,
        /// The offending value, shortened for display.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// A required field is absent.
    pub fn missing(field: impl Into<String>) -> Self {
        Self::Missing { field: field.into() }
    }

    /// A field's value is not allowed, with the reason why.
    pub fn invalid(field: impl Into<String>, value: impl AsRef<str>, reason: impl Into<String>) -> Self {
        let value: String = value.as_ref().chars().take(40).collect();
        Self::Invalid { field: field.into(), value, reason: reason.into() }
    }

    /// The field this error is about.
    pub fn field(&self) -> &str {
        match self {
            Self::Missing { field } | Self::Invalid { field, .. } => field,
        }
    }

    /// What is wrong, without the field's name (`missing`, or the reason
    /// and the value).
    pub fn reason(&self) -> String {
        match self {
            Self::Missing { .. } => "missing".into(),
            Self::Invalid { value, reason, .. } => format!("{reason} (got {value:?})"),
        }
    }

    /// The same error, about a field nested under `parent` (`contact.phone`).
    pub fn within(self, parent: &str) -> Self {
        match self {
            Self::Missing { field } => Self::Missing { field: format!("{parent}.{field}") },
            Self::Invalid { field, value, reason } => {
                Self::Invalid { field: format!("{parent}.{field}"), value, reason }
            }
        }
    }
}

/// Result of validating domain values.
pub type Result<T> = std::result::Result<T, Error>;
