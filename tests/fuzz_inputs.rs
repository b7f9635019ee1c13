//! Bounded property tests over the parsers of outside input: every input, however malformed, gets a value
//! or one clear error, never a panic (a panic fails the test). Inputs come from a seeded generator, so a
//! failure names its seed and case and reproduces exactly; each target runs a few thousand cases in well
//! under a second.

use std::path::PathBuf;

use pixel_sail::config::params_file::read_params_file;
use pixel_sail::decode::{bbox_of, rle_decode, rle_encode};
use pixel_sail::frame::{Frame, Grounding, Location, Mask, Rle};
use pixel_sail::inference::ModelInfo;
use pixel_sail::inference::tokenizer::PromptTokenizer;
use pixel_sail::link::{CommandLimits, validate_commands};
use pixel_sail::ros::images::frame_from_image;
use pixel_sail::ros::msgs_std::Image;
use pixel_sail::ros::ros_args::{parse, parse_param_value, split};
use pixel_sail::spatial::{CameraIntrinsics, DepthFeed, DepthImage, Locator, RayTable};

/// xorshift64*: small, seeded, good enough to spread cases.
struct Gen(u64);

impl Gen {
    fn new(seed: u64) -> Self {
        Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Mostly small values, sometimes the edges of the type.
    fn u32_edgy(&mut self) -> u32 {
        match self.below(8) {
            0 => 0,
            1 => u32::MAX,
            2 => u32::MAX - self.below(4) as u32,
            3 => 1 << self.below(32),
            _ => self.below(70) as u32,
        }
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        (0..self.below(max as u64 + 1)).map(|_| self.next() as u8).collect()
    }
    /// Text with ASCII, control characters, multi-byte characters and ROS argument punctuation.
    fn text(&mut self, max: usize) -> String {
        const PIECES: [&str; 14] =
            ["a", "Z", " ", ":=", ":", "/", "~", "\u{0}", "\u{1b}", "\n", "é", "漢", "🤖", "__ns"];
        (0..self.below(max as u64 + 1)).map(|_| self.pick(&PIECES)).collect()
    }
}

const CASES: u64 = 3000;

#[test]
fn ros_images_of_any_encoding_step_and_size() {
    const ENCODINGS: [&str; 9] = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1", "16UC1", "yuv422", ""];
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let (width, height) = (g.u32_edgy(), g.u32_edgy());
        let step = if g.below(2) == 0 { width.saturating_mul(g.below(5) as u32) } else { g.u32_edgy() };
        let mut img = Image { width, height, step, encoding: g.pick(&ENCODINGS).into(), ..Image::default() };
        img.data = g.bytes(4096);
        let case = format!("seed {seed}: {width}x{height} {} step {step}, {} bytes", img.encoding, img.data.len());
        if let Ok(frame) = frame_from_image(&img, seed, "") {
            assert_eq!(frame.data.len(), width as usize * height as usize * 3, "{case}");
        }
    }
}

#[test]
fn rle_masks_of_any_size_and_counts() {
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        // Small masks, or headers past the pixel limit (refused before any work; a debug build takes a while
        // over each legal mask of millions of pixels).
        let mut dim = || match g.below(4) {
            0 => 1 << (25 + g.below(7)),
            1 => u32::MAX,
            _ => g.below(90) as u32,
        };
        let size = [dim(), dim()];
        let counts: Vec<u32> = (0..g.below(12)).map(|_| g.u32_edgy()).collect();
        let rle = Rle { size, counts: counts.clone() };
        if let Ok(mask) = rle_decode(&rle) {
            assert_eq!([mask.height, mask.width], size, "seed {seed}: {rle:?}");
            // What decodes encodes back to the same pixels (checked where that is quick in a debug build).
            if mask.data.len() <= 1 << 16 {
                assert_eq!(rle_decode(&rle_encode(&mask)).unwrap(), mask, "seed {seed}: {rle:?}");
            }
        }
    }
    let huge = Rle { size: [65536, 65536], counts: vec![u32::MAX, u32::MAX, 2] };
    let err = rle_decode(&huge).unwrap_err().to_string();
    assert!(err.contains("65536x65536") && err.contains("limit"), "{err}");
    // A mask the size of a camera frame still decodes.
    let mask = Mask { width: 640, height: 480, data: vec![1; 640 * 480] };
    assert_eq!(rle_decode(&rle_encode(&mask)).unwrap(), mask);
}

