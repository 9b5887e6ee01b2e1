//! `isula images`: the image table, `-q`, `--no-trunc`, `--filter` and `--format`.

use isula_api::v1::ListImagesRequest;
use isula_types::image::{ImageSummary, ListImagesOptions};
use serde::Serialize;

use crate::ctx::{parse_typed, to_json, value_of, Ctx};
use crate::error::{CliError, CmdResult};
use crate::fmt::{ago, align, human_size, short_id, utc};
use crate::template::Template;

/// `isula images [OPTIONS] [REPOSITORY[:TAG]]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Show all images (default hides intermediate images).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show digests.
    #[arg(long = "digests")]
    pub digests: bool,
    /// Filter output based on conditions provided (reference=, dangling=, label=, before=, since=).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print images using a Go template (`table`, `{{.ID}}`, `{{json .}}`).
    #[arg(long = "format", value_name = "TEMPLATE")]
    pub format: Option<String>,
    /// Only images matching this reference.
    pub reference: Option<String>,
}

/// Split a familiar `repo:tag` (the tag follows the last `:` after the last `/`).
fn split_tag(name: &str) -> (&str, &str) {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => (name, "<none>"),
    }
}

/// One `isula images` row: Docker's `--format` fields of one image name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Row {
    /// Always `N/A` (not counted).
    containers: &'static str,
    /// UTC creation time.
    created_at: String,
    /// `3 days ago`.
    created_since: String,
    /// The repo digest for this repository, or `<none>`.
    digest: String,
    /// Short (or full with `--no-trunc`) id.
    #[serde(rename = "ID")]
    id: String,
    /// Familiar repository name, or `<none>`.
    repository: String,
    /// Always `N/A`.
    shared_size: &'static str,
    /// Human size.
    size: String,
    /// Tag, or `<none>`.
    tag: String,
    /// Always `N/A`.
    unique_size: &'static str,
    /// Human size (Docker's old name of `Size`).
    virtual_size: String,
}

/// One row per name (or one `<none>` row).
pub(crate) fn rows(list: &[ImageSummary], no_trunc: bool) -> Vec<Row> {
    let mut out = Vec::new();
    for img in list {
        let id = img.id.as_str();
        let shown_id = if no_trunc { id.to_string() } else { short_id(id) };
        let created = img.created;
        let size = human_size(img.size);
        let digests: Vec<&str> = img.repo_digests.iter().map(String::as_str).collect();
        let digest_of = |repo: &str| {
            digests
                .iter()
                .find_map(|d| d.split_once('@').filter(|(r, _)| *r == repo).map(|(_, d)| d.to_string()))
                .unwrap_or_else(|| "<none>".into())
        };
        let mut names: Vec<(String, String)> = img
            .repo_tags
            .iter()
            .map(|n| {
                let (r, t) = split_tag(n);
                (r.to_string(), t.to_string())
            })
            .collect();
        if names.is_empty() {
            names = digests
                .iter()
                .filter_map(|d| d.split_once('@'))
                .map(|(r, _)| (r.to_string(), "<none>".to_string()))
                .collect();
            names.dedup();
        }
        if names.is_empty() {
            names.push(("<none>".into(), "<none>".into()));
        }
        for (repo, tag) in names {
            out.push(Row {
                containers: "N/A",
                created_at: utc(created),
                created_since: ago(created),
                digest: digest_of(&repo),
                id: shown_id.clone(),
                repository: repo,
                shared_size: "N/A",
                size: size.clone(),
                tag,
                unique_size: "N/A",
                virtual_size: size.clone(),
            });
        }
    }
    out
}

/// Does `pattern` (Docker's `reference=` filter: a glob over the familiar name, with or
/// without a tag) match the row `repo:tag`?
pub(crate) fn reference_matches(pattern: &str, repo: &str, tag: &str) -> bool {
    let has_tag = pattern.rfind(':').is_some_and(|i| !pattern[i..].contains('/'));
    if has_tag {
        glob(pattern, &format!("{repo}:{tag}"))
    } else {
        glob(pattern, repo)
    }
}

