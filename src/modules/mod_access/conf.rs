//! `conf/mod_access/mod_access.conf`: where the log goes and its two
//! templates, validated and compiled once (BFE reads it only at start-up;
//! there is no reload).

use super::template::{self, Domain, Piece};
use super::writer::{Rotate, Target, When};
use crate::config::ConfError;
use crate::module::conf::{conf_path, resolve, IniConf};
use std::path::Path;

/// The module's table.
#[derive(Debug, Clone)]
pub struct AccessConf {
    pub target: Target,
    pub request: Vec<Piece>,
    pub session: Vec<Piece>,
    /// ringfront's `[Template] Format = json`: JSON lines instead of text.
    pub json: bool,
}

impl AccessConf {
    /// Whether any request item reads step timings.
    pub fn needs_timings(&self) -> bool {
        self.request.iter().any(|p| match p {
            Piece::Item { item, .. } => template::needs_timings(item),
            Piece::Text(_) => false,
        })
    }
}

/// Read and validate the conf under `conf_root`; every problem found.
pub fn load(conf_root: &Path) -> Result<AccessConf, Vec<ConfError>> {
    let path = conf_path(conf_root, "mod_access");
    let mut ini = IniConf::read(conf_root, &path)?;
    let file = crate::module::conf::label(conf_root, &path);
    let log_file = ini.string("Log", "LogFile").unwrap_or_default();
    let prefix = ini.string("Log", "LogPrefix").unwrap_or_default();
    let dir = ini.string("Log", "LogDir").unwrap_or_default();
    let when = ini.string("Log", "RotateWhen").unwrap_or_default();
    let backups = ini.int("Log", "BackupCount").unwrap_or(0);
    let req_text = ini
        .string("Template", "RequestTemplate")
        .unwrap_or_default();
    let ses_text = ini
        .string("Template", "SessionTemplate")
        .unwrap_or_default();
    let format = ini.string("Template", "Format");

    let target = if !log_file.is_empty() {
        for (key, set) in [
            ("LogPrefix", !prefix.is_empty()),
            ("LogDir", !dir.is_empty()),
            ("RotateWhen", !when.is_empty()),
            ("BackupCount", backups != 0),
        ] {
            if set {
                ini.error("Log", key, "must not be set together with LogFile");
            }
        }
        Some(Target {
            path: resolve(conf_root, &log_file),
            rotate: None,
        })
    } else {
        let mut ok = true;
        for (key, set) in [
            ("LogPrefix", !prefix.is_empty()),
            ("LogDir", !dir.is_empty()),
            ("RotateWhen", !when.is_empty()),
        ] {
            if !set {
                ini.error("Log", key, "required when LogFile is not set");
                ok = false;
            }
        }
        let w = When::parse(&when);
        if !when.is_empty() && w.is_none() {
            ini.error(
                "Log",
                "RotateWhen",
                format!("{when:?} is not one of M, H, D, MIDNIGHT, NEXTHOUR"),
            );
        }
        if backups <= 0 {
            ini.error("Log", "BackupCount", "must be > 0 when LogFile is not set");
            ok = false;
        }
        match (ok, w) {
            (true, Some(when)) => Some(Target {
                path: resolve(conf_root, &dir).join(format!("{prefix}.log")),
                rotate: Some(Rotate {
                    when,
                    backups: backups as usize,
                }),
            }),
            _ => None,
        }
    };

    let json = match format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(_) => {
            ini.error("Template", "Format", "must be text or json");
            false
        }
    };
    let compile = |ini: &mut IniConf, key: &str, text: &str, d: Domain| {
        if text.is_empty() {
            ini.error("Template", key, "required");
            return Vec::new();
        }
        match template::compile(text, d) {
            Ok(p) => p,
            Err(e) => {
                ini.error("Template", key, e);
                Vec::new()
            }
        }
    };
    let request = compile(
        &mut ini,
        "RequestTemplate",
        template::expand_request(&req_text),
        Domain::Request,
    );
    let session = compile(&mut ini, "SessionTemplate", &ses_text, Domain::Session);
    ini.finish()?;
    match target {
        Some(target) => Ok(AccessConf {
            target,
            request,
            session,
            json,
        }),
        None => Err(vec![ConfError::new(file, "Log", "no log target")]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf_dir(text: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rf-access-conf-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("mod_access")).unwrap();
        std::fs::write(d.join("mod_access/mod_access.conf"), text).unwrap();
        d
    }

    fn errors(text: &str) -> String {
        let d = conf_dir(text);
        let r = load(&d);
        let _ = std::fs::remove_dir_all(&d);
        match r {
            Ok(_) => String::new(),
            Err(e) => e
                .iter()
                .map(|e| format!("{}: {}: {}", e.file, e.key, e.reason))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn bfe_sample_loads_and_resolves_log_dir_against_the_root() {
        let sample = include_str!("../../../conf/mod_access/mod_access.conf");
        let d = conf_dir(sample);
        let c = load(&d).unwrap();
        assert_eq!(c.target.path, d.join("../log").join("access.log"));
        assert_eq!(
            c.target.rotate,
            Some(Rotate {
                when: When::NextHour,
                backups: 2
            })
        );
        assert!(!c.json);
        assert!(!c.needs_timings());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn refusals_name_file_key_and_item() {
        let e = errors("[Log]\nLogFile = x.log\n[Template]\nRequestTemplate = $ses_clientip\nSessionTemplate = $time\n");
        assert!(
            e.contains("mod_access/mod_access.conf: Template.RequestTemplate: item ses_clientip"),
            "{e}"
        );
        let e = errors("[Log]\nLogFile = x.log\nBackupCount = 3\n[Template]\nRequestTemplate = COMMON\nSessionTemplate = $host\n");
        assert!(e.contains("Log.BackupCount"), "{e}");
        assert!(e.contains("Template.SessionTemplate: item host"), "{e}");
        let e = errors("[Log]\nLogPrefix = a\nLogDir = d\nRotateWhen = W\nBackupCount = 0\n[Template]\nRequestTemplate = COMMON\nSessionTemplate = $time\n");
        assert!(
            e.contains("Log.RotateWhen") && e.contains("Log.BackupCount"),
            "{e}"
        );
        let e = errors("[Log]\nLogFile = x.log\nBogus = 1\n[Template]\nRequestTemplate = COMMON\nSessionTemplate = $time\nFormat = xml\n");
        assert!(e.contains("Bogus") && e.contains("Template.Format"), "{e}");
        assert_eq!(
            errors("[Log]\nLogFile = x.log\n[Template]\nRequestTemplate = COMBINED\nSessionTemplate = $time\nFormat = JSON\n"),
            ""
        );
    }
}
