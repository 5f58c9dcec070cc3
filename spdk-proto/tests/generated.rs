//! The generated method types: up to date with the schema, complete, and
//! reading and writing JSON the way SPDK does.

use std::collections::BTreeMap;
use std::path::Path;

use jsonrpc_core::Method;
use serde::Deserialize;
use spdk_proto::methods::{
    AccelErrorInjectError, AccelErrorInjectErrorParams, AccelErrorInjectType, AccelErrorOpcode,
    BdevMallocCreate, BdevMallocCreateParams, BdevRaidCreateParams, BdevRaidLevel, DhchapDigest,
    NvmfSetConfigParams, SpdkGetVersion, METHODS,
};
use spdk_proto::schema::{self, ParamKind};

const REGENERATE: &str = "cargo run -p spdk-codegen";

fn schema_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rpc-methods.json");
    std::fs::read_to_string(path).expect("rpc-methods.json is readable")
}

#[test]
fn committed_code_is_what_the_generator_makes_now() {
    let files = spdk_codegen::generate(&schema_text()).expect("the schema generates");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/methods");
    let mut committed = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("src/methods is readable") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        committed.insert(name, std::fs::read_to_string(&path).unwrap());
    }
    for (name, contents) in &files {
        match committed.remove(name) {
            None => panic!("src/methods/{name} is missing; run `{REGENERATE}`"),
            Some(old) => assert!(
                old == *contents,
                "src/methods/{name} differs from what the generator makes; \
                 run `{REGENERATE}` (and do not edit generated files by hand)"
            ),
        }
    }
    let extra: Vec<_> = committed.keys().collect();
    assert!(
        extra.is_empty(),
        "src/methods/ has files the generator does not make: {extra:?}; run `{REGENERATE}`"
    );
}

#[derive(Deserialize)]
struct Schema {
    methods: Vec<SchemaMethod>,
}

#[derive(Deserialize)]
struct SchemaMethod {
    name: String,
}

#[test]
fn methods_lists_every_method_of_the_schema_in_order() {
    let schema: Schema = serde_json::from_str(&schema_text()).unwrap();
    let expected: Vec<&str> = schema.methods.iter().map(|m| m.name.as_str()).collect();
    let listed: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
    assert_eq!(listed.len(), 296);
    assert_eq!(listed, expected);
    assert_eq!(METHODS.iter().filter(|m| m.private).count(), 3);
}

#[test]
fn method_info_describes_params() {
    let raid = schema::method("bdev_raid_create").unwrap();
    assert!(!raid.private);
    let level = raid.param("raid_level").unwrap();
    assert_eq!(level.kind, ParamKind::Enum("bdev_raid_level"));
    assert!(level.required);
    let required: Vec<_> = raid.required_params().map(|p| p.name).collect();
    assert_eq!(required, ["name", "raid_level", "base_bdevs"]);
    assert!(schema::method("nvmf_create_target").unwrap().private);
    assert!(schema::method("no_such_method").is_none());
}

#[test]
fn method_types_carry_the_wire_names() {
    assert_eq!(BdevMallocCreate::NAME, "bdev_malloc_create");
    assert_eq!(SpdkGetVersion::NAME, "spdk_get_version");
    assert_eq!(AccelErrorInjectError::NAME, "accel_error_inject_error");
    let _: <BdevMallocCreate as Method>::Result = String::from("Malloc0");
    let _: <SpdkGetVersion as Method>::Params = ();
}

#[test]
fn malloc_create_params_serialize_as_spdk_expects() {
    let mut params = BdevMallocCreateParams::new(512, 131_072);
    params.name = Some("Malloc0".to_owned());
    assert_eq!(
        serde_json::to_string(&params).unwrap(),
        r#"{"name":"Malloc0","block_size":512,"num_blocks":131072}"#
    );
    let back: BdevMallocCreateParams =
        serde_json::from_str(r#"{"num_blocks":131072,"block_size":512,"name":"Malloc0"}"#).unwrap();
    assert_eq!(back, params);
}

#[test]
fn params_are_decoded_strictly() {
    let raid = |json: &str| serde_json::from_str::<BdevRaidCreateParams>(json);
    let malloc = |json: &str| serde_json::from_str::<BdevMallocCreateParams>(json);
    // A bad enum name.
    assert!(raid(r#"{"name":"r0","raid_level":"raid9","base_bdevs":["a"]}"#).is_err());
    // Case matters.
    assert!(raid(r#"{"name":"r0","raid_level":"RAID0","base_bdevs":["a"]}"#).is_err());
    // An unknown key.
    assert!(malloc(r#"{"block_size":512,"num_blocks":8,"nmae":"x"}"#).is_err());
    // A missing required field.
    assert!(malloc(r#"{"block_size":512}"#).is_err());
    // A number sent as a string.
    assert!(malloc(r#"{"block_size":"512","num_blocks":8}"#).is_err());
    // A key given twice.
    assert!(malloc(r#"{"block_size":512,"block_size":512,"num_blocks":8}"#).is_err());
    // A number too wide for the field.
    assert!(malloc(r#"{"block_size":4294967296,"num_blocks":8}"#).is_err());
    assert!(malloc(r#"{"block_size":512,"num_blocks":8}"#).is_ok());
}

#[test]
fn raid_level_aliases_read_as_the_level() {
    let params: BdevRaidCreateParams =
        serde_json::from_str(r#"{"name":"r0","raid_level":"0","base_bdevs":["a","b"]}"#).unwrap();
    assert_eq!(params.raid_level, BdevRaidLevel::Raid0);
    assert_eq!(params.base_bdevs, ["a", "b"]);
    let five: BdevRaidLevel = serde_json::from_str(r#""5f""#).unwrap();
    assert_eq!(five, BdevRaidLevel::Raid5f);
    // Written back, a level uses its first name.
    assert_eq!(serde_json::to_string(&five).unwrap(), r#""raid5f""#);
}

#[test]
fn a_bitmask_round_trips_as_an_array_of_names() {
    let mut params = NvmfSetConfigParams::new();
    params.dhchap_digests = Some(vec![DhchapDigest::Sha256, DhchapDigest::Sha512]);
    let json = serde_json::to_string(&params).unwrap();
    assert_eq!(json, r#"{"dhchap_digests":["sha256","sha512"]}"#);
    let back: NvmfSetConfigParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, params);
    assert!(serde_json::from_str::<NvmfSetConfigParams>(r#"{"dhchap_digests":["md5"]}"#).is_err());
}

#[test]
fn keyword_fields_keep_their_wire_names() {
    let params =
        AccelErrorInjectErrorParams::new(AccelErrorOpcode::Crc32c, AccelErrorInjectType::Corrupt);
    assert_eq!(
        serde_json::to_string(&params).unwrap(),
        r#"{"opcode":"crc32c","type":"corrupt"}"#
    );
}

#[test]
fn params_with_nothing_required_default_to_empty() {
    assert_eq!(
        serde_json::to_string(&NvmfSetConfigParams::default()).unwrap(),
        "{}"
    );
    assert_eq!(NvmfSetConfigParams::new(), NvmfSetConfigParams::default());
}
