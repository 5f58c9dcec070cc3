//! The schema with its classes looked up: Rust types and kinds for params.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::names::{snake_ident, type_name};
use crate::schema::{
    ArrayDef, BitmaskDef, EnumDef, FieldDef, MethodDef, ObjectDef, ParamType, Schema,
};
use crate::Error;

/// Files the generator writes besides the families, which no family may
/// take.
const RESERVED_FILES: &[&str] = &["mod", "types", "info"];

/// Names the generated files use already: `METHODS`, the imports, and the
/// prelude types that fields name.
const TAKEN_NAMES: &[&str] = &[
    "METHODS",
    "Method",
    "ErrorObject",
    "Serialize",
    "Deserialize",
    "String",
    "Vec",
    "Option",
    "Default",
    "Self",
];

/// How deep arrays of arrays may nest before the schema counts as broken.
const MAX_DEPTH: usize = 8;

/// The schema and its classes by name.
pub struct Ctx<'a> {
    /// The schema.
    pub schema: &'a Schema,
    enums: HashMap<&'a str, &'a EnumDef>,
    objects: HashMap<&'a str, &'a ObjectDef>,
    arrays: HashMap<&'a str, &'a ArrayDef>,
    bitmasks: HashMap<&'a str, &'a BitmaskDef>,
}

/// A Rust type for a field, with what its doc should add.
pub struct FieldType {
    /// The Rust type, without `Option`.
    pub rust: String,
    /// A note for the field's doc (an array's limit, a bitmask's form).
    pub note: Option<String>,
}

impl<'a> Ctx<'a> {
    /// Indexes the classes and checks that no two items share a Rust name.
    pub fn new(schema: &'a Schema) -> Result<Self, Error> {
        let ctx = Ctx {
            schema,
            enums: schema.enums.iter().map(|e| (e.name.as_str(), e)).collect(),
            objects: schema
                .objects
                .iter()
                .map(|o| (o.name.as_str(), o))
                .collect(),
            arrays: schema.arrays.iter().map(|a| (a.name.as_str(), a)).collect(),
            bitmasks: schema
                .bitmasks
                .iter()
                .map(|b| (b.name.as_str(), b))
                .collect(),
        };
        ctx.check_names()?;
        Ok(ctx)
    }

    /// Refuses a schema in which two generated items (all re-exported from
    /// one module) or two files would get the same name.
    fn check_names(&self) -> Result<(), Error> {
        let mut seen = HashSet::new();
        let mut claim = |name: String| {
            if seen.insert(name.clone()) {
                Ok(())
            } else {
                Err(Error::Collision(name))
            }
        };
        for name in TAKEN_NAMES {
            claim((*name).to_owned())?;
        }
        for e in &self.schema.enums {
            claim(type_name(&e.name)?)?;
        }
        for o in &self.schema.objects {
            claim(type_name(&o.name)?)?;
        }
        for m in &self.schema.methods {
            let name = type_name(&m.name)?;
            claim(format!("{name}Params"))?;
            claim(name)?;
        }
        for family in self.families().keys() {
            if RESERVED_FILES.contains(family) {
                return Err(Error::Collision(format!("{family}.rs")));
            }
            snake_ident("module", family)?;
        }
        Ok(())
    }

    /// The methods grouped by family (the name's first word), families
    /// sorted, methods in schema order.
    pub fn families(&self) -> BTreeMap<&'a str, Vec<&'a MethodDef>> {
        let mut families: BTreeMap<&str, Vec<&MethodDef>> = BTreeMap::new();
        for m in &self.schema.methods {
            families.entry(family_of(&m.name)).or_default().push(m);
        }
        families
    }

    /// The enum a bitmask's flags come from.
    fn bitmask(
        &self,
        at: &str,
        class: Option<&str>,
    ) -> Result<(&'a BitmaskDef, &'a EnumDef), Error> {
        let bitmask = lookup(&self.bitmasks, at, ParamType::Bitmask, class)?;
        let flags = lookup(&self.enums, at, ParamType::Enum, Some(&bitmask.enum_class))?;
        Ok((bitmask, flags))
    }

