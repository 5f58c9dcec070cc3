//! The generator on small schemas: the shapes it emits, rustfmt's agreement
//! with its layout, and the schemas it refuses.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use spdk_codegen::{generate, Error, GENERATED_MARKER};

/// A schema with the given methods around a small set of classes.
fn schema(methods: Value) -> String {
    json!({
        "source": "a test schema",
        "enums": [
            {"name": "color", "fields": [
                {"name": "red", "value": 1},
                {"name": "0", "value": 1},
                {"name": "vfio-user", "value": "C_VFIO"},
                {"name": "5f", "value": 2},
                {"name": "SIMPLE_LBA", "value": 3},
            ]},
        ],
        "objects": [
            {"name": "empty_thing", "fields": []},
            {"name": "pair", "fields": [
                {"name": "a", "type": "string", "required": true},
                {"name": "b", "type": "uint16", "deprecated": true},
            ]},
        ],
        "arrays": [
            {"name": "pairs", "item_type": "object", "class": "pair", "max_count": 4},
        ],
        "bitmasks": [
            {"name": "colors", "enum": "color", "mode": "set", "width": 8},
        ],
        "methods": methods,
    })
    .to_string()
}

fn file<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
    &files.iter().find(|(n, _)| n == name).unwrap().1
}

/// A required string param called `name`.
fn required(name: &str) -> Value {
    json!({"name": name, "type": "string", "required": true})
}

/// Methods whose `new` signatures and struct literals sit on both sides of
/// rustfmt's width limits.
fn layout_methods() -> Value {
    let mut methods = vec![
        json!({"name": "demo_none", "params": []}),
        json!({"name": "demo_typed", "private": true, "params": [
            {"name": "type", "type": "enum", "class": "color", "required": true},
            {"name": "pairs", "type": "array", "class": "pairs"},
            {"name": "colors", "type": "bitmask", "class": "colors"},
            {"name": "id", "type": "uuid"},
            {"name": "thing", "type": "object", "class": "empty_thing"},
        ]}),
        json!({"name": "demo_many", "params": (0..9)
            .map(|i| required(&format!("param_{i}")))
            .collect::<Vec<_>>()}),
    ];
    for len in 14..22 {
        let name = "n".repeat(len);
        methods.push(json!({"name": format!("lit_{len}"), "params": [required(&name)]}));
        methods.push(json!({"name": format!("lit_opt_{len}"), "params": [
            required(&"r".repeat(len - 8)),
            {"name": "o", "type": "boolean"},
        ]}));
    }
    for len in 24..34 {
        let params = vec![required(&"a".repeat(len)), required(&"b".repeat(len))];
        methods.push(json!({"name": format!("sig_{len}"), "params": params}));
    }
    Value::Array(methods)
}

/// The file as rustfmt would write it, or `None` when rustfmt is missing.
fn rustfmt(text: &str) -> Option<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    assert!(out.status.success(), "rustfmt failed on generated code");
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Checks that every file is as rustfmt would write it, past the marker.
fn assert_rustfmt_style(files: &[(String, String)]) {
    for (name, text) in files {
        assert!(text.starts_with(GENERATED_MARKER), "{name} has no marker");
        // rustfmt leaves @generated files alone: check the rest as code.
        let body = text.strip_prefix(GENERATED_MARKER).unwrap();
        let body = body.strip_prefix('\n').unwrap();
        let Some(formatted) = rustfmt(body) else {
            eprintln!("rustfmt not found: layout not checked");
            return;
        };
        let differs = body
            .lines()
            .zip(formatted.lines())
            .enumerate()
            .find(|(_, (ours, theirs))| ours != theirs);
        if let Some((i, (ours, theirs))) = differs {
            panic!(
                "rustfmt would change {name} line {}:\n{ours}\n{theirs}",
                i + 2
            );
        }
        assert_eq!(body.lines().count(), formatted.lines().count(), "{name}");
    }
}

#[test]
fn output_is_already_in_rustfmt_style() {
    assert_rustfmt_style(&generate(&schema(layout_methods())).unwrap());
}

#[test]
fn spdk_schema_output_is_already_in_rustfmt_style() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../rpc-methods.json");
    let json = std::fs::read_to_string(path).unwrap();
    assert_rustfmt_style(&generate(&json).unwrap());
}

