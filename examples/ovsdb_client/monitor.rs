//! `monitor`: the initial rows, then each change as it comes.

use futures::StreamExt;
use ovsdb_proto::atom::Uuid;
use ovsdb_proto::client::{MonitorMethod, MonitorState, OvsdbClient, Updates};
use ovsdb_proto::datum::Row;
use ovsdb_proto::monitor::{
    MonitorId, MonitorRequest, MonitorRequests, MonitorSelect, RowUpdate, TableRequests,
};
use ovsdb_proto::schema::{ColumnType, TableSchema};
use serde_json::Value;

use super::cells::normalize;
use super::commands::{column_type, get_schema, uuid_type};
use super::output::{Cell, Printer, Table};
use super::Result;

/// One monitored table: its name and the columns printed, in order.
pub(crate) struct Watched {
    pub(crate) table: String,
    pub(crate) columns: Vec<(String, ColumnType)>,
}

/// Prints the rows of a table (or of ALL tables) there at first, then
/// each change, until interrupted.
pub(crate) async fn monitor(
    client: &OvsdbClient,
    server: &str,
    db: &str,
    args: &[String],
    out: &mut Printer,
) -> Result<()> {
    let schema = get_schema(client, db).await?;
    let (table_name, column_args) = args.split_first().ok_or("missing TABLE")?;
    let names: Vec<&String> = if table_name == "ALL" {
        schema.tables.keys().collect()
    } else if schema.tables.contains_key(table_name) {
        vec![table_name]
    } else {
        return Err(format!(
            "{server}: {db} does not have a table named \"{table_name}\""
        ));
    };
    let mut requests = MonitorRequests::new();
    let mut watched = Vec::new();
    for name in names {
        let ts = &schema.tables[name];
        let mut columns = Vec::new();
        let mut table_requests = Vec::new();
        let empty = [String::new()];
        let specs = if column_args.is_empty() {
            &empty[..]
        } else {
            column_args
        };
        for spec in specs {
            let request = monitor_request(server, db, name, ts, spec, &mut columns)?;
            table_requests.push(request);
        }
        requests.insert(name.clone(), TableRequests(table_requests));
        watched.push(Watched {
            table: name.clone(),
            columns,
        });
    }

    // Plain `monitor`, as `ovsdb-client monitor` asks: whole old and new
    // rows rather than monitor_cond's differences.
    let state = MonitorState {
        db: db.to_owned(),
        id: MonitorId(Value::from("ovsdb_client")),
        requests,
        method: MonitorMethod::Monitor,
        last_txn_id: None,
    };
    let mut stream = client
        .resume_monitor(state)
        .await
        .map_err(|e| e.to_string())?;
    print_updates(&stream.take_initial(), &watched, true, out);
    out.check()?;
    loop {
        tokio::select! {
            event = stream.next() => match event {
                Some(Ok(event)) => {
                    print_updates(&event.updates, &watched, false, out);
                    out.check()?;
                }
                Some(Err(e)) => return Err(format!("{server}: {e}")),
                // The stream ends with the connection, or when the server
                // cancels the monitor, which it does when the database goes.
                None if client.is_closed() => return Err(format!("{server}: connection closed")),
                None => return Err(format!("{server}: {db} database was removed")),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One argument of `COLUMN,...`: the columns to watch (all but `_uuid`,
/// with `_version` last, when it names none) and `!initial`, `!insert`,
/// `!delete`, `!modify` to leave out kinds of changes.
pub(crate) fn monitor_request(
    server: &str,
    db: &str,
    table: &str,
    ts: &TableSchema,
    spec: &str,
    columns: &mut Vec<(String, ColumnType)>,
) -> Result<MonitorRequest> {
    let mut select = MonitorSelect {
        initial: true,
        insert: true,
        delete: true,
        modify: true,
    };
    let mut named = Vec::new();
    let mut add = |name: &str, ct: ColumnType, named: &mut Vec<String>| {
        if columns.iter().any(|(c, _)| c == name) {
            return Err(format!(
                "{server}: column \"{name}\" mentioned multiple times"
            ));
        }
        columns.push((name.to_owned(), ct));
        named.push(name.to_owned());
        Ok(())
    };
    for token in spec.split(',').filter(|t| !t.is_empty()) {
        match token {
            "!initial" => select.initial = false,
            "!insert" => select.insert = false,
            "!delete" => select.delete = false,
            "!modify" => select.modify = false,
            name => {
                let ct = column_type(ts, name).ok_or_else(|| {
                    format!(
                        "{server}: table \"{table}\" in {db} does not have a column named \"{name}\""
                    )
                })?;
                add(name, ct, &mut named)?;
            }
        }
    }
    if named.is_empty() {
        for (name, c) in &ts.columns {
            add(name, c.column_type.clone(), &mut named)?;
        }
        add("_version", uuid_type(), &mut named)?;
    }
    let all = select.initial && select.insert && select.delete && select.modify;
    Ok(MonitorRequest {
        columns: Some(named),
        conditions: None,
        select: (!all).then_some(select),
    })
}

/// Prints one table per watched table that has changes.
pub(crate) fn print_updates(
    updates: &Updates,
    watched: &[Watched],
    initial: bool,
    out: &mut Printer,
) {
    let Updates::Update(tables) = updates else {
        // Plain monitor only ever brings `update`s.
        return;
    };
    for w in watched {
        let Some(rows) = tables.get(&w.table) else {
            continue;
        };
        let caption = (watched.len() > 1).then(|| w.table.clone());
        let mut table = monitor_table(caption, w, rows, initial);
        table.timestamp = out.timestamp;
        out.table(&table);
    }
}

/// The changes to one table: `row`, `action`, then the watched columns.
pub(crate) fn monitor_table(
    caption: Option<String>,
    w: &Watched,
    rows: &std::collections::BTreeMap<Uuid, RowUpdate>,
    initial: bool,
) -> Table {
    let mut headings = vec!["row", "action"];
    headings.extend(w.columns.iter().map(|(c, _)| c.as_str()));
    let mut table = Table::new(caption, &headings);
    for (uuid, update) in rows {
        let uuid = uuid.to_string();
        match (&update.old, &update.new) {
            (_, Some(new)) if initial => table.rows.push(monitor_row(&uuid, "initial", new, w)),
            (None, Some(new)) => table.rows.push(monitor_row(&uuid, "insert", new, w)),
            (Some(old), None) => table.rows.push(monitor_row(&uuid, "delete", old, w)),
            (Some(old), Some(new)) => {
                table.rows.push(monitor_row(&uuid, "old", old, w));
                table.rows.push(monitor_row("", "new", new, w));
            }
            (None, None) => {}
        }
    }
    table
}

pub(crate) fn monitor_row(uuid: &str, action: &str, row: &Row, w: &Watched) -> Vec<Cell> {
    let mut cells = vec![Cell::Text(uuid.into()), Cell::Text(action.into())];
    for (column, ct) in &w.columns {
        cells.push(match row.get(column) {
            Some(datum) => Cell::Datum(normalize(datum, ct), ct.clone()),
            None => Cell::Empty,
        });
    }
    cells
}

// ---------------------------------------------------------------------
// Datums as cells
