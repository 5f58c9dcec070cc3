//! Logical volume stores and their lvols: thin and thick lvols, snapshots
//! and clones, kept as cluster counts (no data).

use jsonrpc_core::{ErrorObject, RawJson};
use spdk_proto::methods::*;
use spdk_proto::server::When;
use spdk_proto::Errno;
use uuid::Uuid;

use crate::json::{array, Obj};
use crate::register::{Registrar, DECODE_FAILED};
use crate::state::{Bdev, Kind, State};

const MIB: u64 = 1024 * 1024;
const DEFAULT_CLUSTER: u64 = 4 * MIB;

#[derive(Debug, Clone)]
pub struct Lvstore {
    pub uuid: Uuid,
    pub name: String,
    pub base: String,
    pub cluster_size: u64,
    pub block_size: u32,
    /// Clusters for data (the metadata's are not counted).
    pub total_clusters: u64,
    /// Metadata pages: what bounds how far the store could grow.
    pub md_len: u64,
    pub lvols: Vec<Lvol>,
}

#[derive(Debug, Clone)]
pub struct Lvol {
    pub uuid: Uuid,
    pub name: String,
    pub thin: bool,
    pub clusters: u64,
    pub allocated: u64,
    pub snapshot: bool,
    pub read_only: bool,
    /// The snapshot it is a clone of.
    pub parent: Option<Uuid>,
}

impl Lvstore {
    fn free(&self) -> u64 {
        let used: u64 = self.lvols.iter().map(|l| l.allocated).sum();
        self.total_clusters.saturating_sub(used)
    }

    fn clusters_for(&self, mib: u64) -> u64 {
        mib.saturating_mul(MIB).div_ceil(self.cluster_size)
    }
}

pub fn register(r: &mut Registrar) {
    r.add::<BdevLvolCreateLvstore>(When::Runtime, create_lvstore);
    r.add::<BdevLvolDeleteLvstore>(When::Runtime, delete_lvstore);
    r.add_as::<BdevLvolGetLvstores, _>(When::Runtime, DECODE_FAILED, get_lvstores);
    r.add::<BdevLvolCreate>(When::Runtime, create);
    r.add_as::<BdevLvolGetLvols, _>(When::Runtime, DECODE_FAILED, get_lvols);
    r.add::<BdevLvolSnapshot>(When::Runtime, snapshot);
    r.add::<BdevLvolClone>(When::Runtime, clone);
    r.add::<BdevLvolResize>(When::Runtime, resize);
    r.add::<BdevLvolRename>(When::Runtime, rename);
    r.add::<BdevLvolSetReadOnly>(When::Runtime, set_read_only);
    r.add::<BdevLvolDelete>(When::Runtime, delete);
}

/// An errno sent as -32602 with its text: how SPDK's lvol callbacks fail.
fn invalid(e: Errno) -> ErrorObject {
    ErrorObject::new(ErrorObject::INVALID_PARAMS, e.text().unwrap_or_default())
}

/// Blobstore metadata pages, and the header of each of its bit masks.
const MD_PAGE: u64 = 4096;
const MASK_HEADER: u64 = 8;
const LVS_NAME_MAX: usize = 63;

/// The pages of a bit mask of `bits` bits.
fn mask_pages(bits: u64) -> u64 {
    (MASK_HEADER + bits.div_ceil(8)).div_ceil(MD_PAGE)
}

/// How many clusters the blobstore's metadata takes at the front of the
/// disk, as SPDK's `spdk_bs_init` counts them: a super block, three masks
/// and `md_len` metadata pages.
fn metadata_clusters(total: u64, md_len: u64, cluster_size: u64) -> u64 {
    // Sizes come from the peer: saturate rather than overflow.
    let pages = [
        1,
        mask_pages(md_len),
        mask_pages(md_len).max(mask_pages(total)),
        mask_pages(md_len),
        md_len,
    ]
    .into_iter()
    .fold(0, u64::saturating_add);
    pages.div_ceil((cluster_size / MD_PAGE).max(1))
}