#[test]
fn ros_args_and_parameter_values() {
    const TOKENS: [&str; 12] =
        ["-r", "--remap", "-p", "--param", "--params-file", "--ros-args", "--", "-e", "__ns:=/a", "x:=1", ":=", ""];
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let argv: Vec<String> =
            (0..g.below(10)).map(|_| if g.below(2) == 0 { g.pick(&TOKENS).to_string() } else { g.text(12) }).collect();
        let (_own, ros) = split(&argv);
        let _ = parse(&ros);
        let _ = parse_param_value(&g.text(24));
    }
}

#[test]
fn params_files_of_any_content() {
    const PIECES: [&str; 14] = [
        "/**:\n",
        "  ros__parameters:\n",
        "    overlay: true\n",
        "    prompts: [a, b]\n",
        "    x: {y: 1}\n",
        "- ",
        ": ",
        "{",
        "[",
        "\"",
        "&a ",
        "*a ",
        "\t",
        "pixel_sail:\n",
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("params.yaml");
    for seed in 0..CASES / 3 {
        let mut g = Gen::new(seed);
        let text: String = (0..g.below(12)).map(|_| g.pick(&PIECES)).collect();
        std::fs::write(&path, &text).unwrap();
        let _ = read_params_file(&path, "/robot1/pixel_sail");
    }
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    assert!(read_params_file(&path, "/pixel_sail").is_err(), "a file that is not UTF-8 is one error");
}

#[test]
fn command_strings_with_control_characters_and_a_megabyte() {
    let limits = CommandLimits { max_commands: 8, max_chars: 200 };
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let raw: Vec<String> = (0..g.below(12)).map(|_| g.text(300)).collect();
        if let Ok((commands, _notes)) = validate_commands(&raw, limits) {
            assert!(commands.len() <= 8 && commands.iter().all(|c| c.chars().count() <= 200), "seed {seed}");
        }
    }
    let huge = vec!["x".repeat(1 << 20)];
    let (commands, notes) = validate_commands(&huge, limits).unwrap();
    assert_eq!(commands[0].chars().count(), 200);
    assert_eq!(notes.len(), 1, "the truncation is said");
}

/// A model file damaged the ways files are: cut short, a few bytes changed, or a number replaced by an
/// edge value (sizes, ids and shapes out of range, the wrong type).
fn mutate(original: &[u8], g: &mut Gen) -> Vec<u8> {
    let mut bytes = original.to_vec();
    match g.below(3) {
        0 => bytes.truncate(g.below(bytes.len() as u64) as usize),
        1 => {
            for _ in 0..1 + g.below(4) {
                let at = g.below(bytes.len() as u64) as usize;
                bytes[at] = g.next() as u8;
            }
        }
        _ => {
            let text = String::from_utf8_lossy(&bytes).to_string();
            let starts: Vec<usize> = text
                .char_indices()
                .filter(|&(i, c)| c.is_ascii_digit() && !text[..i].ends_with(|p: char| p.is_ascii_digit()))
                .map(|(i, _)| i)
                .collect();
            if starts.is_empty() {
                return bytes;
            }
            let at = starts[g.below(starts.len() as u64) as usize];
            let end = text[at..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |n| at + n);
            let with = g.pick(&["0", "-1", "99999999999999999999", "1e308", "null", "\"7\""]);
            bytes = format!("{}{}{}", &text[..at], with, &text[end..]).into_bytes();
        }
    }
    bytes
}

