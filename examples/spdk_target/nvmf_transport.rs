//! An NVMe-oF transport's options: what `nvmf_create_transport` sets, the
//! checks and adjustments SPDK makes when it creates the transport, and
//! the options as SPDK writes them (`nvmf_get_transports`, and the config's
//! `nvmf_create_transport` params).

use jsonrpc_core::ErrorObject;
use serde_json::{json, Map, Value};
use spdk_proto::methods::NvmfCreateTransportParams;

/// lib/nvmf/nvmf_internal.h NVMF_DEFAULT_KAS, NVMF_DEFAULT_MIN_KATO and
/// the unit `kas` counts in (NVMF_KAS_TIME_UNIT_IN_MS).
const DEFAULT_KAS: u16 = 100;
const DEFAULT_MIN_KATO: u32 = 10000;
const KAS_UNIT_MS: u32 = 100;
/// include/spdk/nvmf_spec.h SPDK_NVMF_MIN_ADMIN_MAX_SQ_SIZE.
const MIN_ADMIN_SQ_SIZE: u32 = 32;
/// The iobuf caches' "as large as the pool allows" default (UINT32_MAX).
const CACHE_AUTO: u32 = u32::MAX;

/// The options only one transport type has.
#[derive(Debug, Clone)]
pub enum Specific {
    /// lib/nvmf/tcp.c tcp_opts (`control_msg_num` is not written back).
    Tcp {
        c2h_success: bool,
        sock_priority: u32,
    },
    /// lib/nvmf/rdma.c rdma_opts.
    Rdma {
        max_srq_depth: u32,
        no_srq: bool,
        num_cqe: i32,
        acceptor_backlog: i32,
        no_wr_batching: bool,
    },
}

/// A transport, its options as the target holds them.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Its ops name: `"TCP"` or `"RDMA"`.
    pub trtype: &'static str,
    pub max_queue_depth: u32,
    pub max_io_qpairs_per_ctrlr: u32,
    pub in_capsule_data_size: u32,
    pub max_io_size: u32,
    pub max_aq_depth: u32,
    pub iobuf_small_cache_size: u32,
    pub iobuf_large_cache_size: u32,
    pub dif_insert_or_strip: bool,
    pub zcopy: bool,
    pub specific: Specific,
    pub abort_timeout_sec: u32,
    pub ack_timeout: u32,
    pub data_wr_pool_size: u32,
    pub disable_command_passthru: bool,
    pub kas: u16,
    pub min_kato: u32,
}

/// Why a transport could not be made, as the RPC reports it.
fn create_failed(trtype: &str) -> ErrorObject {
    ErrorObject::new(
        ErrorObject::INTERNAL_ERROR,
        format!("Transport type '{trtype}' create failed"),
    )
}

/// The transport's own create refused the options (its `create` returned
/// NULL): nvmf_rpc_create_transport_done's reply.
fn failed_to_create() -> ErrorObject {
    ErrorObject::new(ErrorObject::INTERNAL_ERROR, "Failed to create transport.")
}

impl Transport {
    /// The type's defaults (spdk_nvmf_transport_opts_init and the type's
    /// `opts_init`: tcp.c nvmf_tcp_opts_init, rdma.c nvmf_rdma_opts_init;
    /// both default to 128 queue pairs, the admin one included).
    fn defaults(trtype: &'static str) -> Transport {
        let rdma = trtype == "RDMA";
        Transport {
            trtype,
            max_queue_depth: 128,
            max_io_qpairs_per_ctrlr: 127,
            in_capsule_data_size: 4096,
            max_io_size: 131072,
            max_aq_depth: 128,
            iobuf_small_cache_size: CACHE_AUTO,
            iobuf_large_cache_size: CACHE_AUTO,
            dif_insert_or_strip: false,
            zcopy: false,
            specific: if rdma {
                Specific::Rdma {
                    max_srq_depth: 4096,
                    no_srq: false,
                    num_cqe: 4096,
                    acceptor_backlog: 100,
                    no_wr_batching: false,
                }
            } else {
                Specific::Tcp {
                    c2h_success: true,
                    sock_priority: 0,
                }
            },
            abort_timeout_sec: 1,
            ack_timeout: 0,
            data_wr_pool_size: if rdma { 4095 } else { 0 },
            disable_command_passthru: false,
            kas: DEFAULT_KAS,
            min_kato: DEFAULT_MIN_KATO,
        }
    }

