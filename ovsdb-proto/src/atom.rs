//! Atoms: the single values a column holds (RFC 7047 section 5.1).
//!
//! An [`Atom`] is an integer, a real, a boolean, a string, a UUID, or the
//! name a transaction gives a row it inserts (`["named-uuid", "name"]`).
//! Atoms have a total order, so sets and maps built from them can be kept
//! sorted and compared by value.

use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};
pub use uuid::Uuid;

/// The type of an atom, as a schema names it (`"integer"`, `"real"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AtomicType {
    /// A 64-bit signed integer.
    Integer,
    /// A double-precision floating point number.
    Real,
    /// `true` or `false`.
    Boolean,
    /// A UTF-8 string.
    String,
    /// A UUID: a row's identity, or a reference to a row.
    Uuid,
}

impl AtomicType {
    /// The name a schema uses for this type.
    pub const fn name(self) -> &'static str {
        match self {
            AtomicType::Integer => "integer",
            AtomicType::Real => "real",
            AtomicType::Boolean => "boolean",
            AtomicType::String => "string",
            AtomicType::Uuid => "uuid",
        }
    }

    /// The type a schema name stands for, if it names one.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "integer" => AtomicType::Integer,
            "real" => AtomicType::Real,
            "boolean" => AtomicType::Boolean,
            "string" => AtomicType::String,
            "uuid" => AtomicType::Uuid,
            _ => return None,
        })
    }
}

impl fmt::Display for AtomicType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for AtomicType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for AtomicType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TypeName;
        impl Visitor<'_> for TypeName {
            type Value = AtomicType;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of \"integer\", \"real\", \"boolean\", \"string\", \"uuid\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AtomicType, E> {
                AtomicType::from_name(v)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_str(TypeName)
    }
}

/// One value of a column.
///
/// On the wire, integers, reals, booleans and strings are JSON scalars, and
/// UUIDs are tagged arrays:
///
/// ```
/// use ovsdb_proto::atom::{Atom, Uuid};
///
/// let row: Atom = serde_json::from_str(r#"["uuid","36bbcc1c-0b39-4a1e-a2f5-9d30cfd4f7a4"]"#)?;
/// assert_eq!(row, Atom::Uuid(Uuid::parse_str("36bbcc1c-0b39-4a1e-a2f5-9d30cfd4f7a4")?));
/// assert_eq!(serde_json::to_string(&Atom::NamedUuid("new_br".into()))?, r#"["named-uuid","new_br"]"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Atoms are ordered first by kind, then by value; reals compare with
/// [`f64::total_cmp`], so the order is total and `0.0` and `-0.0` are
/// different atoms.
#[derive(Debug, Clone)]
pub enum Atom {
    /// An integer.
    Integer(i64),
    /// A real. It must be finite to be serialized: JSON has no NaN or infinity.
    Real(f64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
    /// A UUID.
    Uuid(Uuid),
    /// The `uuid-name` of a row inserted earlier in the same transaction.
    NamedUuid(String),
}

impl Atom {
    /// The atomic type this atom has; a named UUID is a [`AtomicType::Uuid`].
    pub fn atomic_type(&self) -> AtomicType {
        match self {
            Atom::Integer(_) => AtomicType::Integer,
            Atom::Real(_) => AtomicType::Real,
            Atom::Boolean(_) => AtomicType::Boolean,
            Atom::String(_) => AtomicType::String,
            Atom::Uuid(_) | Atom::NamedUuid(_) => AtomicType::Uuid,
        }
    }

    /// The number this atom holds as a real: its value for a real, and an
    /// integer widened, since JSON writes a whole real such as `2` the same
    /// way as an integer.
    pub fn as_real(&self) -> Option<f64> {
        match *self {
            Atom::Real(r) => Some(r),
            // Precision loss past 2^53 is the same the JSON text itself has.
            #[allow(clippy::cast_precision_loss)]
            Atom::Integer(i) => Some(i as f64),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Atom::Integer(_) => 0,
            Atom::Real(_) => 1,
            Atom::Boolean(_) => 2,
            Atom::String(_) => 3,
            Atom::Uuid(_) => 4,
            Atom::NamedUuid(_) => 5,
        }
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Atom::Integer(a), Atom::Integer(b)) => a.cmp(b),
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b),
            (Atom::Boolean(a), Atom::Boolean(b)) => a.cmp(b),
            (Atom::String(a), Atom::String(b)) | (Atom::NamedUuid(a), Atom::NamedUuid(b)) => {
                a.cmp(b)
            }
            (Atom::Uuid(a), Atom::Uuid(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Atom {}

impl From<i64> for Atom {
    fn from(v: i64) -> Self {
        Atom::Integer(v)
    }
}

impl From<f64> for Atom {
    fn from(v: f64) -> Self {
        Atom::Real(v)
    }
}

impl From<bool> for Atom {
    fn from(v: bool) -> Self {
        Atom::Boolean(v)
    }
}

impl From<&str> for Atom {
    fn from(v: &str) -> Self {
        Atom::String(v.to_owned())
    }
}

impl From<String> for Atom {
    fn from(v: String) -> Self {
        Atom::String(v)
    }
}

impl From<Uuid> for Atom {
    fn from(v: Uuid) -> Self {
        Atom::Uuid(v)
    }
}

impl Serialize for Atom {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Atom::Integer(i) => serializer.serialize_i64(*i),
            Atom::Real(r) if r.is_finite() => serializer.serialize_f64(*r),
            Atom::Real(r) => Err(serde::ser::Error::custom(format_args!(
                "the real {r} has no JSON form"
            ))),
            Atom::Boolean(b) => serializer.serialize_bool(*b),
            Atom::String(s) => serializer.serialize_str(s),
            Atom::Uuid(u) => tagged(serializer, "uuid", u),
            Atom::NamedUuid(n) => tagged(serializer, "named-uuid", n),
        }
    }
}

/// Writes `[tag, value]`, the shape of UUIDs, sets and maps.
pub(crate) fn tagged<S: Serializer, T: Serialize + ?Sized>(
    serializer: S,
    tag: &str,
    value: &T,
) -> Result<S::Ok, S::Error> {
    let mut t = serializer.serialize_tuple(2)?;
    t.serialize_element(tag)?;
    t.serialize_element(value)?;
    t.end()
}

impl<'de> Deserialize<'de> for Atom {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AtomVisitor)
    }
}

