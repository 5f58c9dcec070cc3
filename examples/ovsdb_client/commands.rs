//! The one-shot commands: list-dbs, get-schema, list-tables, list-columns,
//! transact, query and dump.

use std::cmp::Ordering;

use ovsdb_proto::atom::{Atom, AtomicType};
use ovsdb_proto::client::OvsdbClient;
use ovsdb_proto::datum::{Datum, Map, Row, Set};
use ovsdb_proto::methods::Transact;
use ovsdb_proto::operation::{Operation, OperationResult};
use ovsdb_proto::params::TransactParams;
use ovsdb_proto::schema::{BaseType, ColumnType, DatabaseSchema, TableSchema};
use serde_json::Value;

use super::cells::{coerce, normalize};
use super::output::{Cell, Printer, Table};
use super::Result;

pub(crate) async fn list_dbs(client: &OvsdbClient) -> Result<Vec<String>> {
    let mut dbs = client.list_dbs().await.map_err(|e| e.to_string())?;
    dbs.sort();
    Ok(dbs)
}

pub(crate) async fn get_schema(client: &OvsdbClient, db: &str) -> Result<DatabaseSchema> {
    client.get_schema(db).await.map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------
// transact, query

/// Runs the transaction `text` and prints its results.
pub(crate) async fn transact(client: &OvsdbClient, text: &str, out: &mut Printer) -> Result<()> {
    let params = parse_transaction(text)?;
    let results = run_transaction(client, params).await?;
    out.json(&results);
    Ok(())
}

/// Runs the transaction `text` with an `abort` added, so nothing it does
/// stays, and prints its results without the abort's.
pub(crate) async fn query(client: &OvsdbClient, text: &str, out: &mut Printer) -> Result<()> {
    let mut params = parse_transaction(text)?;
    params.operations.push(Operation::Abort);
    let abort_index = params.operations.len() - 1;
    let mut results = run_transaction(client, params).await?;
    if let Value::Array(list) = &mut results {
        let aborted = list.len() == abort_index + 1
            && list[abort_index].get("error").and_then(Value::as_str) == Some("aborted");
        if aborted {
            list.pop();
        }
    }
    out.json(&results);
    Ok(())
}

pub(crate) fn parse_transaction(text: &str) -> Result<TransactParams> {
    serde_json::from_str(text).map_err(|e| format!("\"{text}\": not a valid OVSDB query ({e})"))
}

/// The results of a transaction as JSON, whether it succeeded or not:
/// `ovsdb-client` prints them either way.
pub(crate) async fn run_transaction(client: &OvsdbClient, params: TransactParams) -> Result<Value> {
    let mut results = client
        .call::<Transact>(params)
        .await
        .map_err(|e| format!("transaction returned error: {e}"))?;
    for result in &mut results.0 {
        if let OperationResult::Rows(rows) = result {
            for row in rows {
                for datum in row.values_mut() {
                    *datum = reals_as_reals(datum);
                }
            }
        }
    }
    serde_json::to_value(&results).map_err(|e| e.to_string())
}

/// A datum read without its column's type holds a real column's whole
/// numbers as integers (JSON writes `2.0` as `2`), which sort before the
/// other reals. The atoms of a set (or the keys, or the values, of a map)
/// all have one type, so where one is a real all are: made reals again,
/// they sort as the server sorted them.
pub(crate) fn reals_as_reals(datum: &Datum) -> Datum {
    pub(crate) fn fix(atoms: &[&Atom]) -> Option<AtomicType> {
        atoms
            .iter()
            .any(|a| matches!(a, Atom::Real(_)))
            .then_some(AtomicType::Real)
    }
    match datum {
        Datum::Set(set) => match fix(&set.iter().collect::<Vec<_>>()) {
            Some(real) => Datum::Set(set.iter().map(|a| coerce(a, real)).collect::<Set>()),
            None => datum.clone(),
        },
        Datum::Map(map) => {
            let keys = fix(&map.iter().map(|(k, _)| k).collect::<Vec<_>>());
            let values = fix(&map.iter().map(|(_, v)| v).collect::<Vec<_>>());
            if keys.is_none() && values.is_none() {
                return datum.clone();
            }
            let keep =
                |a: &Atom, to: Option<AtomicType>| to.map_or_else(|| a.clone(), |t| coerce(a, t));
            Datum::Map(
                map.iter()
                    .map(|(k, v)| (keep(k, keys), keep(v, values)))
                    .collect::<Map>(),
            )
        }
    }
}

// ---------------------------------------------------------------------
// list-tables, list-columns

pub(crate) fn list_tables(schema: &DatabaseSchema) -> Table {
    let mut table = Table::new(None, &["Table"]);
    for name in schema.tables.keys() {
        table.rows.push(vec![Cell::Text(name.clone())]);
    }
    table
}

pub(crate) fn list_columns(schema: &DatabaseSchema, only: Option<&str>) -> Table {
    let headings: &[&str] = match only {
        None => &["Table", "Column", "Type"],
        Some(_) => &["Column", "Type"],
    };
    let mut table = Table::new(None, headings);
    for (name, ts) in &schema.tables {
        if only.is_some_and(|only| only != name) {
            continue;
        }
        for (column, column_type) in all_columns(ts) {
            let mut row = Vec::new();
            if only.is_none() {
                row.push(Cell::Text(name.clone()));
            }
            row.push(Cell::Text(column));
            row.push(Cell::Json(
                serde_json::to_value(&column_type).unwrap_or(Value::Null),
            ));
            table.rows.push(row);
        }
    }
    table
}

/// The type of `_uuid` and `_version`.
pub(crate) fn uuid_type() -> ColumnType {
    ColumnType::scalar(BaseType::from(AtomicType::Uuid))
}

/// Every column of a table, `_uuid` and `_version` included, by name.
pub(crate) fn all_columns(ts: &TableSchema) -> Vec<(String, ColumnType)> {
    let mut columns: Vec<(String, ColumnType)> = ts
        .columns
        .iter()
        .map(|(name, c)| (name.clone(), c.column_type.clone()))
        .collect();
    columns.push(("_uuid".into(), uuid_type()));
    columns.push(("_version".into(), uuid_type()));
    columns.sort_by(|a, b| a.0.cmp(&b.0));
    columns
}

/// The type of a column of `ts`, `_uuid` and `_version` included.
pub(crate) fn column_type(ts: &TableSchema, name: &str) -> Option<ColumnType> {
    match name {
        "_uuid" | "_version" => Some(uuid_type()),
        _ => ts.column(name).map(|c| c.column_type.clone()),
    }
}

// ---------------------------------------------------------------------
// dump

/// Prints every row of the database, or of one table (and some of its
/// columns), a table at a time, sorted as `ovsdb-client` sorts them.
pub(crate) async fn dump(
    client: &OvsdbClient,
    db: &str,
    args: &[String],
    out: &mut Printer,
) -> Result<()> {
    let schema = get_schema(client, db).await?;
    let mut tables: Vec<(&str, Vec<(String, ColumnType)>)> = Vec::new();
    match args {
        [] => {
            for (name, ts) in &schema.tables {
                tables.push((name, all_columns(ts)));
            }
        }
        [name, columns @ ..] => {
            let ts = schema
                .table(name)
                .ok_or_else(|| format!("No table \"{name}\" found."))?;
            let chosen = if columns.is_empty() {
                all_columns(ts)
            } else {
                let mut chosen = Vec::new();
                for column in columns {
                    let ct = column_type(ts, column)
                        .ok_or_else(|| format!("Table \"{name}\" has no column {column}."))?;
                    chosen.push((column.clone(), ct));
                }
                chosen.sort_by(|a, b| a.0.cmp(&b.0));
                chosen
            };
            tables.push((name, chosen));
        }
    }
    // _version is never dumped.
    for (_, columns) in &mut tables {
        columns.retain(|(name, _)| name != "_version");
    }

    let mut txn = client.transact(db);
    for (name, columns) in &tables {
        txn = txn
            .select(name, vec![])
            .columns(columns.iter().map(|(c, _)| c.clone()));
    }
    let outcome = txn.execute().await.map_err(|e| e.to_string())?;
    for (index, (name, columns)) in tables.iter().enumerate() {
        let rows = outcome
            .rows(index)
            .ok_or_else(|| format!("{name} table reply is not an object with a \"rows\" member"))?;
        out.table(&dump_table(name, columns, rows)?);
    }
    Ok(())
}

/// One table of a dump: `columns` (sorted by name) of `rows`, the rows
/// sorted by their values, those of UUID columns last since they are
/// random.
pub(crate) fn dump_table(
    name: &str,
    columns: &[(String, ColumnType)],
    rows: &[Row],
) -> Result<Table> {
    let mut data: Vec<Vec<Datum>> = Vec::with_capacity(rows.len());
    for (y, row) in rows.iter().enumerate() {
        let mut values = Vec::with_capacity(columns.len());
        for (column, ct) in columns {
            let datum = row
                .get(column)
                .ok_or_else(|| format!("row {y} in table {name} response lacks {column} column"))?;
            values.push(normalize(datum, ct));
        }
        data.push(values);
    }
    let is_uuid = |ct: &ColumnType| ct.key.atomic_type() == AtomicType::Uuid;
    data.sort_by(|a, b| {
        let pass = |uuids: bool| {
            columns
                .iter()
                .enumerate()
                .filter(|(_, (_, ct))| is_uuid(ct) == uuids)
                .map(|(x, _)| compare_datums(&a[x], &b[x]))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        };
        pass(false).then_with(|| pass(true))
    });
    let headings: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let mut table = Table::new(Some(format!("{name} table")), &headings);
    for values in data {
        let row = values
            .into_iter()
            .zip(columns)
            .map(|(datum, (_, ct))| Cell::Datum(datum, ct.clone()))
            .collect();
        table.rows.push(row);
    }
    Ok(table)
}

/// OVSDB's order of two datums of one type: the smaller first, then by
/// keys, then by values.
pub(crate) fn compare_datums(a: &Datum, b: &Datum) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| match (a, b) {
        (Datum::Set(a), Datum::Set(b)) => a.as_slice().cmp(b.as_slice()),
        (Datum::Map(a), Datum::Map(b)) => {
            let keys = a.iter().map(|(k, _)| k).cmp(b.iter().map(|(k, _)| k));
            keys.then_with(|| a.iter().map(|(_, v)| v).cmp(b.iter().map(|(_, v)| v)))
        }
        _ => a.cmp(b),
    })
}

// ---------------------------------------------------------------------
// monitor
