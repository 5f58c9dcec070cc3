//! Properties over generated input: every value round-trips through JSON,
//! and no input, however malformed, makes a decoder panic.

use std::collections::BTreeMap;

use jsonrpc_core::{Method, NotificationMethod};
use ovsdb_proto::atom::{Atom, AtomicType, Uuid};
use ovsdb_proto::condition::{Condition, Function};
use ovsdb_proto::datum::{Datum, Map, Set};
use ovsdb_proto::methods::*;
use ovsdb_proto::mutation::{Mutation, Mutator};
use ovsdb_proto::schema::{
    BaseKind, BaseType, ColumnSchema, ColumnType, DatabaseSchema, Max, RefType, TableSchema,
    Version,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Reals that print and parse back exactly: serde_json's default float
/// parser is not exact for every double (its `float_roundtrip` feature is).
fn real() -> impl Strategy<Value = f64> {
    (-1_000_000i32..1_000_000, 0i32..10).prop_map(|(m, e)| f64::from(m) / f64::from(1u32 << e))
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        any::<i64>().prop_map(Atom::Integer),
        real().prop_map(Atom::Real),
        any::<bool>().prop_map(Atom::Boolean),
        any::<String>().prop_map(Atom::String),
        uuid().prop_map(Atom::Uuid),
        "[a-z_][a-z0-9_]{0,8}".prop_map(Atom::NamedUuid),
    ]
}

fn datum() -> impl Strategy<Value = Datum> {
    prop_oneof![
        atom().prop_map(Datum::from),
        prop::collection::vec(atom(), 0..6)
            .prop_map(|a| Datum::Set(a.into_iter().collect::<Set>())),
        prop::collection::vec((atom(), atom()), 0..6)
            .prop_map(|p| Datum::Map(p.into_iter().collect::<Map>())),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        any::<bool>().prop_map(Condition::Boolean),
        (
            any::<String>(),
            prop::sample::select(Function::ALL),
            datum()
        )
            .prop_map(|(column, function, value)| Condition::Compare {
                column,
                function,
                value
            }),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (any::<String>(), prop::sample::select(Mutator::ALL), datum())
        .prop_map(|(c, m, v)| Mutation::new(c, m, v))
}

fn ordered<T: PartialOrd>(a: Option<T>, b: Option<T>) -> (Option<T>, Option<T>) {
    match (a, b) {
        (Some(x), Some(y)) if x > y => (Some(y), Some(x)),
        other => other,
    }
}

fn enumeration(atomic: AtomicType) -> impl Strategy<Value = Option<Set>> {
    let one = match atomic {
        AtomicType::Integer => any::<i64>().prop_map(Atom::Integer).boxed(),
        AtomicType::Real => real().prop_map(Atom::Real).boxed(),
        AtomicType::Boolean => any::<bool>().prop_map(Atom::Boolean).boxed(),
        AtomicType::String => any::<String>().prop_map(Atom::String).boxed(),
        AtomicType::Uuid => uuid().prop_map(Atom::Uuid).boxed(),
    };
    prop::option::of(prop::collection::vec(one, 0..4).prop_map(|v| v.into_iter().collect::<Set>()))
}

fn base_type(tables: Vec<String>) -> impl Strategy<Value = BaseType> {
    let kind = prop_oneof![
        (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>())
        )
            .prop_map(|(a, b)| {
                let (min, max) = ordered(a, b);
                BaseKind::Integer { min, max }
            }),
        (prop::option::of(real()), prop::option::of(real())).prop_map(|(a, b)| {
            let (min, max) = ordered(a, b);
            BaseKind::Real { min, max }
        }),
        Just(BaseKind::Boolean),
        (prop::option::of(0u64..100), prop::option::of(0u64..100)).prop_map(|(a, b)| {
            let (min_length, max_length) = ordered(a, b);
            BaseKind::String {
                min_length,
                max_length,
            }
        }),
        (
            prop::option::of(prop::sample::select(tables)),
            any::<bool>()
        )
            .prop_map(|(ref_table, weak)| {
                let ref_type = if weak && ref_table.is_some() {
                    RefType::Weak
                } else {
                    RefType::Strong
                };
                BaseKind::Uuid {
                    ref_table,
                    ref_type,
                }
            }),
    ];
    kind.prop_flat_map(|kind| {
        enumeration(kind.atomic_type()).prop_map(move |enumeration| BaseType {
            kind: kind.clone(),
            enumeration,
        })
    })
}

fn column_type(tables: Vec<String>) -> impl Strategy<Value = ColumnType> {
    let max = prop_oneof![Just(Max::Unlimited), (1u64..10).prop_map(Max::Limited)];
    (
        base_type(tables.clone()),
        prop::option::of(base_type(tables)),
        0u64..=1,
        max,
    )
        .prop_map(|(key, value, min, max)| ColumnType {
            key,
            value,
            min,
            max,
        })
}

fn table(tables: Vec<String>) -> impl Strategy<Value = TableSchema> {
    let column = (column_type(tables), any::<bool>(), any::<bool>()).prop_map(
        |(column_type, ephemeral, mutable)| ColumnSchema {
            column_type,
            ephemeral,
            mutable,
        },
    );
    (
        prop::collection::btree_map("[a-z][a-z0-9_]{0,6}", column, 1..5),
        prop::option::of(1u64..100),
        any::<bool>(),
        prop::collection::vec(
            prop::collection::vec(any::<prop::sample::Index>(), 1..3),
            0..3,
        ),
    )
        .prop_map(|(columns, max_rows, is_root, picks)| {
            let indexable: Vec<&String> = columns
                .iter()
                .filter(|(_, c)| !c.ephemeral)
                .map(|(n, _)| n)
                .collect();
            let indexes = if indexable.is_empty() {
                Vec::new()
            } else {
                picks
                    .iter()
                    .map(|p| p.iter().map(|i| (*i.get(&indexable)).clone()).collect())
                    .collect()
            };
            TableSchema {
                columns,
                max_rows,
                is_root,
                indexes,
            }
        })
}

