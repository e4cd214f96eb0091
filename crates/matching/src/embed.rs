//! The semantic signal: a sentence embedder port and cosine similarity.

use std::path::PathBuf;

/// Turns text into a sentence embedding. Implementations must be deterministic for a given
/// model so that rankings are reproducible.
pub trait Embedder: Send + Sync {
    fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError>;
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model file missing: {0}")]
    MissingFile(PathBuf),
    #[error("could not load the embedding model: {0}")]
    Load(String),
    #[error("could not embed the text: {0}")]
    Inference(String),
}

/// Cosine similarity clamped at 0 (flows.md: opposite meanings are as useless as unrelated
/// ones). Vectors of different length, or of zero norm, are unrelated.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (na, nb) = (dot(a, a).sqrt(), dot(b, b).sqrt());
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot(a, b) / (na * nb)).clamp(0.0, 1.0)
}

/// Scales `v` to unit length in place, so that a dot product is the cosine. Returns false
/// (and leaves `v` alone) for a zero or non-finite vector.
pub(crate) fn normalize(v: &mut [f32]) -> bool {
    let norm = dot(v, v).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return false;
    }
    let inv = (1.0 / norm) as f32;
    v.iter_mut().for_each(|x| *x *= inv);
    true
}

/// Dot product with eight independent accumulators: float addition is not associative, so
/// the compiler only vectorizes a sum it is handed in lanes.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (xa, xb) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += xa[i] * xb[i];
        }
    }
    f64::from(lanes.iter().sum::<f32>() + tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_a_vector_with_itself_is_one() {
        let v: Vec<f32> = (0..384).map(|i| (i as f32).sin()).collect();
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn cosine_is_clamped_at_zero() {
        assert_eq!(cosine(&[1.0, 0.0], &[-1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
    }

    #[test]
    fn mismatched_or_empty_vectors_are_unrelated() {
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[], &[]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn normalize_makes_unit_vectors() {
        let mut v = vec![3.0, 4.0];
        assert!(normalize(&mut v));
        assert!((dot(&v, &v) - 1.0).abs() < 1e-6);
        assert!(!normalize(&mut [0.0, 0.0]));
    }
}
