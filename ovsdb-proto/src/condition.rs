//! Conditions: the `where` clauses of operations and of `monitor_cond`
//! (RFC 7047 section 5.1, and ovsdb-server(7) for `true` and `false`).
//!
//! A condition is `[column, function, value]`, or a bare `true` (every row)
//! or `false` (no row), which `monitor_cond` accepts.

use std::fmt;

use serde::de::{
    self, value::SeqAccessDeserializer, Deserialize, Deserializer, SeqAccess, Visitor,
};
use serde::ser::{Serialize, SerializeTuple, Serializer};

use crate::datum::Datum;
use crate::wire_names::wire_names;

wire_names! {
    /// How a condition compares a column with its value.
    Function, "a condition function" {
        /// `<`: numbers only.
        LessThan => "<",
        /// `<=`: numbers only.
        LessOrEqual => "<=",
        /// `==`.
        Equal => "==",
        /// `!=`.
        NotEqual => "!=",
        /// `>=`: numbers only.
        GreaterOrEqual => ">=",
        /// `>`: numbers only.
        GreaterThan => ">",
        /// The column holds every element (or pair) of the value.
        Includes => "includes",
        /// The column holds no element (or pair) of the value.
        Excludes => "excludes",
    }
}

/// One condition on a row.
///
/// ```
/// use ovsdb_proto::condition::{Condition, Function};
///
/// let c: Condition = serde_json::from_str(r#"["name","==","br0"]"#)?;
/// assert_eq!(c, Condition::new("name", Function::Equal, "br0"));
/// assert_eq!(serde_json::to_string(&Condition::Boolean(true))?, "true");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `[column, function, value]`.
    Compare {
        /// The column's name.
        column: String,
        /// The comparison.
        function: Function,
        /// What the column is compared with.
        value: Datum,
    },
    /// `true` (every row) or `false` (no row).
    Boolean(bool),
}

impl Condition {
    /// `[column, function, value]`.
    pub fn new(
        column: impl Into<String>,
        function: Function,
        value: impl Into<crate::atom::Atom>,
    ) -> Self {
        Condition::Compare {
            column: column.into(),
            function,
            value: Datum::from(value.into()),
        }
    }
}

/// Writes `[a, b, c]`: conditions and mutations.
pub(crate) fn serialize_triple<S, A, B, C>(
    serializer: S,
    a: &A,
    b: &B,
    c: &C,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    A: Serialize + ?Sized,
    B: Serialize + ?Sized,
    C: Serialize + ?Sized,
{
    let mut t = serializer.serialize_tuple(3)?;
    t.serialize_element(a)?;
    t.serialize_element(b)?;
    t.serialize_element(c)?;
    t.end()
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Condition::Compare {
                column,
                function,
                value,
            } => serialize_triple(serializer, column, function, value),
            Condition::Boolean(b) => serializer.serialize_bool(*b),
        }
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConditionVisitor;
        impl<'de> Visitor<'de> for ConditionVisitor {
            type Value = Condition;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[column, function, value], true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Condition, E> {
                Ok(Condition::Boolean(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Condition, A::Error> {
                let (column, function, value) =
                    Deserialize::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Condition::Compare {
                    column,
                    function,
                    value,
                })
            }
        }
        deserializer.deserialize_any(ConditionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    #[test]
    fn every_function_on_the_wire() {
        for f in Function::ALL {
            let text = format!(r#"["c","{f}",["set",[1,2]]]"#);
            let c: Condition = from_str(&text).unwrap();
            assert!(matches!(&c, Condition::Compare { function, .. } if function == f));
            assert_eq!(to_string(&c).unwrap(), text);
        }
        assert_eq!(
            from_str::<Condition>("false").unwrap(),
            Condition::Boolean(false)
        );
    }

    #[test]
    fn malformed_conditions_are_refused() {
        for bad in [
            r#"["c","=~",1]"#,
            r#"["c","=="]"#,
            r#"["c","==",1,2]"#,
            r#"[1,"==",1]"#,
            "null",
            "{}",
        ] {
            assert!(from_str::<Condition>(bad).is_err(), "{bad}");
        }
    }
}
