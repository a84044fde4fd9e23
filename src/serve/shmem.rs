//! Whether the kernel backs shared memory, and so the page file's memfd, with
//! transparent huge pages. The page file gives a body's range back by punching
//! a hole and relies on the next body written there landing on fresh 4 KiB
//! pages while a socket may still be sending the old ones. A huge page cannot
//! lose 4 KiB of itself: the kernel zeroes the range in place (or splits the
//! page) instead, which could change bytes already on their way. So the page
//! file is used only when huge pages are off for shared memory.

use std::fmt;
use std::path::Path;

/// Where Linux says when shared memory gets transparent huge pages.
pub const SHMEM_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";

/// Why the page file must not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugePages(String);

impl fmt::Display for HugePages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HugePages {}

/// `Ok` with the setting read when shared memory gets only small pages:
/// `shmem_enabled` at `path` is `never`, `deny` or `advise` (the page file
/// never asks for huge pages), and no per-size setting beside it
/// (`hugepages-*kB/shmem_enabled`, kernels with multi-size huge pages) turns
/// them on. A kernel without transparent huge pages has no such file: small
/// pages only.
pub fn small_pages_only(path: &Path) -> Result<String, HugePages> {
    let top = match std::fs::read_to_string(path) {
        Ok(text) => selected(&text)
            .ok_or_else(|| unknown(format!("{} reads {:?}", path.display(), text.trim())))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok("no transparent huge pages in this kernel".to_owned());
        }
        Err(error) => return Err(unknown(format!("cannot read {}: {error}", path.display()))),
    };
    if gives_huge_pages(&top) {
        return Err(on(format!("{} is {top:?}", path.display())));
    }
    for sized in per_size_settings(path) {
        let text = std::fs::read_to_string(&sized)
            .map_err(|error| unknown(format!("cannot read {}: {error}", sized.display())))?;
        let setting = selected(&text)
            .ok_or_else(|| unknown(format!("{} reads {:?}", sized.display(), text.trim())))?;
        if gives_huge_pages(&setting) {
            return Err(on(format!("{} is {setting:?}", sized.display())));
        }
    }
    Ok(format!("{} is {top:?}", path.display()))
}

fn on(why: String) -> HugePages {
    HugePages(format!(
        "transparent huge pages are on for shared memory: {why}"
    ))
}

fn unknown(why: String) -> HugePages {
    HugePages(format!(
        "cannot tell whether shared memory gets huge pages: {why}"
    ))
}

/// The bracketed word of a sysfs choice list: `always [never] deny` → `never`.
fn selected(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = start + text[start..].find(']')?;
    Some(text[start + 1..end].to_owned())
}

/// Settings under which a memfd that never asks for huge pages may get them.
/// `inherit` (per-size) follows the top-level setting, already found safe.
fn gives_huge_pages(setting: &str) -> bool {
    !matches!(setting, "never" | "deny" | "advise" | "inherit")
}

/// `hugepages-*kB/shmem_enabled` in the folder of `path`.
fn per_size_settings(path: &Path) -> Vec<std::path::PathBuf> {
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("hugepages-"))
        .map(|e| e.path().join("shmem_enabled"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysfs(top: &str, sized: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("shmem_enabled"), top).expect("write");
        for (size, setting) in sized {
            let sub = dir.path().join(format!("hugepages-{size}"));
            std::fs::create_dir(&sub).expect("mkdir");
            std::fs::write(sub.join("shmem_enabled"), setting).expect("write");
        }
        dir
    }

    fn check(dir: &tempfile::TempDir) -> Result<String, HugePages> {
        small_pages_only(&dir.path().join("shmem_enabled"))
    }

    #[test]
    fn small_pages_when_huge_pages_are_off_or_on_request() {
        for top in [
            "always within_size advise [never] deny force\n",
            "always within_size [advise] never deny force\n",
            "always within_size advise never [deny] force\n",
        ] {
            assert!(check(&sysfs(top, &[])).is_ok(), "{top}");
        }
        let sized = sysfs(
            "always [never]\n",
            &[("64kB", "always [inherit] never"), ("2048kB", "[never]")],
        );
        assert!(check(&sized).is_ok());
    }

    #[test]
    fn huge_pages_for_shared_memory_refuse_the_page_file() {
        for top in [
            "[always] within_size advise never deny force\n",
            "always [within_size] advise never deny force\n",
            "always within_size advise never deny [force]\n",
            "garbage\n",
        ] {
            assert!(check(&sysfs(top, &[])).is_err(), "{top}");
        }
        let sized = sysfs("[never]", &[("64kB", "[always] inherit never")]);
        let error = check(&sized).expect_err("a per-size setting turns them on");
        assert!(error.to_string().contains("hugepages-64kB"), "{error}");
    }

    #[test]
    fn a_kernel_without_transparent_huge_pages_has_small_pages() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(small_pages_only(&dir.path().join("shmem_enabled")).is_ok());
    }
}