/// Go's `path.Match` subset: `*` (not across `/`) and `?`.
fn glob(p: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (p.chars().collect(), s.chars().collect());
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != '/').any(|i| go(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && s[0] != '/' && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(&p, &s)
}

/// Column titles of the image fields.
pub(crate) fn title(field: &str) -> String {
    match field {
        "ID" => "IMAGE ID".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        "VirtualSize" => "VIRTUAL SIZE".into(),
        "SharedSize" => "SHARED SIZE".into(),
        "UniqueSize" => "UNIQUE SIZE".into(),
        f => f.to_uppercase(),
    }
}

/// The template of a list command: `--format` when given, else `quiet` (for `-q`) or `table`.
pub(crate) fn list_format(format: &Option<String>, quiet_only: bool, quiet: &str, table: &str) -> String {
    match (format, quiet_only) {
        (Some(f), _) => f.clone(),
        (None, true) => quiet.to_string(),
        (None, false) => table.to_string(),
    }
}

/// Render `rows` (typed rows; templates see their JSON) with `format` (a table gets a header
/// and aligned columns).
pub(crate) fn render<T: Serialize>(
    rows: &[T],
    format: &str,
    title: &dyn Fn(&str) -> String,
) -> Result<String, CliError> {
    let t = Template::parse(format).map_err(CliError::engine)?;
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(title));
    }
    for r in rows {
        lines.push(t.render(&value_of(r)).map_err(CliError::engine)?);
    }
    Ok(if t.table { align(&lines) } else { lines.iter().map(|l| format!("{l}\n")).collect() })
}

/// Run `isula images`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let opts = ListImagesOptions { all: a.all, filters: filters.clone() };
    let mut c = ctx.images()?;
    let reply = ctx.rt.block_on(c.list(ListImagesRequest { options_json: to_json(&opts) }))?.into_inner();
    let list: Vec<ImageSummary> = parse_typed("images_json", &reply.images_json)?;
    let pats: Vec<&str> = filters.iter().filter_map(|f| f.strip_prefix("reference=")).collect();
    let mut rows = rows(&list, a.no_trunc);
    if !pats.is_empty() {
        // The engine selects images; Docker also shows only the names that matched.
        rows.retain(|r| pats.iter().any(|p| reference_matches(p, &r.repository, &r.tag)));
    }
    let format = match (&a.format, a.quiet, a.digests) {
        (Some(f), _, _) => f.clone(),
        (None, true, _) => "{{.ID}}".into(),
        (None, false, true) => {
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".into()
        }
        (None, false, false) => "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".into(),
    };
    print!("{}", render(&rows, &format, &title)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_name_and_none() {
        let img = |id: &str, tags: &[&str], digests: &[&str], size| ImageSummary {
            id: id.into(),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            created: 0,
            size,
            labels: Default::default(),
        };
        let list = vec![
            img(
                "sha256:0123456789abcdef0123",
                &["busybox:latest", "localhost:5000/x/busybox:v1"],
                &["busybox@sha256:aaa"],
                4_261_000,
            ),
            img("sha256:fedcba9876543210", &[], &[], 5),
        ];
        let r = rows(&list, false);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].repository, "busybox");
        assert_eq!(r[0].digest, "sha256:aaa");
        assert_eq!(r[1].repository, "localhost:5000/x/busybox");
        assert_eq!(r[1].tag, "v1");
        assert_eq!(r[1].digest, "<none>");
        assert_eq!(r[0].id, "0123456789ab");
        assert_eq!(r[0].size, "4.26MB");
        assert_eq!(r[2].repository, "<none>");
        assert_eq!(rows(&list, true)[0].id, "sha256:0123456789abcdef0123");
        // Docker's field names, as templates and `{{json .}}` see them.
        let v = value_of(&r[0]);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Containers",
                "CreatedAt",
                "CreatedSince",
                "Digest",
                "ID",
                "Repository",
                "SharedSize",
                "Size",
                "Tag",
                "UniqueSize",
                "VirtualSize"
            ]
        );
        let out = render(&r[..1], "table {{.Repository}}\t{{.Tag}}\t{{.ID}}", &title).unwrap();
        assert_eq!(out, "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    0123456789ab\n");
        assert_eq!(split_tag("localhost:5000/busybox"), ("localhost:5000/busybox", "<none>"));
        assert!(reference_matches("busybox", "busybox", "latest"));
        assert!(reference_matches("busy*", "busybox", "latest"));
        assert!(reference_matches("busybox:lat*", "busybox", "latest"));
        assert!(!reference_matches("busybox:v1", "busybox", "latest"));
        assert!(!reference_matches("busybox", "localhost:5000/team/busybox", "v1"));
        assert!(reference_matches("*/team/*", "localhost:5000/team/busybox", "v1"));
        assert!(!reference_matches("*", "a/b", "x"));
    }
}
