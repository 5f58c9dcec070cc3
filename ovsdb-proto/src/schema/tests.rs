//! Schemas as real servers ship them, and the errors of broken ones.

use super::*;
use crate::atom::{Atom, AtomicType};
use crate::datum::{Datum, Map, Set};

const VSWITCH: &str = include_str!("../../schemas/vswitch.ovsschema");
const TEST: &str = include_str!("../../schemas/test.ovsschema");

fn reloaded(schema: &DatabaseSchema) -> DatabaseSchema {
    let text = serde_json::to_string(schema).unwrap();
    DatabaseSchema::from_json(&text).unwrap()
}

#[test]
fn the_vswitch_schema_loads_and_round_trips() {
    let schema = DatabaseSchema::from_json(VSWITCH).unwrap();
    assert_eq!(schema.name, "Open_vSwitch");
    assert!(schema.is_root("Open_vSwitch"));
    assert!(!schema.is_root("Port"));
    let bridge = schema.table("Bridge").unwrap();
    assert_eq!(bridge.indexes, vec![vec!["name".to_owned()]]);
    let ports = &bridge.column("ports").unwrap().column_type;
    assert_eq!(ports.key.reference(), Some(("Port", RefType::Strong)));
    assert_eq!(ports.max, Max::Unlimited);
    assert_eq!(reloaded(&schema), schema);
}

#[test]
fn the_test_schema_uses_every_feature() {
    let schema: DatabaseSchema = TEST.parse().unwrap();
    assert_eq!(
        schema.version,
        Version {
            major: 1,
            minor: 2,
            patch: 3
        }
    );
    let host = schema.table("Host").unwrap();
    assert_eq!(host.max_rows, Some(100));
    assert!(schema.is_root("Host") && !schema.is_root("Disk"));
    assert!(!host.column("serial").unwrap().mutable);
    assert!(host.column("seen").unwrap().ephemeral);
    let peer = &host.column("peer").unwrap().column_type;
    assert_eq!(peer.key.reference(), Some(("Host", RefType::Weak)));
    assert!(peer.is_optional());
    let load = &host.column("load").unwrap().column_type;
    assert_eq!(
        load.key.kind,
        BaseKind::Real {
            min: Some(0.0),
            max: Some(1.5)
        }
    );
    assert_eq!(reloaded(&schema), schema);
}

