//! `cluster_conf.data`: per-cluster backend, health-check, GSLB and client
//! settings. Absent fields take BFE's defaults (`cluster_conf_load.go`).

use super::json::{field, join, sorted, Obj, J};
use crate::config::{BackendConf, BalanceMode, CheckConf, ClusterBasic, GslbBasic, HashConf};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ClusterConfEntry {
    pub name: String,
    pub backend: BackendConf,
    pub check: CheckConf,
    pub gslb: GslbBasic,
    pub basic: ClusterBasic,
}

#[derive(Debug, Default)]
pub struct ClusterConfFile {
    pub version: String,
    pub clusters: Vec<ClusterConfEntry>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<ClusterConfFile> {
    let root = j.obj(v, "")?;
    let version = j.need_str(root, "Version", "");
    let config = j.need_obj(root, "Config", "");
    let mut out = ClusterConfFile {
        version: version.unwrap_or_default().to_string(),
        clusters: Vec::new(),
    };
    for (name, c) in sorted(config?) {
        let path = join("Config", name);
        let Some(c) = j.obj(c, &path) else { continue };
        let (b, k, g, cb) = (
            sub(j, c, "BackendConf", &path),
            sub(j, c, "CheckConf", &path),
            sub(j, c, "GslbBasic", &path),
            sub(j, c, "ClusterBasic", &path),
        );
        let e = ClusterConfEntry {
            name: name.clone(),
            backend: backend(j, b.as_ref(), &join(&path, "BackendConf")),
            check: check(j, k.as_ref(), &join(&path, "CheckConf")),
            gslb: gslb(j, g.as_ref(), &join(&path, "GslbBasic")),
            basic: basic(j, cb.as_ref(), &join(&path, "ClusterBasic")),
        };
        out.clusters.push(e);
    }
    Some(out)
}

fn sub(j: &mut J, c: &Obj, key: &str, path: &str) -> Option<Obj> {
    field(c, key)
        .and_then(|v| j.obj(v, &join(path, key)))
        .cloned()
}

/// Reads optional fields of one section with defaults.
struct Sec<'a, 'j, 'e> {
    j: &'j mut J<'e>,
    m: Option<&'a Obj>,
    path: &'a str,
}

impl Sec<'_, '_, '_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.m.and_then(|m| field(m, key))
    }
    fn int(&mut self, key: &str, def: i64, min: i64, max: i64) -> i64 {
        let p = join(self.path, key);
        match self.m.and_then(|m| field(m, key)) {
            Some(v) => self.j.int(v, &p, min, max).unwrap_or(def),
            None => def,
        }
    }
    fn ms(&mut self, key: &str, def: i64) -> Duration {
        Duration::from_millis(self.int(key, def, 0, i64::MAX) as u64)
    }
    fn string(&mut self, key: &str, def: &str) -> String {
        let p = join(self.path, key);
        match self.m.and_then(|m| field(m, key)) {
            Some(v) => self.j.str(v, &p).unwrap_or(def).to_string(),
            None => def.to_string(),
        }
    }
    fn boolean(&mut self, key: &str, def: bool) -> bool {
        let p = join(self.path, key);
        match self.m.and_then(|m| field(m, key)) {
            Some(v) => self.j.bool(v, &p).unwrap_or(def),
            None => def,
        }
    }
}

fn backend(j: &mut J, m: Option<&Obj>, path: &str) -> BackendConf {
    let mut s = Sec { j, m, path };
    let protocol = s.string("Protocol", "http").to_ascii_lowercase();
    if protocol != "http" {
        let reason = format!("protocol {protocol:?} is not supported by ringfront (only http)");
        s.j.err(&join(path, "Protocol"), reason);
    }
    let outlier = s.string("OutlierDetectionHttpCode", "");
    let outlier_detection_http_code = match parse_codes(&outlier) {
        Ok(v) => v,
        Err(e) => {
            s.j.err(&join(path, "OutlierDetectionHttpCode"), e);
            Vec::new()
        }
    };
    BackendConf {
        timeout_conn_srv: s.ms("TimeoutConnSrv", 2000),
        timeout_response_header: s.ms("TimeoutResponseHeader", 60000),
        max_idle_conns_per_host: s.int("MaxIdleConnsPerHost", 2, 0, i64::MAX) as usize,
        retry_level: s.int("RetryLevel", 0, 0, 1) as u8,
        outlier_detection_http_code,
        slow_start_time: Duration::from_secs(s.int("SlowStartTime", 0, 0, u32::MAX as i64) as u64),
        send_proxy_v2: s.boolean("SendProxyV2", false),
    }
}

