//! One emitter per kind of item: enums, structs (objects and params) and
//! method types. Each writes rustfmt-formatted text.

use std::collections::HashSet;

use crate::names::{snake_ident, type_name, variant_name};
use crate::resolve::Ctx;
use crate::schema::{EnumDef, EnumValue, FieldDef, MethodDef};
use crate::Error;

/// rustfmt's `max_width`.
const MAX_WIDTH: usize = 100;

/// rustfmt's `struct_lit_width`: a struct literal whose fields take more
/// than this goes one field a line.
const STRUCT_LIT_WIDTH: usize = 18;

/// clippy's `too_many_arguments` threshold: a `new` with more parameters
/// needs the lint allowed.
pub const MAX_ARGS: usize = 7;

/// Text being generated, a line at a time.
#[derive(Default)]
pub struct Code(String);

impl Code {
    /// Appends `line` and a newline (an empty `line` is a blank line).
    pub fn line(&mut self, line: impl AsRef<str>) {
        self.0.push_str(line.as_ref());
        self.0.push('\n');
    }

    /// Appends a doc comment, one `///` line per line of `text`, indented
    /// by `indent`.
    pub fn doc(&mut self, indent: &str, text: &str) {
        for line in text.lines() {
            if line.is_empty() {
                self.line(format!("{indent}///"));
            } else {
                self.line(format!("{indent}/// {line}"));
            }
        }
    }

    /// The text.
    pub fn finish(self) -> String {
        self.0
    }
}

/// One variant of a generated enum: the first wire name of a value and the
/// names that share it.
struct Variant<'a> {
    ident: String,
    name: &'a str,
    aliases: Vec<&'a str>,
}

/// Groups an enum's names by value, first name first.
fn variants(def: &EnumDef) -> Result<Vec<Variant<'_>>, Error> {
    let mut out: Vec<(&EnumValue, Variant)> = Vec::new();
    for field in &def.fields {
        if let Some((_, v)) = out.iter_mut().find(|(value, _)| **value == field.value) {
            v.aliases.push(&field.name);
            continue;
        }
        let variant = Variant {
            ident: variant_name(&field.name)?,
            name: &field.name,
            aliases: Vec::new(),
        };
        out.push((&field.value, variant));
    }
    let mut seen = HashSet::new();
    for (_, v) in &out {
        if !seen.insert(v.ident.as_str()) {
            return Err(Error::Collision(format!("{}::{}", def.name, v.ident)));
        }
    }
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// A schema enum as a Rust enum serialized as its wire names.
pub fn emit_enum(code: &mut Code, def: &EnumDef) -> Result<(), Error> {
    let name = type_name(&def.name)?;
    code.doc(
        "",
        &format!("The `{}` enum: the names SPDK accepts for it.", def.name),
    );
    code.line("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]");
    code.line(format!("pub enum {name} {{"));
    for v in variants(def)? {
        let mut doc = format!("`{:?}` on the wire", v.name);
        let mut attr = format!("rename = {:?}", v.name);
        for alias in &v.aliases {
            doc.push_str(&format!(", also read from `{alias:?}`"));
            attr.push_str(&format!(", alias = {alias:?}"));
        }
        code.doc("    ", &format!("{doc}."));
        code.line(format!("    #[serde({attr})]"));
        code.line(format!("    {},", v.ident));
    }
    code.line("}");
    Ok(())
}

/// A field of a generated struct.
struct Field {
    ident: String,
    rust: String,
    required: bool,
    doc: String,
}

/// Resolves the fields of a method or object; `owner` names it in errors.
fn fields(ctx: &Ctx, owner: &str, defs: &[FieldDef], types: &str) -> Result<Vec<Field>, Error> {
    defs.iter()
        .map(|def| {
            let at = format!("{owner}.{}", def.name);
            let ty = ctx.field_type(&at, def, types)?;
            let mut doc = format!(
                "`{}` ({}).",
                def.name,
                if def.required { "required" } else { "optional" }
            );
            if let Some(note) = ty.note {
                doc.push_str("\n\n");
                doc.push_str(&note);
            }
            if def.deprecated {
                doc.push_str("\n\nSPDK deprecates it.");
            }
            Ok(Field {
                ident: snake_ident("field", &def.name)?,
                rust: ty.rust,
                required: def.required,
                doc,
            })
        })
        .collect()
}

