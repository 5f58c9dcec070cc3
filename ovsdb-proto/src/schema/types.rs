//! Column types: what values a column may hold (RFC 7047 section 3.2).
//!
//! A [`ColumnType`] is a key [`BaseType`], an optional value base type (a
//! map column has one), and how many elements the column holds (`min`,
//! `max`). A base type is an atomic type with its constraints: a range for
//! numbers, a length for strings, the table a UUID refers to, or a fixed
//! list of allowed values (`enum`).
//!
//! Both have a short form on the wire, used when nothing more is said:
//! `"integer"` for a base type, and the key's base type alone for a scalar
//! column. Serialization writes the short form whenever it applies.

use std::fmt;

use serde::de::{
    self, value::MapAccessDeserializer, Deserialize, Deserializer, MapAccess, Visitor,
};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::atom::{Atom, AtomicType};
use crate::datum::{Datum, Set};

/// What a UUID column's reference does when the row it names is deleted.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RefType {
    /// The referenced row may not be deleted while referenced.
    #[default]
    Strong,
    /// The reference is dropped when the referenced row is deleted.
    Weak,
}

/// An atomic type and the constraints that go with it.
#[derive(Debug, Clone, PartialEq)]
pub enum BaseKind {
    /// An integer, optionally within `min..=max`.
    Integer {
        /// `minInteger`.
        min: Option<i64>,
        /// `maxInteger`.
        max: Option<i64>,
    },
    /// A real, optionally within `min..=max`.
    Real {
        /// `minReal`.
        min: Option<f64>,
        /// `maxReal`.
        max: Option<f64>,
    },
    /// A boolean.
    Boolean,
    /// A string, optionally of `min_length..=max_length` characters.
    String {
        /// `minLength`.
        min_length: Option<u64>,
        /// `maxLength`.
        max_length: Option<u64>,
    },
    /// A UUID, optionally referring to a row of `ref_table`.
    Uuid {
        /// `refTable`.
        ref_table: Option<String>,
        /// `refType`; [`RefType::Strong`] when there is no `ref_table`.
        ref_type: RefType,
    },
}

impl BaseKind {
    /// The atomic type, without its constraints.
    pub fn atomic_type(&self) -> AtomicType {
        match self {
            BaseKind::Integer { .. } => AtomicType::Integer,
            BaseKind::Real { .. } => AtomicType::Real,
            BaseKind::Boolean => AtomicType::Boolean,
            BaseKind::String { .. } => AtomicType::String,
            BaseKind::Uuid { .. } => AtomicType::Uuid,
        }
    }

    fn is_unconstrained(&self) -> bool {
        match self {
            BaseKind::Integer { min, max } => min.is_none() && max.is_none(),
            BaseKind::Real { min, max } => min.is_none() && max.is_none(),
            BaseKind::Boolean => true,
            BaseKind::String {
                min_length,
                max_length,
            } => min_length.is_none() && max_length.is_none(),
            BaseKind::Uuid { ref_table, .. } => ref_table.is_none(),
        }
    }
}

impl From<AtomicType> for BaseKind {
    fn from(t: AtomicType) -> Self {
        match t {
            AtomicType::Integer => BaseKind::Integer {
                min: None,
                max: None,
            },
            AtomicType::Real => BaseKind::Real {
                min: None,
                max: None,
            },
            AtomicType::Boolean => BaseKind::Boolean,
            AtomicType::String => BaseKind::String {
                min_length: None,
                max_length: None,
            },
            AtomicType::Uuid => BaseKind::Uuid {
                ref_table: None,
                ref_type: RefType::Strong,
            },
        }
    }
}

/// The type of a column's keys or values.
///
/// ```
/// use ovsdb_proto::atom::AtomicType;
/// use ovsdb_proto::schema::BaseType;
///
/// let short: BaseType = serde_json::from_str(r#""string""#)?;
/// assert_eq!(short, BaseType::from(AtomicType::String));
/// let port: BaseType = serde_json::from_str(r#"{"type":"integer","minInteger":1,"maxInteger":65535}"#)?;
/// assert_eq!(serde_json::to_string(&port)?, r#"{"type":"integer","minInteger":1,"maxInteger":65535}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    /// The atomic type and its constraints.
    pub kind: BaseKind,
    /// `enum`: the only values allowed, if the type lists them.
    pub enumeration: Option<Set>,
}

impl BaseType {
    /// The atomic type, without its constraints.
    pub fn atomic_type(&self) -> AtomicType {
        self.kind.atomic_type()
    }

