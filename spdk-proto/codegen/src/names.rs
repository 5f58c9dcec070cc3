//! Rust names for schema names.
//!
//! Types and variants are the schema name in CamelCase: split at every
//! character that is not a letter or digit, each piece capitalized and the
//! rest of it lowercased (`vfio-user` -> `VfioUser`, `SIMPLE_LBA` ->
//! `SimpleLba`). A variant whose CamelCase form starts with a digit gets the
//! prefix `V` (`5f` -> `V5f`), and so does one that would be `Self`
//! (`VSelf`). Fields and modules keep the schema name,
//! written `r#name` when it is a Rust keyword.

use crate::Error;

/// Words Rust reserves, which a field must write as `r#word`.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Words that cannot be identifiers even as `r#word`.
const FORBIDDEN: &[&str] = &["_", "crate", "self", "super", "Self"];

/// `some_name-here` -> `SomeNameHere`.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for piece in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = piece.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    out
}

/// The Rust type name for a method, enum or object class name.
pub fn type_name(name: &str) -> Result<String, Error> {
    let camel = camel_case(name);
    if camel.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Ok(camel)
    } else {
        Err(Error::BadName {
            what: "type",
            name: name.to_owned(),
        })
    }
}

/// The Rust variant name for an enum's wire name.
pub fn variant_name(name: &str) -> Result<String, Error> {
    let camel = camel_case(name);
    match camel.chars().next() {
        Some(c) if c.is_ascii_alphabetic() && camel != "Self" => Ok(camel),
        Some(_) => Ok(format!("V{camel}")),
        None => Err(Error::BadName {
            what: "enum variant",
            name: name.to_owned(),
        }),
    }
}

/// The Rust identifier for a field or module name: lower snake case as the
/// schema writes it, raw when it is a keyword.
pub fn snake_ident(what: &'static str, name: &str) -> Result<String, Error> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid || FORBIDDEN.contains(&name) {
        return Err(Error::BadName {
            what,
            name: name.to_owned(),
        });
    }
    if KEYWORDS.contains(&name) {
        Ok(format!("r#{name}"))
    } else {
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_rules() {
        assert_eq!(type_name("bdev_malloc_create").unwrap(), "BdevMallocCreate");
        assert_eq!(variant_name("vfio-user").unwrap(), "VfioUser");
        assert_eq!(variant_name("SIMPLE_LBA").unwrap(), "SimpleLba");
        assert_eq!(variant_name("ERROR").unwrap(), "Error");
        assert_eq!(variant_name("5f").unwrap(), "V5f");
        assert_eq!(variant_name("0").unwrap(), "V0");
        assert_eq!(variant_name("self").unwrap(), "VSelf");
        assert!(variant_name("-").is_err());
        assert_eq!(snake_ident("field", "type").unwrap(), "r#type");
        assert_eq!(snake_ident("field", "name").unwrap(), "name");
        assert!(snake_ident("field", "self").is_err());
        assert!(snake_ident("field", "Name").is_err());
        assert!(snake_ident("field", "9lives").is_err());
    }
}
