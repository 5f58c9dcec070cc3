//! `bdev_raid_get_bdevs`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// A RAID bdev, as `bdev_raid_get_bdevs` lists it.
///
/// SPDK writes the key `"uuid"` twice in each of these objects, which a
/// derived `Deserialize` refuses as a duplicate field; this type takes the
/// last value, as JSON readers that keep the last duplicate do.
///
/// ```
/// use spdk_proto::results::RaidBdev;
/// let raid: RaidBdev = serde_json::from_str(r#"{
///     "name": "Raid0", "uuid": "a8c2c5f2-6a4c-4bd6-8a43-5b0d3bf2f4f1",
///     "strip_size_kb": 64, "state": "online", "raid_level": "raid0",
///     "uuid": "a8c2c5f2-6a4c-4bd6-8a43-5b0d3bf2f4f1",
///     "num_base_bdevs": 1, "num_base_bdevs_discovered": 1,
///     "base_bdevs_list": [{"name": "Malloc0", "uuid": "00000000-0000-0000-0000-000000000000", "is_configured": true}]
/// }"#).unwrap();
/// assert_eq!(raid.base_bdevs_list[0].name.as_deref(), Some("Malloc0"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct RaidBdev {
    /// The raid's name.
    pub name: String,
    /// Its UUID (nil while it is still configuring).
    pub uuid: Uuid,
    /// The strip size in KiB (0 for raid1).
    #[serde(default)]
    pub strip_size_kb: u32,
    /// `"online"`, `"configuring"` or `"offline"`.
    pub state: String,
    /// `"raid0"`, `"raid1"`, `"concat"`, ...
    pub raid_level: String,
    /// Whether it keeps a superblock on its members.
    #[serde(default)]
    pub superblock: bool,
    /// How many members it has.
    pub num_base_bdevs: u32,
    /// How many of them are present.
    pub num_base_bdevs_discovered: u32,
    /// How many of them work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_base_bdevs_operational: Option<u32>,
    /// The members, in order; an empty slot has no name.
    #[serde(default)]
    pub base_bdevs_list: Vec<RaidBaseBdev>,
}

impl<'de> Deserialize<'de> for RaidBdev {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A JSON object read as a map keeps the last of duplicate keys; the
        // derived reading then sees each key once.
        let fields = serde_json::Map::deserialize(deserializer)?;
        RaidBdev::deserialize(serde_json::Value::Object(fields)).map_err(D::Error::custom)
    }
}

impl Serialize for RaidBdev {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RaidBdev::serialize(self, serializer)
    }
}

/// A member slot of a RAID bdev.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaidBaseBdev {
    /// The member's name; `None` for a slot whose member was removed.
    pub name: Option<String>,
    /// The member's UUID (nil for an empty slot).
    pub uuid: Uuid,
    /// Whether the member is in place and in use.
    #[serde(default)]
    pub is_configured: bool,
    /// Where the raid's data starts on it, in blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_offset: Option<u64>,
    /// How much of it the raid uses, in blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_size: Option<u64>,
}