/// `500|502`, `5xx` (a whole class) or empty.
fn parse_codes(s: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in s.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        let p = part.to_ascii_lowercase();
        if let Some(class) = p.strip_suffix("xx") {
            match class.parse::<u16>() {
                Ok(c @ 1..=5) => out.extend(c * 100..c * 100 + 100),
                _ => return Err(format!("bad status class {part:?}")),
            }
        } else {
            match p.parse::<u16>() {
                Ok(c @ 100..=599) => out.push(c),
                _ => return Err(format!("bad status code {part:?}")),
            }
        }
    }
    Ok(out)
}

fn check(j: &mut J, m: Option<&Obj>, path: &str) -> CheckConf {
    let mut s = Sec { j, m, path };
    let schem = s.string("Schem", "http");
    if !["http", "https", "tls", "tcp"].contains(&schem.as_str()) {
        s.j.err(
            &join(path, "Schem"),
            format!("{schem:?} should be http, https, tls or tcp"),
        );
    }
    let uri = s.string("Uri", "/health_check");
    let status_code = s.int("StatusCode", 0, 0, 599) as u16;
    if schem.starts_with("http") {
        if !uri.starts_with('/') {
            s.j.err(&join(path, "Uri"), "must start with '/'");
        }
        if !(status_code <= 31 || (100..=599).contains(&status_code)) {
            s.j.err(
                &join(path, "StatusCode"),
                "should be 100-599, or 0-31 (0 any, bits 1xx-5xx)",
            );
        }
    }
    CheckConf {
        uri,
        host: s.string("Host", ""),
        status_code,
        fail_num: s.int("FailNum", 5, 0, u32::MAX as i64) as u32,
        succ_num: s.int("SuccNum", 1, 1, u32::MAX as i64) as u32,
        check_timeout: s.ms("CheckTimeout", 0),
        check_interval: s.ms("CheckInterval", 1000),
        schem,
    }
}

fn gslb(j: &mut J, m: Option<&Obj>, path: &str) -> GslbBasic {
    let mut s = Sec { j, m, path };
    let cross_retry = s.int("CrossRetry", 0, 0, u32::MAX as i64) as u32;
    let retry_max = s.int("RetryMax", 2, 0, u32::MAX as i64) as u32;
    let mode = s.string("BalanceMode", "WRR").to_ascii_uppercase();
    let balance_mode = match mode.as_str() {
        "WRR" => BalanceMode::Wrr,
        "WLC" => BalanceMode::Wlc,
        _ => {
            s.j.err(
                &join(path, "BalanceMode"),
                format!("{mode:?} should be WRR or WLC"),
            );
            BalanceMode::Wrr
        }
    };
    let hash_obj = s.get("HashConf").cloned();
    let hpath = join(path, "HashConf");
    let hash_map = hash_obj.as_ref().and_then(|v| s.j.obj(v, &hpath));
    let mut h = Sec {
        j: s.j,
        m: hash_map,
        path: &hpath,
    };
    let hash_strategy = h.int("HashStrategy", 1, 0, 3) as u8;
    let hash_header = h.string("HashHeader", "");
    let session_sticky = h.boolean("SessionSticky", false);
    if hash_strategy == 0 || hash_strategy == 2 {
        if hash_header.is_empty() {
            h.j.err(
                &join(&hpath, "HashHeader"),
                "required when HashStrategy is 0 or 2",
            );
        } else if let Some((_, cookie)) = hash_header.split_once(':') {
            if cookie.trim().is_empty() {
                h.j.err(
                    &join(&hpath, "HashHeader"),
                    "\"Cookie:\" needs a cookie name",
                );
            }
        }
    }
    GslbBasic {
        cross_retry,
        retry_max,
        hash: HashConf {
            hash_strategy,
            hash_header,
            session_sticky,
        },
        balance_mode,
    }
}

