//! Synthetic trajectories the project makes itself: the example data in `data/` and the
//! inputs of the benchmarks. Deterministic for a given seed (ChaCha8).
//!
//! - `chain2d`: a 2-D chain of points with unit bonds whose bond angles fluctuate
//!   (Ornstein–Uhlenbeck), drifting and rotating as a whole, like the book's `paths.npz`.
//! - `blob3d`: a random coil in any dims (3 by default) with unit bonds, breathing through
//!   smooth per-point noise, tumbling (random-walk rotation) and drifting; carries a
//!   `masses` member (C, N, O, H cycling).
//!
//! Frames are produced a chunk at a time, so any size can be written in bounded memory.

use crate::engine::{self, RunOptions};
use crate::formats::npy::{encode_header, Dtype, NpyCodec};
use crate::formats::npz::ExtraMember;
use crate::formats::{ChunkBytes, FrameDecoder, FrameSource, RawChunk, TrajMeta};
use crate::io::output::OutputTarget;
use anyhow::{bail, Result};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::io::Write;
use std::sync::Arc;

/// Which synthetic trajectory to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// 2-D chain, like the book's example.
    Chain2d,
    /// Random coil in `dims` dimensions with masses.
    #[value(alias = "blob")]
    Blob3d,
}

/// Parameters of a synthetic trajectory.
#[derive(Clone, Debug)]
pub struct GenerateRequest {
    /// The trajectory kind.
    pub kind: Kind,
    /// Number of frames (≥ 1).
    pub frames: usize,
    /// Points per frame (≥ 2).
    pub points: usize,
    /// Dimensions (2 for chain2d; ≥ 2 for blob3d).
    pub dims: usize,
    /// Output dtype.
    pub dtype: Dtype,
    /// Random seed.
    pub seed: u64,
    /// Where to write.
    pub output: OutputTarget,
}

/// Writes the requested trajectory under the key `arr` (blob3d adds a `masses` member),
/// streamed through the engine from a generating source.
pub fn generate(req: &GenerateRequest) -> Result<()> {
    if req.frames == 0 || req.points < 2 || req.dims < 2 {
        bail!("generate: need frames ≥ 1, points ≥ 2 and dims ≥ 2");
    }
    if req.kind == Kind::Chain2d && req.dims != 2 {
        bail!(
            "generate: chain2d is 2-D (use blob3d for --dims {})",
            req.dims
        );
    }
    let meta = TrajMeta {
        source: "generate".into(),
        key: "arr".into(),
        frames: req.frames,
        points: req.points,
        dims: req.dims,
        width: req.dtype.width,
        big_endian: req.dtype.big_endian,
        unit: "",
        dt: None,
    };
    let plan = crate::plan::SinkPlan {
        member: "arr.npy".into(),
        dtype: req.dtype,
        meta: meta.clone(),
        topology: None,
    };
    let sink = crate::plan::create_sink(&req.output, crate::formats::Format::Npz, &plan)?;
    let source = Generator {
        codec: Arc::new(NpyCodec {
            dtype: req.dtype,
            frame_len: meta.frame_len(),
            dims: req.dims,
        }),
        walker: Walker::new(req),
        meta,
        made: 0,
        values: Vec::new(),
    };
    engine::run(
        Box::new(source),
        &mut [],
        Some(sink),
        &mut [],
        &RunOptions::default(),
    )?;
    Ok(())
}

/// Frames made on demand, encoded in the output dtype (a frame source like any file).
struct Generator {
    meta: TrajMeta,
    codec: Arc<NpyCodec>,
    walker: Walker,
    made: usize,
    values: Vec<f64>,
}

impl FrameSource<'static> for Generator {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder> {
        self.codec.clone()
    }

    fn read(&mut self, max: usize, mut buf: Vec<u8>) -> Result<Option<RawChunk<'static>>> {
        let n = max.max(1).min(self.meta.frames - self.made);
        if n == 0 {
            return Ok(None);
        }
        let (len, size) = (self.meta.frame_len(), self.codec.dtype.size());
        buf.resize(n * len * size, 0);
        self.values.resize(len, 0.0);
        for frame in buf.chunks_exact_mut(len * size) {
            let mut view = ndarray::ArrayViewMut2::from_shape(
                (self.meta.points, self.meta.dims),
                &mut self.values[..],
            )?;
            self.walker.next_frame(view.view_mut());
            self.codec.dtype.encode(&self.values, frame);
        }
        self.made += n;
        Ok(Some(RawChunk {
            first: 0,
            frames: n,
            bytes: ChunkBytes::Owned(buf),
            offsets: Vec::new(),
        }))
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        let mut frame = Array2::<f64>::zeros((self.meta.points, self.meta.dims));
        for _ in 0..n {
            self.walker.next_frame(frame.view_mut());
        }
        self.made += n;
        Ok(())
    }

    fn extras(&mut self) -> Result<Vec<ExtraMember>> {
        if self.walker.kind != Kind::Blob3d {
            return Ok(Vec::new());
        }
        let points = self.meta.points;
        let masses: Vec<f64> = (0..points)
            .map(|i| [12.011, 14.007, 12.011, 15.999, 1.008][i % 5])
            .collect();
        let mut bytes = encode_header(Dtype::F64, &[points]);
        let start = bytes.len();
        bytes.resize(start + points * 8, 0);
        Dtype::F64.encode(&masses, &mut bytes[start..]);
        let mut data = tempfile::SpooledTempFile::new(1 << 20);
        data.write_all(&bytes)?;
        Ok(vec![ExtraMember {
            name: "masses.npy".into(),
            deflated: false,
            data,
        }])
    }
}