struct AtomVisitor;

impl<'de> Visitor<'de> for AtomVisitor {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB atom")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Atom, E> {
        Ok(Atom::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Atom, E> {
        i64::try_from(v)
            .map(Atom::Integer)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &"a 64-bit signed integer"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Atom, E> {
        Ok(Atom::Real(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Atom, E> {
        Ok(Atom::Boolean(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Atom, E> {
        Ok(Atom::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Atom, E> {
        Ok(Atom::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Atom, A::Error> {
        let tag: Tag = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        atom_after_tag(tag, seq, &self)
    }
}

/// The first element of a tagged array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Uuid,
    NamedUuid,
    Set,
    Map,
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagName;
        impl Visitor<'_> for TagName {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"uuid\", \"named-uuid\", \"set\" or \"map\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag, E> {
                match v {
                    "uuid" => Ok(Tag::Uuid),
                    "named-uuid" => Ok(Tag::NamedUuid),
                    "set" => Ok(Tag::Set),
                    "map" => Ok(Tag::Map),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_str(TagName)
    }
}

/// The next element of `seq`, which must be there.
pub(crate) fn next_required<'de, A, T>(seq: &mut A, exp: &dyn de::Expected) -> Result<T, A::Error>
where
    A: SeqAccess<'de>,
    T: Deserialize<'de>,
{
    seq.next_element()?
        .ok_or_else(|| de::Error::invalid_length(1, exp))
}

/// Fails if `seq` has elements past the `len` already read.
pub(crate) fn end_of<'de, A: SeqAccess<'de>>(
    mut seq: A,
    len: usize,
    exp: &dyn de::Expected,
) -> Result<(), A::Error> {
    match seq.next_element::<de::IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::invalid_length(len + 1, exp)),
    }
}

/// Deserializes an atom from a seq already positioned after its tag; used by
/// the datum decoder, which reads the tag itself to tell atoms from sets.
pub(crate) fn atom_after_tag<'de, A: SeqAccess<'de>>(
    tag: Tag,
    mut seq: A,
    exp: &dyn de::Expected,
) -> Result<Atom, A::Error> {
    let atom = match tag {
        Tag::Uuid => {
            let text: std::borrow::Cow<'de, str> = next_required(&mut seq, exp)?;
            Atom::Uuid(
                Uuid::try_parse(&text)
                    .map_err(|e| de::Error::custom(format_args!("bad UUID {text:?}: {e}")))?,
            )
        }
        Tag::NamedUuid => Atom::NamedUuid(next_required(&mut seq, exp)?),
        Tag::Set | Tag::Map => {
            return Err(de::Error::invalid_value(
                de::Unexpected::Other("a set or map"),
                exp,
            ))
        }
    };
    end_of(seq, 2, exp)?;
    Ok(atom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    #[test]
    fn scalars_are_bare_json() {
        assert_eq!(from_str::<Atom>("42").unwrap(), Atom::Integer(42));
        assert_eq!(from_str::<Atom>("-1.5").unwrap(), Atom::Real(-1.5));
        assert_eq!(from_str::<Atom>("true").unwrap(), Atom::Boolean(true));
        assert_eq!(from_str::<Atom>(r#""br0""#).unwrap(), Atom::from("br0"));
        assert_eq!(to_string(&Atom::Real(2.0)).unwrap(), "2.0");
        assert_eq!(to_string(&Atom::Integer(-7)).unwrap(), "-7");
    }

    #[test]
    fn uuids_are_tagged() {
        let text = r#"["uuid","550e8400-e29b-41d4-a716-446655440000"]"#;
        let atom: Atom = from_str(text).unwrap();
        assert_eq!(atom.atomic_type(), AtomicType::Uuid);
        assert_eq!(to_string(&atom).unwrap(), text);
        let named: Atom = from_str(r#"["named-uuid","row1"]"#).unwrap();
        assert_eq!(named, Atom::NamedUuid("row1".into()));
    }

    #[test]
    fn malformed_atoms_are_refused() {
        for bad in [
            r#"["uuid","not-a-uuid"]"#,
            r#"["uuid"]"#,
            r#"["uuid","550e8400-e29b-41d4-a716-446655440000",1]"#,
            r#"["set",[]]"#,
            r#"["thing",1]"#,
            "18446744073709551615",
            "null",
            "{}",
        ] {
            assert!(from_str::<Atom>(bad).is_err(), "{bad}");
        }
        assert!(to_string(&Atom::Real(f64::NAN)).is_err());
    }

    #[test]
    fn order_is_total_and_by_kind_first() {
        let mut atoms = vec![
            Atom::from("a"),
            Atom::Real(1.0),
            Atom::Integer(5),
            Atom::Real(-0.0),
            Atom::Real(0.0),
            Atom::Boolean(false),
        ];
        atoms.sort();
        assert_eq!(
            atoms,
            vec![
                Atom::Integer(5),
                Atom::Real(-0.0),
                Atom::Real(0.0),
                Atom::Real(1.0),
                Atom::Boolean(false),
                Atom::from("a"),
            ]
        );
        assert_ne!(Atom::Real(0.0), Atom::Real(-0.0));
    }
}
