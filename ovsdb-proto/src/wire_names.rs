//! Enums whose variants are fixed strings on the wire (condition functions,
//! mutators, ...): one macro writes their names, serde impls and `ALL`, so
//! the name table exists once.

macro_rules! wire_names {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every one, in the order the RFC lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                match &*s {
                    $($text => Ok($name::$variant),)*
                    other => Err(serde::de::Error::invalid_value(
                        serde::de::Unexpected::Str(other),
                        &$what,
                    )),
                }
            }
        }
    };
}
pub(crate) use wire_names;
