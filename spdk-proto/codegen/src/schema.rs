//! The shape of `rpc-methods.json`, read with serde.
//!
//! Every struct refuses keys it does not know, so a schema that grows a new
//! attribute fails the generator loudly instead of being half understood.

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Where the schema was taken from.
    pub source: String,
    /// Named sets of wire strings.
    pub enums: Vec<EnumDef>,
    /// Named JSON objects used as param values.
    pub objects: Vec<ObjectDef>,
    /// Named JSON arrays used as param values.
    pub arrays: Vec<ArrayDef>,
    /// Named flag sets, sent as arrays of an enum's names.
    pub bitmasks: Vec<BitmaskDef>,
    /// The methods, in schema order.
    pub methods: Vec<MethodDef>,
}

/// An enum: the names SPDK accepts for one C value set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumDef {
    /// The enum's class name, as params refer to it.
    pub name: String,
    /// Its names, in schema order.
    pub fields: Vec<EnumField>,
}

/// One accepted name of an enum.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumField {
    /// The string on the wire.
    pub name: String,
    /// The C value it stands for; names sharing a value are aliases.
    pub value: EnumValue,
}

/// A C value: a number or a constant's name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum EnumValue {
    /// A literal number.
    Number(i64),
    /// A C constant.
    Constant(String),
}

/// An object: a JSON object with typed fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectDef {
    /// The object's class name.
    pub name: String,
    /// Its fields, in schema order.
    pub fields: Vec<FieldDef>,
}

/// A named array type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayDef {
    /// The array's class name.
    pub name: String,
    /// The type of each item.
    pub item_type: ParamType,
    /// The item's class, for object and enum items.
    #[serde(default)]
    pub class: Option<String>,
    /// How many items SPDK reads at most.
    pub max_count: u32,
}

/// A named bitmask type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitmaskDef {
    /// The bitmask's class name.
    pub name: String,
    /// The enum whose names are its flags.
    #[serde(rename = "enum")]
    pub enum_class: String,
    /// How SPDK applies the flags (`set` or `clear`).
    pub mode: String,
    /// The bit width in C.
    pub width: u32,
}

/// A method.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodDef {
    /// The wire name.
    pub name: String,
    /// Its params, in schema order.
    pub params: Vec<FieldDef>,
    /// Whether SPDK hides it from `rpc_get_methods`'s public list.
    #[serde(default)]
    pub private: bool,
}

/// A method's param or an object's field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// The key on the wire.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Whether SPDK refuses the call without it.
    #[serde(default)]
    pub required: bool,
    /// The enum, object, array or bitmask class, for those types.
    #[serde(default)]
    pub class: Option<String>,
    /// Whether SPDK deprecates it.
    #[serde(default)]
    pub deprecated: bool,
}

/// A schema type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A JSON string.
    String,
    /// An unsigned 8-bit number.
    Uint8,
    /// An unsigned 16-bit number.
    Uint16,
    /// An unsigned 32-bit number.
    Uint32,
    /// An unsigned 64-bit number.
    Uint64,
    /// A signed 32-bit number.
    Int32,
    /// `true` or `false`.
    Boolean,
    /// A UUID in its string form.
    Uuid,
    /// One of an enum's names.
    Enum,
    /// An object of a class.
    Object,
    /// An array of a class.
    Array,
    /// A bitmask of a class.
    Bitmask,
}

impl ParamType {
    /// The schema's spelling, for error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Uint8 => "uint8",
            ParamType::Uint16 => "uint16",
            ParamType::Uint32 => "uint32",
            ParamType::Uint64 => "uint64",
            ParamType::Int32 => "int32",
            ParamType::Boolean => "boolean",
            ParamType::Uuid => "uuid",
            ParamType::Enum => "enum",
            ParamType::Object => "object",
            ParamType::Array => "array",
            ParamType::Bitmask => "bitmask",
        }
    }
}
