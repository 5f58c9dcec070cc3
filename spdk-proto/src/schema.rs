//! What [`METHODS`](crate::methods::METHODS) says about each method: the
//! shape of SPDK's method schema, as data a server can check calls against
//! or list (`rpc_get_methods`).

/// One SPDK method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    /// The name on the wire.
    pub name: &'static str,
    /// Whether SPDK's schema marks the method private.
    pub private: bool,
    /// Its params, in the schema's order.
    pub params: &'static [ParamInfo],
}

impl MethodInfo {
    /// The param called `name`, if the method has one.
    pub fn param(&self, name: &str) -> Option<&'static ParamInfo> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The params a call must give.
    pub fn required_params(&self) -> impl Iterator<Item = &'static ParamInfo> {
        self.params.iter().filter(|p| p.required)
    }
}

/// One param of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    /// The key on the wire.
    pub name: &'static str,
    /// The type of its value.
    pub kind: ParamKind,
    /// Whether SPDK refuses a call without it.
    pub required: bool,
}

/// A param's type, as the schema names it. The classed kinds carry the
/// schema's class name (`ParamKind::Enum("bdev_raid_level")`), whose Rust
/// type in [`methods::types`](crate::methods::types) is that name in
/// CamelCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
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
    /// A UUID as a string.
    Uuid,
    /// One of the names of the enum class.
    Enum(&'static str),
    /// An object of the class.
    Object(&'static str),
    /// An array of the class (its item type and most items are in the
    /// schema's `arrays`).
    Array(&'static str),
    /// An array of the flag names of the bitmask class.
    Bitmask(&'static str),
}

/// The method called `name`, if SPDK's schema has it.
pub fn method(name: &str) -> Option<&'static MethodInfo> {
    crate::methods::METHODS.iter().find(|m| m.name == name)
}
