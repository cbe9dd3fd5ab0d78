//! Turning text into vectors: the local model ([`LocalModel`], all-MiniLM-L6-v2 in process) or
//! an OpenAI-compatible service (`remote.rs`), behind [`Embedder`], which the backlog worker
//! and queries share.
//!
//! The local model runs on its own threads (`EMBEDDING_THREADS`, one per core by default),
//! each at a lower scheduling priority than the rest of the server (nice 10: a crawl beside
//! it keeps its pace) and each with a one-thread rayon pool, so the matrix kernels of two
//! batches never contend for one core. A batch is split by token count: texts of one length
//! go through the model together, without padding.

use std::{
    path::Path,
    sync::{Arc, Mutex, mpsc},
    time::Instant,
};

use tokenizers::{Tokenizer, TruncationParams};

use super::{
    model::{Bert, DIMENSIONS, MAX_TOKENS, Precision},
    remote::{RemoteModel, RemoteSettings},
};

/// Most characters of a text given to the tokenizer: far more than [`MAX_TOKENS`] tokens, so
/// truncation happens in tokens, while a huge chunk costs no huge tokenization.
const MAX_INPUT_CHARS: usize = 4 * 1024;
/// Most tokens in one forward pass (rows × length): big enough for the matrix kernels, small
/// enough to keep the activations in cache-friendly sizes.
const TOKENS_PER_PASS: usize = 2048;

/// Why texts could not be embedded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// The model files could not be loaded.
    #[error("the embedding model could not be loaded: {0}")]
    Load(String),
    /// The model failed on a batch (a bug or corrupt weights).
    #[error("embedding failed: {0}")]
    Model(String),
    /// The embedding threads are gone (the server is stopping).
    #[error("the embedding threads have stopped")]
    Stopped,
    /// The embeddings service failed (after its retries).
    #[error("the embeddings service failed: {0}")]
    Remote(String),
}

/// Vectors for texts, as one model computes them.
pub struct Embedder {
    kind: Kind,
}

enum Kind {
    Local(Box<LocalModel>),
    Remote(RemoteModel),
}

/// The name the local model's vectors are stored under.
const LOCAL_MODEL: &str = "all-MiniLM-L6-v2";

impl Embedder {
    /// The local model from `dir` (with `tokenizer.json`, `config.json` and
    /// `model.safetensors`), run on `threads` threads, in bf16 where the CPU has AVX-512 BF16.
    pub fn local(dir: &Path, threads: usize) -> Result<Self, EmbedError> {
        Self::local_at(dir, threads, Precision::Fastest)
    }

    /// The local model with its dense layers at `precision`.
    pub fn local_at(dir: &Path, threads: usize, precision: Precision) -> Result<Self, EmbedError> {
        Ok(Self {
            kind: Kind::Local(Box::new(LocalModel::load(dir, threads, precision)?)),
        })
    }

    /// An OpenAI-compatible embeddings service.
    pub fn remote(settings: RemoteSettings) -> Result<Self, EmbedError> {
        Ok(Self {
            kind: Kind::Remote(RemoteModel::new(settings).map_err(|e| EmbedError::Load(e.0))?),
        })
    }

    /// What names the vectors this embedder makes: vectors of another model are not
    /// comparable and are replaced.
    pub fn model_id(&self) -> &str {
        match &self.kind {
            Kind::Local(_) => LOCAL_MODEL,
            Kind::Remote(remote) => remote.model(),
        }
    }

    /// Dimensions of its vectors; 0 when only the first vector tells (a service).
    pub fn dimensions(&self) -> usize {
        match &self.kind {
            Kind::Local(_) => DIMENSIONS,
            Kind::Remote(_) => 0,
        }
    }

    /// Vectors of `texts` (in their order): the local model's background threads, or the
    /// service with the backlog's patient retries.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        match &self.kind {
            Kind::Local(local) => local.embed(texts).await,
            Kind::Remote(remote) => remote
                .embed(&texts, false)
                .await
                .map_err(|e| EmbedError::Remote(e.0)),
        }
    }

    /// The vector of one query: locally on a blocking thread at normal priority (a query does
    /// not wait behind the backlog); from a service with short retries.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let local = match &self.kind {
            Kind::Local(local) => local,
            Kind::Remote(remote) => {
                let mut vectors = remote
                    .embed(&[text.to_string()], true)
                    .await
                    .map_err(|e| EmbedError::Remote(e.0))?;
                return vectors.pop().ok_or(EmbedError::Stopped);
            }
        };
        let (model, tokenizer) = (local.model.clone(), local.tokenizer.clone());
        let text = text.to_string();
        tokio::task::spawn_blocking(move || {
            let tokens = tokenize(&tokenizer, &[text])?;
            let ids = tokens.into_iter().next().unwrap_or_default();
            let len = ids.len();
            model
                .embed(ids, 1, len)
                .map_err(|e| EmbedError::Model(e.to_string()))
        })
        .await
        .map_err(|_| EmbedError::Stopped)?
    }
}

