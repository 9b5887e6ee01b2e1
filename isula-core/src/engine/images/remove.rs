//! `rmi`: untag or delete an image, with Docker's rules on names and containers in use.

use super::{familiar_all, RemoveImageOptions, RemovedImage};
use crate::digest::Digest;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::reference::Reference;

impl Engine {
    /// Ids (keys) of container snapshots based on image `id`.
    fn containers_using(&self, id: &Digest) -> Result<Vec<String>> {
        let full = id.to_string();
        Ok(self
            .inner
            .snapshots
            .snapshots()?
            .into_iter()
            .filter(|s| s.image.as_deref().map(|i| i == full || i == id.hex()).unwrap_or(false))
            .map(|s| s.key)
            .collect())
    }

    /// [`Images::remove`]: see there.
    pub(crate) fn remove_image(&self, name_or_id: &str, opts: &RemoveImageOptions) -> Result<Vec<RemovedImage>> {
        let out = self.remove_image_inner(name_or_id, opts)?;
        for r in &out {
            match r {
                RemovedImage::Untagged(n) => self.emit_image("untag", name_or_id, n),
                RemovedImage::Deleted(id) => self.emit_image("delete", id, ""),
            }
        }
        Ok(out)
    }

    fn remove_image_inner(&self, name_or_id: &str, opts: &RemoveImageOptions) -> Result<Vec<RemovedImage>> {
        let _ops = self.inner.images.lock_ops();
        let (mut rec, name) = self.resolve_with_name(name_or_id)?;
        let mut out = Vec::new();
        let users = self.containers_using(&rec.id)?;
        // Removing the last name of an image a container uses needs force (Docker's wording).
        let refuse_if_used = |n: &Reference| -> Result<()> {
            if users.is_empty() || opts.force {
                return Ok(());
            }
            Err(Error::conflict(format!(
                "unable to remove repository reference {:?} (must force) - container {} is using its referenced image {}",
                n.familiar(),
                users[0],
                rec.id.short()
            )))
        };
        match name {
            Some(n) if n.digest().is_none() && rec.names.len() > 1 => {
                let full = n.to_string();
                rec.names.retain(|x| *x != full);
                self.inner.images.put(rec)?;
                return Ok(vec![RemovedImage::Untagged(n.familiar())]);
            }
            Some(n) if n.digest().is_some() && rec.names.len() + rec.repo_digests.len() > 1 => {
                // `repo@digest`: drop that digest reference only (matching by repository and digest).
                let untag = n.with_digest(n.digest().cloned().unwrap_or_else(|| rec.manifest.clone()));
                let full = untag.to_string();
                let before = rec.repo_digests.len();
                rec.repo_digests.retain(|x| *x != full);
                if rec.repo_digests.len() != before {
                    self.inner.images.put(rec)?;
                    return Ok(vec![RemovedImage::Untagged(untag.familiar())]);
                }
                // Matched by manifest digest without a stored digest reference: fall through to deletion rules.
                refuse_if_used(&n)?;
            }
            Some(n) => refuse_if_used(&n)?,
            None => {
                if rec.names.len() > 1 && !opts.force {
                    return Err(Error::conflict(format!(
                        "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        rec.id.short()
                    )));
                }
                if !users.is_empty() && !opts.force {
                    return Err(Error::conflict(format!(
                        "unable to delete {} (must be forced) - image is being used by container {}",
                        rec.id.short(),
                        users[0]
                    )));
                }
            }
        }
        out.extend(familiar_all(&rec.names).into_iter().map(RemovedImage::Untagged));
        out.extend(familiar_all(&rec.repo_digests).into_iter().map(RemovedImage::Untagged));
        self.inner.images.delete(&rec.id)?;
        self.free_layers(&rec.chain_ids)?;
        self.free_blobs(&rec.blobs().cloned().collect::<Vec<_>>());
        out.push(RemovedImage::Deleted(rec.id.to_string()));
        Ok(out)
    }
}
