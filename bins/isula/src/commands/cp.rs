//! `isula cp CONTAINER:SRC DEST|-` and `isula cp SRC|- CONTAINER:DEST` (tar streams), with
//! `docker cp`'s rules for where things land:
//!
//! - a file to a missing destination creates that file (its parent must exist; a missing
//!   destination ending in `/` is an error), to an existing file overwrites it, to an existing
//!   directory lands inside it under its own name;
//! - a directory to a missing destination creates it with the source's content, to an
//!   existing file is an error, to an existing directory lands inside it under its own name,
//!   or, when the source ends in `/.`, only its content is copied into it.
//!
//! Container paths are relative to the container's `/`; local paths to the working directory.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use isula_api::v1::{CopyFromRequest, CopyToRequest};
use isula_types::container::types::PathStat;
use isula_types::reason::Reason;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::ctx::{parse_typed, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` / `isula cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy (isula prints none).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Source.
    pub src: String,
    /// Destination.
    pub dest: String,
}

/// `container:path` (a local path starts with `/` or `.`, or has no `:`).
fn split_remote(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    let (c, p) = s.split_once(':')?;
    (!c.is_empty() && !c.contains('/')).then_some((c, p))
}

/// A container path made absolute: relative paths start at the container's `/`.
fn container_path(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// True for `dir/.` (copy the content of `dir`, not `dir` itself).
fn names_content(p: &str) -> bool {
    p == "." || p.ends_with("/.")
}

/// The last component of `p` as a user named it (`a/b/` → `b`, `a/.` → `a`).
fn base_name(p: &str) -> Option<String> {
    Path::new(p).file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The directory holding `p` (`out` → `.`, `/x` → `/`).
fn parent_of(p: &str) -> PathBuf {
    match Path::new(p).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => PathBuf::from("/"),
    }
}

fn io_err(what: &str, e: std::io::Error) -> CliError {
    CliError::new(format!("Error: {what}: {e}"))
}

/// A daemon error of `cp`: a missing path says so (not "No such container").
fn cp_error(s: &tonic::Status, id: &str) -> CliError {
    if s.code() == tonic::Code::NotFound && crate::error::reason(s) == Some(Reason::NoSuchPath) {
        return CliError::new(format!("Error: {}", s.message()));
    }
    super::no_such(s, id)
}

/// Whether a NotFound reply is about the path (not the container).
fn path_missing(s: &tonic::Status) -> bool {
    s.code() == tonic::Code::NotFound && crate::error::reason(s) != Some(Reason::NoSuchContainer)
}

/// The stat of `path` in the container (`None` when it does not exist). A symlink to a
/// directory is reported as that directory, since copying into it lands there.
fn stat(ctx: &mut Ctx, id: &str, path: &str) -> Result<Option<PathStat>, CliError> {
    let mut target = path.to_string();
    for _ in 0..2 {
        let mut c = ctx.containers()?;
        let req = CopyFromRequest { id: id.to_string(), path: target.clone(), follow_link: false };
        let st: PathStat = match ctx.rt.block_on(c.stat_path(req)) {
            Ok(r) => parse_typed("stat_json", &r.into_inner().stat_json)?,
            Err(s) if path_missing(&s) => return Ok(None),
            Err(s) => return Err(super::no_such(&s, id)),
        };
        if st.link_target.is_empty() || target == st.link_target {
            return Ok(Some(st));
        }
        target = st.link_target.clone();
    }
    Err(CliError::new(format!("Error: {path}: too many levels of symbolic links in container {id}")))
}

/// The tar of `path` in the container and the stat of what it holds (`None` when missing).
fn fetch(ctx: &mut Ctx, id: &str, path: &str, follow_link: bool) -> Result<Option<(Vec<u8>, PathStat)>, CliError> {
    let mut c = ctx.containers()?;
    let req = CopyFromRequest { id: id.to_string(), path: path.to_string(), follow_link };
    let r: Result<(Vec<u8>, String), tonic::Status> = ctx.rt.block_on(async {
        let mut s = c.copy_from(req).await?.into_inner();
        let (mut data, mut stat) = (Vec::new(), String::new());
        while let Some(m) = s.message().await? {
            data.extend_from_slice(&m.data);
            if !m.stat_json.is_empty() {
                stat = m.stat_json;
            }
        }
        Ok((data, stat))
    });
    match r {
        Ok((data, stat)) => Ok(Some((data, parse_typed("stat_json", &stat)?))),
        Err(s) if path_missing(&s) && crate::error::reason(&s) == Some(Reason::NoSuchPath) => Ok(None),
        Err(s) => Err(cp_error(&s, id)),
    }
}

/// Where a tar's top entry goes: renamed to a new name, or dropped so that only what is
/// under it is extracted (`dir/.`).
enum Top<'a> {
    Rename(&'a str),
    Strip,
}

/// The archive `data` with its top entry renamed or stripped. Entry names that are absolute
/// or climb with `..` are refused.
fn rewrite_top(data: &[u8], top: &Top) -> Result<Vec<u8>, CliError> {
    let bad = |e: std::io::Error| io_err("read archive", e);
    let map = |p: &Path| -> Result<Option<PathBuf>, CliError> {
        let mut comps = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(n) => comps.push(n.to_os_string()),
                Component::CurDir => {}
                _ => return Err(CliError::new(format!("Error: unsafe path in archive: {}", p.display()))),
            }
        }
        let rest: PathBuf = comps.iter().skip(1).collect();
        Ok(match top {
            Top::Rename(n) if rest.as_os_str().is_empty() => Some(PathBuf::from(n)),
            Top::Rename(n) => Some(Path::new(n).join(rest)),
            Top::Strip if rest.as_os_str().is_empty() => None,
            Top::Strip => Some(rest),
        })
    };
    let mut out = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(data);
    for e in a.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let Some(path) = map(&e.path().map_err(bad)?)? else { continue };
        let mut h = e.header().clone();
        let kind = h.entry_type();
        if kind.is_hard_link() || kind.is_symlink() {
            let link = e.link_name().map_err(bad)?.map(|l| l.into_owned()).unwrap_or_default();
            let link = if kind.is_hard_link() { map(&link)?.unwrap_or_else(|| PathBuf::from(".")) } else { link };
            out.append_link(&mut h, &path, &link).map_err(|e| io_err("write archive", e))?;
        } else {
            out.append_data(&mut h, &path, &mut e).map_err(|e| io_err("write archive", e))?;
        }
    }
    out.into_inner().map_err(|e| io_err("write archive", e))
}

