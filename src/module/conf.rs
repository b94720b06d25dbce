//! Helpers modules use to read their configuration the way BFE modules
//! do: where the files are (`conf_path`, `resolve`), gcfg-style INI
//! ([`IniConf`]), BFE's JSON conventions ([`read_json`]) and
//! product-keyed rule tables ([`ProductRules`]). Every problem is
//! collected with file, key or JSON path and reason, so `-t` lists them
//! all at once.

use crate::config::data::json::{self, Obj, J};
use crate::config::ini::{Entry, Ini};
use crate::config::ConfError;
use crate::route::{Cond, RequestFacts};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};

pub use crate::config::data::json::J as JsonReader;

/// BFE's product whose rules apply to (or back up) every product.
pub const GLOBAL_PRODUCT: &str = "global";

/// `<root>/<module>/<module>.conf` (BFE's `ModConfPath`).
pub fn conf_path(conf_root: &Path, module: &str) -> PathBuf {
    conf_root.join(module).join(format!("{module}.conf"))
}

/// The module conf most of BFE's rule modules share:
/// `<module>/<module>.conf` with `[Basic] DataPath` (`default_data` when
/// empty, resolved against the root) and `[Log] OpenDebug`, any other key
/// refused. Returns the rule file and the debug flag.
pub fn read_data_conf(
    root: &Path,
    module: &str,
    default_data: &str,
) -> Result<(PathBuf, bool), Vec<super::ModuleError>> {
    let refused = |e: Vec<ConfError>| super::ModuleError::confs(module, &e);
    let mut ini = IniConf::read(root, &conf_path(root, module)).map_err(refused)?;
    let data = ini.string("Basic", "DataPath").unwrap_or_default();
    let debug = ini.bool("Log", "OpenDebug").unwrap_or(false);
    ini.finish().map_err(refused)?;
    let data = if data.is_empty() { default_data } else { &data };
    Ok((resolve(root, data), debug))
}

/// BFE's `ConfPathProc`: an absolute path is kept, a relative one is
/// joined to the conf root.
pub fn resolve(conf_root: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        conf_root.join(path)
    }
}

/// How a file is named in errors: relative to the conf root when inside.
pub fn label(conf_root: &Path, path: &Path) -> String {
    json::label(conf_root, path)
}

/// gcfg matches names case-insensitively, with `-` standing for `_`.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let n = |c: u8| {
                if c == b'-' {
                    b'_'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            n(x) == n(y)
        })
}

/// A module conf file read with gcfg's rules. Read the keys the module
/// knows, then call [`IniConf::finish`]: any section or key not read is
/// an error, as gcfg's `ReadFileInto` makes it.
pub struct IniConf {
    file: String,
    ini: Ini,
    used: Vec<(String, String)>,
    errs: Vec<ConfError>,
}

impl IniConf {
    /// Read `path`; errors are labelled relative to `conf_root`.
    pub fn read(conf_root: &Path, path: &Path) -> Result<IniConf, Vec<ConfError>> {
        let file = label(conf_root, path);
        match std::fs::read_to_string(path) {
            Ok(text) => IniConf::parse(&file, &text),
            Err(e) => Err(vec![ConfError::new(file, "", format!("cannot read: {e}"))]),
        }
    }

    pub fn parse(file: &str, text: &str) -> Result<IniConf, Vec<ConfError>> {
        match Ini::parse(text) {
            Ok(ini) => Ok(IniConf {
                file: file.to_string(),
                ini,
                used: Vec::new(),
                errs: Vec::new(),
            }),
            Err(e) => Err(vec![ConfError::new(file, "", e.to_string())]),
        }
    }

    /// Every entry of `section.key`, marking the key as known.
    fn entries(&mut self, section: &str, key: &str) -> Vec<Entry> {
        self.used.push((section.to_string(), key.to_string()));
        self.ini
            .sections
            .iter()
            .filter(|s| s.sub.is_none() && same_name(&s.name, section))
            .flat_map(|s| s.entries.iter())
            .filter(|e| same_name(&e.key, key))
            .cloned()
            .collect()
    }

    fn fail(&mut self, section: &str, key: &str, e: &Entry, reason: String) {
        self.errs.push(ConfError::new(
            self.file.clone(),
            format!("{section}.{key}"),
            format!("line {}: {reason}", e.line),
        ));
    }

