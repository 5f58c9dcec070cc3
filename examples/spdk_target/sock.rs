//! The sock subsystem: the socket implementations a default build has
//! (`posix` and `ssl`, both from `module/sock/posix`), their options and
//! which one is the default.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Map, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::{NoParams, Registrar, INVALID_PARAMS};
use crate::setting::Setting;

pub struct Sock {
    default_impl: String,
    /// In SPDK's list order: implementations are added at its head, and
    /// `ssl` registers after `posix`.
    impls: Vec<(&'static str, Setting)>,
}

impl Default for Sock {
    fn default() -> Self {
        Sock {
            // posix registers itself as the default.
            default_impl: "posix".into(),
            impls: vec![
                // MIN_SO_RCVBUF_SIZE / MIN_SO_SNDBUF_SIZE (4 KiB).
                ("ssl", impl_options("ssl", 4096)),
                // DEFAULT_SO_RCVBUF_SIZE / DEFAULT_SO_SNDBUF_SIZE (2 MiB).
                ("posix", impl_options("posix", 2 * 1024 * 1024)),
            ],
        }
    }
}

/// An implementation's defaults (`g_posix_impl_opts`, `g_ssl_impl_opts`),
/// in the order `spdk_sock_write_config_json` writes them.
fn impl_options(name: &str, buf_size: u32) -> Setting {
    Setting::new(
        "sock_impl_set_options",
        json!({
            "impl_name": name,
            "recv_buf_size": buf_size,
            "send_buf_size": buf_size,
            "enable_recv_pipe": true,
            "enable_quickack": false,
            "enable_placement_id": 0,
            "enable_zerocopy_send_server": true,
            "enable_zerocopy_send_client": false,
            "zerocopy_threshold": 0,
            "tls_version": 0,
            "enable_ktls": false,
        }),
    )
}

pub fn register(r: &mut Registrar) {
    // Every failure of these reads "Invalid parameters", an unknown
    // implementation too.
    r.add_as::<SockImplSetOptions, bool>(When::Startup, INVALID_PARAMS, |s, p| {
        let options = s.sock.options_mut(&p.impl_name)?;
        options.merge(&p);
        Ok(true)
    });
    r.add_as::<SockImplGetOptions, Value>(When::Always, INVALID_PARAMS, |s, p| {
        let mut options: Map<String, Value> = s.sock.options_mut(&p.impl_name)?.params().clone();
        options.shift_remove("impl_name");
        Ok(Value::Object(options))
    });
    r.add_as::<SockSetDefaultImpl, bool>(When::Startup, INVALID_PARAMS, |s, p| {
        s.sock.options_mut(&p.impl_name)?;
        s.sock.default_impl = p.impl_name;
        Ok(true)
    });
    r.add_bare::<SockGetDefaultImpl, Value>(
        When::Always,
        NoParams::Refused("sock_get_default_impl requires no parameters"),
        |s| Ok(json!({"impl_name": s.sock.default_impl})),
    );
}

impl Sock {
    fn options_mut(&mut self, name: &str) -> Result<&mut Setting, ErrorObject> {
        self.impls
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| o)
            .ok_or_else(|| ErrorObject::new(ErrorObject::INVALID_PARAMS, "Invalid parameters"))
    }

    /// The default implementation, then each implementation's options.
    pub fn config(&self) -> Vec<Value> {
        let mut out = vec![json!({"method": "sock_set_default_impl",
            "params": {"impl_name": self.default_impl}})];
        out.extend(self.impls.iter().map(|(_, o)| o.entry()));
        out
    }
}
