//! Criterion benches of the engine without file I/O: an in-memory float32 trajectory goes
//! through `engine::run` exactly as a file does in the CLI (decode, stages, encode per frame
//! on rayon tasks, reader and writer threads), into an in-memory output. These figures are
//! bounded by compute and memory bandwidth; `bench/run.sh` times whole processes on files.
//!
//! Throughput is `Throughput::Bytes` of the f32 input, so criterion prints GB/s comparable to
//! file sizes; each pipeline with 1 thread and with all cores.
//!
//! Run with `cargo bench --bench kernels` (about two minutes), or `-- --quick` for a smoke test.

use aligntraj::engine::{self, RunOptions};
use aligntraj::formats::memory::{MemorySink, MemorySource};
use aligntraj::formats::npy::Dtype;
use aligntraj::stages::{self, CenterKind, Fit, RotateKind, SignRule, StagePlan};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::{s, Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StandardNormal};
use std::sync::Arc;
use std::time::Duration;

/// Frames per measured run.
const FRAMES: usize = 1024;
/// Points per frame.
const POINTS: usize = 1000;

/// A rigid anisotropic blob (axes scaled 3 : 2 : 1, so principal axes are well separated),
/// each frame randomly rotated, translated and jittered. Seeded: the same data every run.
fn trajectory(frames: usize, points: usize, dims: usize) -> Array3<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let scale = [3.0, 2.0, 1.0];
    let body = Array2::from_shape_fn((points, dims), |(_, d)| {
        let z: f64 = StandardNormal.sample(&mut rng);
        z * 10.0 * scale[d.min(2)]
    });
    let jitter = Normal::new(0.0, 0.1).expect("valid normal");
    let mut out = Array3::zeros((frames, points, dims));
    for f in 0..frames {
        let r = random_rotation(&mut rng, dims);
        let shift: Vec<f64> = (0..dims).map(|_| rng.random_range(-50.0..50.0)).collect();
        let mut frame = out.slice_mut(s![f, .., ..]);
        for p in 0..points {
            for a in 0..dims {
                let rotated: f64 = (0..dims).map(|b| body[[p, b]] * r[a][b]).sum();
                frame[[p, a]] = rotated + shift[a] + jitter.sample(&mut rng);
            }
        }
    }
    out
}

/// A uniformly random proper rotation (rows), 2-D or 3-D.
fn random_rotation(rng: &mut ChaCha8Rng, dims: usize) -> [[f64; 3]; 3] {
    if dims == 2 {
        let t: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let (s, c) = t.sin_cos();
        return [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
    }
    let q: [f64; 4] = std::array::from_fn(|_| StandardNormal.sample(rng));
    let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    let [w, x, y, z] = q.map(|v| v / n);
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

/// The stage plan of one named pipeline for `data` (Kabsch: reference = frame 0, COM-centred).
fn plan(name: &str, data: &Array3<f64>) -> StagePlan {
    let (points, dims) = (data.shape()[1], data.shape()[2]);
    let fit = Fit::all(points);
    let (center, rotate) = match name {
        "com" => (CenterKind::Com, RotateKind::None),
        "com+principal" => (CenterKind::Com, RotateKind::Principal(SignRule::Skew)),
        "com+kabsch" => {
            let raw = data.slice(s![0, .., ..]).iter().copied().collect();
            let reference = stages::center_reference(
                raw,
                dims,
                &CenterKind::Com,
                &fit,
                false,
                "frame 0".into(),
            );
            (
                CenterKind::Com,
                RotateKind::Kabsch {
                    reference: Arc::new(reference),
                    to_ref_center: false,
                },
            )
        }
        "point0+point-vector" => (
            CenterKind::Point(0),
            RotateKind::PointVector((0..dims).collect()),
        ),
        _ => unreachable!("unknown pipeline {name}"),
    };
    StagePlan {
        center,
        rotate,
        fit,
        points,
        dims,
        check_centred: false,
    }
}

/// The benched cases: (label, pipeline, dims).
const CASES: [(&str, &str, usize); 5] = [
    ("3d/com", "com", 3),
    ("3d/com+principal", "com+principal", 3),
    ("3d/com+kabsch", "com+kabsch", 3),
    ("3d/point0+point-vector", "point0+point-vector", 3),
    ("2d/com+principal", "com+principal", 2),
];

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn engine_f32(c: &mut Criterion) {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pools = [(1, pool(1)), (all, pool(all))];
    let mut group = c.benchmark_group("engine_f32");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    for (label, name, dims) in CASES {
        let data = trajectory(FRAMES, POINTS, dims);
        let mut bytes = vec![0u8; data.len() * 4];
        Dtype::F32.encode(data.as_slice().expect("contiguous"), &mut bytes);
        let mut out = vec![0u8; bytes.len()];
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for (threads, pool) in &pools {
            group.bench_function(format!("{label}/threads={threads}"), |b| {
                b.iter(|| {
                    pool.install(|| {
                        let mut steps = stages::build_steps(plan(name, &data)).expect("valid plan");
                        let source =
                            MemorySource::new(&bytes, Dtype::F32, [FRAMES, POINTS, dims], "bench")
                                .expect("sized");
                        let sink = MemorySink::new(&mut out, Dtype::F32, POINTS, dims);
                        engine::run(
                            Box::new(source),
                            &mut steps,
                            Some(Box::new(sink)),
                            &mut [],
                            &RunOptions::default(),
                        )
                        .expect("aligned")
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No HTML plots: criterion's plotting needs a system font, which this project does not require.
    config = Criterion::default().without_plots();
    targets = engine_f32
}
criterion_main!(benches);
