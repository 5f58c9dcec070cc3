//! Each method's params and results against wire text seen on real servers.

use super::*;
use crate::error::ErrorKind;
use crate::monitor::RowUpdate2;
use crate::operation::Operation;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{from_str, to_string};

/// Parses `text` as `T`, checks it serializes back to the same text, and returns it.
fn same<T: Serialize + DeserializeOwned>(text: &str) -> T {
    let value: T = from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(to_string(&value).unwrap(), text);
    value
}

fn params<M: Method>(text: &str) -> M::Params {
    same::<M::Params>(text)
}

fn notification<N: NotificationMethod>(text: &str) -> N::Params {
    same::<N::Params>(text)
}

const U: &str = "550e8400-e29b-41d4-a716-446655440000";

#[test]
fn names_are_the_protocols() {
    let calls = [
        ListDbs::NAME,
        GetSchema::NAME,
        Transact::NAME,
        Monitor::NAME,
        MonitorCond::NAME,
        MonitorCondChange::NAME,
        MonitorCondSince::NAME,
        MonitorCancel::NAME,
        Lock::NAME,
        Steal::NAME,
        Unlock::NAME,
        Echo::NAME,
        GetServerId::NAME,
        SetDbChangeAware::NAME,
        Convert::NAME,
    ];
    assert_eq!(calls.join(" "), "list_dbs get_schema transact monitor monitor_cond monitor_cond_change monitor_cond_since monitor_cancel lock steal unlock echo get_server_id set_db_change_aware convert");
    let notifications = [
        Cancel::NAME,
        Update::NAME,
        Update2::NAME,
        Update3::NAME,
        Locked::NAME,
        Stolen::NAME,
        MonitorCanceled::NAME,
    ];
    assert_eq!(
        notifications.join(" "),
        "cancel update update2 update3 locked stolen monitor_canceled"
    );
}

#[test]
fn calls_on_the_wire() {
    params::<ListDbs>("[]");
    from_str::<NoParams>(r#"["ignored"]"#).unwrap();
    same::<Vec<String>>(r#"["Open_vSwitch","_Server"]"#);
    assert_eq!(
        params::<GetSchema>(r#"["Open_vSwitch"]"#).db,
        "Open_vSwitch"
    );
    assert_eq!(from_str::<DbParams>(r#"["db","extra"]"#).unwrap().db, "db");
    let t = params::<Transact>(
        r#"["Open_vSwitch",{"op":"comment","comment":"hi"},{"op":"commit","durable":false}]"#,
    );
    assert!(matches!(
        t.operations[1],
        Operation::Commit { durable: false }
    ));
    assert!(params::<Transact>(r#"["db"]"#).operations.is_empty());
    let m = params::<Monitor>(
        r#"["Open_vSwitch",["monid","Open_vSwitch"],{"Bridge":[{"columns":["name"]}]}]"#,
    );
    assert_eq!(m.monitor_id.0, serde_json::json!(["monid", "Open_vSwitch"]));
    params::<MonitorCond>(
        r#"["_Server","m",{"Database":[{"columns":["name","model"],"where":[["name","==","Open_vSwitch"]]}]}]"#,
    );
    params::<MonitorCondChange>(r#"["m","m2",{"Bridge":[{"where":[false]}]}]"#);
    let since = params::<MonitorCondSince>(&format!(r#"["db","m",{{}},"{U}"]"#));
    assert_eq!(since.last_txn_id.to_string(), U);
    params::<MonitorCancel>(r#"["m"]"#);
    params::<Lock>(r#"["my_lock"]"#);
    same::<LockResult>(r#"{"locked":true}"#);
    params::<Echo>(r#"[1,"x",{"a":null}]"#);
    params::<SetDbChangeAware>("[true]");
    same::<EmptyResult>("{}");
    from_str::<EmptyResult>("null").unwrap();
    assert_eq!(
        from_str::<<GetServerId as Method>::Result>(&format!(r#""{U}""#))
            .unwrap()
            .to_string(),
        U
    );
    let convert = params::<Convert>(
        r#"["D",{"name":"D","version":"1.0.0","tables":{"T":{"columns":{"c":{"type":"integer"}}}}}]"#,
    );
    assert_eq!(convert.schema.name, "D");
}

#[test]
fn wrong_params_are_refused() {
    assert!(
        from_str::<MonitorParams>(r#"["db","m"]"#).is_err(),
        "two params"
    );
    assert!(from_str::<MonitorParams>(r#"["db","m",{},1]"#).is_err());
    assert!(from_str::<TransactParams>("[]").is_err());
    assert!(from_str::<TransactParams>(r#"{"db":"x"}"#).is_err());
    assert!(from_str::<LockParams>("[1]").is_err());
    assert!(from_str::<DbParams>("[]").is_err());
    assert!(from_str::<ConvertParams>(r#"["D",{"name":"D","version":"1","tables":{}}]"#).is_err());
}

#[test]
fn notifications_on_the_wire() {
    notification::<Cancel>("[12]");
    let u = notification::<Update>(&format!(
        r#"["m",{{"Bridge":{{"{U}":{{"new":{{"name":"br0"}}}}}}}}]"#
    ));
    assert_eq!(u.updates["Bridge"].len(), 1);
    let u2 = notification::<Update2>(&format!(
        r#"["m",{{"Bridge":{{"{U}":{{"delete":null}}}}}}]"#
    ));
    assert_eq!(
        u2.updates["Bridge"].values().next(),
        Some(&RowUpdate2::Delete)
    );
    let u3 = notification::<Update3>(&format!(
        r#"["m","{U}",{{"Bridge":{{"{U}":{{"modify":{{"name":"b"}}}}}}}}]"#
    ));
    assert_eq!(u3.last_txn_id.to_string(), U);
    notification::<Locked>(r#"["l"]"#);
    notification::<Stolen>(r#"["l"]"#);
    notification::<MonitorCanceled>(r#"[["monid","db"]]"#);
}

#[test]
fn errors_come_as_objects_or_strings() {
    let e: <MonitorCondSince as Method>::Error = from_str(r#""unknown method""#).unwrap();
    assert!(e.is_unknown_method());
    let e: <Transact as Method>::Error =
        from_str(r#"{"error":"unknown database","details":"x"}"#).unwrap();
    assert_eq!(*e.kind(), ErrorKind::UnknownDatabase);
}

#[test]
fn a_repeated_set_element_in_a_transact_is_an_ovsdb_error() {
    let text = r#"["db",{"op":"insert","table":"T","row":{"s":["set",[1,1]]}}]"#;
    let e = from_str::<TransactParams>(text).unwrap_err();
    assert_eq!(ErrorKind::of_decode_error(&e), ErrorKind::OvsdbError);
    let e = from_str::<TransactParams>(r#"["db",{"op":"insert","table":"T"}]"#).unwrap_err();
    assert_eq!(ErrorKind::of_decode_error(&e), ErrorKind::SyntaxError);
}