    /// The last value of a string key; `None` when absent.
    pub fn string(&mut self, section: &str, key: &str) -> Option<String> {
        let e = self.entries(section, key).pop()?;
        match e.value.clone() {
            Some(v) => Some(v),
            None => {
                self.fail(section, key, &e, "missing value".into());
                None
            }
        }
    }

    /// A multi-valued key: each line appends, a blank value resets.
    pub fn strings(&mut self, section: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.entries(section, key) {
            match e.value {
                Some(v) if v.is_empty() => out.clear(),
                Some(v) => out.push(v),
                None => out.clear(),
            }
        }
        out
    }

    /// `true/yes/on/1`, `false/no/off/0`; a bare key is true.
    pub fn bool(&mut self, section: &str, key: &str) -> Option<bool> {
        let e = self.entries(section, key).pop()?;
        let Some(raw) = e.value.as_deref() else {
            return Some(true);
        };
        match parse_bool(raw) {
            Some(b) => Some(b),
            None => {
                self.fail(section, key, &e, format!("{raw:?} is not a boolean"));
                None
            }
        }
    }

    /// Decimal or `0x` hexadecimal.
    pub fn int(&mut self, section: &str, key: &str) -> Option<i64> {
        let e = self.entries(section, key).pop()?;
        let raw = e.value.clone().unwrap_or_default();
        match parse_int(&raw) {
            Some(v) => Some(v),
            None => {
                self.fail(section, key, &e, format!("{raw:?} is not an integer"));
                None
            }
        }
    }

    /// Report a problem the module found with a value it read.
    pub fn error(&mut self, section: &str, key: &str, reason: impl Into<String>) {
        self.errs.push(ConfError::new(
            self.file.clone(),
            format!("{section}.{key}"),
            reason,
        ));
    }

    /// All problems: bad values, then unknown sections and keys.
    pub fn finish(mut self) -> Result<(), Vec<ConfError>> {
        for s in &self.ini.sections {
            let name = match &s.sub {
                Some(sub) => format!("{} \"{sub}\"", s.name),
                None => s.name.clone(),
            };
            let known_section =
                s.sub.is_none() && self.used.iter().any(|(sec, _)| same_name(sec, &s.name));
            if !known_section {
                self.errs.push(ConfError::new(
                    self.file.clone(),
                    name,
                    format!("line {}: unknown section", s.line),
                ));
                continue;
            }
            for e in &s.entries {
                let known = self
                    .used
                    .iter()
                    .any(|(sec, key)| same_name(sec, &s.name) && same_name(key, &e.key));
                if !known {
                    self.errs.push(ConfError::new(
                        self.file.clone(),
                        format!("{name}.{}", e.key),
                        format!("line {}: unknown key", e.line),
                    ));
                }
            }
        }
        if self.errs.is_empty() {
            Ok(())
        } else {
            Err(self.errs)
        }
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_int(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => s.parse::<i64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// A JSON data file's content and its `Version`.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    /// The file name (no directory), for reload replies.
    pub file: String,
    pub version: String,
    pub value: T,
}

impl<T> Versioned<T> {
    /// BFE's reload reply version: `<file name>=<Version>`.
    pub fn label(&self) -> String {
        format!("{}={}", self.file, self.version)
    }
}

/// Read a JSON data file with BFE's conventions: keys match
/// case-insensitively ([`field`]), unknown keys are ignored, the top level
/// is an object with a `Version` string. `parse` walks the root object and
/// reports problems into the reader; any problem fails the load.
pub fn read_json<T>(
    conf_root: &Path,
    path: &Path,
    parse: impl FnOnce(&mut J, &Obj) -> Option<T>,
) -> Result<Versioned<T>, Vec<ConfError>> {
    let mut errs = Vec::new();
    let mut j = J {
        file: label(conf_root, path),
        errs: &mut errs,
    };
    let out = j.read(path).and_then(|root| {
        let obj = j.obj(&root, "")?;
        let version = j.version(obj);
        parse(&mut j, obj).map(|value| (version, value))
    });
    match out {
        Some((version, value)) if errs.is_empty() => Ok(Versioned {
            file: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            version,
            value,
        }),
        _ if errs.is_empty() => Err(vec![ConfError::new(
            label(conf_root, path),
            "",
            "cannot load",
        )]),
        _ => Err(errs),
    }
}

/// A field of a JSON object as Go matches it (exact, else any case).
pub fn field<'v>(m: &'v Obj, key: &str) -> Option<&'v Value> {
    json::field(m, key)
}

