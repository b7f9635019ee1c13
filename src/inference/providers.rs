//! Execution providers: the user's ordered list becomes registrations on each session builder.
//! A GPU provider that cannot register is an error unless `cpu` comes later in the list (no silent CPU
//! fallback on a GPU deployment). TensorRT engines are cached per graph under a key that hashes the ONNX
//! file, the TensorRT version and the shape ranges, so a valid engine is never rebuilt; where ONNX Runtime
//! can (>= 1.18), the first build also saves an EP-context model next to the engine, and later starts load
//! that instead of the ONNX file, skipping TensorRT's parser and builder.

use std::path::{Path, PathBuf};

use ort::ep;
use ort::session::builder::SessionBuilder;
use sha2::{Digest, Sha256};

use super::InferenceError;
use super::model_info::ShapeRange;
use crate::config::{EngineConfig, ProviderKind};

/// Everything needed to register the providers for one graph.
pub struct GraphProviders<'a> {
    pub graph: &'a str,
    pub onnx_path: &'a Path,
    pub shape_ranges: &'a [(String, ShapeRange)],
}

/// A graph's TensorRT engine cache, as found before the session is created.
#[derive(Debug, Clone)]
pub struct EngineCache {
    pub dir: PathBuf,
    /// An engine for this key exists: TensorRT loads it instead of building.
    pub cached: bool,
    /// The saved EP-context model to create the session from (instead of the ONNX file), if there is one.
    pub ep_context: Option<PathBuf>,
}

/// What [`register`] set up.
#[derive(Debug, Clone, Default)]
pub struct Registered {
    /// The kinds that actually registered, in order.
    pub used: Vec<ProviderKind>,
    /// Set when TensorRT registered.
    pub engine: Option<EngineCache>,
}

/// Register the configured providers on `builder`.
pub fn register(
    builder: &mut SessionBuilder,
    cfg: &EngineConfig,
    g: &GraphProviders<'_>,
) -> Result<Registered, InferenceError> {
    let mut used = Vec::new();
    let mut engine = None;
    for (i, &kind) in cfg.providers.iter().enumerate() {
        if kind == ProviderKind::Cpu {
            // CPU is ONNX Runtime's built-in fallback; anything listed after it could never run.
            used.push(ProviderKind::Cpu);
            break;
        }
        let cpu_follows = cfg.providers[i + 1..].contains(&ProviderKind::Cpu);
        let mut cache = None;
        let dispatch = match kind {
            ProviderKind::TensorRt => {
                let (dispatch, c) = tensorrt_dispatch(cfg, g)?;
                cache = Some(c);
                dispatch
            }
            ProviderKind::Cuda => ep::CUDA::default().with_device_id(cfg.tensorrt.device_id).build().error_on_failure(),
            ProviderKind::Cpu => unreachable_cpu(),
        };
        match dispatch.register(builder) {
            Ok(()) => {
                used.push(kind);
                engine = engine.or(cache);
            }
            Err(e) if cpu_follows => {
                tracing::warn!(provider = %kind, graph = g.graph, "execution provider unavailable, trying the next in the list: {e}");
            }
            Err(e) => {
                return Err(InferenceError::ProviderUnavailable { provider: kind.to_string(), reason: e.to_string() });
            }
        }
    }
    if used.is_empty() {
        // Every listed GPU provider failed and cpu was allowed: ORT runs the graph on its CPU provider.
        used.push(ProviderKind::Cpu);
    }
    Ok(Registered { used, engine })
}

// The loop breaks on Cpu before building a dispatch; keep the match exhaustive without a panic path.
fn unreachable_cpu() -> ep::ExecutionProviderDispatch {
    ep::CPU::default().build()
}

fn tensorrt_dispatch(
    cfg: &EngineConfig,
    g: &GraphProviders<'_>,
) -> Result<(ep::ExecutionProviderDispatch, EngineCache), InferenceError> {
    let trt_version = tensorrt_version();
    let key = engine_cache_key(g.onnx_path, &trt_version, g.shape_ranges, cfg.tensorrt.fp16)?;
    let dir = cfg.tensorrt.resolved_cache_dir().join(format!("{}-{}", g.graph, &key[..16]));
    std::fs::create_dir_all(&dir).map_err(|e| InferenceError::ProviderUnavailable {
        provider: "tensorrt".into(),
        reason: format!("cannot create engine cache {}: {e}", dir.display()),
    })?;
    let cached = has_engine(&dir);
    let ctx_path = dir.join(format!("{}_ctx.onnx", g.graph));
    let ep_context_ok = super::runtime::loaded_version().is_some_and(|v| v >= (1, 18));
    let ep_context = (ep_context_ok && cached && ctx_path.is_file()).then(|| ctx_path.clone());
    tracing::debug!(graph = g.graph, cache = %dir.display(), tensorrt = %trt_version, cached, ep_context = ep_context.is_some(), "TensorRT engine cache");
    let mut trt = ep::TensorRT::default()
        .with_device_id(cfg.tensorrt.device_id)
        .with_fp16(cfg.tensorrt.fp16)
        .with_max_workspace_size(cfg.tensorrt.workspace_bytes)
        .with_engine_cache(true)
        .with_engine_cache_path(dir.display().to_string())
        .with_timing_cache(true)
        .with_timing_cache_path(dir.display().to_string());
    if !g.shape_ranges.is_empty() {
        let (min, opt, max) = profile_strings(g.shape_ranges);
        trt = trt.with_profile_min_shapes(min).with_profile_opt_shapes(opt).with_profile_max_shapes(max);
    }
    if ep_context_ok && ep_context.is_none() {
        // Embed mode 0: the context model names the engine file beside it instead of holding a copy.
        trt = trt
            .with_dump_ep_context_model(true)
            .with_ep_context_file_path(ctx_path.display().to_string())
            .with_ep_context_embed_mode(0);
    }
    Ok((trt.build().error_on_failure(), EngineCache { dir, cached, ep_context }))
}

