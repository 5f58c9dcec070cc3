//! Mutations: the changes a `mutate` operation makes (RFC 7047 section 5.1).
//!
//! A mutation is `[column, mutator, value]`: arithmetic on numbers (and on
//! every element of a set of numbers), or inserting into and deleting from
//! sets and maps.

use std::fmt;

use serde::de::{value::SeqAccessDeserializer, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::condition::serialize_triple;
use crate::datum::Datum;
use crate::wire_names::wire_names;

wire_names! {
    /// How a mutation changes a column.
    Mutator, "a mutator" {
        /// `+=`.
        Add => "+=",
        /// `-=`.
        Subtract => "-=",
        /// `*=`.
        Multiply => "*=",
        /// `/=`: a "domain error" when dividing by zero.
        Divide => "/=",
        /// `%=`: integers only.
        Remainder => "%=",
        /// Adds elements to a set, or pairs to a map (keeping a key's existing value).
        Insert => "insert",
        /// Removes elements from a set, or keys or pairs from a map.
        Delete => "delete",
    }
}

/// One change to one column.
///
/// ```
/// use ovsdb_proto::mutation::{Mutation, Mutator};
///
/// let m: Mutation = serde_json::from_str(r#"["n","+=",1]"#)?;
/// assert_eq!(m.mutator, Mutator::Add);
/// assert_eq!(serde_json::to_string(&m)?, r#"["n","+=",1]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// The column's name.
    pub column: String,
    /// The change.
    pub mutator: Mutator,
    /// Its operand.
    pub value: Datum,
}

impl Mutation {
    /// `[column, mutator, value]`.
    pub fn new(column: impl Into<String>, mutator: Mutator, value: impl Into<Datum>) -> Self {
        Mutation {
            column: column.into(),
            mutator,
            value: value.into(),
        }
    }
}

impl Serialize for Mutation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_triple(serializer, &self.column, &self.mutator, &self.value)
    }
}

impl<'de> Deserialize<'de> for Mutation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MutationVisitor;
        impl<'de> Visitor<'de> for MutationVisitor {
            type Value = Mutation;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[column, mutator, value]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Mutation, A::Error> {
                let (column, mutator, value) =
                    Deserialize::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Mutation {
                    column,
                    mutator,
                    value,
                })
            }
        }
        deserializer.deserialize_seq(MutationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    #[test]
    fn every_mutator_on_the_wire() {
        for m in Mutator::ALL {
            let text = format!(r#"["c","{m}",["map",[["k","v"]]]]"#);
            let mutation: Mutation = from_str(&text).unwrap();
            assert_eq!(mutation.mutator, *m);
            assert_eq!(to_string(&mutation).unwrap(), text);
        }
    }

    #[test]
    fn malformed_mutations_are_refused() {
        for bad in [
            r#"["c","^=",1]"#,
            r#"["c","+="]"#,
            r#"["c","+=",1,1]"#,
            "true",
            r#"{"c":1}"#,
        ] {
            assert!(from_str::<Mutation>(bad).is_err(), "{bad}");
        }
    }
}