fn create_lvstore(s: &mut State, p: BdevLvolCreateLvstoreParams) -> Result<Uuid, ErrorObject> {
    let base = s
        .bdev(&p.bdev_name)
        .ok_or_else(|| Errno::ENODEV.to_error())?;
    if base.claim.is_some() {
        return Err(Errno::EPERM.to_error());
    }
    let cluster_size = p.cluster_sz.map_or(DEFAULT_CLUSTER, u64::from);
    let block_size = u64::from(base.block_size.max(1));
    // Checked before the store is made: the errno as the code.
    if cluster_size < block_size || !cluster_size.is_multiple_of(block_size) {
        return Err(Errno::EINVAL.to_error());
    }
    if p.lvs_name.is_empty() || p.lvs_name.len() > LVS_NAME_MAX {
        return Err(Errno::EINVAL.to_error());
    }
    if s.lvstores.iter().any(|l| l.name == p.lvs_name) {
        return Err(Errno::EEXIST.to_error());
    }
    // Found while the blobstore is written: -32602 with the errno's text.
    let size = base.num_blocks.saturating_mul(block_size);
    if size < cluster_size {
        return Err(invalid(Errno::ENOSPC));
    }
    if !cluster_size.is_multiple_of(MD_PAGE) {
        return Err(invalid(Errno::EINVAL));
    }
    let total = base.num_blocks / (cluster_size / block_size);
    let ratio = u64::from(p.num_md_pages_per_cluster_ratio.unwrap_or(100));
    let md_len = total.saturating_mul(ratio) / 100;
    if md_len == 0 {
        return Err(invalid(Errno::EINVAL));
    }
    let md_clusters = metadata_clusters(total, md_len, cluster_size);
    if md_clusters > total {
        return Err(invalid(Errno::ENOMEM));
    }
    let (base_name, block_size) = (base.name.clone(), base.block_size);
    s.claim(&base_name, "read_many_write_one")
        .map_err(Errno::to_error)?;
    let uuid = s.new_uuid();
    s.lvstores.push(Lvstore {
        uuid,
        name: p.lvs_name,
        base: base_name,
        cluster_size,
        block_size,
        total_clusters: total - md_clusters,
        md_len,
        lvols: Vec::new(),
    });
    Ok(uuid)
}

/// The store named by exactly one of a uuid and a name (-EINVAL for
/// neither or both, as SPDK).
fn find_store(s: &State, uuid: Option<&str>, name: Option<&str>) -> Result<usize, ErrorObject> {
    if uuid.is_some() == name.is_some() {
        return Err(Errno::EINVAL.to_error());
    }
    s.lvstores
        .iter()
        .position(|l| match (uuid, name) {
            (Some(u), _) => l.uuid.to_string() == u.to_ascii_lowercase(),
            (None, Some(n)) => l.name == n,
            (None, None) => false,
        })
        .ok_or_else(|| Errno::ENODEV.to_error())
}

fn delete_lvstore(s: &mut State, p: BdevLvolDeleteLvstoreParams) -> Result<bool, ErrorObject> {
    let at = find_store(s, p.uuid.as_deref(), p.lvs_name.as_deref())?;
    let store = s.lvstores.remove(at);
    for l in &store.lvols {
        s.unregister(&l.uuid.to_string());
    }
    s.release(&store.base);
    Ok(true)
}

/// A store as `bdev_lvol_get_lvstores` shows it, in SPDK's key order.
fn store_info(l: &Lvstore) -> String {
    // The used-cluster mask has room for as many clusters as metadata
    // pages: that bounds how far the store can grow.
    let growable = (mask_pages(l.md_len) * MD_PAGE - MASK_HEADER)
        .saturating_mul(8)
        .saturating_mul(l.cluster_size);
    Obj::new()
        .field("uuid", l.uuid)
        .field("name", &l.name)
        .field("base_bdev", &l.base)
        .field("total_data_clusters", l.total_clusters)
        .field("free_clusters", l.free())
        .field("block_size", l.block_size)
        .field("cluster_size", l.cluster_size)
        .field("max_growable_size", growable)
        .text()
}

fn get_lvstores(s: &mut State, p: BdevLvolGetLvstoresParams) -> Result<RawJson, ErrorObject> {
    if p.uuid.is_some() || p.lvs_name.is_some() {
        let at = find_store(s, p.uuid.as_deref(), p.lvs_name.as_deref())?;
        return array([store_info(&s.lvstores[at])]);
    }
    array(s.lvstores.iter().map(store_info))
}

/// Registers an lvol's bdev: named by its uuid, aliased `lvs/lvol`.
fn add_lvol(s: &mut State, store: usize, lvol: Lvol) -> Result<Uuid, ErrorObject> {
    let st = &s.lvstores[store];
    let mut bdev = Bdev::new(
        lvol.uuid.to_string(),
        st.block_size,
        lvol.clusters.saturating_mul(st.cluster_size) / u64::from(st.block_size.max(1)),
        lvol.uuid,
        Kind::Lvol { lvs: st.uuid },
    );
    bdev.aliases.push(format!("{}/{}", st.name, lvol.name));
    let uuid = lvol.uuid;
    s.lvstores[store].lvols.push(lvol);
    if let Err(e) = s.register(bdev) {
        s.lvstores[store].lvols.retain(|l| l.uuid != uuid);
        return Err(e);
    }
    Ok(uuid)
}

