//! Where an installed package keeps its files. colcon (`ament_cargo`) installs the binary as
//! `<prefix>/lib/pixel_sail/pixel-sail` and the model, launch files and profiles under
//! `<prefix>/share/pixel_sail/`; a relative data path (the default `models/tiny`) that does not exist in
//! the current directory is looked up there, so `ros2 run pixel_sail pixel-sail …` works from anywhere
//! while a checkout keeps resolving paths against the current directory.

use std::path::{Path, PathBuf};

/// The ROS package name (package.xml), which names the install folders.
pub const PACKAGE: &str = "pixel_sail";

/// `<prefix>/share/pixel_sail` when this executable runs from `<prefix>/lib/pixel_sail/`.
pub fn share_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    share_dir_for(&exe)
}

fn share_dir_for(exe: &Path) -> Option<PathBuf> {
    let pkg_lib = exe.parent()?;
    if pkg_lib.file_name()? != PACKAGE || pkg_lib.parent()?.file_name()? != "lib" {
        return None;
    }
    let share = pkg_lib.parent()?.parent()?.join("share").join(PACKAGE);
    share.is_dir().then_some(share)
}

/// `path` as given when it is absolute or exists from the current directory; otherwise the same relative
/// path under the installed share folder when it exists there; otherwise unchanged (so the error that
/// follows names what the user asked for).
pub fn resolve_data_path(path: &Path) -> PathBuf {
    resolve_against(path, share_dir().as_deref())
}

fn resolve_against(path: &Path, share: Option<&Path>) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    match share.map(|s| s.join(path)) {
        Some(installed) if installed.exists() => installed,
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_dir_only_for_the_install_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let prefix = tmp.path();
        std::fs::create_dir_all(prefix.join("lib/pixel_sail")).unwrap();
        std::fs::create_dir_all(prefix.join("share/pixel_sail/models/tiny")).unwrap();
        let exe = prefix.join("lib/pixel_sail/pixel-sail");
        assert_eq!(share_dir_for(&exe), Some(prefix.join("share/pixel_sail")));
        assert_eq!(share_dir_for(&prefix.join("target/release/pixel-sail")), None);
        std::fs::create_dir_all(prefix.join("lib/other")).unwrap();
        assert_eq!(share_dir_for(&prefix.join("lib/other/pixel-sail")), None);
    }

    #[test]
    fn relative_paths_fall_back_to_the_share_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let share = tmp.path().join("share/pixel_sail");
        std::fs::create_dir_all(share.join("models/elsewhere")).unwrap();
        let missing_here = Path::new("models/elsewhere");
        assert!(!missing_here.exists());
        assert_eq!(resolve_against(missing_here, Some(&share)), share.join("models/elsewhere"));
        // Neither here nor installed: unchanged, so the load error names the user's path.
        assert_eq!(resolve_against(Path::new("models/nowhere"), Some(&share)), PathBuf::from("models/nowhere"));
        // A path that exists from the current directory wins over the installed one.
        assert_eq!(resolve_against(Path::new("src"), Some(&share)), PathBuf::from("src"));
        assert_eq!(resolve_against(Path::new("models/elsewhere"), None), PathBuf::from("models/elsewhere"));
    }
}
