//! Finding and loading `libonnxruntime` (ort `load-dynamic`): explicit path (`--ort-lib` / config key),
//! then `ORT_DYLIB_PATH`, then the project venv's wheel
//! (`<dir>/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*`) searched from the current
//! directory and the executable's ancestors, then the wheel in `$VIRTUAL_ENV`, the user's site
//! (`~/.local/lib/python3*`) and the system's (`/usr/local/lib`, `/usr/lib`: `site-` or `dist-packages`). Loaded once per process with `ort::init_from` (never `init`,
//! which panics); the environment lives for the whole process.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use super::InferenceError;

/// Oldest ONNX Runtime this build accepts (ort's `api-17` feature: JetPack 6.0 ships 1.17) and the version
/// set-up installs. An older library is refused at start-up by `init_from`, naming both versions.
pub const MIN_ORT_VERSION: &str = "1.17";
pub const TESTED_ORT_VERSION: &str = "1.31.1";

struct Loaded {
    path: PathBuf,
    env: Environment,
}

static RUNTIME: OnceLock<Loaded> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Where the library came from, for messages.
#[derive(Debug, Clone)]
pub enum LibrarySource {
    Explicit(PathBuf),
    EnvVar(PathBuf),
    /// A wheel found in a venv or Python site folder.
    Venv(PathBuf),
}

impl LibrarySource {
    pub fn path(&self) -> &Path {
        match self {
            LibrarySource::Explicit(p) | LibrarySource::EnvVar(p) | LibrarySource::Venv(p) => p,
        }
    }
    fn origin(&self) -> &'static str {
        match self {
            LibrarySource::Explicit(_) => "--ort-lib / ort_library",
            LibrarySource::EnvVar(_) => "ORT_DYLIB_PATH",
            LibrarySource::Venv(_) => "the onnxruntime wheel of a venv or Python site",
        }
    }
}

/// Resolve the library path without loading it.
pub fn locate_library(explicit: Option<&Path>) -> Result<LibrarySource, InferenceError> {
    if let Some(p) = explicit {
        return Ok(LibrarySource::Explicit(p.to_path_buf()));
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        return Ok(LibrarySource::EnvVar(PathBuf::from(p)));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    let mut libs: Vec<PathBuf> = roots.iter().map(|root| root.join(".venv").join("lib")).collect();
    // Where `pip install onnxruntime` puts the wheel outside a checkout (an installed package run by
    // `ros2 run`): the active venv, the user's site, the system's.
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        libs.push(PathBuf::from(venv).join("lib"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        libs.push(PathBuf::from(home).join(".local").join("lib"));
    }
    libs.extend(["/usr/local/lib", "/usr/lib"].map(PathBuf::from));
    let mut searched = Vec::new();
    for lib in libs {
        if let Some(found) = find_in_venv(&lib) {
            return Ok(LibrarySource::Venv(found));
        }
        searched.push(lib);
    }
    Err(InferenceError::RuntimeNotFound { searched })
}

/// `<venv>/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*`, newest version first.
fn find_in_venv(venv_lib: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for py in std::fs::read_dir(venv_lib).ok()?.flatten() {
        if !py.file_name().to_string_lossy().starts_with("python3") {
            continue;
        }
        // Debian's system Python installs into dist-packages, venvs and user sites into site-packages.
        for site in ["site-packages", "dist-packages"] {
            let capi = py.path().join(site).join("onnxruntime").join("capi");
            let Ok(entries) = std::fs::read_dir(&capi) else { continue };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("libonnxruntime.so.") {
                    found.push(e.path());
                }
            }
        }
    }
    found.sort_by_key(|p| std::cmp::Reverse(version_key(p)));
    found.into_iter().next()
}

fn version_key(p: &Path) -> Vec<u32> {
    let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    name.trim_start_matches("libonnxruntime.so.").split('.').filter_map(|s| s.parse().ok()).collect()
}

/// Load ONNX Runtime (once) and return the process-wide environment.
pub fn environment(explicit: Option<&Path>) -> Result<Environment, InferenceError> {
    let source = locate_library(explicit)?;
    let path = source.path().to_path_buf();
    if !path.is_file() {
        return Err(InferenceError::RuntimeLoad {
            path,
            reason: format!("the file does not exist (set by {})", source.origin()),
        });
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(loaded) = RUNTIME.get() {
        if loaded.path != path {
            tracing::warn!(
                loaded = %loaded.path.display(),
                requested = %path.display(),
                "ONNX Runtime is already loaded in this process; keeping the first library"
            );
        }
        return Ok(loaded.env.clone());
    }
    let builder =
        ort::init_from(&path).map_err(|e| InferenceError::RuntimeLoad { path: path.clone(), reason: e.to_string() })?;
    let env = builder
        .with_name("pixel-sail")
        .build()
        .map_err(|e| InferenceError::RuntimeLoad { path: path.clone(), reason: e.to_string() })?;
    tracing::info!(path = %path.display(), from = source.origin(), "loaded ONNX Runtime");
    let _ = RUNTIME.set(Loaded { path, env: env.clone() });
    Ok(env)
}

/// (major, minor) of the loaded library, from its file name (`libonnxruntime.so.1.31.1`) or else from
/// ONNX Runtime's build string (`git-branch=rel-1.19.0`); None before loading or when neither says.
pub fn loaded_version() -> Option<(u32, u32)> {
    let loaded = RUNTIME.get()?;
    let name = loaded.path.file_name()?.to_string_lossy().to_string();
    let from_name = name.strip_prefix("libonnxruntime.so.").and_then(parse_version);
    from_name.or_else(|| ort::info().split("rel-").nth(1).and_then(parse_version))
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The library loaded in this process, if any.
pub fn loaded_library() -> Option<&'static Path> {
    RUNTIME.get().map(|l| l.path.as_path())
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_parse_from_file_names_and_branches() {
        assert_eq!(parse_version("1.31.1"), Some((1, 31)));
        assert_eq!(parse_version("1.17.0, git-commit-id=abc"), Some((1, 17)));
        assert_eq!(parse_version("x"), None);
    }
}
