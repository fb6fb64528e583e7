//! `tidecast serve` configuration: defaults < config file < environment < flags.
//!
//! Every setting is a flag (`--data`), an environment variable (`TIDECAST_DATA`) and a key
//! in the optional TOML file given with `--config` (`data = "..."`). clap merges flags over
//! environment; the file fills in what neither gave; the defaults fill in the rest.
//! Secrets (the database password) never appear in `Debug` output or logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::builder::BoolishValueParser;
use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

/// `tidecast serve` flags; each also reads `TIDECAST_<FLAG>` from the environment.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML config file; its keys are the flag names (`data`, `database_url`, `http`, …).
    #[arg(long, env = "TIDECAST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for the database, media library and DVR storage [default: ./data].
    #[arg(long, env = "TIDECAST_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Database URL [default: sqlite://DATA/tidecast.db]; `postgres://…` also works.
    #[arg(long, env = "TIDECAST_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Web UI, REST API, HLS, players and metrics [default: 0.0.0.0:8080].
    #[arg(long, env = "TIDECAST_HTTP", value_name = "ADDR")]
    pub http: Option<String>,
    /// RTMP ingest [default: 0.0.0.0:1935].
    #[arg(long, env = "TIDECAST_RTMP", value_name = "ADDR")]
    pub rtmp: Option<String>,
    /// Icecast-compatible sources and listeners [default: 0.0.0.0:8000].
    #[arg(long, env = "TIDECAST_ICECAST", value_name = "ADDR")]
    pub icecast: Option<String>,
    /// Base URL for the links the API and UI hand out (e.g. https://radio.example.com).
    #[arg(long, env = "TIDECAST_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Address ranges relay and publish URLs may reach besides public addresses.
    #[arg(
        long,
        env = "TIDECAST_RELAY_ALLOW",
        value_name = "CIDR,…",
        value_delimiter = ','
    )]
    pub relay_allow: Option<Vec<String>>,
    /// Seed a demo customer with a radio station and a video channel.
    #[arg(long, env = "TIDECAST_DEMO", num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub demo: Option<bool>,
    /// Log format: `text` for people, `json` for log collectors [default: text].
    #[arg(long, env = "TIDECAST_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Open connections over all ports (HTTP, Icecast, RTMP) together [default: the file
    /// descriptor limit minus a reserve for files and the database].
    #[arg(long, env = "TIDECAST_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Open connections one address may hold over all ports together (IPv6: one /64)
    /// [default: 256].
    #[arg(long, env = "TIDECAST_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    pub max_connections_per_address: Option<usize>,
}

/// Connections one address may hold by default: a browser opens up to six per host and a
/// player one or two, so this leaves room for a few dozen people behind one NAT while one
/// address cannot take more than a sliver of the descriptors. Loopback load tests raise it.
pub const DEFAULT_MAX_PER_ADDRESS: usize = 256;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `relay_allow` in the file may be a list or one comma-separated string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum CidrList {
    List(Vec<String>),
    Joined(String),
}

/// The config file. Unknown keys are an error: a typo must not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    #[serde(alias = "database-url")]
    database_url: Option<String>,
    http: Option<String>,
    rtmp: Option<String>,
    icecast: Option<String>,
    #[serde(alias = "public-url")]
    public_url: Option<String>,
    #[serde(alias = "relay-allow")]
    relay_allow: Option<CidrList>,
    demo: Option<bool>,
    #[serde(alias = "log-format")]
    log_format: Option<LogFormat>,
    #[serde(alias = "max-connections")]
    max_connections: Option<usize>,
    #[serde(alias = "max-connections-per-address")]
    max_connections_per_address: Option<usize>,
}

/// The resolved configuration the server runs with.
#[derive(Clone)]
pub struct Config {
    pub data: PathBuf,
    pub database_url: String,
    pub http: SocketAddr,
    pub rtmp: SocketAddr,
    pub icecast: SocketAddr,
    pub public_url: Option<Url>,
    pub relay_allow: Vec<IpNet>,
    pub demo: bool,
    pub log_format: LogFormat,
    /// `None`: derived from the file descriptor limit at start (`crate::nofile`).
    pub max_connections: Option<usize>,
    pub max_connections_per_address: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data", &self.data)
            .field("database_url", &redact_url(&self.database_url))
            .field("http", &self.http)
            .field("rtmp", &self.rtmp)
            .field("icecast", &self.icecast)
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("relay_allow", &self.relay_allow)
            .field("demo", &self.demo)
            .field("log_format", &self.log_format)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .finish()
    }
}