    /// The Rust type of a field at `at` (`method.param`), naming generated
    /// types with `types` before them (`super::types::` or nothing).
    pub fn field_type(&self, at: &str, field: &FieldDef, types: &str) -> Result<FieldType, Error> {
        let class = field.class.as_deref();
        let note = match field.ty {
            ParamType::Array => {
                let array = lookup(&self.arrays, at, ParamType::Array, class)?;
                Some(format!("At most {} items.", array.max_count))
            }
            ParamType::Bitmask => {
                let (bitmask, _) = self.bitmask(at, class)?;
                Some(format!(
                    "An array of flag names: SPDK's `{}` bitmask ({}, {} bits).",
                    bitmask.name, bitmask.mode, bitmask.width
                ))
            }
            _ => None,
        };
        let rust = self.rust_type(at, field.ty, class, types, 0)?;
        Ok(FieldType { rust, note })
    }

    /// The Rust type of a value of schema type `ty` with class `class`.
    fn rust_type(
        &self,
        at: &str,
        ty: ParamType,
        class: Option<&str>,
        types: &str,
        depth: usize,
    ) -> Result<String, Error> {
        let named = |name: &str| Ok(format!("{types}{}", type_name(name)?));
        match ty {
            ParamType::String => Ok("String".to_owned()),
            ParamType::Uint8 => Ok("u8".to_owned()),
            ParamType::Uint16 => Ok("u16".to_owned()),
            ParamType::Uint32 => Ok("u32".to_owned()),
            ParamType::Uint64 => Ok("u64".to_owned()),
            ParamType::Int32 => Ok("i32".to_owned()),
            ParamType::Boolean => Ok("bool".to_owned()),
            ParamType::Uuid => Ok("uuid::Uuid".to_owned()),
            ParamType::Enum => named(&lookup(&self.enums, at, ty, class)?.name),
            ParamType::Object => named(&lookup(&self.objects, at, ty, class)?.name),
            ParamType::Array => {
                let array = lookup(&self.arrays, at, ty, class)?;
                if depth >= MAX_DEPTH {
                    return Err(bad_class(at, ty, class));
                }
                let item = self.rust_type(
                    at,
                    array.item_type,
                    array.class.as_deref(),
                    types,
                    depth + 1,
                )?;
                Ok(format!("Vec<{item}>"))
            }
            ParamType::Bitmask => {
                let (_, flags) = self.bitmask(at, class)?;
                Ok(format!("Vec<{}>", named(&flags.name)?))
            }
        }
    }

    /// The `ParamKind` expression for a field in `info.rs`.
    pub fn param_kind(&self, at: &str, field: &FieldDef) -> Result<String, Error> {
        let class = field.class.as_deref();
        let with_class = |variant: &str| match class {
            Some(class) => Ok(format!("ParamKind::{variant}({class:?})")),
            None => Err(bad_class(at, field.ty, class)),
        };
        match field.ty {
            ParamType::String => Ok("ParamKind::String".to_owned()),
            ParamType::Uint8 => Ok("ParamKind::Uint8".to_owned()),
            ParamType::Uint16 => Ok("ParamKind::Uint16".to_owned()),
            ParamType::Uint32 => Ok("ParamKind::Uint32".to_owned()),
            ParamType::Uint64 => Ok("ParamKind::Uint64".to_owned()),
            ParamType::Int32 => Ok("ParamKind::Int32".to_owned()),
            ParamType::Boolean => Ok("ParamKind::Boolean".to_owned()),
            ParamType::Uuid => Ok("ParamKind::Uuid".to_owned()),
            ParamType::Enum => with_class("Enum"),
            ParamType::Object => with_class("Object"),
            ParamType::Array => with_class("Array"),
            ParamType::Bitmask => with_class("Bitmask"),
        }
    }
}

/// A method's family: its name up to the first `_`.
pub fn family_of(method: &str) -> &str {
    method.split('_').next().unwrap_or(method)
}

/// The class `class` of type `ty` from `table`, or the error for `at`.
fn lookup<'a, T>(
    table: &HashMap<&str, &'a T>,
    at: &str,
    ty: ParamType,
    class: Option<&str>,
) -> Result<&'a T, Error> {
    class
        .and_then(|c| table.get(c).copied())
        .ok_or_else(|| bad_class(at, ty, class))
}

/// The error for a missing or unknown class.
fn bad_class(at: &str, ty: ParamType, class: Option<&str>) -> Error {
    Error::BadClass {
        at: at.to_owned(),
        ty: ty.as_str(),
        class: class.map(str::to_owned),
    }
}
