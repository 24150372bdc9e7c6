//! `[fleet]` in `keel.toml` (or in the file `keel fleet --file FILE` names): the databases one
//! plan is applied to, in groups run in order, `parallel` at a time.
//!
//! ```toml
//! [fleet]
//! parallel = 4
//! on_error = "stop"            # or "continue"
//! groups = ["canary", "rest"]  # run in this order; a target without a group is in the last
//!
//! [[fleet.targets]]
//! name = "tenant_001"
//! url_env = "TENANT_001_URL"   # or: url = "postgresql://..."
//! group = "canary"
//! tags = ["eu"]
//!
//! [fleet.targets_query]        # more targets, from a table on a control database
//! url_env = "CONTROL_URL"
//! query = "SELECT name, url, 'rest' AS \"group\" FROM tenants"
//! ```

use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// `on_error`: whether a failure stops the fleet from starting more targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// No new target starts after the first failure; running ones finish or roll back.
    #[default]
    Stop,
    /// Every target is tried.
    Continue,
}

/// What is wrong in a fleet file, and where (a byte range of its text) when that is known.
type Mistake = (Option<std::ops::Range<usize>>, String);

/// A fleet file, or `keel.toml`: `[fleet]` alone is read here (`crate::config` reads and
/// checks the rest of `keel.toml`), so other keys are let through.
#[derive(Debug, Deserialize)]
struct FleetDocument {
    fleet: Option<FleetFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    // Spanned where a check after parsing can fail, so that its message says the line.
    parallel: Option<Spanned<usize>>,
    on_error: Option<OnError>,
    groups: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    targets: Vec<TargetFile>,
    targets_query: Option<QueryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    name: Spanned<String>,
    url: Option<Spanned<String>>,
    url_env: Option<String>,
    group: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    url: Option<Spanned<String>>,
    url_env: Option<String>,
    query: String,
}

/// Where a database is. The URL may hold a password: it is never printed, and a target is
/// shown by its name.
#[derive(Clone, PartialEq, Eq)]
pub struct Url(String);

impl Url {
    /// A URL that names one database: never empty (to the connection code an empty URL means
    /// "none given", and falls back to DATABASE_URL, the PG* variables or the dev database),
    /// and readable by it ([`crate::db::connect::check_url`]). The error is what to say after
    /// "its url"; it never quotes the URL, which may hold a password.
    pub fn new(text: String) -> Result<Url, String> {
        use crate::db::connect::{check_url, UrlProblem};
        match check_url(&text) {
            Ok(()) => Ok(Url(text)),
            Err(UrlProblem::Empty) => Err("is empty".into()),
            Err(UrlProblem::Invalid(why)) => Err(format!("is not a database URL: {why}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Url(..)")
    }
}

/// One database of the fleet.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// `None` when `url_env` names a variable that is not set: the target is reported as
    /// unreachable, saying which variable.
    pub url: Result<Url, String>,
    pub group: String,
    pub tags: Vec<String>,
}

/// The control database and query that list more targets: rows of `name`, `url` and
/// optionally `group` (text).
#[derive(Debug, Clone)]
pub struct TargetsQuery {
    pub url: Url,
    pub query: String,
}

/// The fleet as configured.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub parallel: usize,
    pub on_error: OnError,
    /// In run order; never empty (`["all"]` when none are named).
    pub groups: Vec<String>,
    pub targets: Vec<Target>,
    pub query: Option<TargetsQuery>,
}

/// A mistake in the `[fleet]` table (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{location}: [fleet]: {message}")]
pub struct FleetConfigError {
    /// The file, with `:line:column` where TOML knows the place.
    pub location: String,
    pub message: String,
}

/// The largest file keel reads for a fleet; a real one with 1,000 targets is ~100 KB.
const MAX_FILE_BYTES: u64 = 16 << 20;