fn create(s: &mut State, p: BdevLvolCreateParams) -> Result<Uuid, ErrorObject> {
    let store = find_store(s, p.uuid.as_deref(), p.lvs_name.as_deref())?;
    let st = &s.lvstores[store];
    if st.lvols.iter().any(|l| l.name == p.lvol_name) {
        return Err(Errno::EEXIST.to_error());
    }
    let thin = p.thin_provision.unwrap_or(false);
    let clusters = st.clusters_for(p.size_in_mib);
    if !thin && clusters > st.free() {
        return Err(invalid(Errno::ENOSPC));
    }
    let uuid = s.new_uuid();
    let lvol = Lvol {
        uuid,
        name: p.lvol_name,
        thin,
        clusters,
        allocated: if thin { 0 } else { clusters },
        snapshot: false,
        read_only: false,
        parent: None,
    };
    add_lvol(s, store, lvol)
}

/// The store and index of the lvol a bdev name or alias names.
fn find_lvol(s: &State, name: &str) -> Result<(usize, usize), ErrorObject> {
    let uuid = match s.bdev(name) {
        Some(Bdev {
            kind: Kind::Lvol { .. },
            uuid,
            ..
        }) => *uuid,
        _ => return Err(Errno::ENODEV.to_error()),
    };
    locate(s, uuid).ok_or_else(|| Errno::ENODEV.to_error())
}

fn locate(s: &State, uuid: Uuid) -> Option<(usize, usize)> {
    s.lvstores
        .iter()
        .enumerate()
        .find_map(|(i, st)| st.lvols.iter().position(|l| l.uuid == uuid).map(|j| (i, j)))
}

/// An lvol as `bdev_lvol_get_lvols` shows it, in SPDK's key order.
fn lvol_info(st: &Lvstore, l: &Lvol) -> String {
    Obj::new()
        .field("alias", format!("{}/{}", st.name, l.name))
        .field("uuid", l.uuid)
        .field("name", &l.name)
        .field("is_thin_provisioned", l.thin)
        .field("is_snapshot", l.snapshot)
        .field("is_clone", l.parent.is_some())
        .field("is_esnap_clone", false)
        .field("is_degraded", false)
        .field("num_allocated_clusters", l.allocated)
        .raw(
            "lvs",
            &Obj::new()
                .field("name", &st.name)
                .field("uuid", st.uuid)
                .text(),
        )
        .text()
}

fn get_lvols(s: &mut State, p: BdevLvolGetLvolsParams) -> Result<RawJson, ErrorObject> {
    let stores: Vec<&Lvstore> = if p.lvs_uuid.is_some() || p.lvs_name.is_some() {
        let at = find_store(s, p.lvs_uuid.as_deref(), p.lvs_name.as_deref())?;
        vec![&s.lvstores[at]]
    } else {
        s.lvstores.iter().collect()
    };
    array(
        stores
            .into_iter()
            .flat_map(|st| st.lvols.iter().map(move |l| lvol_info(st, l))),
    )
}

fn snapshot(s: &mut State, p: BdevLvolSnapshotParams) -> Result<Uuid, ErrorObject> {
    let (store, at) = find_lvol(s, &p.lvol_name)?;
    if s.lvstores[store]
        .lvols
        .iter()
        .any(|l| l.name == p.snapshot_name)
    {
        return Err(invalid(Errno::EEXIST));
    }
    let uuid = s.new_uuid();
    let origin = &mut s.lvstores[store].lvols[at];
    // The snapshot takes the origin's clusters; the origin becomes a thin
    // clone of it that has written nothing yet.
    let snap = Lvol {
        uuid,
        name: p.snapshot_name,
        thin: origin.thin,
        clusters: origin.clusters,
        allocated: origin.allocated,
        snapshot: true,
        read_only: true,
        parent: origin.parent,
    };
    origin.allocated = 0;
    origin.thin = true;
    origin.parent = Some(uuid);
    add_lvol(s, store, snap)
}

fn clone(s: &mut State, p: BdevLvolCloneParams) -> Result<Uuid, ErrorObject> {
    let (store, at) = find_lvol(s, &p.snapshot_name)?;
    let snap = &s.lvstores[store].lvols[at];
    if !snap.snapshot {
        return Err(invalid(Errno::EINVAL));
    }
    if s.lvstores[store]
        .lvols
        .iter()
        .any(|l| l.name == p.clone_name)
    {
        return Err(invalid(Errno::EEXIST));
    }
    let (clusters, parent) = (snap.clusters, snap.uuid);
    let uuid = s.new_uuid();
    let lvol = Lvol {
        uuid,
        name: p.clone_name,
        thin: true,
        clusters,
        allocated: 0,
        snapshot: false,
        read_only: false,
        parent: Some(parent),
    };
    add_lvol(s, store, lvol)
}

