//! Real peer servers the tests start on loopback: Debian's icecast2 as "a remote Icecast"
//! (and, on its Shoutcast-compatible port, "a remote Shoutcast"), nginx with the RTMP module
//! as "YouTube" (and as an RTMP and HLS server relays pull from). Each runs in the
//! foreground from a config written to a temporary folder, never the packaged service; as
//! root icecast2 is started as user icecast2 (it refuses to run as root).

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::icecast::Proc;
use crate::{Value, eventually_blocking, secs, within};

/// A running icecast2 with source password [`Icecast2::PASSWORD`].
#[derive(Debug)]
pub struct Icecast2 {
    pub port: u16,
    /// A Shoutcast v1 listener port (`/sc.mp3`); sources connect to the next port.
    pub shoutcast_port: u16,
    dir: tempfile::TempDir,
    proc: Option<Proc>,
}

impl Icecast2 {
    pub const PASSWORD: &'static str = "peer-source-pw";

    /// Starts one on a free loopback port and waits until it answers.
    pub fn start() -> Self {
        assert!(
            std::path::Path::new("/usr/bin/icecast2").exists(),
            "the restream tests need Debian's icecast2 (scripts/test.sh installs it)"
        );
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut me = Self {
            port,
            shoutcast_port: free_pair(),
            dir,
            proc: None,
        };
        me.restart();
        me
    }

    fn config(&self) -> String {
        let d = self.dir.path().display();
        format!(
            r#"<icecast>
    <location>loopback</location><admin>test@localhost</admin>
    <limits><clients>100</clients><sources>10</sources><source-timeout>10</source-timeout>
        <burst-on-connect>1</burst-on-connect><burst-size>65535</burst-size></limits>
    <authentication><source-password>{pw}</source-password><admin-user>admin</admin-user>
        <admin-password>{pw}</admin-password></authentication>
    <hostname>127.0.0.1</hostname>
    <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
    <listen-socket><port>{sc}</port><bind-address>127.0.0.1</bind-address><shoutcast-mount>/sc.mp3</shoutcast-mount></listen-socket>
    <fileserve>1</fileserve>
    <paths><basedir>/usr/share/icecast2</basedir><logdir>{d}</logdir>
        <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
        <pidfile>{d}/icecast.pid</pidfile></paths>
    <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
    <security><chroot>0</chroot></security>
</icecast>
"#,
            pw = Self::PASSWORD,
            port = self.port,
            sc = self.shoutcast_port,
        )
    }

    /// Stops it (as a remote that went away).
    pub fn stop(&mut self) {
        self.proc = None;
    }

    /// Starts it again on the same port, waiting until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let conf = self.dir.path().join("icecast.xml");
        std::fs::write(&conf, self.config()).unwrap();
        let root = nix_is_root();
        if root {
            Command::new("chown")
                .args(["-R", "icecast2:icecast"])
                .arg(self.dir.path())
                .status()
                .unwrap();
        }
        let mut cmd = if root {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=icecast2",
                "--regid=icecast",
                "--init-groups",
                "icecast2",
            ]);
            c
        } else {
            Command::new("icecast2")
        };
        cmd.arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.proc = Some(Proc(cmd.spawn().unwrap()));
        let wait = within(secs(10)).every(Duration::from_millis(50));
        eventually_blocking(wait, "icecast2 to start", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port))
                .map_err(|e| format!("{e}; its log: {}", self.log()))
        });
    }

    /// `host:port`, as the listener helpers take it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `/status-json.xsl`'s sources, as a list (icecast gives one source as an object).
    pub async fn sources(&self) -> Vec<Value> {
        let url = format!("http://127.0.0.1:{}/status-json.xsl", self.port);
        let v: Value = match reqwest::get(&url).await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        match &v["icestats"]["source"] {
            Value::Array(a) => a.clone(),
            Value::Object(_) => vec![v["icestats"]["source"].clone()],
            _ => Vec::new(),
        }
    }

    /// Its error log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free loopback port whose next port is free too (Shoutcast's source port).