    /// A transport of type `trtype` (`"TCP"`/`"RDMA"`) from the RPC's
    /// params: the defaults, what the params set, then the checks and
    /// adjustments of nvmf_transport_create (lib/nvmf/transport.c) and of
    /// the type's create (tcp.c nvmf_tcp_create, rdma.c nvmf_rdma_create).
    /// Not modelled: the iobuf caches' clamp to the pools (it depends on
    /// the core count) and the SGL limit on `max_io_size`.
    pub fn create(
        trtype: &'static str,
        p: &NvmfCreateTransportParams,
    ) -> Result<Self, ErrorObject> {
        let mut t = Transport::defaults(trtype);
        set(&mut t.max_queue_depth, p.max_queue_depth.map(u32::from));
        set(
            &mut t.max_io_qpairs_per_ctrlr,
            p.max_io_qpairs_per_ctrlr.map(u32::from),
        );
        set(&mut t.in_capsule_data_size, p.in_capsule_data_size);
        set(&mut t.max_io_size, p.max_io_size);
        set(&mut t.max_aq_depth, p.max_aq_depth);
        set(&mut t.iobuf_small_cache_size, p.iobuf_small_cache_size);
        set(&mut t.iobuf_large_cache_size, p.iobuf_large_cache_size);
        // A deprecated alias of the small cache's size, when not zero.
        set(
            &mut t.iobuf_small_cache_size,
            p.buf_cache_size.filter(|n| *n != 0),
        );
        set(&mut t.dif_insert_or_strip, p.dif_insert_or_strip);
        set(&mut t.zcopy, p.zcopy);
        set(&mut t.abort_timeout_sec, p.abort_timeout_sec);
        set(&mut t.ack_timeout, p.ack_timeout);
        set(&mut t.data_wr_pool_size, p.data_wr_pool_size);
        set(&mut t.disable_command_passthru, p.disable_command_passthru);
        set(&mut t.kas, p.kas);
        set(&mut t.min_kato, p.min_kato);
        match &mut t.specific {
            Specific::Tcp {
                c2h_success,
                sock_priority,
            } => {
                set(c2h_success, p.c2h_success);
                set(sock_priority, p.sock_priority);
            }
            Specific::Rdma {
                max_srq_depth,
                no_srq,
                num_cqe,
                acceptor_backlog,
                no_wr_batching,
            } => {
                set(max_srq_depth, p.max_srq_depth);
                set(no_srq, p.no_srq);
                set(num_cqe, p.num_cqe);
                set(acceptor_backlog, p.acceptor_backlog.filter(|n| *n > 0));
                set(no_wr_batching, p.no_wr_batching);
            }
        }
        t.generic_checks()?;
        t.type_checks()?;
        Ok(t)
    }

    /// nvmf_transport_create: a power-of-two `max_io_size` of 8 KiB or
    /// more (0: unset), the admin queue at least the spec's minimum, a
    /// nonzero `kas` and `min_kato`, `min_kato` rounded up to whole
    /// keep-alive units.
    fn generic_checks(&mut self) -> Result<(), ErrorObject> {
        let io = self.max_io_size;
        if io != 0 && (!io.is_power_of_two() || io < 8192) {
            return Err(create_failed(self.trtype));
        }
        self.max_aq_depth = self.max_aq_depth.max(MIN_ADMIN_SQ_SIZE);
        if self.kas == 0 || self.min_kato == 0 {
            return Err(create_failed(self.trtype));
        }
        let unit = u32::from(self.kas) * KAS_UNIT_MS;
        self.min_kato = self.min_kato.div_ceil(unit).saturating_mul(unit);
        Ok(())
    }

    /// The type's create: TCP refuses a socket priority over 16, and
    /// falls back to its defaults for a queue depth under 2 and an admin
    /// queue outside 2..=4096; in-capsule data is at most `max_io_size`.
    fn type_checks(&mut self) -> Result<(), ErrorObject> {
        if let Specific::Tcp { sock_priority, .. } = self.specific {
            if sock_priority > 16 {
                return Err(failed_to_create());
            }
            self.in_capsule_data_size = self.in_capsule_data_size.min(self.max_io_size);
            if self.max_queue_depth < 2 {
                self.max_queue_depth = 128;
            }
            if !(2..=4096).contains(&self.max_aq_depth) {
                self.max_aq_depth = 128;
            }
        }
        Ok(())
    }

    /// Its options as nvmf_transport_dump_opts (lib/nvmf/transport.c)
    /// writes them, the type's own (its `dump_opts`) in the middle.
    pub fn dump(&self) -> Value {
        let mut o = Map::new();
        let mut put = |k: &str, v: Value| {
            o.insert(k.into(), v);
        };
        put("trtype", json!(self.trtype));
        put("max_queue_depth", json!(self.max_queue_depth));
        put(
            "max_io_qpairs_per_ctrlr",
            json!(self.max_io_qpairs_per_ctrlr),
        );
        put("in_capsule_data_size", json!(self.in_capsule_data_size));
        put("max_io_size", json!(self.max_io_size));
        put("max_aq_depth", json!(self.max_aq_depth));
        put("iobuf_small_cache_size", json!(self.iobuf_small_cache_size));
        put("iobuf_large_cache_size", json!(self.iobuf_large_cache_size));
        put("dif_insert_or_strip", json!(self.dif_insert_or_strip));
        put("zcopy", json!(self.zcopy));
        match &self.specific {
            // tcp.c nvmf_tcp_dump_opts.
            Specific::Tcp {
                c2h_success,
                sock_priority,
            } => {
                put("c2h_success", json!(c2h_success));
                put("sock_priority", json!(sock_priority));
            }
            // rdma.c nvmf_rdma_dump_opts: the CQ size only without SRQ.
            Specific::Rdma {
                max_srq_depth,
                no_srq,
                num_cqe,
                acceptor_backlog,
                no_wr_batching,
            } => {
                put("max_srq_depth", json!(max_srq_depth));
                put("no_srq", json!(no_srq));
                if *no_srq {
                    put("num_cqe", json!(num_cqe));
                }
                put("acceptor_backlog", json!(acceptor_backlog));
                put("no_wr_batching", json!(no_wr_batching));
            }
        }
        put("abort_timeout_sec", json!(self.abort_timeout_sec));
        put("ack_timeout", json!(self.ack_timeout));
        put("data_wr_pool_size", json!(self.data_wr_pool_size));
        put(
            "disable_command_passthru",
            json!(self.disable_command_passthru),
        );
        put("kas", json!(self.kas));
        put("min_kato", json!(self.min_kato));
        Value::Object(o)
    }
}

/// Overrides a default with a value the params gave.
fn set<T>(field: &mut T, given: Option<T>) {
    if let Some(v) = given {
        *field = v;
    }
}