fn resize(s: &mut State, p: BdevLvolResizeParams) -> Result<bool, ErrorObject> {
    let (store, at) = find_lvol(s, &p.name)?;
    let st = &s.lvstores[store];
    let l = &st.lvols[at];
    if l.snapshot {
        return Err(invalid(Errno::EPERM));
    }
    let clusters = st.clusters_for(p.size_in_mib);
    let grow = clusters.saturating_sub(l.allocated);
    if !l.thin && grow > st.free() {
        return Err(invalid(Errno::ENOSPC));
    }
    let (cluster_size, block_size) = (st.cluster_size, st.block_size);
    let l = &mut s.lvstores[store].lvols[at];
    l.clusters = clusters;
    if !l.thin {
        l.allocated = clusters;
    }
    l.allocated = l.allocated.min(clusters);
    let uuid = l.uuid.to_string();
    if let Some(b) = s.bdev_mut(&uuid) {
        b.num_blocks = clusters.saturating_mul(cluster_size) / u64::from(block_size.max(1));
    }
    Ok(true)
}

fn rename(s: &mut State, p: BdevLvolRenameParams) -> Result<bool, ErrorObject> {
    let (store, at) = find_lvol(s, &p.old_name)?;
    let st = &mut s.lvstores[store];
    if st.lvols.iter().any(|l| l.name == p.new_name) {
        return Err(invalid(Errno::EEXIST));
    }
    if st.lvols[at].read_only {
        return Err(invalid(Errno::EPERM));
    }
    st.lvols[at].name = p.new_name.clone();
    let alias = format!("{}/{}", st.name, p.new_name);
    let uuid = st.lvols[at].uuid.to_string();
    if let Some(b) = s.bdev_mut(&uuid) {
        b.aliases = vec![alias];
    }
    Ok(true)
}

fn set_read_only(s: &mut State, p: BdevLvolSetReadOnlyParams) -> Result<bool, ErrorObject> {
    let (store, at) = find_lvol(s, &p.name)?;
    s.lvstores[store].lvols[at].read_only = true;
    Ok(true)
}

fn delete(s: &mut State, p: BdevLvolDeleteParams) -> Result<bool, ErrorObject> {
    let (store, at) = find_lvol(s, &p.name)?;
    let uuid = s.lvstores[store].lvols[at].uuid;
    if s.lvstores[store]
        .lvols
        .iter()
        .any(|l| l.parent == Some(uuid))
    {
        return Err(ErrorObject::new(
            ErrorObject::INTERNAL_ERROR,
            Errno::EPERM.text().unwrap_or_default(),
        ));
    }
    s.unregister(&uuid.to_string());
    Ok(true)
}

/// The lvol behind a bdev that went away leaves its store.
pub fn bdev_removed(s: &mut State, lvs: Uuid, lvol: Uuid) {
    if let Some(st) = s.lvstores.iter_mut().find(|st| st.uuid == lvs) {
        st.lvols.retain(|l| l.uuid != lvol);
    }
}

/// A store whose base went away goes with all its lvols.
pub fn base_removed(s: &mut State, base: &str) {
    while let Some(at) = s.lvstores.iter().position(|st| st.base == base) {
        let st = s.lvstores.remove(at);
        for l in &st.lvols {
            s.unregister(&l.uuid.to_string());
        }
    }
}

/// An lvol bdev's `driver_specific`, in SPDK's key order.
pub fn driver_specific(s: &State, lvs: Uuid, uuid: Uuid) -> String {
    let Some((i, j)) = locate(s, uuid) else {
        return "{}".into();
    };
    let st = &s.lvstores[i];
    let l = &st.lvols[j];
    let mut lvol = Obj::new()
        .field("lvol_store_uuid", lvs)
        .field("base_bdev", &st.base)
        .field("thin_provision", l.thin)
        .field("num_allocated_clusters", l.allocated)
        .field("snapshot", l.snapshot)
        .field("clone", l.parent.is_some());
    let parent = l.parent.and_then(|u| st.lvols.iter().find(|o| o.uuid == u));
    if let Some(parent) = parent {
        lvol = lvol.field("base_snapshot", &parent.name);
    }
    if l.snapshot {
        let clones: Vec<&str> = st
            .lvols
            .iter()
            .filter(|o| o.parent == Some(l.uuid))
            .map(|o| o.name.as_str())
            .collect();
        lvol = lvol.field("clones", clones);
    }
    let lvol = lvol.field("esnap_clone", false);
    Obj::new().raw("lvol", &lvol.text()).text()
}