#[test]
fn tokenizer_json_mutated_anywhere() {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/tiny");
    let info = ModelInfo::load(&model).unwrap();
    let original = std::fs::read(model.join("tokenizer.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    for seed in 0..300 {
        std::fs::write(&path, mutate(&original, &mut Gen::new(seed))).unwrap();
        if let Ok(tok) = PromptTokenizer::load(&path, &info) {
            // A tokenizer that loads must also tokenize and decode without a panic.
            let _ = tok.prompt("{command}", "pick up the red cup \u{0} 漢", &[]);
            let _ = tok.decode(&[0, 1, 2, i64::MAX, -1]);
        }
    }
}

/// Describe requests as they come off the wire — points and boxes anywhere (outside the frame, NaN,
/// infinite), masks of any size and counts, unknown kinds — through the service's checks and then the real
/// model: each is described or refused with a reason, never a panic.
#[test]
fn describe_requests_of_any_shape_reach_the_model_safely() {
    use pixel_sail::app::{EngineModel, FrameModel};
    use pixel_sail::config::EngineConfig;
    use pixel_sail::frame::Frame;
    use pixel_sail::ros::msgs_pixel_sail::DescribeRequest;
    use pixel_sail::ros::services::prompt_of;

    let mut model =
        EngineModel::load(&EngineConfig::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/tiny"))).unwrap();
    let (w, h) = (160u32, 120u32);
    let frame = Frame {
        seq: 0,
        stamp: std::time::SystemTime::now(),
        frame_id: "cam".into(),
        width: w,
        height: h,
        data: (0..w * h * 3).map(|i| (i % 251) as u8).collect(),
    };
    let coord = |g: &mut Gen| -> f64 {
        match g.below(6) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => -(g.below(1000) as f64),
            3 => 1e12,
            _ => g.below(2 * w as u64) as f64 + 0.5,
        }
    };
    let (mut described, mut refused) = (0, 0);
    for seed in 0..48 {
        let mut g = Gen::new(seed);
        let mut req = DescribeRequest { kind: g.below(4) as u8, ..Default::default() };
        req.point.x = coord(&mut g);
        req.point.y = coord(&mut g);
        req.r#box = [coord(&mut g) as f32, coord(&mut g) as f32, coord(&mut g) as f32, coord(&mut g) as f32];
        (req.mask_height, req.mask_width) = if g.below(2) == 0 { (h, w) } else { (g.u32_edgy(), g.u32_edgy()) };
        req.mask_rle_counts = (0..g.below(6)).map(|_| g.u32_edgy()).collect();
        if g.below(2) == 0 && req.mask_height == h {
            req.mask_rle_counts = vec![g.below(w as u64 * h as u64) as u32, 1 + g.below(400) as u32];
            let rest = (w * h).saturating_sub(req.mask_rle_counts.iter().sum());
            req.mask_rle_counts.push(rest);
        }
        let Ok(prompt) = prompt_of(&req) else {
            refused += 1;
            continue;
        };
        match model.describe_region(&frame, &prompt, 3) {
            Ok(_) => described += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty(), "seed {seed}: a refusal says why");
                refused += 1;
            }
        }
    }
    assert!(described > 0 && refused > 0, "the cases reach both outcomes: {described} described, {refused} refused");
}

#[test]
fn model_json_mutated_anywhere() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/tiny/model.json");
    let original = std::fs::read(&src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..300 {
        let bytes = mutate(&original, &mut Gen::new(seed));
        std::fs::write(dir.path().join("model.json"), &bytes).unwrap();
        let _ = ModelInfo::load(dir.path());
    }
}

#[test]
fn depth_messages_of_any_encoding_step_and_size() {
    const ENCODINGS: [&str; 6] = ["16UC1", "32FC1", "mono16", "8UC1", "rgb8", ""];
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let (width, height) = (g.u32_edgy(), g.u32_edgy());
        let encoding = g.pick(&ENCODINGS);
        let step = if g.below(2) == 0 { width.saturating_mul(g.below(5) as u32) } else { g.u32_edgy() };
        let data = g.bytes(4096);
        let case = format!("seed {seed}: {width}x{height} {encoding} step {step}, {} bytes", data.len());
        let stamp = std::time::SystemTime::UNIX_EPOCH;
        if let Ok(d) = DepthImage::from_ros(encoding, width, height, step, g.below(2) == 0, &data, stamp, seed) {
            assert_eq!(d.metres.len(), width as usize * height as usize, "{case}");
            assert!(d.metres.iter().all(|m| m.is_nan() || (m.is_finite() && *m > 0.0)), "{case}");
        }
    }
}