/// One forward pass for a worker thread: rows of one length, and where to send the vectors.
struct Pass {
    ids: Vec<u32>,
    rows: usize,
    len: usize,
    done: tokio::sync::oneshot::Sender<Result<Vec<f32>, EmbedError>>,
}

/// all-MiniLM-L6-v2 in process.
struct LocalModel {
    tokenizer: Arc<Tokenizer>,
    model: Arc<Bert>,
    passes: mpsc::Sender<Pass>,
}

impl LocalModel {
    fn load(dir: &Path, threads: usize, precision: Precision) -> Result<Self, EmbedError> {
        let started = Instant::now();
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| {
            EmbedError::Load(format!("{}: {e}", dir.join("tokenizer.json").display()))
        })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::Load(format!("tokenizer.json: {e}")))?;
        let model = Arc::new(Bert::load(dir, precision).map_err(EmbedError::Load)?);
        let (passes, queue) = mpsc::channel::<Pass>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let (model, queue) = (model.clone(), queue.clone());
            std::thread::Builder::new()
                .name(format!("embed-{n}"))
                .spawn(move || work(&model, &queue))
                .map_err(|e| EmbedError::Load(format!("cannot start a thread: {e}")))?;
        }
        tracing::info!(
            dir = %dir.display(),
            threads,
            dense = if precision == Precision::Fastest && super::bf16::available() {
                "bf16"
            } else {
                "f32"
            },
            load_ms = started.elapsed().as_millis() as u64,
            "embedding model loaded"
        );
        Ok(Self {
            tokenizer: Arc::new(tokenizer),
            model,
            passes,
        })
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        // A batch of long chunks takes milliseconds to tokenize: off the async runtime.
        let tokenizer = self.tokenizer.clone();
        let count = texts.len();
        let tokens = tokio::task::spawn_blocking(move || tokenize(&tokenizer, &texts))
            .await
            .map_err(|_| EmbedError::Stopped)??;
        // Texts of one length together, each pass at most TOKENS_PER_PASS tokens.
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&i| tokens[i].len());
        let mut pending = Vec::new();
        for group in order.chunk_by(|&a, &b| tokens[a].len() == tokens[b].len()) {
            let len = tokens[group[0]].len().max(1);
            for rows in group.chunks((TOKENS_PER_PASS / len).max(1)) {
                let (done, answer) = tokio::sync::oneshot::channel();
                let ids = rows
                    .iter()
                    .flat_map(|&i| tokens[i].iter().copied())
                    .collect();
                self.passes
                    .send(Pass {
                        ids,
                        rows: rows.len(),
                        len,
                        done,
                    })
                    .map_err(|_| EmbedError::Stopped)?;
                pending.push((rows.to_vec(), answer));
            }
        }
        let mut vectors = vec![Vec::new(); count];
        for (rows, answer) in pending {
            let flat = answer.await.map_err(|_| EmbedError::Stopped)??;
            for (&i, vector) in rows.iter().zip(flat.chunks_exact(DIMENSIONS)) {
                vectors[i] = vector.to_vec();
            }
        }
        Ok(vectors)
    }
}

/// Token ids of each text, at most [`MAX_TOKENS`] each.
fn tokenize(tokenizer: &Tokenizer, texts: &[String]) -> Result<Vec<Vec<u32>>, EmbedError> {
    texts
        .iter()
        .map(|text| {
            let text = match text.char_indices().nth(MAX_INPUT_CHARS) {
                Some((cut, _)) => &text[..cut],
                None => text,
            };
            tokenizer
                .encode(text, true)
                .map(|encoding| encoding.get_ids().to_vec())
                .map_err(|e| EmbedError::Model(format!("tokenizer: {e}")))
        })
        .collect()
}