    /// The table a UUID refers to and how, if this base type is a reference.
    pub fn reference(&self) -> Option<(&str, RefType)> {
        match &self.kind {
            BaseKind::Uuid {
                ref_table: Some(t),
                ref_type,
            } => Some((t, *ref_type)),
            _ => None,
        }
    }

    fn is_unconstrained(&self) -> bool {
        self.enumeration.is_none() && self.kind.is_unconstrained()
    }
}

impl From<AtomicType> for BaseType {
    fn from(t: AtomicType) -> Self {
        BaseType {
            kind: t.into(),
            enumeration: None,
        }
    }
}

/// The most elements a column may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Max {
    /// At most this many.
    Limited(u64),
    /// Any number (`"unlimited"`).
    Unlimited,
}

impl Max {
    /// Whether `n` elements are within this bound.
    pub fn allows(self, n: u64) -> bool {
        match self {
            Max::Limited(m) => n <= m,
            Max::Unlimited => true,
        }
    }
}

impl fmt::Display for Max {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Max::Limited(n) => write!(f, "{n}"),
            Max::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for Max {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Max::Limited(n) => serializer.serialize_u64(*n),
            Max::Unlimited => serializer.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Max {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MaxVisitor;
        impl Visitor<'_> for MaxVisitor {
            type Value = Max;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count or \"unlimited\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Max, E> {
                Ok(Max::Limited(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Max, E> {
                u64::try_from(v)
                    .map(Max::Limited)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Max, E> {
                match v {
                    "unlimited" => Ok(Max::Unlimited),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(MaxVisitor)
    }
}

/// The type of a column.
///
/// ```
/// use ovsdb_proto::schema::{ColumnType, Max};
///
/// let tags: ColumnType = serde_json::from_str(
///     r#"{"key":{"type":"integer","minInteger":0,"maxInteger":4095},"min":0,"max":4096}"#)?;
/// assert_eq!((tags.min, tags.max), (0, Max::Limited(4096)));
/// let name: ColumnType = serde_json::from_str(r#""string""#)?;
/// assert!(name.is_scalar());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    /// The type of the elements of a set, or of the keys of a map.
    pub key: BaseType,
    /// The type of a map's values; `None` for a set.
    pub value: Option<BaseType>,
    /// The fewest elements: 0 or 1.
    pub min: u64,
    /// The most elements: at least 1 and at least `min`.
    pub max: Max,
}

impl ColumnType {
    /// A column of exactly one `key`.
    pub fn scalar(key: BaseType) -> Self {
        ColumnType {
            key,
            value: None,
            min: 1,
            max: Max::Limited(1),
        }
    }

    /// Whether the column holds exactly one atom.
    pub fn is_scalar(&self) -> bool {
        self.value.is_none() && self.min == 1 && self.max == Max::Limited(1)
    }

    /// Whether the column holds zero or one atom.
    pub fn is_optional(&self) -> bool {
        self.value.is_none() && self.min == 0 && self.max == Max::Limited(1)
    }

    /// Whether the column is a map.
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// The value a new row gets in this column when an insert leaves it
    /// out: the empty set or map, or the default atom of a scalar (0, 0.0,
    /// false, "", the all-zero UUID; the first `enum` value, if there is an
    /// `enum`).
    pub fn default_datum(&self) -> Datum {
        if self.min == 0 {
            return if self.is_map() {
                Datum::Map(crate::datum::Map::new())
            } else {
                Datum::default()
            };
        }
        let atom = match self
            .key
            .enumeration
            .as_ref()
            .and_then(|e| e.as_slice().first())
        {
            Some(first) => first.clone(),
            None => default_atom(self.key.atomic_type()),
        };
        match &self.value {
            Some(value) => {
                let v = default_atom(value.atomic_type());
                Datum::Map([(atom, v)].into_iter().collect())
            }
            None => Datum::from(atom),
        }
    }
}

fn default_atom(t: AtomicType) -> Atom {
    match t {
        AtomicType::Integer => Atom::Integer(0),
        AtomicType::Real => Atom::Real(0.0),
        AtomicType::Boolean => Atom::Boolean(false),
        AtomicType::String => Atom::String(String::new()),
        AtomicType::Uuid => Atom::Uuid(uuid::Uuid::nil()),
    }
}

/// A column or base type that a schema may not declare.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TypeError {
    /// A constraint given for a type it does not apply to (`minLength` on an integer).
    #[error("{constraint} is not allowed on a {atomic} type")]
    ConstraintNotAllowed {
        /// The member's name.
        constraint: &'static str,
        /// The type it was given for.
        atomic: AtomicType,
    },
    /// A lower bound above its upper bound.
    #[error("{min_name} is greater than {max_name}")]
    MinGreaterThanMax {
        /// The lower bound's member name.
        min_name: &'static str,
        /// The upper bound's member name.
        max_name: &'static str,
    },
    /// An `enum` listing a value of another type.
    #[error("enum of a {expected} type holds a {found} value")]
    EnumWrongType {
        /// The base type's atomic type.
        expected: AtomicType,
        /// The type of the value in the enum.
        found: AtomicType,
    },
    /// An `enum` written as a map.
    #[error("enum must be a set, not a map")]
    EnumIsMap,
    /// `refType` without `refTable`.
    #[error("refType is only allowed with refTable")]
    RefTypeWithoutRefTable,
    /// `refTable` naming a table the schema does not have.
    #[error("refTable {0:?} is not a table of this schema")]
    UnknownRefTable(String),
    /// `min` and `max` that no column can have: `min` must be 0 or 1, `max`
    /// at least 1 and at least `min`.
    #[error("min {min} and max {max} are not allowed (min must be 0 or 1, max at least 1 and at least min)")]
    BadCardinality {
        /// `min`.
        min: u64,
        /// `max`.
        max: Max,
    },
}

/// A base type as written, before its constraints are checked.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawBase {
    #[serde(rename = "type")]
    ty: AtomicType,
    #[serde(rename = "enum")]
    enumeration: Option<Datum>,
    min_integer: Option<i64>,
    max_integer: Option<i64>,
    min_real: Option<f64>,
    max_real: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    ref_table: Option<String>,
    ref_type: Option<RefType>,
}

impl From<AtomicType> for RawBase {
    fn from(ty: AtomicType) -> Self {
        RawBase {
            ty,
            enumeration: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: None,
        }
    }
}

fn bounds<T: PartialOrd>(
    min: Option<T>,
    max: Option<T>,
    names: (&'static str, &'static str),
) -> Result<(Option<T>, Option<T>), TypeError> {
    if let (Some(lo), Some(hi)) = (&min, &max) {
        if lo > hi {
            return Err(TypeError::MinGreaterThanMax {
                min_name: names.0,
                max_name: names.1,
            });
        }
    }
    Ok((min, max))
}

impl RawBase {
    /// Checks the constraints and builds the base type. `ref_table` is not
    /// looked up here: only the whole schema knows its tables.
    pub(crate) fn validate(self) -> Result<BaseType, TypeError> {
        let atomic = self.ty;
        let refuse = |present: bool, constraint: &'static str| {
            if present {
                Err(TypeError::ConstraintNotAllowed { constraint, atomic })
            } else {
                Ok(())
            }
        };
        if atomic != AtomicType::Integer {
            refuse(self.min_integer.is_some(), "minInteger")?;
            refuse(self.max_integer.is_some(), "maxInteger")?;
        }
        if atomic != AtomicType::Real {
            refuse(self.min_real.is_some(), "minReal")?;
            refuse(self.max_real.is_some(), "maxReal")?;
        }
        if atomic != AtomicType::String {
            refuse(self.min_length.is_some(), "minLength")?;
            refuse(self.max_length.is_some(), "maxLength")?;
        }
        if atomic != AtomicType::Uuid {
            refuse(self.ref_table.is_some(), "refTable")?;
            refuse(self.ref_type.is_some(), "refType")?;
        }
        let kind = match atomic {
            AtomicType::Integer => {
                let (min, max) = bounds(
                    self.min_integer,
                    self.max_integer,
                    ("minInteger", "maxInteger"),
                )?;
                BaseKind::Integer { min, max }
            }
            AtomicType::Real => {
                let (min, max) = bounds(self.min_real, self.max_real, ("minReal", "maxReal"))?;
                BaseKind::Real { min, max }
            }
            AtomicType::Boolean => BaseKind::Boolean,
            AtomicType::String => {
                let (min_length, max_length) =
                    bounds(self.min_length, self.max_length, ("minLength", "maxLength"))?;
                BaseKind::String {
                    min_length,
                    max_length,
                }
            }
            AtomicType::Uuid => {
                if self.ref_table.is_none() && self.ref_type.is_some() {
                    return Err(TypeError::RefTypeWithoutRefTable);
                }
                BaseKind::Uuid {
                    ref_table: self.ref_table,
                    ref_type: self.ref_type.unwrap_or_default(),
                }
            }
        };
        let enumeration = match self.enumeration {
            None => None,
            Some(Datum::Map(_)) => return Err(TypeError::EnumIsMap),
            Some(Datum::Set(set)) => Some(enum_of(atomic, set)?),
        };
        Ok(BaseType { kind, enumeration })
    }
}

/// The enum's values as atoms of `atomic`: integers in a real enum become
/// reals, since JSON writes a whole real like an integer.
fn enum_of(atomic: AtomicType, set: Set) -> Result<Set, TypeError> {
    set.iter()
        .map(|atom| match (atomic, atom) {
            (AtomicType::Real, Atom::Integer(_)) => {
                Ok(Atom::Real(atom.as_real().unwrap_or_default()))
            }
            _ if atom.atomic_type() == atomic && !matches!(atom, Atom::NamedUuid(_)) => {
                Ok(atom.clone())
            }
            _ => Err(TypeError::EnumWrongType {
                expected: atomic,
                found: atom.atomic_type(),
            }),
        })
        .collect()
}

/// A base type in either form: `"integer"` or `{"type": "integer", ...}`.
pub(crate) struct RawBaseForm(pub(crate) RawBase);

impl<'de> Deserialize<'de> for RawBaseForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FormVisitor;
        impl<'de> Visitor<'de> for FormVisitor {
            type Value = RawBaseForm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an atomic type name or a base type object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawBaseForm, E> {
                let ty = AtomicType::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(RawBaseForm(ty.into()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawBaseForm, A::Error> {
                RawBase::deserialize(MapAccessDeserializer::new(map)).map(RawBaseForm)
            }
        }
        deserializer.deserialize_any(FormVisitor)
    }
}

/// A column type as written, before it is checked.
pub(crate) struct RawType {
    key: RawBase,
    value: Option<RawBase>,
    min: u64,
    max: Max,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTypeObject {
    key: RawBaseForm,
    value: Option<RawBaseForm>,
    min: Option<u64>,
    max: Option<Max>,
}

impl RawType {
    /// Checks the type; `ref_table` is not looked up (see [`RawBase::validate`]).
    pub(crate) fn validate(self) -> Result<ColumnType, TypeError> {
        let ok = self.min <= 1 && self.max.allows(self.min) && self.max != Max::Limited(0);
        if !ok {
            return Err(TypeError::BadCardinality {
                min: self.min,
                max: self.max,
            });
        }
        Ok(ColumnType {
            key: self.key.validate()?,
            value: self.value.map(RawBase::validate).transpose()?,
            min: self.min,
            max: self.max,
        })
    }
}

impl<'de> Deserialize<'de> for RawType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TypeVisitor;
        impl<'de> Visitor<'de> for TypeVisitor {
            type Value = RawType;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an atomic type name or a column type object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawType, E> {
                let RawBaseForm(key) =
                    RawBaseForm::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(RawType {
                    key,
                    value: None,
                    min: 1,
                    max: Max::Limited(1),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawType, A::Error> {
                let o = RawTypeObject::deserialize(MapAccessDeserializer::new(map))?;
                Ok(RawType {
                    key: o.key.0,
                    value: o.value.map(|v| v.0),
                    min: o.min.unwrap_or(1),
                    max: o.max.unwrap_or(Max::Limited(1)),
                })
            }
        }
        deserializer.deserialize_any(TypeVisitor)
    }
}

impl<'de> Deserialize<'de> for BaseType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let RawBaseForm(raw) = RawBaseForm::deserialize(deserializer)?;
        raw.validate().map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ColumnType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawType::deserialize(deserializer)?
            .validate()
            .map_err(de::Error::custom)
    }
}

impl Serialize for BaseType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_unconstrained() {
            return self.atomic_type().serialize(serializer);
        }
        let mut s = serializer.serialize_struct("BaseType", 4)?;
        s.serialize_field("type", &self.atomic_type())?;
        if let Some(e) = &self.enumeration {
            s.serialize_field("enum", &Datum::Set(e.clone()))?;
        }
        match &self.kind {
            BaseKind::Integer { min, max } => {
                optional(&mut s, "minInteger", min)?;
                optional(&mut s, "maxInteger", max)?;
            }
            BaseKind::Real { min, max } => {
                optional(&mut s, "minReal", min)?;
                optional(&mut s, "maxReal", max)?;
            }
            BaseKind::Boolean => {}
            BaseKind::String {
                min_length,
                max_length,
            } => {
                optional(&mut s, "minLength", min_length)?;
                optional(&mut s, "maxLength", max_length)?;
            }
            BaseKind::Uuid {
                ref_table,
                ref_type,
            } => {
                optional(&mut s, "refTable", ref_table)?;
                if *ref_type == RefType::Weak {
                    s.serialize_field("refType", ref_type)?;
                }
            }
        }
        s.end()
    }
}

fn optional<S: SerializeStruct, T: Serialize>(
    s: &mut S,
    name: &'static str,
    value: &Option<T>,
) -> Result<(), S::Error> {
    match value {
        Some(v) => s.serialize_field(name, v),
        None => Ok(()),
    }
}

impl Serialize for ColumnType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_scalar() && self.key.is_unconstrained() {
            return self.key.serialize(serializer);
        }
        let mut s = serializer.serialize_struct("ColumnType", 4)?;
        s.serialize_field("key", &self.key)?;
        optional(&mut s, "value", &self.value)?;
        if self.min != 1 {
            s.serialize_field("min", &self.min)?;
        }
        if self.max != Max::Limited(1) {
            s.serialize_field("max", &self.max)?;
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    fn round(text: &str) -> String {
        to_string(&from_str::<ColumnType>(text).unwrap()).unwrap()
    }

    #[test]
    fn short_forms_are_read_and_written() {
        assert_eq!(round(r#""integer""#), r#""integer""#);
        assert_eq!(round(r#"{"key":"integer"}"#), r#""integer""#);
        assert_eq!(
            round(r#"{"key":{"type":"uuid"},"min":1,"max":1}"#),
            r#""uuid""#
        );
        assert_eq!(
            round(r#"{"key":{"type":"string","minLength":1}}"#),
            r#"{"key":{"type":"string","minLength":1}}"#
        );
        assert_eq!(
            round(r#"{"key":"string","value":"string","min":0,"max":"unlimited"}"#),
            r#"{"key":"string","value":"string","min":0,"max":"unlimited"}"#
        );
        assert_eq!(
            round(r#"{"key":{"type":"uuid","refTable":"T","refType":"strong"},"min":0}"#),
            r#"{"key":{"type":"uuid","refTable":"T"},"min":0}"#
        );
        assert_eq!(
            round(r#"{"key":{"type":"string","enum":["set",["b","a"]]}}"#),
            r#"{"key":{"type":"string","enum":["set",["a","b"]]}}"#
        );
    }

    #[test]
    fn bad_types_are_refused() {
        let err = |text: &str| from_str::<RawType>(text).ok().map(|t| t.validate());
        assert_eq!(
            err(r#"{"key":{"type":"integer","minInteger":5,"maxInteger":1}}"#),
            Some(Err(TypeError::MinGreaterThanMax {
                min_name: "minInteger",
                max_name: "maxInteger"
            }))
        );
        assert_eq!(
            err(r#"{"key":{"type":"string","minInteger":1}}"#),
            Some(Err(TypeError::ConstraintNotAllowed {
                constraint: "minInteger",
                atomic: AtomicType::String
            }))
        );
        assert_eq!(
            err(r#"{"key":{"type":"integer","enum":["set",["a"]]}}"#),
            Some(Err(TypeError::EnumWrongType {
                expected: AtomicType::Integer,
                found: AtomicType::String
            }))
        );
        assert_eq!(
            err(r#"{"key":{"type":"uuid","refType":"weak"}}"#),
            Some(Err(TypeError::RefTypeWithoutRefTable))
        );
        assert_eq!(
            err(r#"{"key":"integer","min":2,"max":3}"#),
            Some(Err(TypeError::BadCardinality {
                min: 2,
                max: Max::Limited(3)
            }))
        );
        assert!(matches!(
            err(r#"{"key":"integer","max":0,"min":0}"#),
            Some(Err(TypeError::BadCardinality { .. }))
        ));
        for shape in [
            r#""int""#,
            r#"{"key":"integer","extra":1}"#,
            "3",
            r#"{"value":"integer"}"#,
        ] {
            assert!(from_str::<ColumnType>(shape).is_err(), "{shape}");
        }
    }

    #[test]
    fn a_real_enum_takes_whole_numbers() {
        let t: BaseType = from_str(r#"{"type":"real","enum":["set",[1,2.5]]}"#).unwrap();
        let e = t.enumeration.unwrap();
        assert!(e.contains(&Atom::Real(1.0)));
    }

    #[test]
    fn defaults_follow_the_type() {
        let t: ColumnType =
            from_str(r#"{"key":{"type":"string","enum":["set",["b","a"]]}}"#).unwrap();
        assert_eq!(t.default_datum(), Datum::from(Atom::from("a")));
        let t: ColumnType =
            from_str(r#"{"key":"string","value":"integer","min":0,"max":"unlimited"}"#).unwrap();
        assert_eq!(t.default_datum(), Datum::Map(crate::datum::Map::new()));
    }
}
