//! Generic bdev methods and the simplest bdev modules: malloc, null and
//! aio (a file, whose size is read but whose data is never touched).

use jsonrpc_core::ErrorObject;
use jsonrpc_core::RawJson;
use serde_json::{json, Map, Value};
use spdk_proto::methods::*;
use spdk_proto::results::RateLimits;
use spdk_proto::server::When;
use spdk_proto::Errno;

use crate::json::{array, Obj};
use crate::register::{Registrar, DECODE_FAILED, INVALID_PARAMS};
use crate::state::{Bdev, Kind, State};

/// SPDK's I/O type names, in its order.
const IO_TYPES: &[&str] = &[
    "read",
    "write",
    "unmap",
    "flush",
    "reset",
    "nvme_admin",
    "nvme_io",
    "nvme_io_md",
    "write_zeroes",
    "zcopy",
    "get_zone_info",
    "zone_management",
    "zone_append",
    "compare",
    "compare_and_write",
    "abort",
    "seek_hole",
    "seek_data",
    "copy",
    "nvme_iov_md",
    "nvme_nssr",
    "write_uncorrectable",
];

/// The clock `bdev_get_iostat` reports: SPDK's ticks are TSC cycles.
const TICK_RATE: u64 = 2_100_000_000;

pub fn register(r: &mut Registrar) {
    r.add_as::<BdevSetOptions, _>(When::Startup, INVALID_PARAMS, set_options);
    r.add::<BdevWaitForExamine>(When::Runtime, |_, ()| Ok(json!(true)));
    r.add::<BdevMallocCreate>(When::Runtime, malloc_create);
    r.add::<BdevMallocDelete>(When::Runtime, |s, p| delete_of(s, &p.name, "Malloc disk"));
    r.add::<BdevNullCreate>(When::Runtime, null_create);
    r.add::<BdevNullDelete>(When::Runtime, |s, p| delete_of(s, &p.name, "Null disk"));
    r.add::<BdevAioCreate>(When::Runtime, aio_create);
    r.add::<BdevAioDelete>(When::Runtime, |s, p| delete_of(s, &p.name, "AIO disk"));
    r.add::<BdevAioRescan>(When::Runtime, aio_rescan);
    r.add_waiting::<BdevGetBdevs, _>(
        When::Runtime,
        |p| {
            if p.name.is_some() {
                p.timeout.unwrap_or(0)
            } else {
                0
            }
        },
        get_bdevs,
    );
    r.add_as::<BdevGetIostat, _>(When::Runtime, DECODE_FAILED, get_iostat);
    r.add::<BdevSetQosLimit>(When::Runtime, set_qos_limit);
}

fn set_options(s: &mut State, p: BdevSetOptionsParams) -> Result<Value, ErrorObject> {
    let o = &mut s.bdev_options;
    o.bdev_io_pool_size = p.bdev_io_pool_size.unwrap_or(o.bdev_io_pool_size);
    o.bdev_io_cache_size = p.bdev_io_cache_size.unwrap_or(o.bdev_io_cache_size);
    o.bdev_auto_examine = p.bdev_auto_examine.unwrap_or(o.bdev_auto_examine);
    o.iobuf_small_cache_size = p.iobuf_small_cache_size.unwrap_or(o.iobuf_small_cache_size);
    o.iobuf_large_cache_size = p.iobuf_large_cache_size.unwrap_or(o.iobuf_large_cache_size);
    Ok(json!(true))
}

fn invalid_size() -> ErrorObject {
    Errno::EINVAL.to_error()
}

/// Sizes both modules refuse: no blocks, blocks not whole sectors.
fn bad_size(num_blocks: u64, block_size: u32, physical: Option<u32>) -> bool {
    num_blocks == 0
        || block_size == 0
        || !block_size.is_multiple_of(512)
        || physical.is_some_and(|p| !p.is_multiple_of(512))
}

fn malloc_create(s: &mut State, p: BdevMallocCreateParams) -> Result<String, ErrorObject> {
    if bad_size(p.num_blocks, p.block_size, p.physical_block_size) {
        return Err(invalid_size());
    }
    let name = match p.name {
        Some(name) => name,
        // The next MallocN not taken, as SPDK's counter gives.
        None => loop {
            let name = format!("Malloc{}", s.malloc_made);
            s.malloc_made += 1;
            if !s.taken(&name, None) {
                break name;
            }
        },
    };
    let uuid = p.uuid.unwrap_or_else(|| s.new_uuid());
    s.register(Bdev::new(
        name.clone(),
        p.block_size,
        p.num_blocks,
        uuid,
        Kind::Malloc,
    ))?;
    Ok(name)
}