impl Fleet {
    /// The `[fleet]` table of `file` (`keel.toml` or `--file`), with `url_env` read through
    /// `env`.
    pub fn load(
        file: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Fleet, FleetConfigError> {
        let fail = |message: String| FleetConfigError {
            location: file.display().to_string(),
            message,
        };
        let bytes = crate::safe_fs::read_regular(file, MAX_FILE_BYTES).map_err(|e| {
            fail(match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "the file does not exist; describe the fleet in keel.toml, or name its file with `keel fleet --file FILE`".into()
                }
                _ => format!("cannot read it: {e}"),
            })
        })?;
        let text = String::from_utf8(bytes).map_err(|_| fail("it is not UTF-8".into()))?;
        // Straight from the text, not through a `toml::Table`: a mistake keeps its place.
        let document: FleetDocument =
            toml::from_str(&text).map_err(|e: toml::de::Error| FleetConfigError {
                location: crate::config::toml_location(file, &text, &e),
                message: e.message().into(),
            })?;
        let Some(raw) = document.fleet else {
            return Err(fail(
                "there is no [fleet] table; add one with [[fleet.targets]] (see the README's \"Many databases\")"
                    .into(),
            ));
        };
        Fleet::from_file(raw, env).map_err(|(span, message)| FleetConfigError {
            location: crate::config::location(file, &text, span),
            message,
        })
    }

    /// The checks TOML cannot make; a mistake comes with where it is, when that is known.
    fn from_file(raw: FleetFile, env: &dyn Fn(&str) -> Option<String>) -> Result<Fleet, Mistake> {
        let parallel = match raw.parallel {
            Some(p) if *p.get_ref() == 0 => {
                return Err((Some(p.span()), "parallel must be at least 1".into()))
            }
            Some(p) => p.into_inner(),
            None => 4,
        };
        let groups: Vec<String> = match raw.groups {
            None => vec!["all".to_string()],
            Some(g) if g.get_ref().is_empty() => {
                return Err((
                    Some(g.span()),
                    "groups is empty; leave it out for one group".into(),
                ))
            }
            Some(g) => {
                let mut seen = BTreeSet::new();
                for g in g.get_ref() {
                    if !seen.insert(g.get_ref().as_str()) {
                        return Err((
                            Some(g.span()),
                            format!("group `{}` is listed twice", g.get_ref()),
                        ));
                    }
                }
                g.into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect()
            }
        };
        let last = groups.last().expect("not empty").clone();
        let mut names = BTreeSet::new();
        let mut targets = Vec::with_capacity(raw.targets.len());
        for t in raw.targets {
            let at = Some(t.name.span());
            let name = t.name.into_inner();
            check_name(&name).map_err(|m| (at.clone(), m))?;
            if !names.insert(name.clone()) {
                return Err((at, format!("target `{name}` is listed twice")));
            }
            let url = match (t.url, t.url_env) {
                (Some(u), None) => {
                    let span = u.span();
                    Ok(Url::new(u.into_inner())
                        .map_err(|why| (Some(span), format!("target `{name}`: its url {why}")))?)
                }
                // Known only where keel runs: the target is unreachable, saying why.
                (None, Some(var)) => match env(&var) {
                    None => Err(format!(
                        "the environment variable {var} (its url_env) is not set"
                    )),
                    Some(u) => Url::new(u).map_err(|why| {
                        format!("the environment variable {var} (its url_env) {why}")
                    }),
                },
                _ => {
                    return Err((
                        at,
                        format!("target `{name}` needs exactly one of url and url_env"),
                    ))
                }
            };
            let group = match t.group {
                Some(g) if groups.contains(g.get_ref()) => g.into_inner(),
                Some(g) => {
                    return Err((
                        Some(g.span()),
                        format!(
                            "target `{name}` is in group `{}`, which groups does not list ({})",
                            g.get_ref(),
                            groups.join(", ")
                        ),
                    ))
                }
                None => last.clone(),
            };
            targets.push(Target {
                name,
                url,
                group,
                tags: t.tags,
            });
        }
        let query = match raw.targets_query {
            None => None,
            Some(q) => {
                let url = match (q.url, q.url_env) {
                    (Some(u), None) => {
                        let span = u.span();
                        Url::new(u.into_inner())
                            .map_err(|why| (Some(span), format!("targets_query: its url {why}")))?
                    }
                    (None, Some(var)) => {
                        let u = env(&var).ok_or_else(|| {
                            (
                                None,
                                format!("targets_query: the environment variable {var} is not set"),
                            )
                        })?;
                        Url::new(u).map_err(|why| {
                            (
                                None,
                                format!("targets_query: the environment variable {var} {why}"),
                            )
                        })?
                    }
                    _ => {
                        return Err((
                            None,
                            "targets_query needs exactly one of url and url_env".into(),
                        ))
                    }
                };
                Some(TargetsQuery {
                    url,
                    query: q.query,
                })
            }
        };
        if targets.is_empty() && query.is_none() {
            return Err((
                None,
                "no targets: add [[fleet.targets]] or [fleet.targets_query]".into(),
            ));
        }
        Ok(Fleet {
            parallel,
            on_error: raw.on_error.unwrap_or_default(),
            groups,
            targets,
            query,
        })
    }

    /// Adds the targets a [`TargetsQuery`] returned: (name, url, group).
    pub fn add_queried(
        &mut self,
        rows: Vec<(String, String, Option<String>)>,
    ) -> Result<(), String> {
        let last = self.groups.last().expect("not empty").clone();
        for (name, url, group) in rows {
            check_name(&name)?;
            if self.targets.iter().any(|t| t.name == name) {
                return Err(format!(
                    "target `{name}` from targets_query is listed twice"
                ));
            }
            let group = match group {
                Some(g) if self.groups.contains(&g) => g,
                Some(g) => {
                    return Err(format!(
                        "target `{name}` from targets_query is in group `{g}`, which groups does not list"
                    ))
                }
                None => last.clone(),
            };
            let url =
                Url::new(url).map_err(|why| format!("targets_query: the url of `{name}` {why}"))?;
            self.targets.push(Target {
                name,
                url: Ok(url),
                group,
                tags: Vec::new(),
            });
        }
        Ok(())
    }
}

