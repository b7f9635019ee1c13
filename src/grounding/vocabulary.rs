//! The domain words the grounding policy reads and writes, from model.json's `vocabulary` section: sizes,
//! colours, shapes, the 3×3 grid's place phrases and the description template ("a {size} {colour} {shape}
//! {place}", DESIGN.md §4). Commands are read against it (which colour and shape they name), descriptions are
//! parsed and rewritten with it (the closer look's words, the mask's place), and `eval` scores with it. Nothing
//! here knows the tabletop: a model trained on other words brings them in its model.json.

use std::collections::BTreeMap;

use crate::inference::VocabularySpec;

/// One part of the description template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Size,
    Colour,
    Shape,
    Place,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Word(String),
    Slot(Slot),
}

/// A description's four attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub size: String,
    pub colour: String,
    pub shape: String,
    pub place: String,
}

/// model.json's `vocabulary`, checked: see the module doc.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    sizes: Vec<String>,
    colours: Vec<String>,
    shapes: Vec<String>,
    places: Vec<String>,
    synonyms: BTreeMap<String, String>,
    template: Vec<Part>,
}

impl Vocabulary {
    /// Checks the section: every list non-empty and lower case, nine places, a template naming each of
    /// `{size}`, `{colour}`, `{shape}` and `{place}` once.
    pub fn from_spec(spec: &VocabularySpec) -> Result<Vocabulary, String> {
        let list = |name: &str, v: &[String]| -> Result<Vec<String>, String> {
            if v.is_empty() || v.iter().any(|w| w.trim().is_empty() || *w != w.to_lowercase()) {
                return Err(format!("`vocabulary.{name}` must be a non-empty list of lower-case words, found {v:?}"));
            }
            Ok(v.iter().map(|w| w.trim().to_string()).collect())
        };
        let places = list("places", &spec.places)?;
        if places.len() != 9 {
            return Err(format!("`vocabulary.places` must name the 9 cells of the 3×3 grid, found {}", places.len()));
        }
        let mut template = Vec::new();
        for word in spec.description.split_whitespace() {
            template.push(match word {
                "{size}" => Part::Slot(Slot::Size),
                "{colour}" => Part::Slot(Slot::Colour),
                "{shape}" => Part::Slot(Slot::Shape),
                "{place}" => Part::Slot(Slot::Place),
                w if w.contains('{') => return Err(format!("`vocabulary.description`: unknown slot {w}")),
                w => Part::Word(w.to_lowercase()),
            });
        }
        for slot in [Slot::Size, Slot::Colour, Slot::Shape, Slot::Place] {
            if template.iter().filter(|p| **p == Part::Slot(slot)).count() != 1 {
                return Err(format!(
                    "`vocabulary.description` must name {{size}}, {{colour}}, {{shape}} and {{place}} once each, found {:?}",
                    spec.description
                ));
            }
        }
        Ok(Vocabulary {
            sizes: list("sizes", &spec.sizes)?,
            colours: list("colours", &spec.colours)?,
            shapes: list("shapes", &spec.shapes)?,
            places,
            synonyms: spec.synonyms.iter().map(|(k, v)| (k.to_lowercase(), v.to_lowercase())).collect(),
            template,
        })
    }

    /// The vocabulary of the model in `dir` (None: its model.json has no `vocabulary` section).
    pub fn of_model(dir: &std::path::Path) -> Result<Option<Vocabulary>, String> {
        let info = crate::inference::ModelInfo::load(dir).map_err(|e| e.to_string())?;
        info.vocabulary.as_ref().map(Vocabulary::from_spec).transpose()
    }

    pub fn shapes(&self) -> &[String] {
        &self.shapes
    }

    /// The place phrase of the grid cell `row * 3 + column` (rows from the top, columns from the left).
    pub fn place(&self, cell: usize) -> Option<&str> {
        self.places.get(cell).map(String::as_str)
    }

    /// The generated word that carries the colour (`Slot::Colour`) or the shape: its index in the template,
    /// one generated token per word before it.
    fn step(&self, slot: Slot) -> usize {
        self.template.iter().position(|p| *p == Part::Slot(slot)).unwrap_or(usize::MAX)
    }

    /// Which generated word is the colour.
    pub fn colour_step(&self) -> usize {
        self.step(Slot::Colour)
    }

