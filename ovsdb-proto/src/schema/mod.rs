//! Database schemas (RFC 7047 section 3.2), checked when they are loaded.
//!
//! [`DatabaseSchema::from_json`] (or `str::parse`) reads a schema and
//! checks what the JSON shape alone cannot: names, the version string,
//! constraints, references to tables and index columns. Each failure is a
//! [`SchemaError`] naming the table and column at fault. Decoding a schema
//! with serde runs the same checks, so a schema received from a server
//! (`get_schema`) is as trustworthy as one read from a file.
//!
//! [`ColumnType::check`] tells whether a datum fits a column.

mod check;
mod types;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

pub use check::{AtomError, CheckError};
pub use types::{BaseKind, BaseType, ColumnType, Max, RefType, TypeError};

/// A schema version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Changed by incompatible changes.
    pub major: u32,
    /// Changed by compatible additions.
    pub minor: u32,
    /// Changed by anything else.
    pub patch: u32,
}

impl FromStr for Version {
    type Err = SchemaError;

    fn from_str(s: &str) -> Result<Self, SchemaError> {
        let bad = || SchemaError::BadVersion(s.to_owned());
        let mut parts = s.split('.').map(|p| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse::<u32>().map_err(|_| bad())
            } else {
                Err(bad())
            }
        });
        let mut next = || parts.next().unwrap_or_else(|| Err(bad()));
        let version = Version {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        match parts.next() {
            None => Ok(version),
            Some(_) => Err(bad()),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// A schema that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Not JSON, or not shaped like a schema (a missing or unknown member,
    /// a value of the wrong JSON type).
    #[error("malformed schema: {0}")]
    Json(#[from] serde_json::Error),
    /// A database, table or column name that is not an identifier, or a
    /// table or column name starting with `_` (reserved for `_uuid` and
    /// `_version`).
    #[error("{what} name {name:?} is not allowed")]
    BadName {
        /// "database", "table" or "column".
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A version that is not `major.minor.patch`.
    #[error("version {0:?} is not of the form major.minor.patch")]
    BadVersion(String),
    /// A column whose type cannot be.
    #[error("table {table} column {column}: {error}")]
    Column {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong with its type.
        #[source]
        error: TypeError,
    },
    /// A table with no columns.
    #[error("table {0} has no columns")]
    NoColumns(String),
    /// `maxRows` of 0.
    #[error("table {0}: maxRows must be at least 1")]
    ZeroMaxRows(String),
    /// An index listing no columns.
    #[error("table {0} has an empty index")]
    EmptyIndex(String),
    /// An index naming a column the table does not have.
    #[error("table {table}: index names unknown column {column}")]
    IndexUnknownColumn {
        /// The table.
        table: String,
        /// The column named.
        column: String,
    },
    /// An index naming an ephemeral column, which is not kept on disk.
    #[error("table {table}: index names ephemeral column {column}")]
    IndexEphemeralColumn {
        /// The table.
        table: String,
        /// The column named.
        column: String,
    },
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnSchema {
    /// What the column holds.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Whether the column is left out of the database on disk.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
    /// Whether a transaction may change the column after the row is inserted.
    #[serde(skip_serializing_if = "is_true")]
    pub mutable: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One table of a database.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableSchema {
    /// The columns by name, without the implicit `_uuid` and `_version`.
    pub columns: BTreeMap<String, ColumnSchema>,
    /// The most rows the table may hold.
    #[serde(rename = "maxRows", skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
    /// `isRoot` as written: whether rows stay when nothing refers to them.
    /// See [`DatabaseSchema::is_root`] for the rule that applies it.
    #[serde(rename = "isRoot", skip_serializing_if = "std::ops::Not::not")]
    pub is_root: bool,
    /// Sets of columns whose values together must be unique among rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Vec<String>>,
}

impl TableSchema {
    /// The column named `name` (not `_uuid` or `_version`, which every
    /// table has and no schema lists).
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.get(name)
    }
}

/// A database schema, checked.
///
/// ```
/// use ovsdb_proto::schema::DatabaseSchema;
///
/// let schema: DatabaseSchema = r#"{
///     "name": "Shop", "version": "1.0.0",
///     "tables": {"Item": {"columns": {"price": {"type": "real"}}, "isRoot": true}}
/// }"#.parse()?;
/// assert!(schema.is_root("Item"));
/// assert!(r#"{"name": "Shop", "version": "1.0", "tables": {}}"#.parse::<DatabaseSchema>().is_err());
/// # Ok::<(), ovsdb_proto::schema::SchemaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DatabaseSchema {
    /// The database's name.
    pub name: String,
    /// The schema's version.
    pub version: Version,
    /// A checksum the schema's authors keep; not checked here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cksum: Option<String>,
    /// The tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

impl DatabaseSchema {
    /// Reads and checks a schema.
    pub fn from_json(text: &str) -> Result<Self, SchemaError> {
        serde_json::from_str::<RawSchema>(text)?.validate()
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.tables.get(name)
    }

    /// Whether `table` is a root table, whose rows stay when nothing refers
    /// to them. A schema that marks no table as root predates garbage
    /// collection, so then every table is a root table (as ovsdb-server
    /// reads it). `false` for a table the schema does not have.
    pub fn is_root(&self, table: &str) -> bool {
        match self.tables.get(table) {
            Some(t) => t.is_root || !self.tables.values().any(|t| t.is_root),
            None => false,
        }
    }
}

impl FromStr for DatabaseSchema {
    type Err = SchemaError;
    fn from_str(s: &str) -> Result<Self, SchemaError> {
        Self::from_json(s)
    }
}

impl<'de> Deserialize<'de> for DatabaseSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawSchema::deserialize(deserializer)?
            .validate()
            .map_err(de::Error::custom)
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    name: String,
    version: String,
    cksum: Option<String>,
    tables: BTreeMap<String, RawTable>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTable {
    columns: BTreeMap<String, RawColumn>,
    max_rows: Option<u64>,
    is_root: Option<bool>,
    #[serde(default)]
    indexes: Vec<Vec<String>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    #[serde(rename = "type")]
    column_type: types::RawType,
    ephemeral: Option<bool>,
    mutable: Option<bool>,
}

fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_name(
    what: &'static str,
    name: &str,
    reserved_underscore: bool,
) -> Result<(), SchemaError> {
    if is_identifier(name) && !(reserved_underscore && name.starts_with('_')) {
        Ok(())
    } else {
        Err(SchemaError::BadName {
            what,
            name: name.to_owned(),
        })
    }
}

impl RawSchema {
    fn validate(self) -> Result<DatabaseSchema, SchemaError> {
        check_name("database", &self.name, false)?;
        let version = self.version.parse()?;
        let names: Vec<String> = self.tables.keys().cloned().collect();
        let tables = self
            .tables
            .into_iter()
            .map(|(name, table)| {
                check_name("table", &name, true)?;
                let table = table.validate(&name, &names)?;
                Ok((name, table))
            })
            .collect::<Result<_, SchemaError>>()?;
        Ok(DatabaseSchema {
            name: self.name,
            version,
            cksum: self.cksum,
            tables,
        })
    }
}

impl RawTable {
    fn validate(self, table: &str, tables: &[String]) -> Result<TableSchema, SchemaError> {
        if self.columns.is_empty() {
            return Err(SchemaError::NoColumns(table.to_owned()));
        }
        if self.max_rows == Some(0) {
            return Err(SchemaError::ZeroMaxRows(table.to_owned()));
        }
        let mut columns = BTreeMap::new();
        for (name, raw) in self.columns {
            check_name("column", &name, true)?;
            let in_column = |error| SchemaError::Column {
                table: table.to_owned(),
                column: name.clone(),
                error,
            };
            let column_type = raw.column_type.validate().map_err(in_column)?;
            for base in std::iter::once(&column_type.key).chain(&column_type.value) {
                if let Some((target, _)) = base.reference() {
                    if !tables.iter().any(|t| t == target) {
                        return Err(in_column(TypeError::UnknownRefTable(target.to_owned())));
                    }
                }
            }
            let column = ColumnSchema {
                column_type,
                ephemeral: raw.ephemeral.unwrap_or(false),
                mutable: raw.mutable.unwrap_or(true),
            };
            columns.insert(name, column);
        }
        for index in &self.indexes {
            if index.is_empty() {
                return Err(SchemaError::EmptyIndex(table.to_owned()));
            }
            for column in index {
                let named = |c: &str| c.to_owned();
                match columns.get(column.as_str()) {
                    _ if column == "_uuid" || column == "_version" => {}
                    None => {
                        return Err(SchemaError::IndexUnknownColumn {
                            table: named(table),
                            column: named(column),
                        })
                    }
                    Some(c) if c.ephemeral => {
                        return Err(SchemaError::IndexEphemeralColumn {
                            table: named(table),
                            column: named(column),
                        })
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(TableSchema {
            columns,
            max_rows: self.max_rows,
            is_root: self.is_root.unwrap_or(false),
            indexes: self.indexes,
        })
    }
}

#[cfg(test)]
mod tests;
