//! `spdk_get_version`, `framework_get_subsystems`, `framework_get_config`.

use serde::{Deserialize, Serialize};

/// The result of `spdk_get_version`.
///
/// ```
/// let v: spdk_proto::results::Version = serde_json::from_str(
///     r#"{"version":"SPDK v26.09-pre","fields":{"major":26,"minor":9,"patch":0,"suffix":"-pre"}}"#,
/// ).unwrap();
/// assert_eq!((v.fields.major, v.fields.minor), (26, 9));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The whole version string (`"SPDK v26.09-pre"`).
    pub version: String,
    /// Its parts.
    pub fields: VersionFields,
}

impl Version {
    /// The version a target of `major.minor[.patch]` with `suffix` reports,
    /// its string written as SPDK writes it (`"SPDK v26.09-pre"`,
    /// `"SPDK v24.01.1"`).
    ///
    /// ```
    /// use spdk_proto::results::Version;
    /// assert_eq!(Version::new(26, 9, 0, "-pre").version, "SPDK v26.09-pre");
    /// assert_eq!(Version::new(24, 1, 1, "").version, "SPDK v24.01.1");
    /// ```
    pub fn new(major: u32, minor: u32, patch: u32, suffix: &str) -> Self {
        let patch_part = if patch == 0 {
            String::new()
        } else {
            format!(".{patch}")
        };
        Version {
            version: format!("SPDK v{major}.{minor:02}{patch_part}{suffix}"),
            fields: VersionFields {
                major,
                minor,
                patch,
                suffix: suffix.to_owned(),
                commit: None,
            },
        }
    }
}

/// The parts of an SPDK version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionFields {
    /// Year of the release (`26`).
    pub major: u32,
    /// Month of the release (`9`).
    pub minor: u32,
    /// Patch level.
    pub patch: u32,
    /// A suffix such as `"-pre"`, or empty.
    #[serde(default)]
    pub suffix: String,
    /// The git commit, when the target was built from a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// One entry of `framework_get_subsystems`: a subsystem and the ones it
/// needs initialized first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subsystem {
    /// The subsystem's name (`"bdev"`, `"nvmf"`, ...).
    pub subsystem: String,
    /// The subsystems it depends on.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// One method call of a subsystem's configuration, as `framework_get_config`
/// returns them and SPDK's JSON config files hold them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// The method to call.
    pub method: String,
    /// Its params, if it takes any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
}

/// One element of a subsystem's configuration: a call, or calls the target
/// groups into a batch.
///
/// `framework_get_config` with `with_batches` keeps SPDK's batches (the
/// malloc and null bdevs, the NVMe controllers to attach, the NVMe-oF
/// subsystems, namespaces, hosts and listeners) as arrays, which
/// `load_config` sends as JSON-RPC batches; without it every element is a
/// call.
///
/// ```
/// use spdk_proto::results::ConfigItem;
/// let items: Vec<ConfigItem> = serde_json::from_str(
///     r#"[{"method": "a"}, [{"method": "b"}, {"method": "c"}], []]"#,
/// ).unwrap();
/// let methods: Vec<&str> = items.iter().flat_map(ConfigItem::calls).map(|c| c.method.as_str()).collect();
/// assert_eq!(methods, ["a", "b", "c"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ConfigItem {
    /// One call.
    Call(ConfigEntry),
    /// Calls sent together as one batch (possibly none).
    Batch(Vec<ConfigEntry>),
}

impl ConfigItem {
    /// The calls it holds, in order.
    pub fn calls(&self) -> &[ConfigEntry] {
        match self {
            ConfigItem::Call(call) => std::slice::from_ref(call),
            ConfigItem::Batch(calls) => calls,
        }
    }
}

/// An array is a batch, an object a call: read by the JSON's own shape, so
/// that an entry that is wrong says what is wrong with it (an untagged enum
/// would only say that nothing matched).
impl<'de> Deserialize<'de> for ConfigItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Item;
        impl<'de> serde::de::Visitor<'de> for Item {
            type Value = ConfigItem;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a config entry ({\"method\": ...}) or a batch of them ([...])")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ConfigItem, A::Error> {
                let entry =
                    ConfigEntry::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ConfigItem::Call(entry))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ConfigItem, A::Error> {
                let mut calls = Vec::new();
                while let Some(call) = seq.next_element::<ConfigEntry>()? {
                    calls.push(call);
                }
                Ok(ConfigItem::Batch(calls))
            }
        }
        deserializer.deserialize_any(Item)
    }
}

impl From<ConfigEntry> for ConfigItem {
    fn from(call: ConfigEntry) -> Self {
        ConfigItem::Call(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_item_is_read_by_its_shape_and_a_bad_one_says_why() {
        let items: Vec<ConfigItem> =
            serde_json::from_str(r#"[{"method": "a", "params": {"x": 1}}, [{"method": "b"}], []]"#)
                .unwrap();
        assert!(matches!(&items[0], ConfigItem::Call(c) if c.method == "a"));
        assert!(matches!(&items[1], ConfigItem::Batch(b) if b.len() == 1));
        assert!(matches!(&items[2], ConfigItem::Batch(b) if b.is_empty()));
        // An entry written as a list is not a call, and not silently a batch.
        let e = serde_json::from_str::<ConfigItem>(r#"["bdev_malloc_create", {}]"#).unwrap_err();
        assert!(e.to_string().contains("expected struct ConfigEntry"), "{e}");
        // A call missing its method names the field.
        let e = serde_json::from_str::<ConfigItem>(r#"{"params": {}}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `method`"), "{e}");
        let e = serde_json::from_str::<ConfigItem>("7").unwrap_err();
        assert!(e.to_string().contains("a config entry"), "{e}");
    }
}
