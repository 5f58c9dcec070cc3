//! One function per generated file.

use crate::items::{emit_enum, emit_method, emit_struct, too_many_args, Code, StructDef};
use crate::names::{snake_ident, type_name};
use crate::resolve::Ctx;
use crate::schema::{FieldDef, MethodDef};
use crate::{Error, GENERATED_MARKER};

/// The comment and attribute that allow `clippy::too_many_arguments`.
const ALLOW_MANY_ARGS: &str = "\
// `new` takes every required field, and some SPDK methods have many.
#![allow(clippy::too_many_arguments)]";

/// The comment and attribute that allow `clippy::enum_variant_names`.
const ALLOW_VARIANT_NAMES: &str = "\
// Variants are SPDK's wire names in CamelCase: the wire, not Rust style,
// decides whether an enum's variants share a word.
#![allow(clippy::enum_variant_names)]";

/// The marker line, the module doc and the allowed lints a file starts
/// with.
fn header(code: &mut Code, doc: &str, allows: &[&str]) {
    code.line(GENERATED_MARKER);
    for line in doc.lines() {
        if line.is_empty() {
            code.line("//!");
        } else {
            code.line(format!("//! {line}"));
        }
    }
    for allow in allows {
        code.line("");
        code.line(allow);
    }
}

/// `types.rs`: every enum and object.
pub fn types_file(ctx: &Ctx) -> Result<String, Error> {
    let schema = ctx.schema;
    let mut code = Code::default();
    let mut allows = vec![ALLOW_VARIANT_NAMES];
    if schema.objects.iter().any(|o| too_many_args(&o.fields)) {
        allows.push(ALLOW_MANY_ARGS);
    }
    header(
        &mut code,
        "The enums and objects that SPDK methods' params share.",
        &allows,
    );
    code.line("");
    code.line("use serde::{Deserialize, Serialize};");
    for def in &schema.enums {
        code.line("");
        emit_enum(&mut code, def)?;
    }
    for def in &schema.objects {
        code.line("");
        let object = StructDef {
            name: type_name(&def.name)?,
            doc: format!("The `{}` object.", def.name),
            owner: &def.name,
            fields: &def.fields,
            types: "",
        };
        emit_struct(&mut code, ctx, &object)?;
    }
    Ok(code.finish())
}

/// `<family>.rs`: each method's type and params struct.
pub fn family_file(ctx: &Ctx, family: &str, methods: &[&MethodDef]) -> Result<String, Error> {
    let mut code = Code::default();
    let mut allows = Vec::new();
    if methods.iter().any(|m| too_many_args(&m.params)) {
        allows.push(ALLOW_MANY_ARGS);
    }
    let doc = format!("The `{family}_*` methods: a type for each and a struct for its params.");
    header(&mut code, &doc, &allows);
    code.line("");
    code.line("use jsonrpc_core::{ErrorObject, Method};");
    if methods.iter().any(|m| !m.params.is_empty()) {
        code.line("use serde::{Deserialize, Serialize};");
    }
    for method in methods {
        code.line("");
        emit_method(&mut code, method, family)?;
        if !method.params.is_empty() {
            let name = type_name(&method.name)?;
            let params = StructDef {
                name: format!("{name}Params"),
                doc: format!("The params of [`{name}`]."),
                owner: &method.name,
                fields: &method.params,
                types: "super::types::",
            };
            code.line("");
            emit_struct(&mut code, ctx, &params)?;
        }
    }
    Ok(code.finish())
}

/// `info.rs`: `METHODS`.
pub fn info_file(ctx: &Ctx) -> Result<String, Error> {
    let mut code = Code::default();
    header(
        &mut code,
        "Every method's name, privacy and params, as data.",
        &[],
    );
    code.line("");
    code.line("use crate::schema::{MethodInfo, ParamInfo, ParamKind};");
    code.line("");
    code.line("/// Every method in the schema, in the schema's order.");
    code.line("pub const METHODS: &[MethodInfo] = &[");
    for method in &ctx.schema.methods {
        code.line("    MethodInfo {");
        code.line(format!("        name: {:?},", method.name));
        code.line(format!("        private: {},", method.private));
        match method.params.as_slice() {
            [] => code.line("        params: &[],"),
            // rustfmt hugs a lone struct literal: `&[ParamInfo {` .. `}]`.
            [param] => emit_param_info(&mut code, ctx, method, param, "        ", true)?,
            params => {
                code.line("        params: &[");
                for param in params {
                    emit_param_info(&mut code, ctx, method, param, "            ", false)?;
                }
                code.line("        ],");
            }
        }
        code.line("    },");
    }
    code.line("];");
    Ok(code.finish())
}

/// One `ParamInfo { .. }` at `indent`; `alone` writes it as the only item
/// of `params: &[..]`.
fn emit_param_info(
    code: &mut Code,
    ctx: &Ctx,
    method: &MethodDef,
    param: &FieldDef,
    indent: &str,
    alone: bool,
) -> Result<(), Error> {
    let at = format!("{}.{}", method.name, param.name);
    let kind = ctx.param_kind(&at, param)?;
    if alone {
        code.line(format!("{indent}params: &[ParamInfo {{"));
    } else {
        code.line(format!("{indent}ParamInfo {{"));
    }
    code.line(format!("{indent}    name: {:?},", param.name));
    code.line(format!("{indent}    kind: {kind},"));
    code.line(format!("{indent}    required: {},", param.required));
    if alone {
        code.line(format!("{indent}}}],"));
    } else {
        code.line(format!("{indent}}},"));
    }
    Ok(())
}

/// `mod.rs`: declares the files and re-exports their items.
pub fn mod_file(ctx: &Ctx, families: &[&str]) -> Result<String, Error> {
    let mut code = Code::default();
    let doc = format!(
        "Every SPDK JSON-RPC method as a [`jsonrpc_core::Method`] type.\n\n\
         Generated by `cargo run -p spdk-codegen` from `spdk-proto/rpc-methods.json`:\n\
         {}.",
        ctx.schema.source
    );
    header(&mut code, &doc, &[]);
    let mut modules: Vec<String> = families
        .iter()
        .map(|f| snake_ident("module", f))
        .collect::<Result<_, _>>()?;
    modules.push("info".to_owned());
    modules.push("types".to_owned());
    modules.sort();
    code.line("");
    for module in &modules {
        code.line(format!("pub mod {module};"));
    }
    code.line("");
    for module in &modules {
        if module == "info" {
            code.line("pub use info::METHODS;");
        } else {
            code.line(format!("pub use {module}::*;"));
        }
    }
    Ok(code.finish())
}
