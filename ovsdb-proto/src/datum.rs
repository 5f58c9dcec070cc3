//! Datums: the whole value of one column in one row (RFC 7047 section 5.1).
//!
//! A [`Datum`] is a [`Set`] of atoms or a [`Map`] from atoms to atoms. Both
//! are kept canonical (sorted, no repeats), so two datums holding the same
//! values are equal and serialize to the same text. A scalar column holds a
//! one-element set, which the wire writes as the bare atom.
//!
//! Decoding refuses a set with a repeated element or a map with a repeated
//! key instead of quietly dropping one: the server answers such input with
//! an "ovsdb error" (see [`ErrorKind::of_decode_error`](crate::error::ErrorKind::of_decode_error)).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::atom::{atom_after_tag, end_of, next_required, tagged, Atom, Tag};

/// Text every decode error caused by a repeated set element or map key
/// contains, so a decode failure can be told apart from a syntax error.
pub(crate) const DUPLICATE_MARK: &str = "(duplicate in datum)";

/// A repeated element or key in what should have been a set or a map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuplicateError {
    /// A set listed the same element twice.
    #[error("set contains duplicate element {0:?}")]
    Element(Atom),
    /// A map listed the same key twice.
    #[error("map contains duplicate key {0:?}")]
    Key(Atom),
}

/// A sorted set of atoms with no repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Set(Vec<Atom>);

impl Set {
    /// The empty set.
    pub const fn new() -> Self {
        Set(Vec::new())
    }

    /// A set of the given atoms, refusing repeats.
    pub fn try_from_vec(mut atoms: Vec<Atom>) -> Result<Self, DuplicateError> {
        atoms.sort();
        match atoms.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(DuplicateError::Element(w[0].clone())),
            None => Ok(Set(atoms)),
        }
    }

    /// The atoms, in order.
    pub fn as_slice(&self) -> &[Atom] {
        &self.0
    }

    /// Iterates the atoms in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Atom> {
        self.0.iter()
    }

    /// How many atoms the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the set holds `atom`.
    pub fn contains(&self, atom: &Atom) -> bool {
        self.0.binary_search(atom).is_ok()
    }

    /// Adds `atom`; returns whether it was new.
    pub fn insert(&mut self, atom: Atom) -> bool {
        match self.0.binary_search(&atom) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, atom);
                true
            }
        }
    }

    /// Removes `atom`; returns whether it was there.
    pub fn remove(&mut self, atom: &Atom) -> bool {
        match self.0.binary_search(atom) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }
}

/// Builds a set from code, where repeats are the caller's to merge.
impl FromIterator<Atom> for Set {
    fn from_iter<I: IntoIterator<Item = Atom>>(iter: I) -> Self {
        let mut atoms: Vec<Atom> = iter.into_iter().collect();
        atoms.sort();
        atoms.dedup();
        Set(atoms)
    }
}

impl<'a> IntoIterator for &'a Set {
    type Item = &'a Atom;
    type IntoIter = std::slice::Iter<'a, Atom>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A map from atoms to atoms, sorted by key, with no repeated key.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Map(Vec<(Atom, Atom)>);

impl Map {
    /// The empty map.
    pub const fn new() -> Self {
        Map(Vec::new())
    }

    /// A map of the given pairs, refusing a repeated key.
    pub fn try_from_vec(mut pairs: Vec<(Atom, Atom)>) -> Result<Self, DuplicateError> {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        match pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            Some(w) => Err(DuplicateError::Key(w[0].0.clone())),
            None => Ok(Map(pairs)),
        }
    }

    /// The pairs, in key order.
    pub fn as_slice(&self) -> &[(Atom, Atom)] {
        &self.0
    }