    /// Which generated word is the shape.
    pub fn shape_step(&self) -> usize {
        self.step(Slot::Shape)
    }

    /// Generated words up to and including the colour and the shape (what the closer check decodes).
    pub fn attribute_words(&self) -> usize {
        self.colour_step().max(self.shape_step()) + 1
    }

    /// A description's words (split at white space, as the template is), synonyms read as their word.
    fn words_of(&self, text: &str) -> Vec<String> {
        text.to_lowercase()
            .split_whitespace()
            .map(|w| self.synonyms.get(w).cloned().unwrap_or_else(|| w.to_string()))
            .collect()
    }

    /// The attributes of a text written with the template, or None when it is not one.
    pub fn parse(&self, text: &str) -> Option<Attributes> {
        let words = self.words_of(text);
        let mut at = 0;
        let mut found: [Option<String>; 4] = Default::default();
        for part in &self.template {
            match part {
                Part::Word(w) => {
                    (words.get(at) == Some(w)).then_some(())?;
                    at += 1;
                }
                Part::Slot(slot) => {
                    let entries = match slot {
                        Slot::Size => &self.sizes,
                        Slot::Colour => &self.colours,
                        Slot::Shape => &self.shapes,
                        Slot::Place => &self.places,
                    };
                    // the longest entry that the words continue with ("in the top left" before "at the top")
                    let (entry, len) = entries
                        .iter()
                        .map(|e| (e, e.split_whitespace().collect::<Vec<_>>()))
                        .filter(|(_, ew)| words.get(at..at + ew.len()).is_some_and(|got| got == ew.as_slice()))
                        .max_by_key(|(_, ew)| ew.len())
                        .map(|(e, ew)| (e.clone(), ew.len()))?;
                    found[*slot as usize] = Some(entry);
                    at += len;
                }
            }
        }
        if at != words.len() {
            return None;
        }
        let [size, colour, shape, place] = found;
        Some(Attributes { size: size?, colour: colour?, shape: shape?, place: place? })
    }

    /// The template filled in.
    pub fn write(&self, a: &Attributes) -> String {
        let words: Vec<&str> = self
            .template
            .iter()
            .map(|p| match p {
                Part::Word(w) => w.as_str(),
                Part::Slot(Slot::Size) => &a.size,
                Part::Slot(Slot::Colour) => &a.colour,
                Part::Slot(Slot::Shape) => &a.shape,
                Part::Slot(Slot::Place) => &a.place,
            })
            .collect();
        words.join(" ")
    }