#[test]
fn datums_are_checked_against_columns() {
    let schema: DatabaseSchema = TEST.parse().unwrap();
    let host = schema.table("Host").unwrap();
    let check = |column: &str, json: &str| {
        let datum: Datum = serde_json::from_str(json).unwrap();
        host.column(column).unwrap().column_type.check(&datum)
    };
    assert_eq!(check("name", r#""web""#), Ok(()));
    assert!(matches!(
        check("name", r#""""#),
        Err(CheckError::Key(AtomError::LengthOutOfRange { length: 0 }))
    ));
    assert_eq!(
        check("port", "70000").unwrap_err().kind(),
        crate::error::ErrorKind::ConstraintViolation
    );
    assert_eq!(check("load", "1"), Ok(()));
    assert!(check("load", "2").is_err());
    assert_eq!(check("state", r#""up""#), Ok(()));
    assert!(matches!(
        check("state", r#""sideways""#),
        Err(CheckError::Key(AtomError::NotInEnum(_)))
    ));
    assert_eq!(check("level", r#"["set",[]]"#), Ok(()));
    assert!(matches!(
        check("level", r#"["set",[1,2]]"#),
        Err(CheckError::Cardinality { len: 2, .. })
    ));
    assert_eq!(
        check("port", r#"["set",[]]"#).unwrap_err().kind(),
        crate::error::ErrorKind::SyntaxError
    );
    assert!(matches!(
        check("enabled", "1"),
        Err(CheckError::Key(AtomError::WrongType {
            expected: AtomicType::Boolean,
            found: AtomicType::Integer
        }))
    ));
    assert_eq!(check("options", r#"["map",[["a","b"]]]"#), Ok(()));
    assert_eq!(check("options", r#"["set",[]]"#), Ok(()));
    assert_eq!(
        check("options", r#""a""#),
        Err(CheckError::WrongShape { expected: "map" })
    );
    assert_eq!(
        check("tags", r#"["map",[]]"#),
        Err(CheckError::WrongShape { expected: "set" })
    );
    assert!(matches!(
        check("limits", r#"["map",[["cpu",-1]]]"#),
        Err(CheckError::Value(_))
    ));
    assert_eq!(
        check(
            "disks",
            r#"["set",[["named-uuid","d1"],["uuid","550e8400-e29b-41d4-a716-446655440000"]]]"#
        ),
        Ok(())
    );
    assert_eq!(
        host.column("limits")
            .unwrap()
            .column_type
            .check(&Datum::Map(
                [(Atom::from("mem"), Atom::Integer(4))]
                    .into_iter()
                    .collect::<Map>()
            )),
        Ok(())
    );
    assert_eq!(
        host.column("tags")
            .unwrap()
            .column_type
            .check(&Datum::Set(Set::new())),
        Ok(())
    );
}

/// Loads `tables` (the JSON of a schema's `tables` member) and returns the error.
fn refused(tables: &str) -> SchemaError {
    let text = format!(r#"{{"name":"D","version":"1.0.0","tables":{tables}}}"#);
    DatabaseSchema::from_json(&text).unwrap_err()
}

fn column_error(tables: &str) -> (String, String, TypeError) {
    match refused(tables) {
        SchemaError::Column {
            table,
            column,
            error,
        } => (table, column, error),
        other => panic!("expected a column error, got {other}"),
    }
}

#[test]
fn broken_schemas_name_table_and_column() {
    let (table, column, error) = column_error(
        r#"{"T":{"columns":{"c":{"type":{"key":{"type":"uuid","refTable":"Nope"}}}}}}"#,
    );
    assert_eq!((table.as_str(), column.as_str()), ("T", "c"));
    assert_eq!(error, TypeError::UnknownRefTable("Nope".into()));
    let (_, column, error) = column_error(
        r#"{"T":{"columns":{"a":{"type":"string"},"r":{"type":{"key":{"type":"real","minReal":2,"maxReal":1}}}}}}"#,
    );
    assert_eq!(column, "r");
    assert!(matches!(error, TypeError::MinGreaterThanMax { .. }));
    let (_, _, error) = column_error(
        r#"{"T":{"columns":{"e":{"type":{"key":{"type":"string","enum":["set",[1,2]]}}}}}}"#,
    );
    assert!(matches!(error, TypeError::EnumWrongType { .. }));
    let (_, _, error) = column_error(
        r#"{"T":{"columns":{"e":{"type":{"key":{"type":"boolean","enum":["map",[]]}}}}}}"#,
    );
    assert_eq!(error, TypeError::EnumIsMap);

    assert!(matches!(
        refused(r#"{"T":{"columns":{"a":{"type":"string"}},"indexes":[["b"]]}}"#),
        SchemaError::IndexUnknownColumn { table, column } if table == "T" && column == "b"
    ));
    assert!(matches!(
        refused(r#"{"T":{"columns":{"a":{"type":"string","ephemeral":true}},"indexes":[["a"]]}}"#),
        SchemaError::IndexEphemeralColumn { .. }
    ));
    assert!(matches!(
        refused(r#"{"T":{"columns":{"a":{"type":"string"}},"indexes":[[]]}}"#),
        SchemaError::EmptyIndex(_)
    ));
    assert!(matches!(
        refused(r#"{"T":{"columns":{}}}"#),
        SchemaError::NoColumns(_)
    ));
    assert!(matches!(
        refused(r#"{"T":{"columns":{"a":{"type":"string"}},"maxRows":0}}"#),
        SchemaError::ZeroMaxRows(_)
    ));
    assert!(matches!(
        refused(r#"{"T":{"columns":{"_a":{"type":"string"}}}}"#),
        SchemaError::BadName { what: "column", .. }
    ));
    assert!(matches!(
        refused(r#"{"1T":{"columns":{"a":{"type":"string"}}}}"#),
        SchemaError::BadName { what: "table", .. }
    ));
    assert!(matches!(
        refused(r#"{"T":{"columns":{"a":{"type":"string","size":1}}}}"#),
        SchemaError::Json(_)
    ));
}

#[test]
fn versions_are_three_numbers() {
    for bad in [
        "1.0",
        "1.0.0.0",
        "1..0",
        "a.b.c",
        "1.0.-1",
        "",
        "1.0.0 ",
        "+1.0.0",
        "99999999999.0.0",
    ] {
        assert!(bad.parse::<Version>().is_err(), "{bad:?}");
    }
    let text = r#"{"name":"D","version":"1.x.0","tables":{}}"#;
    assert!(
        matches!(DatabaseSchema::from_json(text), Err(SchemaError::BadVersion(v)) if v == "1.x.0")
    );
    assert_eq!(
        "10.20.30".parse::<Version>().unwrap().to_string(),
        "10.20.30"
    );
}

#[test]
fn the_server_database_name_may_start_with_an_underscore() {
    let text = r#"{"name":"_Server","version":"1.2.0","tables":{"Database":{"columns":{"name":{"type":"string"}}}}}"#;
    let schema = DatabaseSchema::from_json(text).unwrap();
    assert!(schema.is_root("Database"), "no table marked root: all are");
    assert_eq!(serde_json::to_string(&schema).unwrap(), text);
}