/// One rule of a product table: its compiled condition and the module's
/// own part.
#[derive(Debug, Clone)]
pub struct Rule<R> {
    pub cond: Cond,
    pub rule: R,
}

/// A table keyed by product name, looked up on every request. Hashed with
/// FxHash: the keys come from configuration, so SipHash's resistance to
/// chosen keys buys nothing, and it costs hundreds of instructions per
/// lookup.
pub type ProductMap<V> = HashMap<String, V, BuildHasherDefault<fxhash::FxHasher>>;

/// Rules keyed by product name (`{"Config": {"<product>": [ {"Cond": …,
/// …}, … ]}}` in BFE's files). Conditions are compiled once, at load.
#[derive(Debug, Clone)]
pub struct ProductRules<R> {
    products: ProductMap<Vec<Rule<R>>>,
}

impl<R> Default for ProductRules<R> {
    fn default() -> Self {
        ProductRules {
            products: ProductMap::default(),
        }
    }
}

impl<R> ProductRules<R> {
    /// Parse `config` (the object keyed by product) found at JSON `path`.
    /// `rule` reads the module's fields of one rule object (the `Cond` is
    /// done here); it reports its own problems into `j`.
    pub fn parse(
        j: &mut J,
        config: &Value,
        path: &str,
        mut rule: impl FnMut(&mut J, &Obj, &str) -> Option<R>,
    ) -> ProductRules<R> {
        let mut products = ProductMap::default();
        let Some(obj) = j.obj(config, path) else {
            return ProductRules { products };
        };
        for (product, rpath, arr) in j.keyed_arrays(obj, path) {
            let mut rules = Vec::with_capacity(arr.len());
            for (i, item) in arr.iter().enumerate() {
                let ipath = json::index(&rpath, i);
                if let Some(r) = parse_rule(j, item, &ipath, &mut rule) {
                    rules.push(r);
                }
            }
            products.insert(product.clone(), rules);
        }
        ProductRules { products }
    }

    /// Read a whole product-rule file whose table is under `Config`.
    pub fn load(
        conf_root: &Path,
        path: &Path,
        rule: impl FnMut(&mut J, &Obj, &str) -> Option<R>,
    ) -> Result<Versioned<ProductRules<R>>, Vec<ConfError>> {
        read_json(conf_root, path, |j, root| {
            let config = j.need(root, "Config", "")?;
            Some(ProductRules::parse(j, config, "Config", rule))
        })
    }

    /// The product's rules, in file order (empty when it has none).
    pub fn product(&self, name: &str) -> &[Rule<R>] {
        self.products.get(name).map_or(&[], Vec::as_slice)
    }

    /// The `global` product's rules.
    pub fn global(&self) -> &[Rule<R>] {
        self.product(GLOBAL_PRODUCT)
    }

    /// The product's rules, or `global`'s when the product has no entry.
    pub fn product_or_global(&self, name: &str) -> &[Rule<R>] {
        match self.products.get(name) {
            Some(r) => r,
            None => self.global(),
        }
    }