/// Whether a struct for these fields has a `new` with too many parameters
/// for clippy.
pub fn too_many_args(defs: &[FieldDef]) -> bool {
    defs.iter().filter(|f| f.required).count() > MAX_ARGS
}

/// What a params or object struct is made from.
pub struct StructDef<'a> {
    /// The Rust name.
    pub name: String,
    /// Its doc comment.
    pub doc: String,
    /// The schema name of the method or object, for errors.
    pub owner: &'a str,
    /// The schema fields.
    pub fields: &'a [FieldDef],
    /// What goes before a generated type's name: `super::types::` or
    /// nothing.
    pub types: &'a str,
}

/// A params or object struct with its `new`.
pub fn emit_struct(code: &mut Code, ctx: &Ctx, def: &StructDef) -> Result<(), Error> {
    let name = &def.name;
    let fields = fields(ctx, def.owner, def.fields, def.types)?;
    let any_required = fields.iter().any(|f| f.required);
    code.doc("", &def.doc);
    if any_required {
        code.line("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]");
    } else {
        code.line("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]");
    }
    code.line("#[serde(deny_unknown_fields)]");
    if fields.is_empty() {
        code.line(format!("pub struct {name} {{}}"));
    } else {
        code.line(format!("pub struct {name} {{"));
        for f in &fields {
            code.doc("    ", &f.doc);
            if f.required {
                code.line(format!("    pub {}: {},", f.ident, f.rust));
            } else {
                code.line("    #[serde(default, skip_serializing_if = \"Option::is_none\")]");
                code.line(format!("    pub {}: Option<{}>,", f.ident, f.rust));
            }
        }
        code.line("}");
    }
    code.line("");
    emit_new(code, name, &fields);
    Ok(())
}

/// `impl Name { pub fn new(required...) -> Self }`.
fn emit_new(code: &mut Code, name: &str, fields: &[Field]) {
    let args: Vec<String> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| format!("{}: {}", f.ident, f.rust))
        .collect();
    code.line(format!("impl {name} {{"));
    if args.is_empty() {
        code.doc("    ", "Every field `None`.");
    } else {
        code.doc(
            "    ",
            "The required fields as given, every optional one `None`.",
        );
    }
    let one_line = format!("    pub fn new({}) -> Self {{", args.join(", "));
    if one_line.len() <= MAX_WIDTH {
        code.line(one_line);
    } else {
        code.line("    pub fn new(");
        for arg in &args {
            code.line(format!("        {arg},"));
        }
        code.line("    ) -> Self {");
    }
    if args.is_empty() {
        code.line("        Self::default()");
    } else {
        emit_literal(code, fields);
    }
    code.line("    }");
    code.line("}");
}

/// The `Self { ... }` body of `new`.
fn emit_literal(code: &mut Code, fields: &[Field]) {
    let inits: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.required {
                f.ident.clone()
            } else {
                format!("{}: None", f.ident)
            }
        })
        .collect();
    let body = inits.join(", ");
    if body.len() <= STRUCT_LIT_WIDTH {
        code.line(format!("        Self {{ {body} }}"));
    } else {
        code.line("        Self {");
        for init in &inits {
            code.line(format!("            {init},"));
        }
        code.line("        }");
    }
}

/// A method's unit type and its `Method` impl (its params struct, if any,
/// comes from [`emit_struct`]).
pub fn emit_method(code: &mut Code, method: &MethodDef, family: &str) -> Result<(), Error> {
    let name = type_name(&method.name)?;
    let params = if method.params.is_empty() {
        "()".to_owned()
    } else {
        format!("{name}Params")
    };
    let mut doc = format!("`{}`: a method of the `{family}` family.", method.name);
    if method.private {
        doc.push_str("\n\nSPDK's schema marks it private.");
    }
    code.doc("", &doc);
    code.line("#[derive(Debug, Clone, Copy, Default)]");
    code.line(format!("pub struct {name};"));
    code.line("");
    code.line(format!("impl Method for {name} {{"));
    code.line(format!("    const NAME: &'static str = {:?};", method.name));
    code.line(format!("    type Params = {params};"));
    code.line(format!(
        "    type Result = {};",
        crate::result_type(&method.name)
    ));
    code.line("    type Error = ErrorObject;");
    code.line("}");
    Ok(())
}
