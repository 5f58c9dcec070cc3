//! RAID bdevs (raid0, raid1, concat): a raid waits, `configuring`, until
//! every member is present, then registers its bdev.

use jsonrpc_core::{ErrorObject, RawJson};
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;
use spdk_proto::Errno;
use uuid::Uuid;

use crate::register::{Registrar, PARSE_FAILED};
use crate::state::{Bdev, Kind, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaidState {
    Online,
    Configuring,
    Offline,
}

#[derive(Debug, Clone)]
pub struct Slot {
    /// `None` once its member was removed.
    pub name: Option<String>,
    pub uuid: Uuid,
    pub configured: bool,
    pub blocks: u64,
}

#[derive(Debug, Clone)]
pub struct Raid {
    pub name: String,
    pub level: BdevRaidLevel,
    pub strip_kb: u32,
    pub uuid: Uuid,
    pub superblock: bool,
    pub slots: Vec<Slot>,
    pub state: RaidState,
}

/// `bdev_raid_set_options`: the window and bandwidth of rebuilds.
#[derive(Debug, Clone, Copy)]
pub struct RaidOptions {
    pub process_window_size_kb: u32,
    pub process_max_bandwidth_mb_sec: u32,
}

impl Default for RaidOptions {
    fn default() -> Self {
        RaidOptions {
            process_window_size_kb: 1024,
            process_max_bandwidth_mb_sec: 0,
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add_as::<BdevRaidSetOptions, _>(When::Always, PARSE_FAILED, set_options);
    // An unknown level or category is a -32700 decode failure in SPDK's
    // raid module.
    r.add_as::<BdevRaidCreate, bool>(When::Runtime, PARSE_FAILED, create);
    r.add_as::<BdevRaidDelete, bool>(When::Runtime, PARSE_FAILED, delete);
    r.add_as::<BdevRaidGetBdevs, RawJson>(When::Runtime, PARSE_FAILED, get_bdevs);
}

fn set_options(
    s: &mut State,
    p: BdevRaidSetOptionsParams,
) -> Result<serde_json::Value, ErrorObject> {
    let mut o = s.raid_options;
    o.process_window_size_kb = p.process_window_size_kb.unwrap_or(o.process_window_size_kb);
    o.process_max_bandwidth_mb_sec = p
        .process_max_bandwidth_mb_sec
        .unwrap_or(o.process_max_bandwidth_mb_sec);
    if o.process_window_size_kb == 0 {
        return Err(Errno::EINVAL.to_error());
    }
    s.raid_options = o;
    Ok(json!(true))
}

/// The raid module's own entry in the bdev subsystem's config.
pub fn options_config(s: &State) -> Value {
    json!({"method": "bdev_raid_set_options", "params": {
        "process_window_size_kb": s.raid_options.process_window_size_kb,
        "process_max_bandwidth_mb_sec": s.raid_options.process_max_bandwidth_mb_sec}})
}

fn failed(name: &str, e: Errno) -> ErrorObject {
    ErrorObject::new(
        e.code(),
        format!(
            "Failed to create RAID bdev {name}: {}",
            e.text().unwrap_or("Unknown error")
        ),
    )
}

fn level_name(level: BdevRaidLevel) -> &'static str {
    match level {
        BdevRaidLevel::Raid0 => "raid0",
        BdevRaidLevel::Raid1 => "raid1",
        BdevRaidLevel::Raid5f => "raid5f",
        BdevRaidLevel::Concat => "concat",
    }
}

/// The longest raid name SPDK's superblock holds, and the most members.
const MAX_NAME: usize = 63;
const MAX_MEMBERS: usize = 255;

fn check(s: &State, p: &BdevRaidCreateParams) -> Result<(), Errno> {
    if p.name.len() > MAX_NAME {
        return Err(Errno::EINVAL);
    }
    if s.raids.iter().any(|r| r.name == p.name) || s.bdev(&p.name).is_some() {
        return Err(Errno::EEXIST);
    }
    let strip = p.strip_size_kb.unwrap_or(0);
    let bad = match p.raid_level {
        BdevRaidLevel::Raid1 => strip != 0 || p.base_bdevs.len() < 2,
        // The mock has no raid5f.
        BdevRaidLevel::Raid5f => true,
        BdevRaidLevel::Raid0 | BdevRaidLevel::Concat => strip == 0 || !strip.is_power_of_two(),
    };
    if bad || p.base_bdevs.is_empty() || p.base_bdevs.len() > MAX_MEMBERS {
        return Err(Errno::EINVAL);
    }
    for (i, name) in p.base_bdevs.iter().enumerate() {
        let twice = p.base_bdevs[..i].contains(name);
        let in_raid = s
            .raids
            .iter()
            .any(|r| r.slots.iter().any(|sl| sl.name.as_deref() == Some(name)));
        let claimed = s.bdev(name).is_some_and(|b| b.claim.is_some());
        if twice || in_raid || claimed {
            return Err(Errno::EPERM);
        }
    }
    Ok(())
}

fn create(s: &mut State, p: BdevRaidCreateParams) -> Result<bool, ErrorObject> {
    check(s, &p).map_err(|e| failed(&p.name, e))?;
    let uuid = p.uuid.unwrap_or_else(|| s.new_uuid());
    s.raids.push(Raid {
        name: p.name.clone(),
        level: p.raid_level,
        strip_kb: p.strip_size_kb.unwrap_or(0),
        uuid,
        superblock: p.superblock.unwrap_or(false),
        slots: p
            .base_bdevs
            .iter()
            .map(|n| Slot {
                name: Some(n.clone()),
                uuid: Uuid::nil(),
                configured: false,
                blocks: 0,
            })
            .collect(),
        state: RaidState::Configuring,
    });
    for name in &p.base_bdevs {
        if s.bdev(name).is_some() {
            base_appeared(s, name);
        }
    }
    Ok(true)
}

/// Takes a member that appeared, and brings its raid online once complete.
pub fn base_appeared(s: &mut State, name: &str) {
    let Some(r) = s.raids.iter().position(|r| {
        r.state == RaidState::Configuring
            && r.slots
                .iter()
                .any(|sl| !sl.configured && sl.name.as_deref() == Some(name))
    }) else {
        return;
    };
    if s.claim(name, "exclusive_write").is_err() {
        return;
    }
    let Some(b) = s.bdev(name) else { return };
    let (uuid, blocks) = (b.uuid, b.num_blocks);
    let raid = &mut s.raids[r];
    for sl in raid.slots.iter_mut() {
        if sl.name.as_deref() == Some(name) {
            sl.configured = true;
            sl.uuid = uuid;
            sl.blocks = blocks;
        }
    }
    if raid.slots.iter().all(|sl| sl.configured) {
        raid.state = RaidState::Online;
        let first = raid.slots.first().and_then(|sl| sl.name.clone());
        let block_size = first.and_then(|n| s.bdev(&n)).map_or(512, |b| b.block_size);
        let raid = &s.raids[r];
        let blocks = size(raid, block_size);
        let bdev = Bdev::new(raid.name.clone(), block_size, blocks, raid.uuid, Kind::Raid);
        let _ = s.register(bdev);
    }
}

fn size(raid: &Raid, block_size: u32) -> u64 {
    let strip = u64::from(raid.strip_kb) * 1024 / u64::from(block_size.max(1));
    let min = raid.slots.iter().map(|sl| sl.blocks).min().unwrap_or(0);
    let n = raid.slots.len() as u64;
    // Sizes come from the peer: saturate rather than overflow.
    match raid.level {
        BdevRaidLevel::Raid1 => min,
        BdevRaidLevel::Concat => raid
            .slots
            .iter()
            .map(|sl| sl.blocks - sl.blocks % strip.max(1))
            .fold(0, u64::saturating_add),
        _ => (min - min % strip.max(1)).saturating_mul(n),
    }
}

/// A member that went away: raid1 goes on degraded with an empty slot;
/// the others go offline.
pub fn base_removed(s: &mut State, bdev: &Bdev) {
    let mut offline = Vec::new();
    for raid in s.raids.iter_mut() {
        let Some(sl) = raid
            .slots
            .iter_mut()
            .find(|sl| sl.name.as_deref() == Some(bdev.name.as_str()))
        else {
            continue;
        };
        *sl = Slot {
            name: None,
            uuid: Uuid::nil(),
            configured: false,
            blocks: 0,
        };
        let left = raid.slots.iter().any(|sl| sl.configured);
        if raid.state == RaidState::Online && (raid.level != BdevRaidLevel::Raid1 || !left) {
            raid.state = RaidState::Offline;
            offline.push(raid.name.clone());
        }
    }
    for name in offline {
        s.unregister(&name);
    }
}

fn delete(s: &mut State, p: BdevRaidDeleteParams) -> Result<bool, ErrorObject> {
    let Some(at) = s.raids.iter().position(|r| r.name == p.name) else {
        return Err(ErrorObject::new(
            Errno::ENODEV.code(),
            format!("raid bdev {} not found", p.name),
        ));
    };
    let raid = s.raids.remove(at);
    for sl in &raid.slots {
        if let (true, Some(name)) = (sl.configured, &sl.name) {
            s.release(name);
        }
    }
    if raid.state == RaidState::Online {
        s.unregister(&raid.name);
    }
    Ok(true)
}

fn state_name(st: RaidState) -> &'static str {
    match st {
        RaidState::Online => "online",
        RaidState::Configuring => "configuring",
        RaidState::Offline => "offline",
    }
}

/// The raid's info in SPDK's key order, without the braces.
fn info_fields(raid: &Raid) -> String {
    let uuid = if raid.state == RaidState::Configuring {
        Uuid::nil()
    } else {
        raid.uuid
    };
    let discovered = raid.slots.iter().filter(|sl| sl.configured).count();
    let operational = match raid.state {
        RaidState::Configuring => raid.slots.len(),
        _ => raid.slots.iter().filter(|sl| sl.name.is_some()).count(),
    };
    let slots: Vec<String> = raid
        .slots
        .iter()
        .map(|sl| {
            format!(
                r#"{{"name":{},"uuid":"{}","is_configured":{},"data_offset":0,"data_size":{}}}"#,
                json!(sl.name),
                sl.uuid,
                sl.configured,
                sl.blocks
            )
        })
        .collect();
    format!(
        r#""uuid":"{uuid}","strip_size_kb":{},"state":"{}","raid_level":"{}","superblock":{},"num_base_bdevs":{},"num_base_bdevs_discovered":{discovered},"num_base_bdevs_operational":{operational},"base_bdevs_list":[{}]"#,
        raid.strip_kb,
        state_name(raid.state),
        level_name(raid.level),
        raid.superblock,
        raid.slots.len(),
        slots.join(",")
    )
}

fn get_bdevs(s: &mut State, p: BdevRaidGetBdevsParams) -> Result<RawJson, ErrorObject> {
    let wanted = |st: RaidState| match p.category {
        BdevRaidState::All => true,
        BdevRaidState::Online => st == RaidState::Online,
        BdevRaidState::Configuring => st == RaidState::Configuring,
        BdevRaidState::Offline => st == RaidState::Offline,
    };
    let objects: Vec<String> = s
        .raids
        .iter()
        .filter(|r| wanted(r.state))
        .map(|r| {
            let uuid = if r.state == RaidState::Configuring {
                Uuid::nil()
            } else {
                r.uuid
            };
            // SPDK writes the uuid, then the info, which starts with it again.
            format!(
                r#"{{"name":{},"uuid":"{uuid}",{}}}"#,
                json!(r.name),
                info_fields(r)
            )
        })
        .collect();
    RawJson::parse(&format!("[{}]", objects.join(",")))
        .map_err(|e| ErrorObject::new(ErrorObject::INTERNAL_ERROR, e.to_string()))
}

/// A raid bdev's `driver_specific`: its info under `raid`.
pub fn driver_specific(s: &State, name: &str) -> String {
    match s.raids.iter().find(|r| r.name == name) {
        Some(raid) => format!(r#"{{"raid":{{{}}}}}"#, info_fields(raid)),
        None => "{}".into(),
    }
}

/// `bdev_raid_create` entries for the online raids.
pub fn config(s: &State) -> Vec<Value> {
    s.raids
        .iter()
        .filter(|r| r.state == RaidState::Online)
        .map(|r| {
            let mut params = json!({
                "name": r.name,
                "uuid": r.uuid,
                "raid_level": level_name(r.level),
                "superblock": r.superblock,
                "base_bdevs": r.slots.iter().filter_map(|sl| sl.name.clone()).collect::<Vec<_>>(),
            });
            if r.level != BdevRaidLevel::Raid1 {
                params["strip_size_kb"] = json!(r.strip_kb);
            }
            json!({"method": "bdev_raid_create", "params": params})
        })
        .collect()
}
