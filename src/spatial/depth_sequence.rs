//! Depth as numbered 16-bit PNG files beside a colour video: a folder (its PNGs in name order) or a
//! printf pattern such as `depth/%04d.png`. File n belongs to colour frame n (the first frame is 0).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::{DepthImage, SpatialError};

#[derive(Debug, Clone)]
enum Naming {
    /// The folder's PNG files, sorted by name.
    Listed(Arc<Vec<PathBuf>>),
    /// Text before the number, zero-padded width (0: none), text after.
    Pattern { head: String, width: usize, tail: String },
}

/// A numbered sequence of depth PNGs (millimetres).
#[derive(Debug, Clone)]
pub struct DepthSequence {
    source: String,
    naming: Naming,
}

fn refuse(source: &str, reason: String) -> SpatialError {
    SpatialError::Read { path: source.to_string(), reason }
}

/// Splits `dir/%04d.png` into ("dir/", 4, ".png"); None when the text has no `%d`-style field.
fn parse_pattern(text: &str) -> Option<(String, usize, String)> {
    let start = text.find('%')?;
    let rest = &text[start + 1..];
    let end = rest.find('d')?;
    let spec = &rest[..end];
    if !spec.chars().all(|c| c.is_ascii_digit()) || spec.len() > 2 {
        return None;
    }
    let width = if spec.is_empty() { 0 } else { spec.parse().ok()? };
    Some((text[..start].to_string(), width, rest[end + 1..].to_string()))
}

impl DepthSequence {
    /// Opens a folder of PNGs or a printf pattern; refuses one that yields no first file.
    pub fn open(source: &str) -> Result<DepthSequence, SpatialError> {
        let path = Path::new(source);
        let naming = if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| refuse(source, e.to_string()))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
                .collect();
            if files.is_empty() {
                return Err(refuse(source, "the folder holds no .png depth files".into()));
            }
            files.sort();
            Naming::Listed(Arc::new(files))
        } else if let Some((head, width, tail)) = parse_pattern(source) {
            Naming::Pattern { head, width, tail }
        } else {
            return Err(refuse(
                source,
                "not a folder of depth PNGs nor a numbered pattern such as depth/%04d.png".into(),
            ));
        };
        let sequence = DepthSequence { source: source.to_string(), naming };
        match sequence.path_for(0) {
            Some(first) if first.is_file() => Ok(sequence),
            Some(first) => Err(refuse(source, format!("its first file {} does not exist", first.display()))),
            None => Err(refuse(source, "it names no file for frame 0".into())),
        }
    }

    /// The file of frame `n`, if the sequence names one.
    pub fn path_for(&self, n: u64) -> Option<PathBuf> {
        match &self.naming {
            Naming::Listed(files) => usize::try_from(n).ok().and_then(|i| files.get(i)).cloned(),
            Naming::Pattern { head, width, tail } => Some(PathBuf::from(format!("{head}{n:0width$}{tail}"))),
        }
    }

    /// Reads frame `n`'s depth, stamped like its colour frame.
    pub fn load(&self, n: u64, stamp: SystemTime) -> Result<DepthImage, SpatialError> {
        match self.path_for(n) {
            Some(path) if path.is_file() => DepthImage::from_png16(&path, stamp, n),
            _ => Err(SpatialError::Depth(format!("no depth file for frame {n} in {}", self.source))),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_printf_patterns() {
        assert_eq!(parse_pattern("d/%04d.png"), Some(("d/".into(), 4, ".png".into())));
        assert_eq!(parse_pattern("%d.png"), Some(("".into(), 0, ".png".into())));
        assert_eq!(parse_pattern("d/frame.png"), None);
        assert_eq!(parse_pattern("d/%s.png"), None);
    }

    #[test]
    fn folder_and_pattern_name_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..3u16 {
            let img = image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(2, 2, image::Luma([800 + n]));
            img.save(dir.path().join(format!("{n:04}.png"))).unwrap();
        }
        let folder = DepthSequence::open(dir.path().to_str().unwrap()).unwrap();
        let pattern = DepthSequence::open(&format!("{}/%04d.png", dir.path().display())).unwrap();
        for seq in [&folder, &pattern] {
            let d = seq.load(2, SystemTime::UNIX_EPOCH).unwrap();
            assert_eq!(d.seq, 2);
            assert!((d.metres[0] - 0.802).abs() < 1e-6, "{}", d.metres[0]);
            let e = seq.load(3, SystemTime::UNIX_EPOCH).unwrap_err().to_string();
            assert!(e.contains("no depth file for frame 3"), "{e}");
        }
        let e = DepthSequence::open(&format!("{}/%06d.png", dir.path().display())).unwrap_err().to_string();
        assert!(e.contains("000000.png does not exist"), "{e}");
    }
}