fn schema() -> impl Strategy<Value = DatabaseSchema> {
    prop::collection::btree_set("[A-Z][A-Za-z0-9_]{0,6}", 1..4).prop_flat_map(|names| {
        let names: Vec<String> = names.into_iter().collect();
        let tables: Vec<_> = names.iter().map(|_| table(names.clone())).collect();
        (
            tables,
            any::<(u16, u16, u16)>(),
            prop::option::of("[0-9]{1,10} [0-9]{1,5}"),
        )
            .prop_map(
                move |(tables, (major, minor, patch), cksum)| DatabaseSchema {
                    name: "Db".into(),
                    version: Version {
                        major: major.into(),
                        minor: minor.into(),
                        patch: patch.into(),
                    },
                    cksum,
                    tables: names
                        .iter()
                        .cloned()
                        .zip(tables)
                        .collect::<BTreeMap<_, _>>(),
                },
            )
    })
}

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    value: &T,
) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: T =
        serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
    prop_assert_eq!(&back, value, "through {}", text);
    Ok(())
}

proptest! {
    #[test]
    fn datums_round_trip(d in datum()) {
        round_trips(&d)?;
    }

    #[test]
    fn conditions_round_trip(c in condition()) {
        round_trips(&c)?;
    }

    #[test]
    fn mutations_round_trip(m in mutation()) {
        round_trips(&m)?;
    }

    #[test]
    fn schemas_round_trip(s in schema()) {
        round_trips(&s)?;
        let text = serde_json::to_string(&s).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(DatabaseSchema::from_json(&text).ok(), Some(s));
    }

    #[test]
    fn checking_any_datum_against_any_column_is_total(t in column_type(vec!["T".into()]), d in datum()) {
        let _ = t.check(&d).map_err(|e| e.kind());
    }
}

/// JSON values shaped like OVSDB's: the strings and keys the decoders look
/// for, nested the ways they nest, mixed with anything else.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let words = prop::sample::select(vec![
        "set",
        "map",
        "uuid",
        "named-uuid",
        "op",
        "insert",
        "select",
        "update",
        "mutate",
        "delete",
        "wait",
        "commit",
        "abort",
        "comment",
        "assert",
        "table",
        "row",
        "where",
        "columns",
        "mutations",
        "until",
        "rows",
        "timeout",
        "durable",
        "lock",
        "uuid-name",
        "==",
        "!=",
        "<",
        "includes",
        "+=",
        "%=",
        "count",
        "error",
        "details",
        "syntax",
        "initial",
        "modify",
        "old",
        "new",
        "select",
        "name",
        "version",
        "tables",
        "type",
        "key",
        "value",
        "min",
        "max",
        "unlimited",
        "integer",
        "real",
        "boolean",
        "string",
        "enum",
        "minInteger",
        "maxReal",
        "maxLength",
        "refTable",
        "refType",
        "weak",
        "isRoot",
        "maxRows",
        "indexes",
        "ephemeral",
        "mutable",
        "1.0.0",
        "550e8400-e29b-41d4-a716-446655440000",
        "T",
        "",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        real().prop_map(Value::from),
        words.clone().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

/// Decodes `text` as every type of the crate; none may panic.
fn decode_everything(text: &str) {
    macro_rules! each {
        ($($t:ty),* $(,)?) => { $( let _ = serde_json::from_str::<$t>(text); )* };
    }
    macro_rules! calls {
        ($($m:ty),* $(,)?) => { $( each!(<$m as Method>::Params, <$m as Method>::Result, <$m as Method>::Error); )* };
    }
    macro_rules! notifications {
        ($($n:ty),* $(,)?) => { $( each!(<$n as NotificationMethod>::Params); )* };
    }
    each!(
        Atom,
        AtomicType,
        Datum,
        Condition,
        Mutation,
        ColumnType,
        BaseType,
        Max,
        Version,
        ovsdb_proto::operation::Operation,
        ovsdb_proto::operation::OperationResult,
        ovsdb_proto::error::OvsdbError,
        ovsdb_proto::error::ErrorKind,
        ovsdb_proto::monitor::MonitorRequests,
        ovsdb_proto::monitor::RowUpdate,
        ovsdb_proto::monitor::RowUpdate2,
    );
    let _ = DatabaseSchema::from_json(text);
    calls!(
        ListDbs,
        GetSchema,
        Transact,
        Monitor,
        MonitorCond,
        MonitorCondChange,
        MonitorCondSince,
        MonitorCancel,
        Lock,
        Steal,
        Unlock,
        Echo,
        GetServerId,
        SetDbChangeAware,
        Convert
    );
    notifications!(
        Cancel,
        Update,
        Update2,
        Update3,
        Locked,
        Stolen,
        MonitorCanceled
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_string_makes_a_decoder_panic(text in any::<String>()) {
        decode_everything(&text);
    }

    #[test]
    fn no_json_makes_a_decoder_panic(value in json()) {
        decode_everything(&value.to_string());
    }
}