#[test]
fn depth_pngs_cut_and_mutated() {
    let dir = tempfile::tempdir().unwrap();
    let (png16, png8) = (dir.path().join("d16.png"), dir.path().join("d8.png"));
    image::ImageBuffer::<image::Luma<u16>, _>::from_fn(12, 9, |x, y| image::Luma([(x * 100 + y) as u16]))
        .save(&png16)
        .unwrap();
    image::GrayImage::from_pixel(12, 9, image::Luma([7])).save(&png8).unwrap();
    let stamp = std::time::SystemTime::UNIX_EPOCH;
    assert!(DepthImage::from_png16(&png16, stamp, 0).is_ok());
    let e = DepthImage::from_png16(&png8, stamp, 0).unwrap_err().to_string();
    assert!(e.contains("16-bit greyscale"), "{e}");
    let original = std::fs::read(&png16).unwrap();
    let path = dir.path().join("case.png");
    for seed in 0..300 {
        let mut g = Gen::new(seed);
        let mut bytes = original.clone();
        if g.below(2) == 0 {
            bytes.truncate(g.below(bytes.len() as u64) as usize);
        } else {
            for _ in 0..1 + g.below(4) {
                let at = g.below(bytes.len() as u64) as usize;
                bytes[at] = g.next() as u8;
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(d) = DepthImage::from_png16(&path, stamp, seed) {
            assert_eq!(d.metres.len(), d.width as usize * d.height as usize, "seed {seed}");
        }
    }
}

#[test]
fn camera_info_yaml_mutated_anywhere() {
    let original = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/depth/distorted/camera_info.yaml"),
    )
    .unwrap();
    assert!(CameraIntrinsics::from_calibration_yaml(&original).is_ok());
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let text = match g.below(3) {
            0 => original.chars().take(g.below(original.len() as u64) as usize).collect(),
            1 => {
                let mut chars: Vec<char> = original.chars().collect();
                for _ in 0..1 + g.below(4) {
                    let at = g.below(chars.len() as u64) as usize;
                    chars[at] = g.pick(&["0", "-", ":", "[", "]", " ", "\n", "e", "9", ","]).chars().next().unwrap();
                }
                chars.into_iter().collect()
            }
            _ => {
                let starts: Vec<usize> = original
                    .char_indices()
                    .filter(|&(i, c)| c.is_ascii_digit() && !original[..i].ends_with(|p: char| p.is_ascii_digit()))
                    .map(|(i, _)| i)
                    .collect();
                let at = starts[g.below(starts.len() as u64) as usize];
                let end = original[at..].find(|c: char| !c.is_ascii_digit()).map_or(original.len(), |n| at + n);
                let with = g.pick(&["0", "-1", "99999999999999999999", "1e308", ".nan", "null", "\"7\"", "-.inf"]);
                format!("{}{}{}", &original[..at], with, &original[end..])
            }
        };
        if let Ok(c) = CameraIntrinsics::from_calibration_yaml(&text) {
            assert!(c.fx() > 0.0 && c.fy() > 0.0 && c.width > 0 && c.height > 0, "seed {seed}: {c:?}");
            let rays = RayTable::new(&c, 8, 6);
            assert_eq!((rays.width, rays.height), (8, 6));
        }
    }
}

#[test]
fn locating_any_mask_over_any_depth() {
    for seed in 0..CASES / 3 {
        let mut g = Gen::new(seed);
        let (w, h) = (1 + g.below(24) as u32, 1 + g.below(18) as u32);
        let (dw, dh) = if g.below(3) == 0 { (1 + g.below(30) as u32, 1 + g.below(20) as u32) } else { (w, h) };
        let metres: Vec<f32> = (0..dw * dh)
            .map(|_| match g.below(6) {
                0 => f32::NAN,
                1 => 0.0,
                2 => f32::INFINITY,
                _ => 0.3 + g.below(1000) as f32 * 1e-3,
            })
            .collect();
        let stamp = std::time::SystemTime::UNIX_EPOCH;
        let mm: Vec<u16> = metres.iter().map(|m| if m.is_finite() { (m * 1e3) as u16 } else { 0 }).collect();
        let depth = DepthImage::from_millimetres(dw, dh, &mm, stamp, 0).unwrap();
        let k = [
            1.0 + g.below(900) as f64,
            0.0,
            g.below(30) as f64,
            0.0,
            1.0 + g.below(900) as f64,
            g.below(20) as f64,
            0.0,
            0.0,
            1.0,
        ];
        let d: Vec<f64> = (0..g.below(6)).map(|_| (g.below(200) as f64 - 100.0) * 1e-3).collect();
        let Ok(camera) = CameraIntrinsics::from_ros(w, h, "plumb_bob", &d, k, "cam") else { continue };
        let feed = DepthFeed::new(std::time::Duration::from_millis(20));
        feed.set_camera(camera);
        feed.push_depth(depth);
        let mask = Mask { width: w, height: h, data: (0..w * h).map(|_| (g.below(3) != 0) as u8).collect() };
        let mut groundings = vec![Grounding {
            command: "thing".into(),
            found: true,
            score: 1.0,
            bbox: bbox_of(&mask),
            rle: rle_encode(&mask),
            mask: std::sync::Arc::new(mask),
            description: None,
            track_id: 0,
            location: Location::NoDepthInput,
        }];
        let frame =
            Frame { seq: 0, stamp, frame_id: "cam".into(), width: w, height: h, data: vec![0; (w * h * 3) as usize] };
        Locator::new(Some(feed)).locate(&frame, &mut groundings);
        if let Some(p) = groundings[0].location.placement() {
            let all = p.centroid.iter().chain(&p.extent);
            assert!(all.into_iter().all(|v| v.is_finite()) && p.depth_pixels > 0, "seed {seed}: {p:?}");
        }
    }
}