/// An embedding thread: lower priority, a one-thread pool for the kernels, passes until the
/// model is dropped.
fn work(model: &Bert, queue: &Mutex<mpsc::Receiver<Pass>>) {
    // SAFETY: plain system calls on this thread's own priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!(error = %e, "embedding thread has no pool");
            return;
        }
    };
    loop {
        let pass = {
            let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            match queue.recv() {
                Ok(pass) => pass,
                Err(_) => return,
            }
        };
        let result = pool
            .install(|| model.embed(pass.ids, pass.rows, pass.len))
            .map_err(|e| EmbedError::Model(e.to_string()));
        let _ = pass.done.send(result);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{Embedder, Precision};

    /// The model `tools/test.sh` fetches (tools/fetch-model.sh).
    pub(crate) fn model_dir() -> std::path::PathBuf {
        std::env::var_os("CRAWLIUM_TEST_MODEL_DIR")
            .map(Into::into)
            .expect(
                "CRAWLIUM_TEST_MODEL_DIR is unset: run tools/fetch-model.sh and point it at \
                 .test-deps/models/all-MiniLM-L6-v2 (tools/test.sh does both)",
            )
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Vectors as sentence-transformers computes them (a float64 reference implementation
    /// of the same model) in f32: the first six components of each, and two similarities;
    /// in bf16 (the default where the CPU has AVX-512 BF16) the same to bf16's precision.
    #[tokio::test]
    async fn vectors_match_the_reference_and_do_not_depend_on_their_batch() {
        let exact = Embedder::local_at(&model_dir(), 2, Precision::F32).unwrap();
        let embedder = Embedder::local(&model_dir(), 2).unwrap();
        let reference: [(&str, [f32; 6]); 5] = [
            (
                "This is an example sentence",
                [0.067657, 0.063496, 0.048713, 0.079305, 0.037448, 0.002653],
            ),
            (
                "Each sentence is converted",
                [0.086439, 0.102763, 0.005395, 0.002044, -0.009963, 0.025386],
            ),
            (
                "pick a random element from a list",
                [-0.030871, 0.022191, 0.043796, 0.00322, 0.096423, -0.011598],
            ),
            (
                "random.choice(seq) returns a random element from the non-empty sequence seq.",
                [
                    -0.032719, -0.002098, 0.022771, 0.067942, 0.025108, -0.013202,
                ],
            ),
            (
                "The quick brown fox jumps over the lazy dog.",
                [0.043934, 0.058934, 0.048178, 0.077548, 0.026744, -0.03763],
            ),
        ];
        let texts: Vec<String> = reference.iter().map(|(t, _)| t.to_string()).collect();
        let exact = exact.embed(texts.clone()).await.unwrap();
        for ((text, start), vector) in reference.iter().zip(&exact) {
            assert_eq!(vector.len(), 384);
            for (got, want) in vector.iter().zip(start) {
                assert!((got - want).abs() < 2e-6, "{text}: {:?}", &vector[..6]);
            }
            assert!((cosine(vector, vector) - 1.0).abs() < 1e-5);
        }
        assert!((cosine(&exact[0], &exact[1]) - 0.4046).abs() < 1e-3);
        assert!((cosine(&exact[2], &exact[3]) - 0.6857).abs() < 1e-3);
        let vectors = embedder.embed(texts.clone()).await.unwrap();
        for (vector, exact) in vectors.iter().zip(&exact) {
            assert!((cosine(vector, vector) - 1.0).abs() < 1e-5);
            assert!(cosine(vector, exact) > 0.999, "{}", cosine(vector, exact));
        }
        assert!((cosine(&vectors[0], &vectors[1]) - 0.4046).abs() < 5e-3);
        assert!((cosine(&vectors[2], &vectors[3]) - 0.6857).abs() < 5e-3);

        // The same text alone, as a query, among others of its length, and again: the same
        // bits.
        let alone = embedder.embed(vec![texts[2].clone()]).await.unwrap();
        let query = embedder.embed_query(&texts[2]).await.unwrap();
        let crowd: Vec<String> = (0..20)
            .map(|i| format!("pick a random {} from a list", ["element", "item"][i % 2]))
            .chain(texts.iter().cloned())
            .collect();
        let crowded = embedder.embed(crowd).await.unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&alone[0]), bits(&vectors[2]));
        assert_eq!(bits(&query), bits(&vectors[2]));
        assert_eq!(bits(&crowded[22]), bits(&vectors[2]));

        // A long text is cut at 128 tokens; an empty one still has a vector.
        let long = "tokens ".repeat(2000);
        let super::Kind::Local(local) = &embedder.kind else {
            unreachable!("a local embedder")
        };
        let tokens = super::tokenize(&local.tokenizer, &[long.clone(), String::new()]).unwrap();
        assert_eq!(tokens[0].len(), 128);
        let cut = embedder.embed(vec![long, String::new()]).await.unwrap();
        assert!(
            cut.iter()
                .all(|v| v.len() == 384 && v.iter().all(|x| x.is_finite()))
        );
    }
}