    /// The colour and the shape a command names, each None when it names none (whole words only).
    pub fn stated(&self, command: &str) -> (Option<&str>, Option<&str>) {
        let lower = command.to_lowercase();
        let words: Vec<String> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| self.synonyms.get(w).cloned().unwrap_or_else(|| w.to_string()))
            .collect();
        fn find<'v>(words: &[String], vocab: &'v [String]) -> Option<&'v str> {
            words.iter().find_map(|w| vocab.iter().find(|v| *v == w).map(String::as_str))
        }
        (find(&words, &self.colours), find(&words, &self.shapes))
    }

    /// Both parse and all four attributes agree.
    pub fn matches(&self, predicted: &str, expected: &str) -> bool {
        matches!((self.parse(predicted), self.parse(expected)), (Some(a), Some(b)) if a == b)
    }

    /// Size and place from the whole-frame description (they are relative to the frame), colour and shape from
    /// the close look (the shape `shape` when given: the joint shape); None when either text is not a
    /// description (then the whole-frame text stands).
    pub fn merge_close_look(&self, whole: &str, close: &str, shape: Option<&str>) -> Option<String> {
        let mut merged = self.parse(whole)?;
        let look = self.parse(close)?;
        merged.colour = look.colour;
        merged.shape = shape.map_or(look.shape, str::to_string);
        Some(self.write(&merged))
    }

    /// `text` with its place replaced by `place` (unchanged when it is not a description).
    pub fn with_place(&self, text: &str, place: &str) -> String {
        match self.parse(text) {
            Some(mut a) => {
                a.place = place.to_string();
                self.write(&a)
            }
            None => text.to_string(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The tabletop section as models/tiny/model.json has it.
    pub(crate) fn tabletop() -> Vocabulary {
        let info: serde_json::Value =
            serde_json::from_str(include_str!("../../models/tiny/model.json")).expect("tiny model.json");
        let spec: VocabularySpec = serde_json::from_value(info["vocabulary"].clone()).expect("its vocabulary");
        Vocabulary::from_spec(&spec).expect("a valid vocabulary")
    }

    fn kitchen() -> Vocabulary {
        let spec: VocabularySpec = serde_json::from_value(serde_json::json!({
            "sizes": ["tiny", "huge"],
            "colours": ["crimson", "teal"],
            "shapes": ["mug", "plate"],
            "places": ["nw", "n", "ne", "w", "middle", "e", "sw", "s", "se"],
            "synonyms": {"cup": "mug"},
            "description": "the {colour} {shape} , {size} , {place}"
        }))
        .unwrap();
        Vocabulary::from_spec(&spec).unwrap()
    }

    #[test]
    fn commands_state_at_most_one_colour_and_one_shape() {
        let v = tabletop();
        assert_eq!(v.stated("Pick up the RED star!"), (Some("red"), Some("star")));
        assert_eq!(v.stated("where is the large object?"), (None, None));
        assert_eq!(v.stated("the leftmost green one"), (Some("green"), None));
        assert_eq!(v.stated("the starry reddish ring"), (None, Some("ring")), "whole words only");
    }

    #[test]
    fn the_close_look_gives_colour_and_shape_the_whole_frame_size_and_place() {
        let v = tabletop();
        let merged = v.merge_close_look("a small red star on the left", "a large orange cross in the center", None);
        assert_eq!(merged.as_deref(), Some("a small orange cross on the left"));
        let joint =
            v.merge_close_look("a small red star on the left", "a large orange cross in the center", Some("star"));
        assert_eq!(joint.as_deref(), Some("a small orange star on the left"));
        assert_eq!(v.merge_close_look("a small red star on the left", "a red", None), None, "junk close look");
        assert_eq!(v.merge_close_look("red star", "a large red cross in the center", None), None);
        assert_eq!(v.with_place("a small red star on the left", "at the top"), "a small red star at the top");
        assert_eq!(v.with_place("not a description", "at the top"), "not a description");
        assert!(v.matches("a big red star on the left", "a large red star on the left"), "big reads as large");
        assert!(!v.matches("a large red star on the left extra", "a large red star on the left"));
    }

    #[test]
    fn another_vocabulary_changes_what_is_read() {
        let (kitchen, tabletop) = (kitchen(), tabletop());
        // a command in the other model's words: the tabletop reads nothing in it, the kitchen both words
        assert_eq!(tabletop.stated("pick up the crimson cup"), (None, None));
        assert_eq!(kitchen.stated("pick up the crimson cup"), (Some("crimson"), Some("mug")));
        assert_eq!(kitchen.stated("the red star"), (None, None));
        // its template: another order, literal words, and the colour and shape at other steps
        let a = kitchen.parse("the teal plate , huge , middle").expect("a kitchen description");
        assert_eq!(
            (a.size.as_str(), a.colour.as_str(), a.shape.as_str(), a.place.as_str()),
            ("huge", "teal", "plate", "middle")
        );
        assert!(tabletop.parse("the teal plate , huge , middle").is_none());
        assert!(kitchen.parse("a large red star on the left").is_none());
        assert_eq!((kitchen.colour_step(), kitchen.shape_step()), (1, 2));
        assert_eq!((tabletop.colour_step(), tabletop.shape_step(), tabletop.attribute_words()), (2, 3, 4));
        assert_eq!(kitchen.with_place("the teal plate , huge , middle", "se"), "the teal plate , huge , se");
    }

    #[test]
    fn a_bad_section_is_refused_with_the_reason() {
        let mut spec = tabletop_spec();
        spec.places.pop();
        assert!(Vocabulary::from_spec(&spec).unwrap_err().contains("9 cells"));
        let mut spec = tabletop_spec();
        spec.description = "a {colour} {shape}".into();
        assert!(Vocabulary::from_spec(&spec).unwrap_err().contains("once each"));
        let mut spec = tabletop_spec();
        spec.colours.clear();
        assert!(Vocabulary::from_spec(&spec).unwrap_err().contains("vocabulary.colours"));
    }

    fn tabletop_spec() -> VocabularySpec {
        let info: serde_json::Value = serde_json::from_str(include_str!("../../models/tiny/model.json")).unwrap();
        serde_json::from_value(info["vocabulary"].clone()).unwrap()
    }
}
