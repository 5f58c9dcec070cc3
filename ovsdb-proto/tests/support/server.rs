//! A real ovsdb-server for one test: its database, sockets and log in a
//! temporary directory, killed when dropped.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The bound on a whole test: only a hang (a bug) reaches it.
#[allow(dead_code)]
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// How long one step (a start, an update that should come) may take.
#[allow(dead_code)]
pub const STEP: Duration = Duration::from_secs(5);

/// Runs a test, failing it if it runs past [`TEST_LIMIT`].
#[allow(dead_code)]
pub async fn bounded<F: Future<Output = ()>>(test: F) {
    bounded_by(TEST_LIMIT, test).await
}

/// Runs a test, failing it if it runs past `limit`.
#[allow(dead_code)]
pub async fn bounded_by<F: Future<Output = ()>>(limit: Duration, test: F) {
    tokio::time::timeout(limit, test)
        .await
        .expect("the test ran past its time limit");
}

/// Where Debian puts the tools: ovsdb-server is in /usr/sbin, which a
/// non-root PATH may lack.
const EXTRA_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

const INSTALL_HINT: &str = "install Debian's openvswitch-common (as root: \
     scripts/install/ovs.sh, or apt-get install openvswitch-common)";

/// The path of tool `name`, or a panic saying how to install it: these
/// tests fail rather than pass having checked nothing.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed; {INSTALL_HINT}"))
}

pub fn schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

/// A running ovsdb-server serving the test schema's database "Test" on a
/// Unix socket and on a TCP port of 127.0.0.1 (TLS with [`start_tls`]).
pub struct OvsdbServer {
    child: Child,
    dir: tempfile::TempDir,
    /// `unix:PATH`
    pub unix: String,
    /// `tcp:127.0.0.1:PORT`, or `ssl:127.0.0.1:PORT` for a TLS server.
    pub tcp: String,
}

/// PEM files for a TLS test: a CA, and a certificate and key it signed for
/// each side (OVS insists on a client certificate too).
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    // openssl comes with openvswitch-common, which depends on it.
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running openssl: {e}; {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a CA and certificates for 127.0.0.1 in `dir`.
pub fn make_pki(dir: &Path) -> Pki {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=test-ca"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth,clientAuth\n",
    )
    .expect("writing leaf.ext");
    for who in ["server", "client"] {
        let (key, csr, pem) = (
            format!("{who}.key"),
            format!("{who}.csr"),
            format!("{who}.pem"),
        );
        let subject = format!("/CN={who}");
        let mut req = vec!["req", "-subj", &subject, "-keyout", &key, "-out", &csr];
        req.extend(ec);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-extfile",
                "leaf.ext",
                "-out",
                &pem,
            ],
        );
    }
    Pki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    }
}

impl OvsdbServer {
    pub async fn start() -> OvsdbServer {
        Self::start_with(false, "test.ovsschema").await.0
    }

    /// A server of the database `schema` (a file in `ovsdb-proto/schemas/`)
    /// describes.
    #[allow(dead_code)]
    pub async fn start_schema(schema: &str) -> OvsdbServer {
        Self::start_with(false, schema).await.0
    }

    /// A server whose inet remote is `pssl:`, with certificates made by
    /// `make_pki` in its directory (where they stay: ovsdb-server reads
    /// them again when they change).
    pub async fn start_tls() -> (OvsdbServer, Pki) {
        let (server, pki) = Self::start_with(true, "test.ovsschema").await;
        (server, pki.expect("TLS files were made"))
    }

    async fn start_with(with_tls: bool, schema: &str) -> (OvsdbServer, Option<Pki>) {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-real-")
            .tempdir()
            .expect("a temporary directory");
        let pki = with_tls.then(|| {
            let pki_dir = dir.path().join("pki");
            std::fs::create_dir(&pki_dir).expect("the certificates' directory");
            make_pki(&pki_dir)
        });
        let tls = pki.as_ref();
        let db = dir.path().join("test.db");
        let out = Command::new(tool("ovsdb-tool"))
            .arg("create")
            .arg(&db)
            .arg(schema_path(schema))
            .output()
            .expect("ovsdb-tool runs");
        assert!(
            out.status.success(),
            "ovsdb-tool create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sock = dir.path().join("db.sock");
        let log = dir.path().join("ovsdb-server.log");
        let mut command = Command::new(tool("ovsdb-server"));
        command
            .arg(&db)
            .arg(format!("--remote=punix:{}", sock.display()));
        // Port 0: the kernel picks a free one, read back from the log.
        let scheme = match tls {
            None => {
                command.arg("--remote=ptcp:0:127.0.0.1");
                "tcp"
            }
            Some(pki) => {
                command
                    .arg("--remote=pssl:0:127.0.0.1")
                    .arg(format!("--private-key={}", pki.server_key.display()))
                    .arg(format!("--certificate={}", pki.server_cert.display()))
                    .arg(format!("--ca-cert={}", pki.ca.display()));
                "ssl"
            }
        };
        let child = command
            .arg("--no-chdir")
            .arg(format!("--pidfile={}", dir.path().join("pid").display()))
            .arg(format!("--log-file={}", log.display()))
            .arg(format!("--unixctl={}", dir.path().join("ctl").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting ovsdb-server: {e}; {INSTALL_HINT}"));
        let mut server = OvsdbServer {
            child,
            dir,
            unix: format!("unix:{}", sock.display()),
            tcp: String::new(),
        };
        let port = server.wait_for_port(&log, &sock).await;
        server.tcp = format!("{scheme}:127.0.0.1:{port}");
        (server, pki)
    }

    /// Waits for the log to say which port it listens on and for the Unix
    /// socket to appear.
    async fn wait_for_port(&mut self, log: &Path, sock: &Path) -> u16 {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("ovsdb-server exited at start ({status}): {}", self.log());
            }
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let port = text.lines().find_map(|line| {
                let (_, rest) = line.split_once("listening on port ")?;
                rest.trim().parse::<u16>().ok()
            });
            if let (Some(port), true) = (port, sock.exists()) {
                return port;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("ovsdb-server did not start listening: {}", self.log());
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ovsdb-server.log")).unwrap_or_default()
    }
}

impl Drop for OvsdbServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