/// Bond length of chain2d (the book's chain has bonds of about 0.36).
const CHAIN_BOND: f64 = 0.36;

struct Walker {
    kind: Kind,
    rng: ChaCha8Rng,
    dims: usize,
    /// chain2d: bond-angle deviations (OU); blob3d: per-point offsets (OU).
    internal: Array2<f64>,
    /// chain2d: mean bond angles; blob3d: reference coil.
    shape: Array2<f64>,
    rotation: Array2<f64>,
    drift: Vec<f64>,
    velocity: Vec<f64>,
}

impl Walker {
    fn new(req: &GenerateRequest) -> Walker {
        let mut rng = ChaCha8Rng::seed_from_u64(req.seed);
        let (n, d) = (req.points, req.dims);
        let shape = match req.kind {
            Kind::Chain2d => {
                Array2::from_shape_fn((n - 1, 1), |_| 0.6 * rng.sample::<f64, _>(StandardNormal))
            }
            Kind::Blob3d => random_coil(&mut rng, n, d),
        };
        let internal = match req.kind {
            Kind::Chain2d => Array2::zeros((n - 1, 1)),
            Kind::Blob3d => Array2::zeros((n, d)),
        };
        // chain2d mimics the book's paths.npz: bonds of about 0.36, a slow steady drift of
        // about 0.0015 per frame and a slow tumble; blob3d moves faster, like a solvated molecule.
        let speed = if req.kind == Kind::Chain2d {
            0.0015
        } else {
            0.01
        };
        let velocity = (0..d)
            .map(|_| speed * rng.sample::<f64, _>(StandardNormal))
            .collect();
        Walker {
            kind: req.kind,
            rng,
            dims: d,
            internal,
            shape,
            rotation: Array2::eye(d),
            drift: vec![0.0; d],
            velocity,
        }
    }

    fn normal(&mut self) -> f64 {
        self.rng.sample(StandardNormal)
    }

    fn next_frame(&mut self, mut frame: ndarray::ArrayViewMut2<'_, f64>) {
        let d = self.dims;
        // Global motion: drift with a slow velocity plus a random walk, and a rotation that
        // random-walks by small Givens steps in every coordinate plane.
        let (drift_sd, tumble_sd) = match self.kind {
            Kind::Chain2d => (3e-5, 0.008),
            Kind::Blob3d => (0.03, 0.02),
        };
        for k in 0..d {
            self.drift[k] += self.velocity[k] + drift_sd * self.normal();
        }
        for a in 0..d {
            for b in a + 1..d {
                let angle = tumble_sd * self.normal();
                let (s, c) = angle.sin_cos();
                for col in 0..d {
                    let (x, y) = (self.rotation[[a, col]], self.rotation[[b, col]]);
                    self.rotation[[a, col]] = c * x - s * y;
                    self.rotation[[b, col]] = s * x + c * y;
                }
            }
        }
        // Internal motion: Ornstein–Uhlenbeck, x ← 0.95 x + σ ξ.
        let sigma = match self.kind {
            Kind::Chain2d => 0.03,
            Kind::Blob3d => 0.06,
        };
        for v in self.internal.iter_mut() {
            *v = 0.95 * *v + sigma * self.rng.sample::<f64, _>(StandardNormal);
        }
        let n = frame.nrows();
        let mut local = Array2::<f64>::zeros((n, d));
        match self.kind {
            Kind::Chain2d => {
                let mut angle = 0.0;
                for i in 1..n {
                    angle += self.shape[[i - 1, 0]] + self.internal[[i - 1, 0]];
                    local[[i, 0]] = local[[i - 1, 0]] + CHAIN_BOND * angle.cos();
                    local[[i, 1]] = local[[i - 1, 1]] + CHAIN_BOND * angle.sin();
                }
                // Tumble about the chain's own centroid, as the book's chain does.
                let mean = local.mean_axis(ndarray::Axis(0)).expect("n ≥ 1");
                local -= &mean;
            }
            Kind::Blob3d => local.assign(&(&self.shape + &self.internal)),
        }
        for i in 0..n {
            for r in 0..d {
                let mut v = self.drift[r];
                for c in 0..d {
                    v += self.rotation[[r, c]] * local[[i, c]];
                }
                frame[[i, r]] = v;
            }
        }
    }
}

/// A persistent random walk with unit steps, centred on its mean.
fn random_coil(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Array2<f64> {
    let mut coil = Array2::<f64>::zeros((n, d));
    let mut dir = vec![0.0; d];
    dir[0] = 1.0;
    for i in 1..n {
        let mut step: Vec<f64> = dir
            .iter()
            .map(|x| x + 0.9 * rng.sample::<f64, _>(StandardNormal))
            .collect();
        let norm = step.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        step.iter_mut().for_each(|x| *x /= norm);
        for k in 0..d {
            coil[[i, k]] = coil[[i - 1, k]] + step[k];
        }
        dir = step;
    }
    let mean = coil.mean_axis(ndarray::Axis(0)).expect("n ≥ 1");
    coil - &mean
}
