//! Whether a datum fits a column: its shape, its size and every constraint.
//!
//! A server checks each value a transaction writes with
//! [`ColumnType::check`]. The error says which OVSDB error to answer with
//! ([`CheckError::kind`]); a caller that knows better (too many elements
//! is a "syntax error" in an insert but a "constraint violation" after a
//! mutate) picks its own.

use crate::atom::{Atom, AtomicType};
use crate::datum::Datum;
use crate::error::ErrorKind;

use super::types::{BaseKind, BaseType, ColumnType, Max};

/// An atom that does not fit its base type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AtomError {
    /// An atom of another type.
    #[error("expected a {expected}, got a {found}")]
    WrongType {
        /// The base type's atomic type.
        expected: AtomicType,
        /// The atom's.
        found: AtomicType,
    },
    /// An integer outside `minInteger..=maxInteger`.
    #[error("{value} is outside the allowed range")]
    IntegerOutOfRange {
        /// The integer.
        value: i64,
    },
    /// A real outside `minReal..=maxReal`.
    #[error("{value} is outside the allowed range")]
    RealOutOfRange {
        /// The real.
        value: f64,
    },
    /// A string with fewer than `minLength` or more than `maxLength` characters.
    #[error("a string of {length} characters is outside the allowed length")]
    LengthOutOfRange {
        /// The string's length in characters.
        length: u64,
    },
    /// An atom the base type's `enum` does not list.
    #[error("{0:?} is not one of the allowed values")]
    NotInEnum(Atom),
}

/// A datum that does not fit its column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// A set for a map column, or a map for a set column.
    #[error("expected a {expected}")]
    WrongShape {
        /// "map" or "set".
        expected: &'static str,
    },
    /// Too few or too many elements.
    #[error("{len} elements, but the column holds {min} to {max}")]
    Cardinality {
        /// How many elements the datum has.
        len: u64,
        /// The column's `min`.
        min: u64,
        /// The column's `max`.
        max: Max,
    },
    /// A set element or map key that does not fit the key type.
    #[error("key: {0}")]
    Key(AtomError),
    /// A map value that does not fit the value type.
    #[error("value: {0}")]
    Value(AtomError),
}

impl CheckError {
    /// The OVSDB error a server answers with, as ovsdb-server does for an
    /// inserted value: a wrong type, shape or size is a "syntax error", a
    /// broken constraint a "constraint violation".
    pub fn kind(&self) -> ErrorKind {
        match self {
            CheckError::WrongShape { .. }
            | CheckError::Cardinality { .. }
            | CheckError::Key(AtomError::WrongType { .. })
            | CheckError::Value(AtomError::WrongType { .. }) => ErrorKind::SyntaxError,
            CheckError::Key(_) | CheckError::Value(_) => ErrorKind::ConstraintViolation,
        }
    }
}

impl ColumnType {
    /// Checks that `datum` fits this column. An integer fits a real column
    /// (JSON writes a whole real as an integer), a named UUID fits a UUID
    /// column, and an empty set fits a map column.
    ///
    /// ```
    /// use ovsdb_proto::schema::{ColumnType, CheckError};
    /// use ovsdb_proto::datum::Datum;
    ///
    /// let port: ColumnType = serde_json::from_str(
    ///     r#"{"key":{"type":"integer","minInteger":1,"maxInteger":65535}}"#)?;
    /// assert!(port.check(&serde_json::from_str::<Datum>("6640")?).is_ok());
    /// assert!(matches!(port.check(&serde_json::from_str::<Datum>("0")?), Err(CheckError::Key(_))));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn check(&self, datum: &Datum) -> Result<(), CheckError> {
        let len = u64::try_from(datum.len()).unwrap_or(u64::MAX);
        if len < self.min || !self.max.allows(len) {
            return Err(CheckError::Cardinality {
                len,
                min: self.min,
                max: self.max,
            });
        }
        match (datum, &self.value) {
            (Datum::Set(set), None) => set
                .iter()
                .try_for_each(|a| check_atom(&self.key, a).map_err(CheckError::Key)),
            (Datum::Set(set), Some(_)) if set.is_empty() => Ok(()),
            (Datum::Map(map), Some(value)) => map.iter().try_for_each(|(k, v)| {
                check_atom(&self.key, k).map_err(CheckError::Key)?;
                check_atom(value, v).map_err(CheckError::Value)
            }),
            (Datum::Set(_), Some(_)) => Err(CheckError::WrongShape { expected: "map" }),
            (Datum::Map(_), None) => Err(CheckError::WrongShape { expected: "set" }),
        }
    }
}

fn within<T: PartialOrd>(v: &T, min: &Option<T>, max: &Option<T>) -> bool {
    min.as_ref().is_none_or(|m| v >= m) && max.as_ref().is_none_or(|m| v <= m)
}

/// Checks one atom against its base type.
pub(crate) fn check_atom(base: &BaseType, atom: &Atom) -> Result<(), AtomError> {
    let wrong = || AtomError::WrongType {
        expected: base.atomic_type(),
        found: atom.atomic_type(),
    };
    // The value compared with the enum: a whole number in a real column
    // compares as the real it stands for.
    let mut as_listed = None;
    match (&base.kind, atom) {
        (BaseKind::Integer { min, max }, Atom::Integer(i)) => {
            if !within(i, min, max) {
                return Err(AtomError::IntegerOutOfRange { value: *i });
            }
        }
        (BaseKind::Real { min, max }, Atom::Real(_) | Atom::Integer(_)) => {
            let r = atom.as_real().ok_or_else(wrong)?;
            if !within(&r, min, max) {
                return Err(AtomError::RealOutOfRange { value: r });
            }
            as_listed = Some(Atom::Real(r));
        }
        (BaseKind::Boolean, Atom::Boolean(_)) => {}
        (
            BaseKind::String {
                min_length,
                max_length,
            },
            Atom::String(s),
        ) => {
            let length = u64::try_from(s.chars().count()).unwrap_or(u64::MAX);
            if !within(&length, min_length, max_length) {
                return Err(AtomError::LengthOutOfRange { length });
            }
        }
        (BaseKind::Uuid { .. }, Atom::Uuid(_) | Atom::NamedUuid(_)) => {}
        _ => return Err(wrong()),
    }
    match &base.enumeration {
        Some(allowed) if !allowed.contains(as_listed.as_ref().unwrap_or(atom)) => {
            Err(AtomError::NotInEnum(atom.clone()))
        }
        _ => Ok(()),
    }
}
