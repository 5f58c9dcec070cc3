//! Rows: column names and their values.
//!
//! A row holds a handful of columns, often thousands of rows at a time (a
//! monitor's initial contents): it is a vector kept sorted by column name,
//! which costs a tenth of a tree map's nodes for a three-column row and is
//! read with a binary search.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::datum::Datum;

/// A row, or part of one: column names to their values, in name order.
///
/// `_uuid` and `_version`, which every row has, appear here when a server
/// sends them (as one-element sets of a UUID). On the wire a row is a JSON
/// object; a column named twice keeps its last value.
///
/// ```
/// use ovsdb_proto::atom::Atom;
/// use ovsdb_proto::datum::{Datum, Row};
///
/// let mut row = Row::from([("name".to_owned(), Datum::from(Atom::from("br0")))]);
/// row.insert("datapath_id".to_owned(), Datum::from(Atom::from("0001")));
/// assert_eq!(row.keys().collect::<Vec<_>>(), ["datapath_id", "name"]);
/// assert_eq!(serde_json::to_string(&row)?, r#"{"datapath_id":"0001","name":"br0"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row(Vec<(String, Datum)>);

impl Row {
    /// An empty row.
    pub const fn new() -> Self {
        Row(Vec::new())
    }

    /// How many columns the row has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn find(&self, column: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(name, _)| name.as_str().cmp(column))
    }

    /// The value of `column`.
    pub fn get(&self, column: &str) -> Option<&Datum> {
        self.find(column)
            .ok()
            .and_then(|at| self.0.get(at))
            .map(|(_, v)| v)
    }

    /// The value of `column`, to change in place.
    pub fn get_mut(&mut self, column: &str) -> Option<&mut Datum> {
        let at = self.find(column).ok()?;
        self.0.get_mut(at).map(|(_, v)| v)
    }

    /// Whether the row has `column`.
    pub fn contains_key(&self, column: &str) -> bool {
        self.find(column).is_ok()
    }

    /// Sets `column` to `value`; returns the value it replaced.
    pub fn insert(&mut self, column: String, value: Datum) -> Option<Datum> {
        match self.find(&column) {
            Ok(at) => self.0.get_mut(at).map(|(_, v)| std::mem::replace(v, value)),
            Err(at) => {
                self.0.insert(at, (column, value));
                None
            }
        }
    }

    /// Removes `column`; returns its value.
    pub fn remove(&mut self, column: &str) -> Option<Datum> {
        let at = self.find(column).ok()?;
        Some(self.0.remove(at).1)
    }

    /// The columns and their values, in name order.
    pub fn iter(&self) -> Iter<'_> {
        self.0.iter().map(pair)
    }

    /// The column names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values, in column name order.
    pub fn values(&self) -> impl Iterator<Item = &Datum> + '_ {
        self.0.iter().map(|(_, v)| v)
    }

    /// The values, in column name order, to change in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Datum> + '_ {
        self.0.iter_mut().map(|(_, v)| v)
    }

    /// Builds a row from pairs in any order; a repeated column keeps its
    /// last value.
    fn from_pairs(mut pairs: Vec<(String, Datum)>) -> Self {
        // A stable sort keeps repeats in their order, so the last is last.
        pairs.sort_by(|(a, _), (b, _)| a.cmp(b));
        let mut row: Vec<(String, Datum)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            match row.last_mut() {
                Some((last, kept)) if *last == name => *kept = value,
                _ => row.push((name, value)),
            }
        }
        Row(row)
    }
}

/// The iterator of [`Row::iter`].
pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, Datum)>,
    fn(&'a (String, Datum)) -> (&'a String, &'a Datum),
>;

fn pair((name, value): &(String, Datum)) -> (&String, &Datum) {
    (name, value)
}

/// `row["name"]`, as for a map: the value of a column the caller knows
/// is there. Panics when it is not, as `BTreeMap`'s indexing does; read a
/// row from a peer with [`Row::get`].
impl std::ops::Index<&str> for Row {
    type Output = Datum;
    fn index(&self, column: &str) -> &Datum {
        match self.get(column) {
            Some(value) => value,
            None => panic!("the row has no column {column:?}"),
        }
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Extend<(String, Datum)> for Row {
    fn extend<I: IntoIterator<Item = (String, Datum)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name, value);
        }
    }
}

impl FromIterator<(String, Datum)> for Row {
    fn from_iter<I: IntoIterator<Item = (String, Datum)>>(iter: I) -> Self {
        Row::from_pairs(iter.into_iter().collect())
    }
}

impl<const N: usize> From<[(String, Datum); N]> for Row {
    fn from(pairs: [(String, Datum); N]) -> Self {
        Row::from_pairs(pairs.into())
    }
}

impl IntoIterator for Row {
    type Item = (String, Datum);
    type IntoIter = std::vec::IntoIter<(String, Datum)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Row {
    type Item = (&'a String, &'a Datum);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a row: an object of column names and values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                // Size hints come from the peer: bounded, not trusted.
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = map.next_entry::<String, Datum>()? {
                    pairs.push(entry);
                }
                Ok(Row::from_pairs(pairs))
            }
        }
        deserializer.deserialize_map(RowVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::Row;
    use crate::atom::Atom;
    use crate::datum::Datum;

    fn datum(n: i64) -> Datum {
        Datum::from(Atom::from(n))
    }

    #[test]
    fn columns_are_kept_in_name_order_and_a_repeat_keeps_its_last_value() {
        let row: Row = serde_json::from_str(r#"{"b":1,"a":2,"b":3}"#).unwrap();
        assert_eq!(row.len(), 2);
        assert_eq!(row.get("b"), Some(&datum(3)));
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"a":2,"b":3}"#);
        let mut row = row;
        assert_eq!(row.insert("a".into(), datum(5)), Some(datum(2)));
        assert_eq!(row.remove("b"), Some(datum(3)));
        assert!(!row.contains_key("b"));
        row.extend([("c".to_owned(), datum(1)), ("0".to_owned(), datum(0))]);
        assert_eq!(
            row.keys().map(String::as_str).collect::<Vec<_>>(),
            ["0", "a", "c"]
        );
        assert!(serde_json::from_str::<Row>("[1]").is_err());
    }
}
