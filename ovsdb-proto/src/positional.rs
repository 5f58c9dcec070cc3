//! Structs that travel as JSON arrays: OVSDB (JSON-RPC 1.0) params are
//! always positional (`["db", monitor_id, requests]`), and so is the
//! `monitor_cond_since` result. One macro writes the struct and its serde
//! impls, so each params type is declared once with named fields.

/// Declares a struct whose fields are written and read as one JSON array,
/// in field order. `extra = ignore` accepts and drops trailing elements
/// (ovsdb-server does for `list_dbs` and `get_schema`); `extra = refuse`
/// fails on them.
macro_rules! positional {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
        extra = $extra:ident
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeTuple;
                let len = [$(stringify!($field)),*].len();
                let mut t = serializer.serialize_tuple(len)?;
                $( t.serialize_element(&self.$field)?; )*
                t.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ArrayVisitor;
                impl<'de> serde::de::Visitor<'de> for ArrayVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("the array [", $(stringify!($field), " ",)* "]"))
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<$name, A::Error> {
                        let mut read = 0usize;
                        $(
                            let $field: $ty = seq
                                .next_element()?
                                .ok_or_else(|| serde::de::Error::invalid_length(read, &self))?;
                            read += 1;
                        )*
                        $crate::positional::extra!($extra, seq, read, &self);
                        Ok($name { $($field),* })
                    }
                }
                deserializer.deserialize_seq(ArrayVisitor)
            }
        }
    };
}
pub(crate) use positional;

/// What to do with elements past the last field.
macro_rules! extra {
    (ignore, $seq:ident, $read:ident, $exp:expr) => {
        let _ = $read;
        while $seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
    };
    (refuse, $seq:ident, $read:ident, $exp:expr) => {
        $crate::atom::end_of($seq, $read, $exp)?;
    };
}
pub(crate) use extra;