/// A URL with its password (and any `password=` query parameter) replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return raw.to_owned();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let secret =
                k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
            (
                k.into_owned(),
                if secret {
                    "***".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

impl ServeArgs {
    /// Resolves flags and environment (already merged by clap) over the config file and the
    /// defaults.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        let data = self
            .data
            .or(file.data)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = match self.database_url.or(file.database_url) {
            Some(url) => url,
            None => format!("sqlite://{}", data.join("tidecast.db").display()),
        };
        let http = parse_addr("http", self.http.or(file.http), "0.0.0.0:8080")?;
        let rtmp = parse_addr("rtmp", self.rtmp.or(file.rtmp), "0.0.0.0:1935")?;
        let icecast = parse_addr("icecast", self.icecast.or(file.icecast), "0.0.0.0:8000")?;
        let public_url = match self.public_url.or(file.public_url) {
            Some(raw) => Some(parse_public_url(&raw)?),
            None => None,
        };
        let relay_raw: Vec<String> = match (self.relay_allow, file.relay_allow) {
            (Some(list), _) => list,
            (None, Some(CidrList::List(list))) => list,
            (None, Some(CidrList::Joined(s))) => s.split(',').map(str::to_owned).collect(),
            (None, None) => Vec::new(),
        };
        let relay_allow = relay_raw
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(parse_cidr)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let max_connections = self.max_connections.or(file.max_connections);
        let max_connections_per_address = self
            .max_connections_per_address
            .or(file.max_connections_per_address)
            .unwrap_or(DEFAULT_MAX_PER_ADDRESS);
        if max_connections == Some(0) || max_connections_per_address == 0 {
            bail!("--max-connections and --max-connections-per-address must be at least 1");
        }
        Ok(Config {
            data,
            database_url,
            http,
            rtmp,
            icecast,
            public_url,
            relay_allow,
            demo: self.demo.or(file.demo).unwrap_or(false),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            max_connections,
            max_connections_per_address,
        })
    }
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {} is not valid", path.display()))
}

/// `ADDR` is `host:port`; a bare `:port` means every interface.
fn parse_addr(name: &str, value: Option<String>, default: &str) -> anyhow::Result<SocketAddr> {
    let raw = value.unwrap_or_else(|| default.to_owned());
    let candidate = if raw.starts_with(':') {
        format!("0.0.0.0{raw}")
    } else {
        raw.clone()
    };
    let candidate = candidate.replace("localhost:", "127.0.0.1:");
    candidate
        .parse()
        .with_context(|| format!("--{name} {raw:?} is not an address like 0.0.0.0:8080"))
}

fn parse_public_url(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("--public-url {raw:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("--public-url {raw:?} must be an http:// or https:// URL with a host");
    }
    Ok(url)
}

/// A CIDR range, or a single address (taken as a /32 or /128).
fn parse_cidr(raw: &str) -> anyhow::Result<IpNet> {
    if let Ok(net) = raw.parse::<IpNet>() {
        return Ok(net);
    }
    raw.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .with_context(|| format!("--relay-allow {raw:?} is not a CIDR range like 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let cfg = ServeArgs::default().resolve().expect("defaults resolve");
        assert_eq!(cfg.data, PathBuf::from("./data"));
        assert_eq!(cfg.database_url, "sqlite://./data/tidecast.db");
        assert_eq!(cfg.http.to_string(), "0.0.0.0:8080");
        assert_eq!(cfg.rtmp.to_string(), "0.0.0.0:1935");
        assert_eq!(cfg.icecast.to_string(), "0.0.0.0:8000");
        assert!(!cfg.demo && cfg.relay_allow.is_empty() && cfg.public_url.is_none());
        assert_eq!(cfg.max_connections, None);
        assert_eq!(cfg.max_connections_per_address, DEFAULT_MAX_PER_ADDRESS);
    }

    #[test]
    fn file_fills_in_and_flags_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tidecast.toml");
        std::fs::write(
            &path,
            "data = \"/srv/tc\"\nhttp = \"127.0.0.1:9000\"\nrelay_allow = [\"10.0.0.0/8\"]\ndemo = true\n\
             max_connections_per_address = 21000\nmax_connections = 30000\n",
        )
        .expect("write");
        let args = ServeArgs {
            config: Some(path),
            http: Some(":9100".into()),
            ..Default::default()
        };
        let cfg = args.resolve().expect("resolves");
        assert_eq!(cfg.data, PathBuf::from("/srv/tc"));
        assert_eq!(cfg.database_url, "sqlite:///srv/tc/tidecast.db");
        assert_eq!(cfg.http.to_string(), "0.0.0.0:9100");
        assert!(cfg.demo);
        assert_eq!(cfg.max_connections_per_address, 21_000);
        assert_eq!(cfg.max_connections, Some(30_000));
        assert_eq!(
            cfg.relay_allow,
            vec!["10.0.0.0/8".parse::<IpNet>().expect("cidr")]
        );
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tidecast.toml");
        std::fs::write(&path, "htp = \"127.0.0.1:9000\"\n").expect("write");
        let err = ServeArgs {
            config: Some(path),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(format!("{err:#}").contains("htp"), "{err:#}");
    }

    #[test]
    fn bad_values_are_errors() {
        let args = ServeArgs {
            http: Some("nonsense".into()),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
        let args = ServeArgs {
            relay_allow: Some(vec!["10.0.0.0/33".into()]),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
        let args = ServeArgs {
            public_url: Some("ftp://x".into()),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
        let args = ServeArgs {
            max_connections_per_address: Some(0),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
    }

    #[test]
    fn debug_redacts_database_password() {
        let args = ServeArgs {
            database_url: Some("postgres://tc:s3cret@db:5432/tc?sslpassword=p4ss".into()),
            ..Default::default()
        };
        let shown = format!("{:?}", args.resolve().expect("resolves"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("p4ss"),
            "{shown}"
        );
        assert!(shown.contains("postgres://tc:***@db:5432/tc"), "{shown}");
    }
}