fn null_create(s: &mut State, p: BdevNullCreateParams) -> Result<String, ErrorObject> {
    if bad_size(p.num_blocks, p.block_size, p.physical_block_size) {
        return Err(invalid_size());
    }
    let uuid = p.uuid.unwrap_or_else(|| s.new_uuid());
    s.register(Bdev::new(
        p.name.clone(),
        p.block_size,
        p.num_blocks,
        uuid,
        Kind::Null,
    ))?;
    Ok(p.name)
}

/// The size of the file an aio bdev is made on, as SPDK's open of it fails
/// or succeeds (a missing file is -2 "No such file or directory").
fn aio_file_size(filename: &str) -> Result<u64, ErrorObject> {
    match std::fs::metadata(filename) {
        Ok(meta) => Ok(meta.len()),
        Err(e) => Err(e
            .raw_os_error()
            .map_or_else(|| Errno::EIO.to_error(), |code| Errno(code).to_error())),
    }
}

fn aio_create(s: &mut State, p: BdevAioCreateParams) -> Result<String, ErrorObject> {
    let block_size = p.block_size.unwrap_or(512);
    if block_size == 0 || !block_size.is_multiple_of(512) {
        return Err(invalid_size());
    }
    let num_blocks = aio_file_size(&p.filename)? / u64::from(block_size);
    if num_blocks == 0 {
        return Err(invalid_size());
    }
    let uuid = p.uuid.unwrap_or_else(|| s.new_uuid());
    let kind = Kind::Aio {
        filename: p.filename,
        block_size_override: p.block_size.is_some(),
        readonly: p.readonly.unwrap_or(false),
        fallocate: p.fallocate.unwrap_or(false),
    };
    s.register(Bdev::new(
        p.name.clone(),
        block_size,
        num_blocks,
        uuid,
        kind,
    ))?;
    Ok(p.name)
}

/// Reads the file's size again, as SPDK does after the file grew.
fn aio_rescan(s: &mut State, p: BdevAioRescanParams) -> Result<Value, ErrorObject> {
    let filename = match s.bdev(&p.name).map(|b| &b.kind) {
        Some(Kind::Aio { filename, .. }) => filename.clone(),
        _ => return Err(Errno::ENODEV.to_error()),
    };
    let size = aio_file_size(&filename)?;
    if let Some(b) = s.bdev_mut(&p.name) {
        b.num_blocks = size / u64::from(b.block_size);
    }
    Ok(json!(true))
}

/// Deletes a bdev of one module; another module's bdev of that name is as
/// good as missing.
fn delete_of(s: &mut State, name: &str, product: &str) -> Result<bool, ErrorObject> {
    match s.bdev(name) {
        Some(b) if product_name(&b.kind) == product => {
            let name = b.name.clone();
            s.unregister(&name);
            Ok(true)
        }
        _ => Err(Errno::ENODEV.to_error()),
    }
}

pub fn product_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Malloc => "Malloc disk",
        Kind::Null => "Null disk",
        Kind::Aio { .. } => "AIO disk",
        Kind::Nvme { .. } => "NVMe disk",
        Kind::Split { .. } => "Split Disk",
        Kind::Lvol { .. } => "Logical Volume",
        Kind::Raid => "Raid Volume",
    }
}

fn supported(kind: &Kind, io: &str) -> bool {
    match kind {
        Kind::Malloc => matches!(
            io,
            "read"
                | "write"
                | "unmap"
                | "flush"
                | "reset"
                | "write_zeroes"
                | "zcopy"
                | "abort"
                | "copy"
        ),
        Kind::Null => matches!(io, "read" | "write" | "write_zeroes" | "flush" | "reset"),
        Kind::Aio { .. } => matches!(
            io,
            "read" | "write" | "flush" | "reset" | "unmap" | "write_zeroes"
        ),
        Kind::Nvme { .. } => matches!(
            io,
            "read"
                | "write"
                | "unmap"
                | "flush"
                | "reset"
                | "nvme_admin"
                | "nvme_io"
                | "write_zeroes"
                | "compare"
                | "compare_and_write"
                | "abort"
        ),
        Kind::Split { .. } => matches!(
            io,
            "read" | "write" | "unmap" | "flush" | "reset" | "write_zeroes"
        ),
        Kind::Lvol { .. } => matches!(
            io,
            "read"
                | "write"
                | "unmap"
                | "flush"
                | "reset"
                | "write_zeroes"
                | "seek_hole"
                | "seek_data"
        ),
        Kind::Raid => matches!(io, "read" | "write" | "unmap" | "flush" | "reset"),
    }
}