fn free_pair() -> u16 {
    loop {
        let p = free_port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

/// A running nginx with the RTMP module: `rtmp://127.0.0.1:<rtmp>/live/<name>` takes
/// publishers and plays to readers, and `http://127.0.0.1:<http>/` serves [`Nginx::www`].
#[derive(Debug)]
pub struct Nginx {
    pub rtmp: u16,
    pub http: u16,
    /// RTMPS: TLS (a certificate for `localhost` from a test CA) in front of the RTMP port.
    pub rtmps: Option<u16>,
    dir: tempfile::TempDir,
    proc: Option<Proc>,
}

impl Nginx {
    pub fn start() -> Self {
        assert!(
            std::path::Path::new("/usr/lib/nginx/modules/ngx_rtmp_module.so").exists(),
            "the restream tests need Debian's nginx and libnginx-mod-rtmp (scripts/test.sh installs them)"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("www")).unwrap();
        let mut me = Self {
            rtmp: free_port(),
            http: free_port(),
            rtmps: None,
            dir,
            proc: None,
        };
        me.restart();
        me
    }

    /// Also RTMPS, as YouTube and Facebook take it: TLS in front of the RTMP port with a
    /// certificate for `localhost` signed by a CA of the test's own ([`Nginx::ca`]).
    pub fn start_with_tls() -> Self {
        let mut me = Self::start();
        let d = me.dir.path();
        let run = |args: &[&str]| {
            let ok = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok, "openssl {args:?}");
        };
        std::fs::write(d.join("san.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Tidecast Test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=localhost",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "san.cnf",
        ]);
        me.rtmps = Some(free_port());
        me.restart();
        me
    }

    /// The test CA's certificate (for `SSL_CERT_FILE`).
    pub fn ca(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The folder served over HTTP.
    pub fn www(&self) -> std::path::PathBuf {
        self.dir.path().join("www")
    }

    fn config(&self) -> String {
        let d = self.dir.path().display();
        let stream = match self.rtmps {
            Some(port) => format!(
                "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n\
                 stream {{ server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/srv.pem; \
                 ssl_certificate_key {d}/srv.key; proxy_pass 127.0.0.1:{}; }} }}\n",
                self.rtmp
            ),
            None => String::new(),
        };
        format!(
            r#"load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
{stream}daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp};
        chunk_size 4096;
        application live {{ live on; record off; }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    server {{
        listen 127.0.0.1:{http};
        location / {{ root {d}/www; add_header Cache-Control no-cache; }}
    }}
}}
"#,
            rtmp = self.rtmp,
            http = self.http,
        )
    }

    pub fn stop(&mut self) {
        self.proc = None;
    }

    /// Starts it again on the same ports, waiting until both answer.
    pub fn restart(&mut self) {
        self.stop();
        let conf = self.dir.path().join("nginx.conf");
        std::fs::write(&conf, self.config()).unwrap();
        // One process (no master): killing it is the remote going away at once.
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.proc = Some(Proc(child));
        let wait = within(secs(10)).every(Duration::from_millis(50));
        let ports = [Some(self.rtmp), Some(self.http), self.rtmps];
        eventually_blocking(wait, "nginx to listen on all its ports", || {
            for port in ports.into_iter().flatten() {
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .map_err(|e| format!("port {port}: {e}; its log: {}", self.log()))?;
            }
            Ok::<_, String>(())
        });
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// An IP camera: GStreamer's RTSP server (`tests/peers/rtsp_camera.py`) serving H.264 and
/// AAC at `rtsp://127.0.0.1:<port>/cam` over TCP or UDP.
#[derive(Debug)]
pub struct RtspCamera {
    pub port: u16,
    proc: Option<Proc>,
}

impl RtspCamera {
    pub fn start() -> Self {
        let mut me = Self {
            port: free_port(),
            proc: None,
        };
        me.restart();
        me
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam", self.port)
    }

    pub fn stop(&mut self) {
        self.proc = None;
    }

    pub fn restart(&mut self) {
        self.stop();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/rtsp_camera.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(self.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.proc = Some(Proc(child));
        let wait = within(secs(15)).every(Duration::from_millis(50));
        eventually_blocking(
            wait,
            "the RTSP camera to start (scripts/test.sh installs GStreamer's RTSP server)",
            || std::net::TcpStream::connect(("127.0.0.1", self.port)),
        );
    }
}
