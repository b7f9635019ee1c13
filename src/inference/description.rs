//! The tabletop description grammar, "a {size} {colour} {shape} {place}" (DESIGN.md §4): parsed by the
//! metrics and by the region zoom, which takes some words from each of two passes.

/// The tabletop vocabulary a description is parsed against.
const SIZES: [&str; 2] = ["small", "large"];
const COLOURS: [&str; 8] = ["red", "orange", "yellow", "green", "blue", "purple", "white", "black"];
pub(crate) const SHAPES: [&str; 6] = ["circle", "square", "triangle", "star", "ring", "cross"];
pub(crate) const PLACES: [&str; 9] = [
    "in the top left",
    "at the top",
    "in the top right",
    "on the left",
    "in the center",
    "on the right",
    "in the bottom left",
    "at the bottom",
    "in the bottom right",
];

/// `(size, colour, shape, place)` of "a {size} {colour} {shape} {place}", or None. "big" counts as "large".
pub fn parse_description(text: &str) -> Option<(String, String, String, String)> {
    let norm = text.trim().to_lowercase().replace("big", "large");
    let words: Vec<&str> = norm.split_whitespace().collect();
    if words.len() < 5 || words[0] != "a" {
        return None;
    }
    let (size, colour, shape) = (words[1], words[2], words[3]);
    let place = words[4..].join(" ");
    if !SIZES.contains(&size)
        || !COLOURS.contains(&colour)
        || !SHAPES.contains(&shape)
        || !PLACES.contains(&place.as_str())
    {
        return None;
    }
    Some((size.into(), colour.into(), shape.into(), place))
}

/// The colour and the shape a command names, each None when it names none: "pick up the red one" → (red, —).
pub fn stated(command: &str) -> (Option<&'static str>, Option<&'static str>) {
    let lower = command.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_lowercase()).filter(|w| !w.is_empty()).collect();
    let find = |vocab: &[&'static str]| words.iter().find_map(|w| vocab.iter().copied().find(|v| v == w));
    (find(&COLOURS), find(&SHAPES))
}

/// Both parse and all four attributes agree.
pub fn descriptions_match(predicted: &str, expected: &str) -> bool {
    matches!((parse_description(predicted), parse_description(expected)), (Some(a), Some(b)) if a == b)
}

/// Size and place from the whole-frame description (they are relative to the frame), colour and shape from
/// the close look (the shape `shape` when given: wording.rs's joint shape); None when either text is not a
/// description (then the whole-frame text stands).
pub fn merge_close_look(whole: &str, close: &str, shape: Option<&str>) -> Option<String> {
    let (size, _, _, place) = parse_description(whole)?;
    let (_, colour, close_shape, _) = parse_description(close)?;
    let shape = shape.unwrap_or(&close_shape);
    Some(format!("a {size} {colour} {shape} {place}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_state_at_most_one_colour_and_one_shape() {
        assert_eq!(stated("Pick up the RED star!"), (Some("red"), Some("star")));
        assert_eq!(stated("where is the large object?"), (None, None));
        assert_eq!(stated("the leftmost green one"), (Some("green"), None));
        assert_eq!(stated("the starry reddish ring"), (None, Some("ring")), "whole words only");
    }

    #[test]
    fn the_close_look_gives_colour_and_shape_the_whole_frame_size_and_place() {
        let merged = merge_close_look("a small red star on the left", "a large orange cross in the center", None);
        assert_eq!(merged.as_deref(), Some("a small orange cross on the left"));
        let joint =
            merge_close_look("a small red star on the left", "a large orange cross in the center", Some("star"));
        assert_eq!(joint.as_deref(), Some("a small orange star on the left"));
        assert_eq!(
            merge_close_look("a small red star on the left", "a red", None),
            None,
            "junk close look: keep the first pass"
        );
        assert_eq!(merge_close_look("red star", "a large red cross in the center", None), None);
    }
}