/// Extract `data` into the local directory `dir` (modes and times kept, owners not).
fn extract(data: &[u8], dir: &Path) -> CmdResult {
    let mut a = tar::Archive::new(data);
    a.set_preserve_permissions(true);
    a.set_preserve_mtime(true);
    a.set_overwrite(true);
    a.unpack(dir).map_err(|e| io_err(&format!("extract into {}", dir.display()), e))?;
    Ok(0)
}

fn copy_out(ctx: &mut Ctx, id: &str, src: &str, dest: &str, follow_link: bool) -> CmdResult {
    let src = container_path(src);
    let (data, st) = fetch(ctx, id, &src, follow_link)?
        .ok_or_else(|| CliError::new(format!("Error: Could not find the file {src} in container {id}")))?;
    if dest == "-" {
        std::io::stdout().write_all(&data).map_err(|e| io_err("write", e))?;
        return Ok(0);
    }
    let src_dir = st.is_dir();
    match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => {
            if src_dir && names_content(&src) {
                extract(&rewrite_top(&data, &Top::Strip)?, Path::new(dest))
            } else {
                extract(&data, Path::new(dest))
            }
        }
        Ok(_) if src_dir => Err(CliError::new(format!("Error: cannot copy a directory to a file: {dest}"))),
        Ok(_) => into_new_name(&data, dest),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dest.ends_with('/') && !src_dir {
                return Err(CliError::new(format!("Error: destination directory {dest} must exist")));
            }
            let parent = parent_of(dest.trim_end_matches('/'));
            if !parent.is_dir() {
                return Err(CliError::new(format!("Error: destination directory {} does not exist", parent.display())));
            }
            into_new_name(&data, dest.trim_end_matches('/'))
        }
        Err(e) => Err(io_err(&format!("stat {dest}"), e)),
    }
}

/// Extract `data` so that its top entry becomes the local path `dest`.
fn into_new_name(data: &[u8], dest: &str) -> CmdResult {
    let name = base_name(dest).ok_or_else(|| CliError::new(format!("Error: invalid destination {dest}")))?;
    extract(&rewrite_top(data, &Top::Rename(&name))?, &parent_of(dest))
}

fn send_tar(ctx: &mut Ctx, id: &str, dir: &str, tar_data: Vec<u8>, archive: bool) -> CmdResult {
    const CHUNK: usize = 256 * 1024;
    let mut c = ctx.containers()?;
    ctx.rt.block_on(async {
        let (tx, rx) = mpsc::channel(4);
        let first = CopyToRequest {
            id: id.to_string(),
            path: dir.to_string(),
            no_overwrite_dir_non_dir: true,
            copy_uid_gid: archive,
            data: tar_data[..tar_data.len().min(CHUNK)].to_vec(),
        };
        tx.send(first).await.map_err(|_| CliError::engine("copy stream closed"))?;
        let send_rest = async move {
            for data in tar_data.chunks(CHUNK).skip(1) {
                if tx.send(CopyToRequest { data: data.to_vec(), ..Default::default() }).await.is_err() {
                    return;
                }
            }
        };
        let call = c.copy_to(ReceiverStream::new(rx));
        let (r, ()) = tokio::join!(call, send_rest);
        r.map_err(|s| cp_error(&s, id))?;
        Ok(0)
    })
}

