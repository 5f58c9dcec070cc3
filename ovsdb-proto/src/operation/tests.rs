//! Operations and results against literal wire text.

use super::*;
use crate::condition::Function;
use crate::datum::Datum;
use crate::error::ErrorKind;
use crate::mutation::Mutator;
use serde_json::{from_str, to_string};

fn round(text: &str) -> Operation {
    let op: Operation = from_str(text).unwrap();
    assert_eq!(to_string(&op).unwrap(), text, "serializes back as it came");
    op
}

#[test]
fn every_operation_on_the_wire() {
    let insert = round(
        r#"{"op":"insert","table":"Bridge","row":{"name":"br0","ports":["set",[["named-uuid","p"],["named-uuid","q"]]]},"uuid-name":"br","uuid":"550e8400-e29b-41d4-a716-446655440000"}"#,
    );
    assert!(matches!(insert, Operation::Insert { uuid: Some(_), .. }));
    let select = round(
        r#"{"op":"select","table":"Bridge","where":[["name","==","br0"]],"columns":["_uuid"]}"#,
    );
    assert!(matches!(select, Operation::Select { ref conditions, .. }
        if conditions == &[crate::condition::Condition::new("name", Function::Equal, "br0")]));
    round(r#"{"op":"select","table":"Bridge","where":[]}"#);
    round(
        r#"{"op":"update","table":"Bridge","where":[["_uuid","==",["uuid","550e8400-e29b-41d4-a716-446655440000"]]],"row":{"stp_enable":true}}"#,
    );
    let mutate = round(
        r#"{"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["next_cfg","+=",1]]}"#,
    );
    assert!(
        matches!(mutate, Operation::Mutate { ref mutations, .. } if mutations[0].mutator == Mutator::Add)
    );
    round(r#"{"op":"delete","table":"Port","where":[["name","!=","p1"]]}"#);
    let wait = round(
        r#"{"op":"wait","table":"Bridge","where":[],"columns":["name"],"until":"==","rows":[{"name":"br0"}],"timeout":0}"#,
    );
    assert!(matches!(
        wait,
        Operation::Wait {
            until: WaitUntil::Equal,
            timeout: Some(0),
            ..
        }
    ));
    round(r#"{"op":"commit","durable":true}"#);
    assert_eq!(round(r#"{"op":"abort"}"#), Operation::Abort);
    round(r#"{"op":"comment","comment":"ovs-vsctl add-br br0"}"#);
    round(r#"{"op":"assert","lock":"ovn_northd"}"#);
}

#[test]
fn malformed_operations_are_refused() {
    for bad in [
        r#"{"op":"frobnicate","table":"T"}"#,
        r#"{"table":"T","row":{}}"#,
        r#"{"op":"insert","table":"T"}"#,
        r#"{"op":"insert","table":"T","row":{},"extra":1}"#,
        r#"{"op":"commit"}"#,
        r#"{"op":"wait","table":"T","where":[],"columns":[],"until":"<","rows":[]}"#,
        r#"{"op":"insert","table":"T","row":{},"uuid":"nope"}"#,
        r#"{"op":"select","table":"T","where":[["c","==",["set",[1,1]]]]}"#,
        "[]",
    ] {
        assert!(from_str::<Operation>(bad).is_err(), "{bad}");
    }
}

#[test]
fn results_on_the_wire() {
    let text = r#"[{"uuid":["uuid","550e8400-e29b-41d4-a716-446655440000"]},{"count":2},{"rows":[{"name":"br0","_uuid":["uuid","550e8400-e29b-41d4-a716-446655440000"]}]},{},{"error":"timed out","details":"wait"},null]"#;
    let results: TransactResults = from_str(text).unwrap();
    let r = &results.0;
    assert!(matches!(r[0], OperationResult::Inserted(_)));
    assert_eq!(r[1], OperationResult::Count(2));
    match &r[2] {
        OperationResult::Rows(rows) => {
            assert_eq!(
                rows[0].get("name"),
                Some(&Datum::from(crate::atom::Atom::from("br0")))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r[3], OperationResult::Done);
    assert_eq!(
        results.first_error().map(|(at, e)| (at, &e.error)),
        Some((4, &ErrorKind::TimedOut))
    );
    assert_eq!(r[5], OperationResult::NotExecuted);
    let sorted = r#"[{"uuid":["uuid","550e8400-e29b-41d4-a716-446655440000"]},{"count":2},{"rows":[{"_uuid":["uuid","550e8400-e29b-41d4-a716-446655440000"],"name":"br0"}]},{},{"error":"timed out","details":"wait"},null]"#;
    assert_eq!(to_string(&results).unwrap(), sorted);
    assert_eq!(results.commit_error(6), None);
}

#[test]
fn a_commit_error_follows_the_operations() {
    let text = r#"[{"uuid":["uuid","550e8400-e29b-41d4-a716-446655440000"]},{"error":"referential integrity violation","details":"dangling"}]"#;
    let results: TransactResults = from_str(text).unwrap();
    let e = results.commit_error(1).unwrap();
    assert_eq!(e.error, ErrorKind::ReferentialIntegrityViolation);
    assert_eq!(to_string(&results).unwrap(), text);
}

#[test]
fn malformed_results_are_refused() {
    for bad in [
        r#"[{"uuid":"550e8400-e29b-41d4-a716-446655440000"}]"#,
        r#"[{"count":-1}]"#,
        "[1]",
        r#"[{"rows":{}}]"#,
    ] {
        assert!(from_str::<TransactResults>(bad).is_err(), "{bad}");
    }
}