/// `name:d0xd1x…,name2:…` strings for TensorRT's explicit optimisation profile.
pub fn profile_strings(ranges: &[(String, ShapeRange)]) -> (String, String, String) {
    let join = |pick: fn(&ShapeRange) -> &Vec<i64>| {
        ranges
            .iter()
            .map(|(name, r)| {
                let dims: Vec<String> = pick(r).iter().map(|d| d.to_string()).collect();
                format!("{name}:{}", dims.join("x"))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    (join(|r| &r.min), join(|r| &r.opt), join(|r| &r.max))
}

/// sha256 over the ONNX bytes and its external weights (`<graph>.onnx.data`, as the full-size export writes
/// them: new weights under an unchanged graph must not reuse an engine built from the old ones), the
/// TensorRT version, precision and the shape ranges (hex).
pub fn engine_cache_key(
    onnx: &Path,
    trt_version: &str,
    ranges: &[(String, ShapeRange)],
    fp16: bool,
) -> Result<String, InferenceError> {
    let mut h = Sha256::new();
    h.update(file_digest(onnx)?);
    let mut data = onnx.as_os_str().to_owned();
    data.push(".data");
    let data = PathBuf::from(data);
    if data.is_file() {
        h.update(b"external-data");
        h.update(file_digest(&data)?);
    }
    h.update(trt_version.as_bytes());
    h.update(if fp16 { b"fp16" } else { b"fp32" });
    let (min, opt, max) = profile_strings(ranges);
    for s in [min, opt, max] {
        h.update(s.as_bytes());
        h.update(b";");
    }
    Ok(hex::encode(h.finalize()))
}

/// sha256 of a file read in 1 MiB pieces (a full-size graph's weights are gigabytes).
fn file_digest(path: &Path) -> Result<[u8; 32], InferenceError> {
    use std::io::Read;
    let err = |e: std::io::Error| InferenceError::ModelFile { path: path.to_path_buf(), reason: e.to_string() };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            return Ok(h.finalize().into());
        }
        h.update(&buf[..n]);
    }
}

fn has_engine(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|it| it.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".engine")))
        .unwrap_or(false)
}

/// TensorRT version from the `libnvinfer.so.X.Y.Z` file name found on the library path ("unknown" if none).
pub fn tensorrt_version() -> String {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("LD_LIBRARY_PATH").map(|v| std::env::split_paths(&v).collect()).unwrap_or_default();
    for d in ["/usr/lib/aarch64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/local/cuda/lib64", "/usr/lib"] {
        dirs.push(PathBuf::from(d));
    }
    let mut best: Option<String> = None;
    for d in dirs {
        let Ok(it) = std::fs::read_dir(&d) else { continue };
        for e in it.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(v) = name.strip_prefix("libnvinfer.so.")
                && best.as_ref().is_none_or(|b| v.len() > b.len())
            {
                best = Some(v.to_string());
            }
        }
    }
    best.unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_strings_follow_trt_syntax() {
        let r = vec![
            (
                "pixels".to_string(),
                ShapeRange { min: vec![1, 3, 32, 32], opt: vec![1, 3, 256, 320], max: vec![1, 3, 320, 320] },
            ),
            ("vp_ids".to_string(), ShapeRange { min: vec![1, 1], opt: vec![1, 1], max: vec![1, 4] }),
        ];
        let (min, opt, max) = profile_strings(&r);
        assert_eq!(min, "pixels:1x3x32x32,vp_ids:1x1");
        assert_eq!(opt, "pixels:1x3x256x320,vp_ids:1x1");
        assert_eq!(max, "pixels:1x3x320x320,vp_ids:1x4");
    }

    /// The cache folder is rebuilt for a new ONNX file, TensorRT, precision or shape range, and only then.
    #[test]
    fn the_engine_key_follows_everything_an_engine_depends_on() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.onnx"), dir.path().join("b.onnx"));
        std::fs::write(&a, b"graph").unwrap();
        std::fs::write(&b, b"graph2").unwrap();
        let r = |max: i64| {
            vec![(
                "pixels".to_string(),
                ShapeRange { min: vec![1, 3, 32, 32], opt: vec![1, 3, 64, 64], max: vec![1, 3, max, max] },
            )]
        };
        let key = |onnx: &Path, trt: &str, ranges: &[(String, ShapeRange)], fp16: bool| {
            engine_cache_key(onnx, trt, ranges, fp16).unwrap()
        };
        let base = key(&a, "10.16.1", &r(320), true);
        assert_eq!(base, key(&a, "10.16.1", &r(320), true));
        for other in [
            key(&b, "10.16.1", &r(320), true),
            key(&a, "10.3.0", &r(320), true),
            key(&a, "10.16.1", &r(640), true),
            key(&a, "10.16.1", &r(320), false),
        ] {
            assert_ne!(base, other);
        }
        // Weights in external data: new weights under the same graph file get a new engine.
        std::fs::write(dir.path().join("a.onnx.data"), b"weights").unwrap();
        let with_data = key(&a, "10.16.1", &r(320), true);
        assert_ne!(base, with_data);
        assert_eq!(with_data, key(&a, "10.16.1", &r(320), true));
        std::fs::write(dir.path().join("a.onnx.data"), b"weights2").unwrap();
        assert_ne!(with_data, key(&a, "10.16.1", &r(320), true));
    }
}