/// The local `src` as a tar whose top entry is `name`, or whose entries are the content of
/// the directory `src` when `name` is `None`.
fn local_tar(src: &Path, is_dir: bool, name: Option<&str>, follow_link: bool) -> Result<Vec<u8>, CliError> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(follow_link);
    let what = format!("archive {}", src.display());
    match name {
        Some(n) if is_dir => b.append_dir_all(n, src),
        Some(n) => b.append_path_with_name(src, n),
        None => {
            let entries = std::fs::read_dir(src).map_err(|e| io_err(&what, e))?;
            for e in entries {
                let e = e.map_err(|e| io_err(&what, e))?;
                let p = e.path();
                let n = e.file_name();
                let r = if e.file_type().map_err(|e| io_err(&what, e))?.is_dir() {
                    b.append_dir_all(&n, &p)
                } else {
                    b.append_path_with_name(&p, &n)
                };
                r.map_err(|e| io_err(&what, e))?;
            }
            Ok(())
        }
    }
    .map_err(|e| io_err(&what, e))?;
    b.into_inner().map_err(|e| io_err("archive", e))
}

fn copy_in(ctx: &mut Ctx, src: &str, id: &str, dest: &str, a: &Args) -> CmdResult {
    let dest = container_path(dest);
    if src == "-" {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data).map_err(|e| io_err("read stdin", e))?;
        return send_tar(ctx, id, &dest, data, a.archive);
    }
    let src_path = Path::new(src);
    let meta = if a.follow_link { std::fs::metadata(src_path) } else { std::fs::symlink_metadata(src_path) };
    let meta = meta.map_err(|e| io_err(&format!("lstat {src}"), e))?;
    let src_dir = meta.is_dir();
    if src.ends_with('/') && !src_dir {
        return Err(CliError::new(format!("Error: {src}: not a directory")));
    }
    let src_name = base_name(src).unwrap_or_else(|| ".".into());
    let (dir, data) = match stat(ctx, id, &dest)? {
        Some(d) if d.is_dir() => {
            let name = (!(src_dir && names_content(src))).then_some(src_name.as_str());
            (dest.clone(), local_tar(src_path, src_dir, name, a.follow_link)?)
        }
        Some(_) if src_dir => {
            return Err(CliError::new(format!("Error: cannot copy a directory to a file: {id}:{dest}")));
        }
        Some(_) => new_name_in(&dest, src_path, src_dir, a.follow_link)?,
        None if dest.ends_with('/') && !src_dir => {
            return Err(CliError::new(format!("Error: destination directory {dest} must exist in container {id}")));
        }
        None => new_name_in(dest.trim_end_matches('/'), src_path, src_dir, a.follow_link)?,
    };
    send_tar(ctx, id, &dir, data, a.archive)
}

/// The container directory holding `dest` and a tar of `src` named as `dest`'s last part.
fn new_name_in(dest: &str, src: &Path, src_dir: bool, follow_link: bool) -> Result<(String, Vec<u8>), CliError> {
    let name = base_name(dest).ok_or_else(|| CliError::new(format!("Error: invalid destination {dest}")))?;
    let dir = parent_of(dest).to_string_lossy().into_owned();
    Ok((dir, local_tar(src, src_dir, Some(&name), follow_link)?))
}

/// Run `isula cp`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    match (split_remote(&a.src), split_remote(&a.dest)) {
        (Some((id, p)), None) => copy_out(ctx, id, p, &a.dest, a.follow_link),
        (None, Some((id, p))) => copy_in(ctx, &a.src, id, p, &a),
        (Some(_), Some(_)) => Err(CliError::engine("copying between containers is not supported")),
        (None, None) => Err(CliError::engine("must specify at least one container source")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(if p.ends_with('/') { tar::EntryType::Directory } else { tar::EntryType::Regular });
            b.append_data(&mut h, p, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn names(data: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(data);
        a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn path_forms() {
        assert_eq!(container_path("tmp/x"), "/tmp/x");
        assert_eq!(container_path(""), "/");
        assert!(names_content("/etc/.") && names_content(".") && !names_content("/etc/"));
        assert_eq!(base_name("a/b/").as_deref(), Some("b"));
        assert_eq!(base_name("a/.").as_deref(), Some("a"));
        assert_eq!(parent_of("out"), PathBuf::from("."));
        assert_eq!(parent_of("/x"), PathBuf::from("/"));
        assert_eq!(split_remote("c:/x"), Some(("c", "/x")));
        assert_eq!(split_remote("./c:x"), None);
    }

    #[test]
    fn top_entry_is_renamed_or_stripped() {
        let f = tar_of(&[("f", b"1")]);
        assert_eq!(names(&rewrite_top(&f, &Top::Rename("out")).unwrap()), ["out"]);
        let t = tar_of(&[("d/", b""), ("d/f", b"1"), ("d/s/", b""), ("d/s/g", b"2")]);
        assert_eq!(names(&rewrite_top(&t, &Top::Rename("new")).unwrap()), ["new", "new/f", "new/s", "new/s/g"]);
        assert_eq!(names(&rewrite_top(&t, &Top::Strip).unwrap()), ["f", "s", "s/g"]);
    }

    #[test]
    fn climbing_entries_are_refused() {
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_gnu_mut().unwrap().name[..10].copy_from_slice(b"d/../../x\0");
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &b"1"[..]).unwrap();
        let t = b.into_inner().unwrap();
        assert!(rewrite_top(&t, &Top::Rename("n")).is_err());
    }
}