    /// Iterates the pairs in key order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Atom, Atom)> {
        self.0.iter()
    }

    /// How many pairs the map holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value for `key`.
    pub fn get(&self, key: &Atom) -> Option<&Atom> {
        self.0
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .and_then(|at| self.0.get(at))
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: Atom, value: Atom) -> Option<Atom> {
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => self
                .0
                .get_mut(at)
                .map(|slot| std::mem::replace(&mut slot.1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &Atom) -> Option<Atom> {
        let at = self.0.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        Some(self.0.remove(at).1)
    }
}

/// Builds a map from code; a later pair replaces an earlier one with its key.
impl FromIterator<(Atom, Atom)> for Map {
    fn from_iter<I: IntoIterator<Item = (Atom, Atom)>>(iter: I) -> Self {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a (Atom, Atom);
    type IntoIter = std::slice::Iter<'a, (Atom, Atom)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The value of one column in one row.
///
/// ```
/// use ovsdb_proto::atom::Atom;
/// use ovsdb_proto::datum::Datum;
///
/// // A one-element set is written, and may be read, as the bare atom.
/// let one: Datum = serde_json::from_str("42")?;
/// assert_eq!(one, Datum::from(Atom::Integer(42)));
/// assert_eq!(serde_json::to_string(&one)?, "42");
///
/// // Sets and maps come out sorted, whatever order they went in.
/// let set: Datum = serde_json::from_str(r#"["set",[3,1,2]]"#)?;
/// assert_eq!(serde_json::to_string(&set)?, r#"["set",[1,2,3]]"#);
/// let map: Datum = serde_json::from_str(r#"["map",[["b",2],["a",1]]]"#)?;
/// assert_eq!(serde_json::to_string(&map)?, r#"["map",[["a",1],["b",2]]]"#);
///
/// // Repeats are refused, not merged.
/// assert!(serde_json::from_str::<Datum>(r#"["set",[1,1]]"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Datum {
    /// A set, including the one-element set of a scalar column.
    Set(Set),
    /// A map.
    Map(Map),
}

impl Default for Datum {
    fn default() -> Self {
        Datum::Set(Set::new())
    }
}

impl From<Atom> for Datum {
    fn from(atom: Atom) -> Self {
        Datum::Set(Set(vec![atom]))
    }
}

impl From<Set> for Datum {
    fn from(set: Set) -> Self {
        Datum::Set(set)
    }
}

impl From<Map> for Datum {
    fn from(map: Map) -> Self {
        Datum::Map(map)
    }
}

impl Datum {
    /// How many elements (set) or pairs (map) the datum holds.
    pub fn len(&self) -> usize {
        match self {
            Datum::Set(s) => s.len(),
            Datum::Map(m) => m.len(),
        }
    }

    /// Whether the datum holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The atom of a one-element set: the value of a scalar column.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self {
            Datum::Set(s) if s.len() == 1 => s.as_slice().first(),
            _ => None,
        }
    }

    /// The set, if this is one.
    pub fn as_set(&self) -> Option<&Set> {
        match self {
            Datum::Set(s) => Some(s),
            Datum::Map(_) => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Datum::Map(m) => Some(m),
            Datum::Set(_) => None,
        }
    }
}

impl Serialize for Datum {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Datum::Set(s) => match s.as_slice() {
                [one] => one.serialize(serializer),
                atoms => tagged(serializer, "set", atoms),
            },
            Datum::Map(m) => tagged(serializer, "map", m.as_slice()),
        }
    }
}

impl<'de> Deserialize<'de> for Datum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DatumVisitor)
    }
}

struct DatumVisitor;

