//! The split module: a base bdev cut into equal parts. A split asked for a
//! base that does not exist yet waits for it, as SPDK's does.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;
use spdk_proto::Errno;

use crate::register::{Registrar, INVALID_PARAMS};
use crate::state::{Bdev, Kind, State};

#[derive(Debug, Clone)]
pub struct SplitConfig {
    pub base: String,
    pub count: u32,
    /// 0: the base divided evenly.
    pub size_mb: u64,
}

pub fn register(r: &mut Registrar) {
    r.add_as::<BdevSplitCreate, Vec<String>>(When::Runtime, INVALID_PARAMS, create);
    r.add_as::<BdevSplitDelete, bool>(When::Runtime, INVALID_PARAMS, delete);
}

fn failed(count: u32, base: &str, e: Errno) -> ErrorObject {
    ErrorObject::new(
        ErrorObject::INVALID_PARAMS,
        format!(
            "Failed to create {count} split bdevs from '{base}': {}",
            e.text().unwrap_or("Unknown error")
        ),
    )
}

fn create(s: &mut State, p: BdevSplitCreateParams) -> Result<Vec<String>, ErrorObject> {
    if p.split_count == 0 {
        return Err(failed(0, &p.base_bdev, Errno::EINVAL));
    }
    if s.splits.iter().any(|c| c.base == p.base_bdev) {
        return Err(failed(p.split_count, &p.base_bdev, Errno::EEXIST));
    }
    let config = SplitConfig {
        base: p.base_bdev.clone(),
        count: p.split_count,
        size_mb: p.split_size_mb.unwrap_or(0),
    };
    if s.bdev(&p.base_bdev).is_none() {
        s.splits.push(config);
        return Ok(Vec::new());
    }
    let names = make(s, &config).map_err(|e| failed(p.split_count, &p.base_bdev, e))?;
    s.splits.push(config);
    Ok(names)
}

/// Cuts the base into its splits and registers them.
fn make(s: &mut State, c: &SplitConfig) -> Result<Vec<String>, Errno> {
    let base = s.bdev(&c.base).ok_or(Errno::ENODEV)?;
    if base.claim.is_some() {
        return Err(Errno::ENOMEM);
    }
    let (block_size, base_name) = (base.block_size, base.name.clone());
    let each = if c.size_mb == 0 {
        base.num_blocks / u64::from(c.count)
    } else {
        let bytes = c.size_mb.saturating_mul(1024 * 1024);
        if !bytes.is_multiple_of(u64::from(block_size.max(1))) {
            return Err(Errno::EINVAL);
        }
        bytes / u64::from(block_size.max(1))
    };
    if each == 0 {
        return Err(Errno::EINVAL);
    }
    // More parts than fit are clamped, not refused, as SPDK does.
    let count = u64::from(c.count).min(base.num_blocks / each);
    if count == 0 {
        return Ok(Vec::new());
    }
    s.claim(&base_name, "exclusive_write")?;
    let mut names = Vec::new();
    for i in 0..count {
        let name = format!("{base_name}p{i}");
        let uuid = s.new_uuid();
        let kind = Kind::Split {
            base: base_name.clone(),
            offset_blocks: each * i,
        };
        if s.register(Bdev::new(name.clone(), block_size, each, uuid, kind))
            .is_ok()
        {
            names.push(name);
        }
    }
    Ok(names)
}

fn delete(s: &mut State, p: BdevSplitDeleteParams) -> Result<bool, ErrorObject> {
    let Some(at) = s.splits.iter().position(|c| c.base == p.base_bdev) else {
        return Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            Errno::ENOENT.text().unwrap_or_default(),
        ));
    };
    s.splits.remove(at);
    remove_parts(s, &p.base_bdev);
    s.release(&p.base_bdev);
    Ok(true)
}

fn remove_parts(s: &mut State, base: &str) {
    let parts: Vec<String> = s
        .bdevs
        .iter()
        .filter(|b| matches!(&b.kind, Kind::Split { base: of, .. } if of == base))
        .map(|b| b.name.clone())
        .collect();
    for name in parts {
        s.unregister(&name);
    }
}

pub fn base_appeared(s: &mut State, name: &str) {
    let waiting: Vec<SplitConfig> = s
        .splits
        .iter()
        .filter(|c| c.base == name)
        .cloned()
        .collect();
    for c in waiting {
        // A claimed base stays unsplit, as SPDK's examine leaves it.
        let _ = make(s, &c);
    }
}

pub fn base_removed(s: &mut State, name: &str) {
    if s.splits.iter().any(|c| c.base == name) {
        s.splits.retain(|c| c.base != name);
        remove_parts(s, name);
    }
}

/// The split module's entries in the bdev subsystem's config.
pub fn config(s: &State) -> Vec<Value> {
    s.splits
        .iter()
        .map(|c| {
            json!({"method": "bdev_split_create", "params": {
                "base_bdev": c.base, "split_count": c.count, "split_size_mb": c.size_mb}})
        })
        .collect()
}