/// What the bdev's module reports about it, as JSON text in SPDK's order.
fn driver_specific(s: &State, b: &Bdev) -> String {
    match &b.kind {
        Kind::Malloc | Kind::Null => "{}".into(),
        Kind::Nvme { ctrlr, nsid } => {
            let nvme = Obj::new().field("ctrlr", ctrlr).field("nsid", nsid);
            Obj::new().raw("nvme", &format!("[{}]", nvme.text())).text()
        }
        Kind::Aio {
            filename,
            block_size_override,
            readonly,
            fallocate,
        } => {
            let aio = Obj::new()
                .field("filename", filename)
                .field("block_size_override", block_size_override)
                .field("readonly", readonly)
                .field("fallocate", fallocate);
            Obj::new().raw("aio", &aio.text()).text()
        }
        Kind::Split {
            base,
            offset_blocks,
        } => {
            let split = Obj::new()
                .field("base_bdev", base)
                .field("offset_blocks", offset_blocks);
            Obj::new().raw("split", &split.text()).text()
        }
        Kind::Lvol { lvs } => crate::lvol::driver_specific(s, *lvs, b.uuid),
        Kind::Raid => crate::raid::driver_specific(s, &b.name),
    }
}

/// A bdev as `bdev_get_bdevs` shows it: a real target's fields, in its order.
fn info(s: &State, b: &Bdev) -> String {
    let mut io_types = Obj::new();
    for io in IO_TYPES {
        io_types = io_types.field(io, supported(&b.kind, io));
    }
    let q = &b.qos;
    let limits = Obj::new()
        .field("rw_ios_per_sec", q.rw_ios_per_sec)
        .field("rw_mbytes_per_sec", q.rw_mbytes_per_sec)
        .field("r_mbytes_per_sec", q.r_mbytes_per_sec)
        .field("w_mbytes_per_sec", q.w_mbytes_per_sec);
    let mut obj = Obj::new()
        .field("name", &b.name)
        .field("aliases", &b.aliases)
        .field("product_name", product_name(&b.kind))
        .field("block_size", b.block_size)
        .field("num_blocks", b.num_blocks)
        .field("preferred_write_alignment", 0)
        .field("preferred_write_granularity", 0)
        .field("optimal_write_size", 0)
        .field("preferred_unmap_alignment", 0)
        .field("preferred_unmap_granularity", 0)
        .field("uuid", b.uuid)
        .raw("assigned_rate_limits", &limits.text())
        .field("claimed", b.claim.is_some());
    if let Some(claim) = b.claim {
        obj = obj.field("claim_type", claim);
    }
    obj.field("zoned", false)
        .raw("supported_io_types", &io_types.text())
        .raw("driver_specific", &driver_specific(s, b))
        .text()
}

fn get_bdevs(s: &mut State, p: BdevGetBdevsParams) -> Result<RawJson, ErrorObject> {
    match p.name {
        Some(name) => match s.bdev(&name) {
            Some(b) => array([info(s, b)]),
            None => Err(Errno::ENODEV.to_error()),
        },
        None => array(s.bdevs.iter().map(|b| info(s, b))),
    }
}

/// A bdev's statistics, in SPDK's key order. Only examine's reads ever
/// happen here: there is no data path.
fn stat(b: &Bdev) -> String {
    let mut obj = Obj::new()
        .field("name", &b.name)
        .field("bytes_read", b.bytes_read)
        .field("num_read_ops", b.read_ops);
    for key in [
        "bytes_written",
        "num_write_ops",
        "bytes_unmapped",
        "num_unmap_ops",
        "bytes_copied",
        "num_copy_ops",
        "read_latency_ticks",
        "max_read_latency_ticks",
        "min_read_latency_ticks",
        "write_latency_ticks",
        "max_write_latency_ticks",
        "min_write_latency_ticks",
        "unmap_latency_ticks",
        "max_unmap_latency_ticks",
        "min_unmap_latency_ticks",
        "copy_latency_ticks",
        "max_copy_latency_ticks",
        "min_copy_latency_ticks",
    ] {
        obj = obj.field(key, 0);
    }
    obj.raw("io_error", "{}").text()
}

