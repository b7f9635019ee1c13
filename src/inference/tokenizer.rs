//! Prompt tokenization with the `tokenizers` crate (pure Rust, offline): the task template from model.json
//! with `{text}` filled in, encoded with `add_special_tokens = false` so ids match the Python tokenizer.

use std::path::Path;

use tokenizers::Tokenizer;

use super::InferenceError;
use super::model_info::ModelInfo;

pub struct PromptTokenizer {
    tok: Tokenizer,
    max_prompt_tokens: usize,
}

/// One tokenized prompt and whether the command had to be shortened.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptIds {
    pub ids: Vec<i64>,
    pub truncated: bool,
}

impl PromptTokenizer {
    pub fn load(path: &Path, info: &ModelInfo) -> Result<PromptTokenizer, InferenceError> {
        let tok = Tokenizer::from_file(path)
            .map_err(|e| InferenceError::Tokenizer { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(PromptTokenizer { tok, max_prompt_tokens: info.config.max_prompt_tokens })
    }

    fn encode(&self, text: &str) -> Result<Vec<i64>, InferenceError> {
        let enc = self
            .tok
            .encode(text, false)
            .map_err(|e| InferenceError::Tokenize { text: text.to_string(), reason: e.to_string() })?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// Fill `template` with the command, tokenize, and append `extra` ids (the `[SEG]` of a segment prompt).
    /// Empty commands are refused; a prompt longer than `max_prompt_tokens` (extra included) keeps the
    /// template and cuts the command's tail, with a warning.
    pub fn prompt(&self, template: &str, command: &str, extra: &[i64]) -> Result<PromptIds, InferenceError> {
        let command = command.trim();
        if command.is_empty() && template.contains("{text}") {
            return Err(InferenceError::EmptyCommand);
        }
        let mut full = self.encode(&template.replace("{text}", command))?;
        full.extend_from_slice(extra);
        if full.len() <= self.max_prompt_tokens {
            return Ok(PromptIds { ids: full, truncated: false });
        }
        let (prefix, suffix) = template.split_once("{text}").unwrap_or((template, ""));
        let (pre, suf, body) = (self.encode(prefix)?, self.encode(suffix)?, self.encode(command)?);
        let fixed = pre.len() + suf.len() + extra.len();
        if fixed >= self.max_prompt_tokens {
            return Err(InferenceError::Tokenize {
                text: command.to_string(),
                reason: format!("the template alone needs {fixed} tokens, max_prompt_tokens is {}", self.max_prompt_tokens),
            });
        }
        let keep = self.max_prompt_tokens - fixed;
        tracing::warn!(
            tokens = full.len(),
            max = self.max_prompt_tokens,
            "command is too long for the model; keeping its first {keep} tokens: {command:?}"
        );
        let mut ids = pre;
        ids.extend_from_slice(&body[..keep.min(body.len())]);
        ids.extend(suf);
        ids.extend_from_slice(extra);
        Ok(PromptIds { ids, truncated: true })
    }

    /// Decode generated ids to text, special tokens skipped.
    pub fn decode(&self, ids: &[i64]) -> Result<String, InferenceError> {
        let ids: Vec<u32> = ids.iter().filter_map(|&i| u32::try_from(i).ok()).collect();
        self.tok
            .decode(&ids, true)
            .map(|s| s.trim().to_string())
            .map_err(|e| InferenceError::Tokenize { text: format!("{ids:?}"), reason: e.to_string() })
    }

    pub fn max_prompt_tokens(&self) -> usize {
        self.max_prompt_tokens
    }
}
