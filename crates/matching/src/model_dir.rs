//! Where the embedding model is looked for. Nothing is ever downloaded: the model is
//! installed by hand (scripts/fetch-embedding-model.sh) or shipped with a deployment.

use std::path::{Path, PathBuf};

/// The directory name of the model under each default location.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// The first directory holding the model files, checking in order:
/// 1. `explicit` (configuration or `FLOWPILOT_EMBEDDING_MODEL_DIR`, resolved by the caller);
/// 2. `./models/all-MiniLM-L6-v2`;
/// 3. `$XDG_DATA_HOME/flowpilot/models/all-MiniLM-L6-v2`;
/// 4. `$HOME/.local/share/flowpilot/models/all-MiniLM-L6-v2`.
///
/// An explicit directory that lacks the files is not replaced by a default one: the
/// caller asked for that model, and silently using another would hide the mistake.
pub fn locate_model_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    search_dirs(explicit).into_iter().find(|dir| has_model(dir))
}

/// Every directory [`locate_model_dir`] looks in, in its order: the explicit one alone when
/// given, otherwise the default locations.
pub fn search_dirs(explicit: Option<PathBuf>) -> Vec<PathBuf> {
    match explicit {
        Some(dir) => vec![dir],
        None => candidates(
            std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        ),
    }
}

fn candidates(xdg_data_home: Option<PathBuf>, home: Option<PathBuf>) -> Vec<PathBuf> {
    let mut dirs = vec![Path::new("models").join(MODEL_NAME)];
    let data_dirs = xdg_data_home
        .filter(|p| p.is_absolute())
        .into_iter()
        .chain(home.map(|h| h.join(".local").join("share")));
    dirs.extend(data_dirs.map(|d| d.join("flowpilot").join("models").join(MODEL_NAME)));
    dirs
}

/// True when `dir` holds every file of [`MODEL_FILES`].
pub fn has_model(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|f| dir.join(f).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_checked_from_the_working_directory_outwards() {
        let dirs = candidates(Some("/data".into()), Some("/home/eng".into()));
        assert_eq!(
            dirs,
            [
                PathBuf::from("models/all-MiniLM-L6-v2"),
                PathBuf::from("/data/flowpilot/models/all-MiniLM-L6-v2"),
                PathBuf::from("/home/eng/.local/share/flowpilot/models/all-MiniLM-L6-v2"),
            ]
        );
    }

    #[test]
    fn a_relative_xdg_data_home_is_ignored() {
        let dirs = candidates(Some("data".into()), None);
        assert_eq!(dirs, [PathBuf::from("models/all-MiniLM-L6-v2")]);
    }

    #[test]
    fn an_explicit_directory_must_hold_the_model() {
        let dir = std::env::temp_dir().join(format!("flowpilot-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(locate_model_dir(Some(dir.clone())), None);
        for file in MODEL_FILES {
            std::fs::write(dir.join(file), b"x").unwrap();
        }
        assert_eq!(locate_model_dir(Some(dir.clone())), Some(dir.clone()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
