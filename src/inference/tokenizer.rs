//! Prompt tokenization with the `tokenizers` crate (pure Rust, offline): the task template from model.json
//! with `{text}` filled in, encoded with `add_special_tokens = false` so ids match the Python tokenizer.

use std::path::Path;

use tokenizers::Tokenizer;
use tokenizers::models::ModelWrapper;

use super::InferenceError;
use super::model_info::ModelInfo;

pub struct PromptTokenizer {
    tok: Tokenizer,
    max_prompt_tokens: usize,
    /// The id words outside the vocabulary become (word-level and word-piece vocabularies; byte-level BPE
    /// has none: it knows every word).
    unk_id: Option<u32>,
}

/// One tokenized prompt and whether the command had to be shortened.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptIds {
    pub ids: Vec<i64>,
    pub truncated: bool,
}

impl PromptTokenizer {
    pub fn load(path: &Path, info: &ModelInfo) -> Result<PromptTokenizer, InferenceError> {
        let refuse = |reason: String| InferenceError::Tokenizer { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| refuse(e.to_string()))?;
        // The tokenizers crate panics on some malformed files (a cut-short decoder section): check the JSON
        // first, and treat a panic on what is left as the malformed file it is.
        serde_json::from_str::<serde_json::Value>(&text).map_err(|e| refuse(format!("not valid JSON: {e}")))?;
        let tok = std::panic::catch_unwind(|| text.parse::<Tokenizer>())
            .map_err(|_| refuse("malformed: the tokenizers library could not read it".into()))?
            .map_err(|e| refuse(e.to_string()))?;
        let unk_token = match tok.get_model() {
            ModelWrapper::WordLevel(m) => Some(m.unk_token.clone()),
            ModelWrapper::WordPiece(m) => Some(m.unk_token.clone()),
            ModelWrapper::BPE(m) => m.unk_token.clone(),
            ModelWrapper::Unigram(_) => None,
        };
        let unk_id = unk_token.and_then(|t| tok.token_to_id(&t));
        Ok(PromptTokenizer { tok, max_prompt_tokens: info.config.max_prompt_tokens, unk_id })
    }

    /// The words of `text` the vocabulary does not have, in order, each once: the model sees them only as
    /// "unknown", so the user is told rather than left to wonder why "the crimson mug" finds nothing.
    pub fn unknown_words(&self, text: &str) -> Vec<String> {
        let Some(unk) = self.unk_id else { return Vec::new() };
        let Ok(enc) = self.tok.encode(text, false) else { return Vec::new() };
        let mut words: Vec<String> = Vec::new();
        for (&id, &(start, end)) in enc.get_ids().iter().zip(enc.get_offsets()) {
            if id != unk {
                continue;
            }
            if let Some(word) = text.get(start..end).map(str::to_string)
                && !words.contains(&word)
            {
                words.push(word);
            }
        }
        words
    }

    fn encode(&self, text: &str) -> Result<Vec<i64>, InferenceError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .tok
            .encode(text, false)
            .map_err(|e| InferenceError::Tokenize { text: text.to_string(), reason: e.to_string() })?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// Prompt ids per the model card: `encode(prefix) + encode(command)[..max_prompt_tokens] + encode(suffix)`,
    /// each part tokenized on its own, then `extra` (the `[SEG]` of a segment prompt). Empty commands are
    /// refused; a longer command is cut to `max_prompt_tokens` tokens with a warning.
    pub fn prompt(&self, template: &str, command: &str, extra: &[i64]) -> Result<PromptIds, InferenceError> {
        let (prefix, suffix, command) = match template.split_once("{text}") {
            Some((pre, post)) => {
                if command.trim().is_empty() {
                    return Err(InferenceError::EmptyCommand);
                }
                (pre, post, command)
            }
            // Fixed templates (visual prompts) take no command.
            None => (template, "", ""),
        };
        let mut ids = self.encode(prefix)?;
        let mut body = self.encode(command)?;
        let truncated = body.len() > self.max_prompt_tokens;
        if truncated {
            tracing::warn!(
                tokens = body.len(),
                max = self.max_prompt_tokens,
                "command is too long for the model; keeping its first {} tokens: {command:?}",
                self.max_prompt_tokens
            );
            body.truncate(self.max_prompt_tokens);
        }
        ids.extend(body);
        ids.extend(self.encode(suffix)?);
        ids.extend_from_slice(extra);
        Ok(PromptIds { ids, truncated })
    }

    /// Decode generated ids to text, special tokens skipped.
    pub fn decode(&self, ids: &[i64]) -> Result<String, InferenceError> {
        let ids: Vec<u32> = ids.iter().filter_map(|&i| u32::try_from(i).ok()).collect();
        self.tok
            .decode(&ids, true)
            .map(|s| s.trim().to_string())
            .map_err(|e| InferenceError::Tokenize { text: format!("{ids:?}"), reason: e.to_string() })
    }

    /// The id of a word that is one token of the vocabulary ("red", "star"), else None.
    pub fn token_id(&self, word: &str) -> Option<i64> {
        self.tok.token_to_id(word).map(i64::from)
    }

    pub fn max_prompt_tokens(&self) -> usize {
        self.max_prompt_tokens
    }
}