fn basic(j: &mut J, m: Option<&Obj>, path: &str) -> ClusterBasic {
    let mut s = Sec { j, m, path };
    ClusterBasic {
        timeout_read_client: s.ms("TimeoutReadClient", 30000),
        timeout_write_client: s.ms("TimeoutWriteClient", 60000),
        timeout_read_client_again: s.ms("TimeoutReadClientAgain", 60000),
        disable_health_check: s.boolean("DisableHealthCheck", false),
        request_buffer: s.int("RequestBufferSize", 64 << 10, 0, 1 << 30) as usize,
        response_buffer: s.int("ResponseBufferSize", 1 << 20, 0, 1 << 30) as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Option<ClusterConfFile>, Vec<crate::config::ConfError>) {
        let mut errs = Vec::new();
        let mut j = J {
            file: "cluster_conf.data".into(),
            errs: &mut errs,
        };
        let v = j.parse(text.as_bytes());
        let out = v.and_then(|v| parse(&mut j, &v));
        (out, errs)
    }

    #[test]
    fn defaults_are_bfe_defaults() {
        let (c, errs) = load(r#"{"Version":"v1","Config":{"c1":{}}}"#);
        assert!(errs.is_empty(), "{errs:?}");
        let c = &c.unwrap().clusters[0];
        assert_eq!(c.backend.timeout_conn_srv, Duration::from_millis(2000));
        assert_eq!(
            c.backend.timeout_response_header,
            Duration::from_millis(60000)
        );
        assert_eq!(c.backend.max_idle_conns_per_host, 2);
        assert_eq!(c.backend.retry_level, 0);
        assert_eq!(c.backend.slow_start_time, Duration::ZERO);
        assert_eq!((c.check.fail_num, c.check.succ_num), (5, 1));
        assert_eq!(c.check.check_interval, Duration::from_millis(1000));
        assert_eq!(c.check.uri, "/health_check");
        assert_eq!(c.check.status_code, 0);
        assert_eq!((c.gslb.retry_max, c.gslb.cross_retry), (2, 0));
        assert_eq!(c.gslb.hash.hash_strategy, 1);
        assert_eq!(c.gslb.balance_mode, BalanceMode::Wrr);
        assert_eq!(c.basic.timeout_read_client, Duration::from_millis(30000));
        assert_eq!(c.basic.timeout_write_client, Duration::from_millis(60000));
        assert_eq!(
            c.basic.timeout_read_client_again,
            Duration::from_millis(60000)
        );
    }

    #[test]
    fn errors_name_json_paths() {
        let (_, errs) = load(
            r#"{"Version":"v1","Config":{"c1":{"GslbBasic":{"RetryMax":-1,"BalanceMode":"x",
            "HashConf":{"HashStrategy":0}},"CheckConf":{"Uri":"health","FailNum":"3"},
            "BackendConf":{"OutlierDetectionHttpCode":"5xx|999"}}}}"#,
        );
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        for k in [
            "Config.c1.GslbBasic.RetryMax",
            "Config.c1.GslbBasic.BalanceMode",
            "Config.c1.GslbBasic.HashConf.HashHeader",
            "Config.c1.CheckConf.Uri",
            "Config.c1.CheckConf.FailNum",
            "Config.c1.BackendConf.OutlierDetectionHttpCode",
        ] {
            assert!(keys.contains(&k), "missing {k} in {keys:?}");
        }
    }

    #[test]
    fn version_and_config_required() {
        let (_, errs) = load(r#"{}"#);
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["Version", "Config"]);
    }

    #[test]
    fn status_classes() {
        assert_eq!(parse_codes("502|4xx").unwrap().len(), 101);
        assert!(parse_codes("6xx").is_err());
    }
}