#[test]
fn shapes_of_the_generated_items() {
    let files = generate(&schema(layout_methods())).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["demo.rs", "info.rs", "lit.rs", "mod.rs", "sig.rs", "types.rs"]
    );
    let types = file(&files, "types.rs");
    assert!(types.contains("    #[serde(rename = \"red\", alias = \"0\")]\n    Red,\n"));
    assert!(types.contains("    #[serde(rename = \"vfio-user\")]\n    VfioUser,\n"));
    assert!(types.contains("    #[serde(rename = \"5f\")]\n    V5f,\n"));
    assert!(types.contains("    SimpleLba,\n"));
    assert!(types.contains("pub struct EmptyThing {}\n"));
    assert!(types.contains("    /// SPDK deprecates it.\n"));
    let demo = file(&files, "demo.rs");
    assert!(demo.contains("    type Params = ();\n"));
    assert!(demo.contains("    pub r#type: super::types::Color,\n"));
    assert!(demo.contains("    pub pairs: Option<Vec<super::types::Pair>>,\n"));
    assert!(demo.contains("    pub colors: Option<Vec<super::types::Color>>,\n"));
    assert!(demo.contains("    pub id: Option<uuid::Uuid>,\n"));
    assert!(demo.contains("#![allow(clippy::too_many_arguments)]"));
    assert!(demo.contains("    type Result = serde_json::Value;\n"));
    // Both layouts of a struct literal and of a signature are exercised
    // (and checked against rustfmt by the test above).
    let lit = file(&files, "lit.rs");
    assert!(!lit.contains("too_many_arguments"));
    assert!(lit.contains(&format!("        Self {{ {} }}\n", "n".repeat(18))));
    assert!(lit.contains(&format!(
        "        Self {{\n            {},\n",
        "n".repeat(19)
    )));
    let sig = file(&files, "sig.rs");
    assert!(sig.contains(&format!("    pub fn new({}: String, ", "a".repeat(28))));
    assert!(sig.contains(&format!(
        "    pub fn new(\n        {}: String,\n",
        "a".repeat(29)
    )));
    let info = file(&files, "info.rs");
    assert!(info.contains("kind: ParamKind::Bitmask(\"colors\"),"));
    assert!(info.contains("name: \"demo_typed\",\n        private: true,"));
    let module = file(&files, "mod.rs");
    assert!(module.contains("pub mod demo;\n"));
    assert!(module.contains("pub use info::METHODS;\n"));
}

#[test]
fn known_results_come_from_the_table() {
    let methods = json!([
        {"name": "bdev_malloc_create", "params": [required("name")]},
        {"name": "rpc_get_methods", "params": []},
    ]);
    let files = generate(&schema(methods)).unwrap();
    assert!(file(&files, "bdev.rs").contains("    type Result = String;\n"));
    assert!(file(&files, "rpc.rs").contains("    type Result = Vec<String>;\n"));
}

fn refused(methods: Value) -> Error {
    generate(&schema(methods)).expect_err("the schema is refused")
}

#[test]
fn broken_schemas_are_refused_not_panicked_on() {
    let unknown_class = json!([{"name": "a_b", "params": [
        {"name": "x", "type": "enum", "class": "no_such_enum"}]}]);
    assert!(matches!(refused(unknown_class), Error::BadClass { .. }));
    let no_class = json!([{"name": "a_b", "params": [{"name": "x", "type": "object"}]}]);
    assert!(matches!(refused(no_class), Error::BadClass { .. }));
    let bad_field = json!([{"name": "a_b", "params": [required("Bad-Name")]}]);
    assert!(matches!(refused(bad_field), Error::BadName { .. }));
    let self_field = json!([{"name": "a_b", "params": [required("self")]}]);
    assert!(matches!(refused(self_field), Error::BadName { .. }));
    let bad_method = json!([{"name": "9_lives", "params": []}]);
    assert!(matches!(refused(bad_method), Error::BadName { .. }));
    let reserved = json!([{"name": "types_get", "params": []}]);
    assert!(matches!(refused(reserved), Error::Collision(_)));
    let twice = json!([{"name": "a_b", "params": []}, {"name": "a_b", "params": []}]);
    assert!(matches!(refused(twice), Error::Collision(_)));
    let clash = json!([{"name": "pair", "params": []}]);
    assert!(matches!(refused(clash), Error::Collision(_)));
    let shadows_an_import = json!([{"name": "method", "params": []}]);
    assert!(matches!(refused(shadows_an_import), Error::Collision(_)));
    let unknown_type = json!([{"name": "a_b", "params": [{"name": "x", "type": "float"}]}]);
    assert!(matches!(refused(unknown_type), Error::Json(_)));
    let unknown_key = json!([{"name": "a_b", "params": [], "color": "red"}]);
    assert!(matches!(refused(unknown_key), Error::Json(_)));
    assert!(matches!(generate("{"), Err(Error::Json(_))));
    assert!(matches!(generate("[]"), Err(Error::Json(_))));
}

#[test]
fn variants_that_collide_are_refused() {
    let text = schema(json!([])).replace("vfio-user", "RED");
    assert!(matches!(generate(&text), Err(Error::Collision(_))));
}

#[test]
fn the_binary_writes_the_files_and_removes_stale_generated_ones() {
    let dir = std::env::temp_dir().join(format!("spdk-codegen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema_path = dir.join("schema.json");
    let methods = json!([{"name": "demo_none", "params": []}]);
    std::fs::write(&schema_path, schema(methods)).unwrap();
    let out = dir.join("methods");
    std::fs::create_dir_all(&out).unwrap();
    let stale = format!("{GENERATED_MARKER}\n//! A family that left the schema.\n");
    std::fs::write(out.join("gone.rs"), stale).unwrap();
    std::fs::write(out.join("by_hand.rs"), "//! Not generated.\n").unwrap();

    let status = Command::new(env!("CARGO_BIN_EXE_spdk-codegen"))
        .arg(&schema_path)
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["by_hand.rs", "demo.rs", "info.rs", "mod.rs", "types.rs"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