    /// The first of `rules` whose condition matches.
    pub fn first_match<'r, F: RequestFacts + ?Sized>(
        rules: &'r [Rule<R>],
        req: &F,
    ) -> Option<&'r R> {
        rules.iter().find(|r| r.cond.eval(req)).map(|r| &r.rule)
    }

    pub fn has_product(&self, name: &str) -> bool {
        self.products.contains_key(name)
    }

    /// Product names, sorted.
    pub fn products(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.products.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

fn parse_rule<R>(
    j: &mut J,
    item: &Value,
    path: &str,
    rule: &mut impl FnMut(&mut J, &Obj, &str) -> Option<R>,
) -> Option<Rule<R>> {
    let obj = j.obj(item, path)?;
    let text = j.need_str(obj, "Cond", path);
    let cond = text.and_then(|t| match Cond::compile(t) {
        Ok(c) => Some(c),
        Err(e) => {
            j.err(&json::join(path, "Cond"), e.to_string());
            None
        }
    });
    let r = rule(j, obj, path);
    Some(Rule {
        cond: cond?,
        rule: r?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let root = Path::new("/conf");
        assert_eq!(
            conf_path(root, "mod_block"),
            Path::new("/conf/mod_block/mod_block.conf")
        );
        assert_eq!(resolve(root, "/abs/x.data"), Path::new("/abs/x.data"));
        assert_eq!(
            resolve(root, "mod_block/x.data"),
            Path::new("/conf/mod_block/x.data")
        );
    }

    #[test]
    fn ini_values_and_unknowns() {
        let text = "[Basic]\nDataPath = a.data ; comment\nEnable = yes\nSwitch\n\
                    Max-Conns = 0x10\nName = x\nName = y\n[Log]\nOpen = on\nTypo = 1\n[Extra]\nA = 1\n";
        let mut c = IniConf::parse("m.conf", text).expect("parses");
        assert_eq!(c.string("basic", "datapath").as_deref(), Some("a.data"));
        assert_eq!(c.bool("Basic", "Enable"), Some(true));
        assert_eq!(c.bool("Basic", "Switch"), Some(true));
        assert_eq!(c.int("Basic", "Max_Conns"), Some(16));
        assert_eq!(c.strings("Basic", "Name"), ["x", "y"]);
        assert_eq!(c.bool("Log", "Open"), Some(true));
        assert_eq!(c.int("Log", "Missing"), None);
        let errs = c.finish().expect_err("unknowns");
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            text.contains(&"m.conf: Log.Typo: line 10: unknown key".to_string()),
            "{text:?}"
        );
        assert!(
            text.contains(&"m.conf: Extra: line 11: unknown section".to_string()),
            "{text:?}"
        );
    }

    #[test]
    fn ini_bad_values_name_key() {
        let mut c = IniConf::parse("m.conf", "[A]\nB = maybe\nC = 12x\n").expect("parses");
        assert_eq!(c.bool("A", "B"), None);
        assert_eq!(c.int("A", "C"), None);
        let errs = c.finish().expect_err("bad values");
        assert_eq!(
            errs[0].to_string(),
            "m.conf: A.B: line 2: \"maybe\" is not a boolean"
        );
        assert_eq!(errs[1].key, "A.C");
        assert_eq!(parse_int("-0x1f"), Some(-31));
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rf-modconf-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn json_case_insensitive_with_version() {
        let d = tmp("json");
        let p = write(
            &d,
            "x.data",
            r#"{"version": "v1", "VALUE": 3, "other": true}"#,
        );
        let v = read_json(&d, &p, |j, root| j.need_int(root, "Value", "", 0, 10)).expect("loads");
        assert_eq!((v.value, v.label()), (3, "x.data=v1".to_string()));
        let p = write(&d, "y.data", r#"{"Version": 1}"#);
        let e = read_json(&d, &p, |_, _| Some(())).expect_err("number version");
        assert_eq!(e[0].file, "y.data");
        assert_eq!(e[0].key, "Version");
    }

    #[test]
    fn product_rules_compile_and_look_up() {
        let d = tmp("rules");
        let text = r#"{"Version": "v2", "Config": {
            "p": [{"Cond": "default_t()", "Action": "A"}],
            "global": [{"cond": "default_t()", "Action": "G"}],
            "bad": [{"Cond": "default_t()", "Action": "ok"}, {"Cond": "nope(", "Action": "B"}]
        }}"#;
        let p = write(&d, "rules.data", text);
        let action =
            |j: &mut J, o: &Obj, path: &str| j.need_str(o, "Action", path).map(String::from);
        let e = ProductRules::load(&d, &p, action).expect_err("bad cond");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].key, "Config.bad[1].Cond");
        let text = text.replace("nope(", "default_t()");
        let p = write(&d, "rules.data", &text);
        let t = ProductRules::load(&d, &p, action).expect("loads");
        assert_eq!(t.value.product("p")[0].rule, "A");
        assert_eq!(t.value.product_or_global("q")[0].rule, "G");
        assert!(t.value.product("q").is_empty());
        assert_eq!(t.value.products(), ["bad", "global", "p"]);
        assert_eq!(t.label(), "rules.data=v2");
    }
}
