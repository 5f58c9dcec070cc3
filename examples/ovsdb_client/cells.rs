//! A datum as ovsdb-client prints it in a table cell.

use ovsdb_proto::atom::{Atom, AtomicType, Uuid};
use ovsdb_proto::datum::{Datum, Map, Set};
use ovsdb_proto::schema::{BaseType, ColumnType, Max};

use super::json::write_json_string;

/// A datum as its column's type has it: a real column's whole numbers,
/// which JSON writes like integers, made reals again (so they sort among
/// the other reals).
pub(crate) fn normalize(datum: &Datum, ct: &ColumnType) -> Datum {
    let key = ct.key.atomic_type();
    match datum {
        Datum::Set(set) => Datum::Set(set.iter().map(|a| coerce(a, key)).collect::<Set>()),
        Datum::Map(map) => {
            let value = ct.value.as_ref().map_or(key, BaseType::atomic_type);
            Datum::Map(
                map.iter()
                    .map(|(k, v)| (coerce(k, key), coerce(v, value)))
                    .collect::<Map>(),
            )
        }
    }
}

pub(crate) fn coerce(atom: &Atom, to: AtomicType) -> Atom {
    match (atom, to) {
        #[allow(clippy::cast_precision_loss)]
        (Atom::Integer(i), AtomicType::Real) => Atom::Real(*i as f64),
        _ => atom.clone(),
    }
}

/// A datum as `ovsdb-client` prints it in a table: `[a, b]` for a set
/// that may hold more than one atom (or holds none), `{k=v}` for a map,
/// the bare atom otherwise.
pub(crate) fn datum_to_cell(datum: &Datum, ct: &ColumnType) -> String {
    let is_map = ct.is_map();
    let bracket = ct.max != Max::Limited(1) || datum.is_empty();
    let mut s = String::new();
    if bracket {
        s.push(if is_map { '{' } else { '[' });
    }
    let items: Vec<String> = match datum {
        Datum::Set(set) => set.iter().map(atom_to_cell).collect(),
        Datum::Map(map) => map
            .iter()
            .map(|(k, v)| format!("{}={}", atom_to_cell(k), atom_to_cell(v)))
            .collect(),
    };
    s.push_str(&items.join(", "));
    if bracket {
        s.push(if is_map { '}' } else { ']' });
    }
    s
}

/// An atom as OVSDB writes it for people: strings bare unless they would
/// read back as something else, reals as `%.15g`.
pub(crate) fn atom_to_cell(atom: &Atom) -> String {
    match atom {
        Atom::Integer(i) => i.to_string(),
        Atom::Real(r) => format_real(*r),
        Atom::Boolean(b) => b.to_string(),
        Atom::String(s) if string_needs_quotes(s) => {
            let mut out = String::new();
            write_json_string(s, &mut out);
            out
        }
        Atom::String(s) => s.clone(),
        Atom::Uuid(u) => u.to_string(),
        Atom::NamedUuid(n) => n.clone(),
    }
}

pub(crate) fn string_needs_quotes(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
        _ => return true,
    }
    if !bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')) {
        return true;
    }
    s == "true" || s == "false" || Uuid::try_parse(s).is_ok()
}

/// C's `%.15g`, as OVSDB writes reals.
pub(crate) fn format_real(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    const PRECISION: i32 = 15;
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, x);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = usize::try_from(PRECISION - 1 - exponent).unwrap_or(0);
        trim_fraction(&format!("{x:.decimals$}")).to_owned()
    }
}

/// Drops trailing zeros after a decimal point, and the point if nothing
/// follows it.
pub(crate) fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

// ---------------------------------------------------------------------
// OVS's JSON writer
