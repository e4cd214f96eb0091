//! all-MiniLM-L6-v2 run in-process with candle, on the CPU: a 6-layer BERT whose
//! token states are mean-pooled and L2-normalised into a 384-dimensional sentence
//! embedding, as the sentence-transformers model card prescribes.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{Tokenizer, TruncationParams};

use crate::embed::{normalize, EmbedError, Embedder};
use crate::model_dir::MODEL_FILES;

/// The model was trained on sequences of at most this many word pieces; longer text is
/// truncated (title and description come first in a flow's search text, so they are kept).
const MAX_TOKENS: usize = 256;

pub struct MiniLmEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl MiniLmEmbedder {
    /// Loads `model.safetensors`, `tokenizer.json` and `config.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        for file in MODEL_FILES {
            if !dir.join(file).is_file() {
                return Err(EmbedError::MissingFile(dir.join(file)));
            }
        }
        let config_text = std::fs::read_to_string(dir.join("config.json")).map_err(load_err)?;
        let config: Config = serde_json::from_str(&config_text).map_err(load_err)?;

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(load_err)?;
        // One text per call, so no padding; truncation bounds the cost of a pasted log.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(load_err)?;

        let device = Device::Cpu;
        let weights = std::fs::read(dir.join("model.safetensors")).map_err(load_err)?;
        let vb =
            VarBuilder::from_buffered_safetensors(weights, DTYPE, &device).map_err(load_err)?;
        let model = BertModel::load(vb, &config).map_err(load_err)?;
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    fn forward(&self, text: &str) -> Result<Vec<f32>, Box<dyn std::error::Error + Send + Sync>> {
        let encoding = self.tokenizer.encode(text, true)?;
        let ids = Tensor::new(encoding.get_ids(), &self.device)?.unsqueeze(0)?;
        let type_ids = Tensor::new(encoding.get_type_ids(), &self.device)?.unsqueeze(0)?;
        let mask = Tensor::new(encoding.get_attention_mask(), &self.device)?.unsqueeze(0)?;
        let states = self.model.forward(&ids, &type_ids, Some(&mask))?;
        // Mean over the tokens the mask keeps (all of them, without padding).
        let mask = mask.to_dtype(DTYPE)?.unsqueeze(2)?;
        let summed = states.broadcast_mul(&mask)?.sum(1)?;
        let pooled = summed.broadcast_div(&mask.sum(1)?)?;
        let mut vector: Vec<f32> = pooled.squeeze(0)?.to_vec1()?;
        if !normalize(&mut vector) {
            return Err("the model produced a zero vector".into());
        }
        Ok(vector)
    }
}

impl Embedder for MiniLmEmbedder {
    fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.forward(text)
            .map_err(|e| EmbedError::Inference(e.to_string()))
    }
}

fn load_err(err: impl std::fmt::Display) -> EmbedError {
    EmbedError::Load(err.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::embed::cosine;

    #[test]
    fn a_directory_without_the_model_names_the_missing_file() {
        let dir = PathBuf::from("/nonexistent/flowpilot-model");
        match MiniLmEmbedder::load(&dir) {
            Err(EmbedError::MissingFile(path)) => assert!(path.ends_with("model.safetensors")),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("loaded a model from nowhere"),
        }
    }

    /// Runs only where the model is installed (`FLOWPILOT_EMBEDDING_MODEL_DIR`).
    #[test]
    fn embeds_text_into_unit_vectors_that_place_paraphrases_close() {
        let Some(dir) = std::env::var_os("FLOWPILOT_EMBEDDING_MODEL_DIR") else {
            return;
        };
        let model = MiniLmEmbedder::load(Path::new(&dir)).unwrap();
        let a = model
            .embed("Outlook keeps asking for the password")
            .unwrap();
        let b = model
            .embed("repeated credential prompts in my mail client")
            .unwrap();
        let c = model.embed("the coffee machine is leaking water").unwrap();
        assert_eq!(a.len(), 384);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(cosine(&a, &b) > cosine(&a, &c) + 0.2);
        assert_eq!(
            model
                .embed("Outlook keeps asking for the password")
                .unwrap(),
            a
        );
    }
}
