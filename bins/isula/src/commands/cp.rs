//! `isula cp CONTAINER:SRC DEST|-` and `isula cp SRC|- CONTAINER:DEST` (tar streams).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use isula_api::v1::{CopyFromRequest, CopyToRequest};
use isula_types::container::types::PathStat;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::ctx::{parse_typed, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` / `isula cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
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

/// The tar of `path` in the container and its stat (`None` when it does not exist).
fn fetch(ctx: &mut Ctx, id: &str, path: &str) -> Result<Option<(Vec<u8>, PathStat)>, CliError> {
    let mut c = ctx.containers()?;
    let r: Result<(Vec<u8>, String), tonic::Status> = ctx.rt.block_on(async {
        let mut s = c.copy_from(CopyFromRequest { id: id.to_string(), path: path.to_string() }).await?.into_inner();
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
        Err(s)
            if s.code() == tonic::Code::NotFound
                && crate::error::reason(&s) != Some(isula_types::reason::Reason::NoSuchContainer) =>
        {
            Ok(None)
        }
        Err(s) => Err(super::no_such(&s, id)),
    }
}

fn io_err(what: &str, e: std::io::Error) -> CliError {
    CliError::new(format!("Error: {what}: {e}"))
}

fn copy_out(ctx: &mut Ctx, id: &str, src: &str, dest: &str) -> CmdResult {
    let (data, _) = fetch(ctx, id, src)?
        .ok_or_else(|| CliError::new(format!("Error: Could not find the file {src} in container {id}")))?;
    if dest == "-" {
        std::io::stdout().write_all(&data).map_err(|e| io_err("write", e))?;
        return Ok(0);
    }
    let dest = Path::new(dest);
    if dest.is_dir() {
        tar::Archive::new(&data[..]).unpack(dest).map_err(|e| io_err("extract", e))?;
        return Ok(0);
    }
    // Copy to a new name: the archive's top entry becomes `dest`.
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut a = tar::Archive::new(&data[..]);
    for e in a.entries().map_err(|e| io_err("read archive", e))? {
        let mut e = e.map_err(|e| io_err("read archive", e))?;
        let p = e.path().map_err(|e| io_err("read archive", e))?.into_owned();
        let mut comps = p.components().filter(|c| !matches!(c, std::path::Component::CurDir));
        comps.next();
        let rest: PathBuf = comps.collect();
        let target = if rest.as_os_str().is_empty() { dest.to_path_buf() } else { dest.join(rest) };
        if !target.starts_with(parent) {
            continue;
        }
        e.unpack(&target).map_err(|err| io_err(&format!("extract {}", target.display()), err))?;
    }
    Ok(0)
}

fn send_tar(ctx: &mut Ctx, id: &str, dir: &str, tar_data: Vec<u8>) -> CmdResult {
    let mut c = ctx.containers()?;
    ctx.rt.block_on(async {
        let (tx, rx) = mpsc::channel(4);
        let mut first = true;
        for chunk in tar_data.chunks(256 * 1024) {
            let m = CopyToRequest {
                id: if first { id.to_string() } else { String::new() },
                path: if first { dir.to_string() } else { String::new() },
                no_overwrite_dir_non_dir: true,
                copy_uid_gid: false,
                data: chunk.to_vec(),
            };
            first = false;
            tx.send(m).await.map_err(|_| CliError::engine("copy stream closed"))?;
            if tx.capacity() == 0 {
                break;
            }
        }
        let rest: Vec<Vec<u8>> = tar_data.chunks(256 * 1024).skip(4).map(<[u8]>::to_vec).collect();
        let send_rest = async move {
            for data in rest {
                if tx.send(CopyToRequest { data, ..Default::default() }).await.is_err() {
                    return;
                }
            }
        };
        let call = c.copy_to(ReceiverStream::new(rx));
        let (r, ()) = tokio::join!(call, send_rest);
        r.map_err(|s| super::no_such(&s, id))?;
        Ok(0)
    })
}

fn copy_in(ctx: &mut Ctx, src: &str, id: &str, dest: &str) -> CmdResult {
    if src == "-" {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data).map_err(|e| io_err("read stdin", e))?;
        return send_tar(ctx, id, dest, data);
    }
    let src_path = Path::new(src);
    let meta = std::fs::symlink_metadata(src_path).map_err(|e| io_err(&format!("stat {src}"), e))?;
    let dest_is_dir = dest.ends_with('/') || fetch(ctx, id, dest)?.is_some_and(|(_, st)| st.is_dir());
    let (dir, name) = if dest_is_dir {
        let base = src_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| ".".into());
        (dest.to_string(), base)
    } else {
        let d = Path::new(dest);
        let parent = d.parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| "/".into());
        let name = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        (if parent.is_empty() { "/".into() } else { parent }, name)
    };
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let r = if meta.is_dir() { b.append_dir_all(&name, src_path) } else { b.append_path_with_name(src_path, &name) };
    r.map_err(|e| io_err(&format!("archive {src}"), e))?;
    let data = b.into_inner().map_err(|e| io_err("archive", e))?;
    send_tar(ctx, id, &dir, data)
}

/// Run `isula cp`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    match (split_remote(&a.src), split_remote(&a.dest)) {
        (Some((id, p)), None) => copy_out(ctx, id, p, &a.dest),
        (None, Some((id, p))) => copy_in(ctx, &a.src, id, p),
        (Some(_), Some(_)) => Err(CliError::engine("copying between containers is not supported")),
        (None, None) => Err(CliError::engine("must specify at least one container source")),
    }
}