fn get_iostat(s: &mut State, p: BdevGetIostatParams) -> Result<RawJson, ErrorObject> {
    let bdevs: Vec<String> = match p.names {
        Some(names) => names
            .iter()
            .map(|n| s.bdev(n).map(stat).ok_or_else(|| Errno::ENODEV.to_error()))
            .collect::<Result<_, _>>()?,
        None => s.bdevs.iter().map(stat).collect(),
    };
    let ticks = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
        .saturating_mul(TICK_RATE / 1_000_000);
    let text = Obj::new()
        .field("tick_rate", TICK_RATE)
        .field("ticks", ticks)
        .raw("bdevs", &format!("[{}]", bdevs.join(",")))
        .text();
    RawJson::parse(&text).map_err(|e| ErrorObject::new(ErrorObject::INTERNAL_ERROR, e.to_string()))
}

fn set_qos_limit(s: &mut State, p: BdevSetQosLimitParams) -> Result<bool, ErrorObject> {
    let given = [
        p.rw_ios_per_sec,
        p.rw_mbytes_per_sec,
        p.r_mbytes_per_sec,
        p.w_mbytes_per_sec,
    ];
    if given.iter().all(Option::is_none) {
        return Err(ErrorObject::new(-22, "No rate limits specified"));
    }
    let Some(b) = s.bdev_mut(&p.name) else {
        return Err(Errno::ENODEV.to_error());
    };
    let q: &mut RateLimits = &mut b.qos;
    q.rw_ios_per_sec = p.rw_ios_per_sec.unwrap_or(q.rw_ios_per_sec);
    q.rw_mbytes_per_sec = p.rw_mbytes_per_sec.unwrap_or(q.rw_mbytes_per_sec);
    q.r_mbytes_per_sec = p.r_mbytes_per_sec.unwrap_or(q.r_mbytes_per_sec);
    q.w_mbytes_per_sec = p.w_mbytes_per_sec.unwrap_or(q.w_mbytes_per_sec);
    Ok(true)
}

/// The entries of the bdev subsystem's config for one bdev, as its module
/// writes them; lvols and splits write none here.
pub fn config_entry(b: &Bdev) -> Option<Value> {
    let mut params = Map::new();
    let method = match &b.kind {
        Kind::Aio {
            filename,
            readonly,
            fallocate,
            ..
        } => {
            params.insert("name".into(), json!(b.name));
            params.insert("block_size".into(), json!(b.block_size));
            params.insert("filename".into(), json!(filename));
            params.insert("readonly".into(), json!(readonly));
            params.insert("fallocate".into(), json!(fallocate));
            params.insert("uuid".into(), json!(b.uuid));
            "bdev_aio_create"
        }
        Kind::Malloc => {
            params.insert("name".into(), json!(b.name));
            params.insert("num_blocks".into(), json!(b.num_blocks));
            params.insert("block_size".into(), json!(b.block_size));
            params.insert("physical_block_size".into(), json!(b.block_size));
            params.insert("uuid".into(), json!(b.uuid));
            params.insert("optimal_io_boundary".into(), json!(0));
            params.insert("md_size".into(), json!(0));
            params.insert("dif_type".into(), json!(0));
            params.insert("dif_is_head_of_md".into(), json!(false));
            params.insert("dif_pi_format".into(), json!(0));
            params.insert("numa_id".into(), json!(-1));
            "bdev_malloc_create"
        }
        Kind::Null => {
            params.insert("name".into(), json!(b.name));
            params.insert("num_blocks".into(), json!(b.num_blocks));
            params.insert("block_size".into(), json!(b.block_size));
            params.insert("physical_block_size".into(), json!(b.block_size));
            params.insert("md_size".into(), json!(0));
            params.insert("dif_type".into(), json!(0));
            params.insert("dif_is_head_of_md".into(), json!(false));
            params.insert("dif_pi_format".into(), json!(0));
            params.insert("uuid".into(), json!(b.uuid));
            for k in [
                "preferred_write_granularity",
                "preferred_write_alignment",
                "optimal_write_size",
                "preferred_unmap_granularity",
                "preferred_unmap_alignment",
            ] {
                params.insert(k.into(), json!(0));
            }
            "bdev_null_create"
        }
        _ => return None,
    };
    Some(json!({"method": method, "params": params}))
}
