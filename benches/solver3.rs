//! Is a closed-form 3 × 3 Kabsch solver worth hand-writing? Compares the solver aligntraj uses
//! (nalgebra's fixed-size 3 × 3 SVD, `rotation_from_covariance_small::<3>`) with Horn's
//! quaternion method (largest eigenvector of the 4 × 4 key matrix, nalgebra's fixed-size
//! symmetric eigensolver), on the same covariance matrices, and puts both next to the cost of
//! the covariance itself for a 1000-point frame.
//!
//! Run: `cargo bench --bench solver3`.

use aligntraj::fit::FitSet;
use aligntraj::kernels::small::{cross_covariance_about, Mat};
use aligntraj::rotate::kabsch::rotation_from_covariance_small;
use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::{Matrix4, Quaternion, UnitQuaternion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::hint::black_box;

/// Horn (1987): the rotation maximising tr(R H) is the quaternion of the largest eigenvalue
/// of the symmetric key matrix built from H = Σ x yᵀ.
fn horn(h: &Mat<3>) -> Mat<3> {
    let [[sxx, sxy, sxz], [syx, syy, syz], [szx, szy, szz]] = *h;
    let n = Matrix4::new(
        sxx + syy + szz,
        syz - szy,
        szx - sxz,
        sxy - syx,
        syz - szy,
        sxx - syy - szz,
        sxy + syx,
        szx + sxz,
        szx - sxz,
        sxy + syx,
        -sxx + syy - szz,
        syz + szy,
        sxy - syx,
        szx + sxz,
        syz + szy,
        -sxx - syy + szz,
    );
    let e = n.symmetric_eigen();
    let k = e.eigenvalues.imax();
    let v = e.eigenvectors.column(k);
    let q = UnitQuaternion::from_quaternion(Quaternion::new(v[0], v[1], v[2], v[3]));
    let r = q.to_rotation_matrix();
    std::array::from_fn(|a| std::array::from_fn(|b| r[(a, b)]))
}

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let hs: Vec<Mat<3>> = (0..256)
        .map(|_| {
            std::array::from_fn(|_| std::array::from_fn(|_| rng.sample::<f64, _>(StandardNormal)))
        })
        .collect();
    // Both solvers agree (up to the degenerate cases random matrices do not hit).
    for h in &hs {
        let (a, b) = (rotation_from_covariance_small::<3>(h).unwrap(), horn(h));
        let diff = (0..3)
            .flat_map(|i| (0..3).map(move |j| (i, j)))
            .map(|(i, j)| (a[i][j] - b[i][j]).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-9, "solvers disagree by {diff}");
    }
    let mut g = c.benchmark_group("solver3");
    g.sample_size(30)
        .measurement_time(std::time::Duration::from_secs(2));
    g.bench_function("svd3_nalgebra (used)", |b| {
        b.iter(|| {
            hs.iter()
                .map(|h| rotation_from_covariance_small::<3>(black_box(h)).unwrap()[0][0])
                .sum::<f64>()
        })
    });
    g.bench_function("horn_quaternion_eigen4", |b| {
        b.iter(|| hs.iter().map(|h| horn(black_box(h))[0][0]).sum::<f64>())
    });
    let frame: Vec<f64> = (0..3000)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let reference: Vec<f64> = (0..3000)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let fit = FitSet::all(1000);
    g.bench_function("covariance_1000_points_x256", |b| {
        b.iter(|| {
            (0..256)
                .map(|_| {
                    cross_covariance_about::<3>(black_box(&frame), &reference, &fit, &[0.0; 3])[0]
                        [0]
                })
                .sum::<f64>()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // No HTML plots: criterion's plotting needs a system font, which this project does not require.
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