impl<'de> Visitor<'de> for DatumVisitor {
    type Value = Datum;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB atom, set or map")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Datum, E> {
        Ok(Datum::from(Atom::Integer(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Datum, E> {
        i64::try_from(v)
            .map(|i| Datum::from(Atom::Integer(i)))
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &"a 64-bit signed integer"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Datum, E> {
        Ok(Datum::from(Atom::Real(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Datum, E> {
        Ok(Datum::from(Atom::Boolean(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Datum, E> {
        Ok(Datum::from(Atom::from(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Datum, E> {
        Ok(Datum::from(Atom::String(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Datum, A::Error> {
        let tag: Tag = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let datum = match tag {
            Tag::Uuid | Tag::NamedUuid => return atom_after_tag(tag, seq, &self).map(Datum::from),
            Tag::Set => {
                let atoms: Vec<Atom> = next_required(&mut seq, &self)?;
                Datum::Set(Set::try_from_vec(atoms).map_err(duplicate)?)
            }
            Tag::Map => {
                let pairs: Vec<(Atom, Atom)> = next_required(&mut seq, &self)?;
                Datum::Map(Map::try_from_vec(pairs).map_err(duplicate)?)
            }
        };
        end_of(seq, 2, &self)?;
        Ok(datum)
    }
}

fn duplicate<E: de::Error>(e: DuplicateError) -> E {
    E::custom(format_args!("{e} {DUPLICATE_MARK}"))
}

pub use crate::row::Row;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    fn round(text: &str) -> String {
        to_string(&from_str::<Datum>(text).unwrap()).unwrap()
    }

    #[test]
    fn wire_forms() {
        assert_eq!(round(r#"["set",[]]"#), r#"["set",[]]"#);
        assert_eq!(round(r#"["set",["a"]]"#), r#""a""#);
        assert_eq!(round(r#""a""#), r#""a""#);
        assert_eq!(round(r#"["map",[]]"#), r#"["map",[]]"#);
        assert_eq!(
            round(
                r#"["set",[["uuid","550e8400-e29b-41d4-a716-446655440000"],["named-uuid","x"]]]"#
            ),
            r#"["set",[["uuid","550e8400-e29b-41d4-a716-446655440000"],["named-uuid","x"]]]"#
        );
        assert_eq!(
            round(r#"["map",[[2,"x"],[1,["uuid","550e8400-e29b-41d4-a716-446655440000"]]]]"#),
            r#"["map",[[1,["uuid","550e8400-e29b-41d4-a716-446655440000"]],[2,"x"]]]"#
        );
    }

    #[test]
    fn repeats_are_reported_as_duplicates() {
        for text in [r#"["set",[1,2,1]]"#, r#"["map",[["k",1],["k",2]]]"#] {
            let e = from_str::<Datum>(text).unwrap_err();
            assert!(e.to_string().contains(DUPLICATE_MARK), "{e}");
        }
        assert_eq!(
            Set::try_from_vec(vec![Atom::Integer(1), Atom::Integer(1)]),
            Err(DuplicateError::Element(Atom::Integer(1)))
        );
    }

    #[test]
    fn malformed_datums_are_refused() {
        for bad in [
            "null",
            "[]",
            r#"["set"]"#,
            r#"["set",1]"#,
            r#"["set",[["set",[]]]]"#,
            r#"["map",[[1]]]"#,
            r#"["map",[[1,2,3]]]"#,
            r#"["set",[],1]"#,
            r#"{"set":[]}"#,
        ] {
            assert!(from_str::<Datum>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sets_and_maps_edit_in_place() {
        let mut set: Set = [3, 1, 3].into_iter().map(Atom::Integer).collect();
        assert_eq!(set.len(), 2);
        assert!(set.insert(Atom::Integer(2)));
        assert!(!set.insert(Atom::Integer(2)));
        assert!(set.remove(&Atom::Integer(1)));
        assert_eq!(set.as_slice(), &[Atom::Integer(2), Atom::Integer(3)]);

        let mut map = Map::new();
        assert_eq!(map.insert("k".into(), 1.into()), None);
        assert_eq!(map.insert("k".into(), 2.into()), Some(Atom::Integer(1)));
        assert_eq!(map.get(&"k".into()), Some(&Atom::Integer(2)));
        assert_eq!(map.remove(&"k".into()), Some(Atom::Integer(2)));
        assert!(map.is_empty());
    }
}