/// Names appear in tables, JSON and `--only`: letters, digits, `_`, `-` and `.`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "target name `{name}` may only hold letters, digits, `_`, `-` and `.`"
        ))
    }
}

/// `--only` and `--exclude`: a target's name, or `tag:T`, or `group:G`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Name(String),
    Tag(String),
    Group(String),
}

impl Selector {
    pub fn parse(s: &str) -> Selector {
        if let Some(t) = s.strip_prefix("tag:") {
            Selector::Tag(t.to_string())
        } else if let Some(g) = s.strip_prefix("group:") {
            Selector::Group(g.to_string())
        } else {
            Selector::Name(s.to_string())
        }
    }

    fn matches(&self, t: &Target) -> bool {
        match self {
            Selector::Name(n) => t.name == *n,
            Selector::Tag(tag) => t.tags.contains(tag),
            Selector::Group(g) => t.group == *g,
        }
    }
}

/// The targets `only` (all when empty) selects and `exclude` does not. A selector that matches
/// nothing is an error: a typo must not silently shrink a deploy.
pub fn select<'a>(
    targets: &'a [Target],
    only: &[Selector],
    exclude: &[Selector],
) -> Result<Vec<&'a Target>, String> {
    for s in only.iter().chain(exclude) {
        if !targets.iter().any(|t| s.matches(t)) {
            return Err(format!("{s:?} matches no target of the fleet"));
        }
    }
    Ok(targets
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|s| s.matches(t)))
        .filter(|t| !exclude.iter().any(|s| s.matches(t)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Fleet, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keel.toml");
        std::fs::write(&file, text).unwrap();
        let env = |name: &str| (name == "T2_URL").then(|| "postgresql://h/t2".to_string());
        Fleet::load(&file, &env).map_err(|e| e.to_string())
    }

    #[test]
    fn targets_groups_and_defaults() {
        let f = parse(
            r#"
[fleet]
groups = ["canary", "rest"]
[[fleet.targets]]
name = "t1"
url = "postgresql://h/t1"
group = "canary"
[[fleet.targets]]
name = "t2"
url_env = "T2_URL"
tags = ["eu"]
[[fleet.targets]]
name = "t3"
url_env = "T3_URL"
"#,
        )
        .unwrap();
        assert_eq!(f.parallel, 4);
        assert_eq!(f.on_error, OnError::Stop);
        assert_eq!(f.targets[0].group, "canary");
        assert_eq!(f.targets[1].group, "rest");
        assert_eq!(
            f.targets[1].url.as_ref().unwrap().as_str(),
            "postgresql://h/t2"
        );
        assert!(f.targets[2].url.as_ref().unwrap_err().contains("T3_URL"));
        assert_eq!(
            format!("{:?}", f.targets[0].url),
            "Ok(Url(..))",
            "never printed"
        );

        let only = [Selector::parse("tag:eu")];
        let picked = select(&f.targets, &only, &[]).unwrap();
        assert_eq!(picked.len(), 1);
        let picked = select(&f.targets, &[], &[Selector::parse("group:canary")]).unwrap();
        assert_eq!(picked.len(), 2);
        assert!(select(&f.targets, &[Selector::parse("t9")], &[]).is_err());
    }

    #[test]
    fn mistakes_are_named() {
        for (text, says) in [
            ("[fleet]\nparallel = 0\n[[fleet.targets]]\nname = \"a\"\nurl = \"postgresql:///u\"\n", "parallel"),
            ("[fleet]\n[[fleet.targets]]\nname = \"a\"\n", "exactly one of url and url_env"),
            ("[fleet]\n[[fleet.targets]]\nname = \"a b\"\nurl = \"postgresql:///u\"\n", "may only hold"),
            ("[fleet]\ngroups = [\"x\"]\n[[fleet.targets]]\nname = \"a\"\nurl = \"postgresql:///u\"\ngroup = \"y\"\n", "which groups does not list"),
            ("[fleet]\n[[fleet.targets]]\nname = \"a\"\nurl = \"postgresql:///u\"\n[[fleet.targets]]\nname = \"a\"\nurl = \"postgresql:///v\"\n", "listed twice"),
            ("[fleet]\nparalel = 2\n", "unknown field `paralel`"),
            ("dir = \"sql\"\n", "there is no [fleet] table"),
            ("[fleet]\non_error = \"sometimes\"\n", "unknown variant"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn a_mistake_toml_can_place_says_its_line_and_column() {
        let text = "[fleet]\nparallel = 2\n\n[[fleet.targets]]\nname = \"a\"\nurll = \"u\"\n";
        let e = parse(text).unwrap_err();
        assert!(
            e.contains("keel.toml:6:1: [fleet]: unknown field `urll`"),
            "{e}"
        );
        let e = parse("[fleet]\nparallel = 2\n[[fleet.targets]]\nname = \"a\"\nurl = \"u\n")
            .unwrap_err();
        assert!(e.contains("keel.toml:5:"), "{e}");
        // And so does a mistake found after parsing: the value that is wrong.
        let target = |name: &str, extra: &str| {
            format!("[[fleet.targets]]\nname = \"{name}\"\nurl = \"postgresql:///u\"\n{extra}")
        };
        for (text, says) in [
            (
                format!("[fleet]\n\nparallel = 0\n{}", target("a", "")),
                "keel.toml:3:12: [fleet]: parallel must be at least 1",
            ),
            (
                format!("[fleet]\ngroups = [\"x\", \"x\"]\n{}", target("a", "")),
                "keel.toml:2:16: [fleet]: group `x` is listed twice",
            ),
            (
                format!("[fleet]\n{}{}", target("a", ""), target("a", "")),
                "keel.toml:6:8: [fleet]: target `a` is listed twice",
            ),
            (
                format!("[fleet]\n{}", target("a b", "")),
                "keel.toml:3:8: [fleet]: target name `a b`",
            ),
            (
                format!(
                    "[fleet]\ngroups = [\"x\"]\n{}",
                    target("a", "group = \"y\"\n")
                ),
                "keel.toml:6:9: [fleet]: target `a` is in group `y`",
            ),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
