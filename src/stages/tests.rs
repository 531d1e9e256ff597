//! Stage tests: every stage against a plain independent implementation (test_support), in
//! 2-D, 3-D, 4-D and 7-D; fusion, degenerate frames, invariance, continuity, extreme values.

use super::*;
use crate::test_support as ts;
use nalgebra::DMatrix;

const DIMS: [usize; 4] = [2, 3, 4, 7];

/// Runs every step on `frame`, merging the facts, as the engine does: a frame that a step left
/// with ±∞ (`nonfinite_output`) goes no further.
fn run(steps: &mut [Step], frame: &mut [f64]) -> FrameFacts {
    let mut facts = FrameFacts::default();
    for s in steps.iter_mut() {
        if facts.nonfinite_output {
            break;
        }
        facts.merge(match s {
            Step::Parallel(p) => p.apply(frame),
            Step::Ordered(o) => o.apply(frame),
        });
    }
    facts
}

fn steps(
    center: CenterKind,
    rotate: RotateKind,
    fit: &Fit,
    points: usize,
    dims: usize,
) -> Vec<Step> {
    build_steps(StagePlan {
        center,
        rotate,
        fit: fit.clone(),
        points,
        dims,
        check_centred: true,
    })
    .unwrap()
}

/// A weighted fit set over a subset (every point but multiples of 4).
fn subset_fit(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> Fit {
    let masses = ts::random_weights(rng, n);
    let idx: Vec<usize> = (0..n).filter(|i| i % 4 != 0).collect();
    Fit::new(n, Some(&masses), Some(&idx)).unwrap()
}

fn scale(frame: &[f64]) -> f64 {
    crate::kernels::max_abs(frame).max(1.0)
}

fn kabsch_plan(reference: Vec<f64>, center: Vec<f64>, to_ref_center: bool) -> RotateKind {
    RotateKind::Kabsch {
        reference: Arc::new(Reference {
            coords: reference,
            center,
            description: "test".into(),
        }),
        to_ref_center,
    }
}

#[test]
fn com_and_point_match_plain() {
    let mut rng = ts::rng(1);
    for d in DIMS {
        let n = 30;
        let fit = subset_fit(&mut rng, n);
        let frame = ts::random_frame(&mut rng, n, d, 50.0);
        let mut out = frame.clone();
        let f = run(
            &mut steps(CenterKind::Com, RotateKind::None, &fit, n, d),
            &mut out,
        );
        let c = ts::centroid(&frame, d, &fit.indices, &fit.weights);
        assert!(ts::max_diff(&out, &ts::shift(&frame, d, &c)) < 1e-12 * scale(&frame));
        assert_eq!(f, FrameFacts::default());
        let mut out = frame.clone();
        run(
            &mut steps(CenterKind::Point(3), RotateKind::None, &fit, n, d),
            &mut out,
        );
        assert_eq!(out, ts::shift(&frame, d, &frame[3 * d..4 * d]));
    }
}

#[test]
fn point_vector_matches_plain() {
    let mut rng = ts::rng(2);
    for d in DIMS {
        let n = 20;
        let fit = Fit::all(n);
        let pts: Vec<usize> = [3, 1, 7, 2, 9, 11, 5][..d].to_vec();
        let frame = ts::random_frame(&mut rng, n, d, 10.0);
        let mut out = frame.clone();
        let mut s = steps(
            CenterKind::Point(3),
            RotateKind::PointVector(pts.clone()),
            &fit,
            n,
            d,
        );
        let f = run(&mut s, &mut out);
        let centred = ts::shift(&frame, d, &frame[3 * d..4 * d]);
        let r = ts::point_vector(&centred, d, &pts);
        let expect = ts::rotate(&centred, d, &r, &vec![0.0; d]);
        assert!(
            ts::max_diff(&out, &expect) < 1e-12 * scale(&frame),
            "d = {d}"
        );
        assert!(!f.degenerate && !f.off_center);
        // e1 lies on +x, the next point in the +y half-plane.
        assert!(out[pts[1] * d] > 0.0 && out[pts[1] * d + 1].abs() < 1e-12 * scale(&frame));
        assert!(out[pts[2 % d] * d + 1] >= 0.0 || d == 2);
    }
}

#[test]
fn principal_skew_matches_plain() {
    let mut rng = ts::rng(3);
    for d in DIMS {
        let n = 40;
        let fit = subset_fit(&mut rng, n);
        let raw = ts::random_frame(&mut rng, n, d, 5.0);
        let frame = ts::shift(&raw, d, &ts::centroid(&raw, d, &fit.indices, &fit.weights));
        let r = ts::principal(&frame, d, &fit.indices, &fit.weights).unwrap();
        let mut out = frame.clone();
        let mut s = steps(
            CenterKind::None,
            RotateKind::Principal(SignRule::Skew),
            &fit,
            n,
            d,
        );
        let f = run(&mut s, &mut out);
        let expect = ts::rotate(&frame, d, &r, &vec![0.0; d]);
        assert!(
            ts::max_diff(&out, &expect) < 1e-12 * scale(&frame),
            "d = {d}"
        );
        assert!(!f.degenerate && !f.off_center);
        if d <= 3 {
            let m = f.rotation.unwrap();
            (0..d).for_each(|a| (0..d).for_each(|b| assert!((m[a][b] - r[(a, b)]).abs() < 1e-12)));
        } else {
            assert!(f.rotation.is_none());
        }
    }
}

#[test]
fn kabsch_matches_plain_with_weights_subset_and_mirror() {
    let mut rng = ts::rng(4);
    for d in DIMS {
        for mirror in [false, true] {
            let n = 25;
            let fit = subset_fit(&mut rng, n);
            let (idx, w) = (&fit.indices, &fit.weights);
            let raw = ts::random_frame(&mut rng, n, d, 3.0);
            let q = ts::random_rotation(&mut rng, d);
            let mut yraw = ts::rotate(&ts::random_frame(&mut rng, n, d, 0.0), d, &q, &vec![1.0; d]);
            if mirror {
                yraw.iter_mut().step_by(d).for_each(|v| *v = -*v);
            }
            let yc = ts::centroid(&yraw, d, idx, w);
            let y = ts::shift(&yraw, d, &yc);
            let x = ts::shift(&raw, d, &ts::centroid(&raw, d, idx, w));
            let r = ts::kabsch(&x, &y, d, idx, w).unwrap();
            for to_ref in [false, true] {
                let mut out = x.clone();
                let rot = kabsch_plan(y.clone(), yc.clone(), to_ref);
                let f = run(&mut steps(CenterKind::None, rot, &fit, n, d), &mut out);
                let t = if to_ref { yc.clone() } else { vec![0.0; d] };
                let expect = ts::rotate(&x, d, &r, &t);
                assert!(ts::max_diff(&out, &expect) < 1e-12 * scale(&x), "d = {d}");
                assert!(!f.degenerate);
            }
            assert!((r.determinant() - 1.0).abs() < 1e-12);
        }
    }
}

/// The unfused pair of stages for `dim`.
fn unfused<D: Dimension>(dim: D, fit: &Fit, rotate: &RotateKind) -> Vec<Step>
where
    DefaultAllocator: Alloc<D>,
{
    let fit = Arc::new(fit.clone());
    let second: Box<dyn Stage> = match rotate {
        RotateKind::Kabsch {
            reference,
            to_ref_center,
        } => Box::new(Kabsch::<D, false>::new(
            dim,
            fit.clone(),
            reference.clone(),
            *to_ref_center,
            false,
        )),
        _ => Box::new(Principal::<D, false>::new(dim, fit.clone(), false)),
    };
    vec![
        Step::Parallel(Box::new(CenterCom::new(dim, fit))),
        Step::Parallel(second),
    ]
}

#[test]
fn fused_com_stages_equal_two_stages() {
    let mut rng = ts::rng(5);
    for d in DIMS {
        let n = 50;
        for fit in [Fit::all(n), subset_fit(&mut rng, n)] {
            let raw_ref = ts::random_frame(&mut rng, n, d, 0.0);
            let yc = ts::centroid(&raw_ref, d, &fit.indices, &fit.weights);
            let y = ts::shift(&raw_ref, d, &yc);
            for rotate in [
                RotateKind::Principal(SignRule::Skew),
                kabsch_plan(y.clone(), yc.clone(), true),
            ] {
                let frame = ts::random_frame(&mut rng, n, d, 1e3);
                let mut fused = steps(CenterKind::Com, rotate.clone(), &fit, n, d);
                assert_eq!(fused.len(), 1);
                let mut two = match d {
                    2 => unfused(Const::<2>, &fit, &rotate),
                    3 => unfused(Const::<3>, &fit, &rotate),
                    _ => unfused(Dyn(d), &fit, &rotate),
                };
                let (mut a, mut b) = (frame.clone(), frame.clone());
                let fa = run(&mut fused, &mut a);
                let fb = run(&mut two, &mut b);
                assert!(ts::max_diff(&a, &b) < 1e-12 * scale(&frame), "d = {d}");
                assert!((fa.angle_deg - fb.angle_deg).abs() < 1e-9);
                assert!(!fa.degenerate && !fb.degenerate && !fb.off_center);
            }
        }
    }
}

#[test]
fn rotations_are_proper_and_orthogonal() {
    let mut rng = ts::rng(6);
    for d in DIMS {
        for _ in 0..20 {
            let h = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0));
            let r = crate::kernels::rotation::kabsch_rotation(h.clone()).unwrap();
            assert!((r.determinant() - 1.0).abs() < 1e-12);
            assert!((&r * r.transpose() - DMatrix::identity(d, d)).amax() < 1e-12);
        }
    }
}

use rand::Rng;

/// Every pipeline the tests exercise, for `points × d` frames (reference = `y`).
fn all_pipelines(y: &[f64], n: usize, d: usize) -> Vec<(CenterKind, RotateKind)> {
    let pts: Vec<usize> = (0..d).collect();
    vec![
        (CenterKind::Com, RotateKind::None),
        (CenterKind::Point(1), RotateKind::None),
        (CenterKind::Point(0), RotateKind::PointVector(pts)),
        (CenterKind::None, RotateKind::Principal(SignRule::Skew)),
        (CenterKind::Com, RotateKind::Principal(SignRule::Skew)),
        (CenterKind::Com, RotateKind::Principal(SignRule::Continuous)),
        (
            CenterKind::None,
            kabsch_plan(y.to_vec(), vec![0.0; d], false),
        ),
        (CenterKind::Com, kabsch_plan(y.to_vec(), vec![0.0; d], true)),
    ]
    .into_iter()
    .inspect(|_| assert!(n > d))
    .collect()
}

#[test]
fn degenerate_frames_use_the_identity_and_never_nan() {
    let n = 8;
    for d in DIMS {
        let fit = Fit::all(n);
        let y = ts::shift(
            &ts::random_frame(&mut ts::rng(7), n, d, 0.0),
            d,
            &[0.0; 7][..d],
        );
        let coincident: Vec<f64> = (0..n * d).map(|j| (j % d) as f64 + 1.0).collect();
        let zero = vec![0.0; n * d];
        let collinear: Vec<f64> = (0..n * d)
            .map(|j| (j / d) as f64 * (j % d + 1) as f64)
            .collect();
        for (frame, what) in [
            (&coincident, "coincident"),
            (&zero, "zero"),
            (&collinear, "collinear"),
        ] {
            for (center, rotate) in all_pipelines(&y, n, d) {
                // Uncentred principal/Kabsch see a constant frame as a shape off the origin.
                if matches!(rotate, RotateKind::None)
                    || center == CenterKind::None && what != "zero"
                {
                    continue;
                }
                let mut out = frame.clone();
                let f = run(&mut steps(center, rotate.clone(), &fit, n, d), &mut out);
                assert!(out.iter().all(|v| v.is_finite()), "{what} d = {d}");
                // Collinear frames still define every rotation in 2-D.
                let defined = what == "collinear" && d == 2;
                assert_eq!(f.degenerate, !defined, "{what} {rotate:?} d = {d}");
                if f.degenerate {
                    assert_eq!(f.angle_deg, 0.0);
                }
            }
        }
    }
}

#[test]
fn a_square_has_no_principal_axes() {
    let fit = Fit::all(4);
    let mut sq = vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0];
    let before = sq.clone();
    let f = run(
        &mut steps(
            CenterKind::Com,
            RotateKind::Principal(SignRule::Skew),
            &fit,
            4,
            2,
        ),
        &mut sq,
    );
    assert!(f.degenerate);
    assert_eq!(sq, before);
    assert_eq!(
        f.rotation,
        Some([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    );
}

#[test]
fn continuous_reuses_the_previous_rotation_on_degenerate_frames() {
    let mut rng = ts::rng(8);
    let (n, d) = (12, 3);
    let fit = Fit::all(n);
    let mut s = steps(
        CenterKind::None,
        RotateKind::Principal(SignRule::Continuous),
        &fit,
        n,
        d,
    );
    let frame = ts::shift(&ts::random_frame(&mut rng, n, d, 0.0), d, &[0.0; 3]);
    let mut a = frame.clone();
    let fa = run(&mut s, &mut a);
    assert!(!fa.degenerate);
    let mut b = vec![2.0; n * d];
    let fb = run(&mut s, &mut b);
    assert!(fb.degenerate);
    assert_eq!(fb.rotation, fa.rotation);
    let r = fa.rotation.unwrap();
    let expect: Vec<f64> = (0..3).map(|a| r[a].iter().sum::<f64>() * 2.0).collect();
    assert!(ts::max_diff(&b[..3], &expect) < 1e-12);
}

#[test]
fn principal_is_invariant_under_rigid_motion() {
    let mut rng = ts::rng(9);
    for d in DIMS {
        let n = 60;
        let fit = subset_fit(&mut rng, n);
        let frame = ts::random_frame(&mut rng, n, d, 0.0);
        for _ in 0..5 {
            let q = ts::random_rotation(&mut rng, d);
            let t: Vec<f64> = (0..d).map(|_| rng.random_range(-100.0..100.0)).collect();
            let moved = ts::rotate(&frame, d, &q, &t);
            let rot = RotateKind::Principal(SignRule::Skew);
            let (mut a, mut b) = (frame.clone(), moved);
            run(&mut steps(CenterKind::Com, rot.clone(), &fit, n, d), &mut a);
            run(&mut steps(CenterKind::Com, rot, &fit, n, d), &mut b);
            assert!(ts::max_diff(&a, &b) < 1e-10 * scale(&a), "d = {d}");
        }
    }
}

#[test]
fn continuous_signs_never_flip_along_a_slow_rotation() {
    let mut rng = ts::rng(10);
    for d in [2, 3, 4] {
        let n = 30;
        let fit = Fit::all(n);
        // A nearly symmetric shape (each point and its mirror, slightly perturbed): the skew
        // rule has almost nothing to go on, continuity must still hold.
        let half = ts::random_frame(&mut rng, n / 2, d, 0.0);
        let mut shape: Vec<f64> = half.iter().chain(half.iter()).copied().collect();
        shape[n / 2 * d..]
            .iter_mut()
            .for_each(|v| *v = -*v * 1.0001);
        let mut s = steps(
            CenterKind::Com,
            RotateKind::Principal(SignRule::Continuous),
            &fit,
            n,
            d,
        );
        let mut prev: Option<Vec<f64>> = None;
        for step in 0..120 {
            let angle = step as f64 * 3f64.to_radians();
            let mut q = DMatrix::identity(d, d);
            let (c, sn) = (angle.cos(), angle.sin());
            q[(0, 0)] = c;
            q[(0, 1)] = -sn;
            q[(1, 0)] = sn;
            q[(1, 1)] = c;
            let mut frame = ts::rotate(&shape, d, &q, &vec![5.0; d]);
            let f = run(&mut s, &mut frame);
            assert!(!f.degenerate);
            if let Some(p) = &prev {
                assert!(
                    ts::max_diff(p, &frame) < 1e-6 * scale(&frame),
                    "flip at {step}, d = {d}"
                );
            }
            prev = Some(frame);
        }
    }
}

/// Runs `center + rotate` on `frame × k` and checks the output is finite and equals
/// `k × output(frame)` (rotations are scale-invariant) for every pipeline.
fn check_scaled(d: usize, k: f64, seed: u64) {
    let n = 20;
    let mut rng = ts::rng(seed);
    let fit = subset_fit(&mut rng, n);
    let yraw = ts::random_frame(&mut rng, n, d, 0.0);
    let y = ts::shift(
        &yraw,
        d,
        &ts::centroid(&yraw, d, &fit.indices, &fit.weights),
    );
    let base = ts::random_frame(&mut rng, n, d, 0.5);
    for (center, rotate) in all_pipelines(&y, n, d) {
        let is_kabsch = matches!(rotate, RotateKind::Kabsch { .. });
        let mut small = base.clone();
        run(
            &mut steps(center.clone(), rotate.clone(), &fit, n, d),
            &mut small,
        );
        let mut big: Vec<f64> = base.iter().map(|v| v * k).collect();
        let f = run(
            &mut steps(center.clone(), rotate.clone(), &fit, n, d),
            &mut big,
        );
        let what = format!("{center:?} {rotate:?} d = {d} k = {k:e}");
        assert!(big.iter().all(|v| v.is_finite()), "{what}");
        assert!(!f.degenerate && !f.nonfinite_output, "{what}");
        let back: Vec<f64> = big.iter().map(|v| v / k).collect();
        // With to_ref_center the reference centre (0 here) is not scaled: still comparable.
        let tol = if is_kabsch { 1e-9 } else { 1e-10 };
        assert!(
            ts::max_diff(&back, &small) < tol * scale(&small),
            "{what} {}",
            ts::max_diff(&back, &small)
        );
    }
}

#[test]
fn extreme_coordinates_stay_finite() {
    for d in DIMS {
        check_scaled(d, 1e300, 11);
        check_scaled(d, 2e-300, 12);
        // f32 extremes: the largest coordinate is ~3e38.
        let m = crate::kernels::max_abs(&ts::random_frame(&mut ts::rng(13), 20, d, 0.5));
        check_scaled(d, 3e38 / m, 13);
        check_scaled(d, 1e307 / m, 13);
    }
}

#[test]
fn unrepresentable_results_are_flagged_never_nan() {
    let (n, d) = (4, 3);
    let fit = Fit::all(n);
    let big = 1.7e308;
    let frame = vec![
        big, -big, 0.0, -big, big, 1.0, big, big, -big, -big, 0.0, big,
    ];
    let y = ts::random_frame(&mut ts::rng(14), n, d, 0.0);
    for (center, rotate) in all_pipelines(&y, n, d) {
        let mut out = frame.clone();
        let f = run(
            &mut steps(center.clone(), rotate.clone(), &fit, n, d),
            &mut out,
        );
        assert!(out.iter().all(|v| !v.is_nan()), "{center:?} {rotate:?}");
        assert_eq!(f.nonfinite_output, out.iter().any(|v| v.is_infinite()));
    }
    let mut out = frame.clone();
    let f = run(
        &mut steps(CenterKind::Point(0), RotateKind::None, &fit, n, d),
        &mut out,
    );
    assert!(f.nonfinite_output && out[3] == f64::NEG_INFINITY);
}

#[test]
fn build_errors_are_one_line_and_name_no_flag() {
    let fit = Fit::all(12);
    let plan = |center, rotate, points| StagePlan {
        center,
        rotate,
        fit: Fit::all(points),
        points,
        dims: 3,
        check_centred: false,
    };
    let err = |p| build_steps(p).err().unwrap();
    assert_eq!(
        err(plan(CenterKind::None, RotateKind::PointVector(vec![0, 1]), 12)),
        "point-vector needs 3 points for 3-D frames (the anchor and one per axis but the last), got 2"
    );
    assert_eq!(
        err(plan(CenterKind::Point(99), RotateKind::None, 12)),
        "point 99 is out of range (frames have 12 points)"
    );
    assert_eq!(
        err(plan(
            CenterKind::None,
            RotateKind::PointVector(vec![0, 1, 1]),
            12
        )),
        "point-vector points must be distinct, got 0,1,1"
    );
    let r = kabsch_plan(vec![0.0; 30], vec![0.0; 3], false);
    assert_eq!(
        err(plan(CenterKind::Com, r, 12)),
        "the reference has 10 points but the frames have 12"
    );
    assert_eq!(
        Fit::new(12, None, Some(&[3, 12])).unwrap_err(),
        "point 12 is out of range (frames have 12 points)"
    );
    assert!(Fit::new(2, Some(&[0.0, 0.0]), None).is_err());
    let _ = fit;
}

#[test]
fn step_names_and_kinds() {
    let (n, d) = (5, 3);
    let fit = Fit::all(n);
    let y = vec![0.0; n * d];
    let names = |c, r| {
        steps(c, r, &fit, n, d)
            .iter()
            .map(|s| match s {
                Step::Parallel(p) => p.name(),
                Step::Ordered(o) => format!("ordered {}", o.name()),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(CenterKind::Com, RotateKind::Principal(SignRule::Skew)),
        ["com+principal"]
    );
    assert_eq!(
        names(CenterKind::Com, kabsch_plan(y.clone(), vec![0.0; 3], false)),
        ["com+kabsch"]
    );
    assert_eq!(
        names(CenterKind::Com, RotateKind::Principal(SignRule::Continuous)),
        ["com", "ordered principal"]
    );
    assert_eq!(
        names(CenterKind::Point(2), RotateKind::PointVector(vec![2, 0, 1])),
        ["point2", "point-vector:2,0,1"]
    );
    assert_eq!(
        names(CenterKind::None, RotateKind::PointVector(vec![0, 1, 2])),
        ["point-vector"]
    );
    assert_eq!(
        names(CenterKind::None, kabsch_plan(y, vec![0.0; 3], false)),
        ["kabsch"]
    );
}

#[test]
fn references_are_centred_like_the_frames() {
    let mut rng = ts::rng(15);
    let (n, d) = (10, 3);
    let fit = subset_fit(&mut rng, n);
    let raw = ts::random_frame(&mut rng, n, d, 7.0);
    let c = ts::centroid(&raw, d, &fit.indices, &fit.weights);
    let com = center_reference(raw.clone(), d, &CenterKind::Com, &fit, false, "r".into());
    assert!(ts::max_diff(&com.center, &c) < 1e-12 * 7.0 * d as f64);
    assert!(ts::max_diff(&com.coords, &ts::shift(&raw, d, &c)) < 1e-12 * scale(&raw));
    let none = center_reference(raw.clone(), d, &CenterKind::None, &fit, true, "r".into());
    assert_eq!(none.coords, com.coords);
    let kept = center_reference(raw.clone(), d, &CenterKind::None, &fit, false, "r".into());
    assert_eq!((kept.coords, kept.center), (raw.clone(), vec![0.0; d]));
    let p = center_reference(
        raw.clone(),
        d,
        &CenterKind::Point(2),
        &fit,
        false,
        "r".into(),
    );
    assert_eq!(p.center, raw[6..9].to_vec());
    assert_eq!(&p.coords[6..9], &[0.0; 3]);
    let huge: Vec<f64> = raw.iter().map(|v| v * 1e306).collect();
    let h = center_reference(huge, d, &CenterKind::Com, &fit, false, "r".into());
    assert!(h.coords.iter().chain(&h.center).all(|v| v.is_finite()));
}

#[test]
fn fresh_continuous_stage_forgets_history() {
    let mut rng = ts::rng(16);
    let (n, d) = (12, 3);
    let fit = Fit::all(n);
    let mut s = steps(
        CenterKind::None,
        RotateKind::Principal(SignRule::Continuous),
        &fit,
        n,
        d,
    );
    let Step::Ordered(stage) = &mut s[0] else {
        panic!("continuous principal is ordered")
    };
    let frame = ts::random_frame(&mut rng, n, d, 0.0);
    let (mut a, mut b) = (frame.clone(), vec![1.0; n * d]);
    stage.apply(&mut a);
    let degenerate = stage.apply(&mut b);
    let mut fresh = stage.fresh();
    let mut c = vec![1.0; n * d];
    let f = fresh.apply(&mut c);
    assert!(degenerate.degenerate && f.degenerate);
    assert_eq!(f.angle_deg, 0.0);
    assert_eq!(c, vec![1.0; n * d]);
    // A fresh stage on frame 0 gives what the skew rule gives.
    let mut skew = frame.clone();
    run(
        &mut steps(
            CenterKind::None,
            RotateKind::Principal(SignRule::Skew),
            &fit,
            n,
            d,
        ),
        &mut skew,
    );
    let mut again = frame.clone();
    stage.fresh().apply(&mut again);
    assert_eq!(skew, again);
}

#[test]
fn no_heap_allocation_per_frame_in_2d_and_3d() {
    let mut rng = ts::rng(17);
    for d in [2, 3] {
        let n = 50;
        for fit in [Fit::all(n), subset_fit(&mut rng, n)] {
            let yraw = ts::random_frame(&mut rng, n, d, 0.0);
            let y = ts::shift(
                &yraw,
                d,
                &ts::centroid(&yraw, d, &fit.indices, &fit.weights),
            );
            let frames: Vec<Vec<f64>> = (0..4)
                .map(|_| ts::random_frame(&mut rng, n, d, 2.0))
                .collect();
            for (center, rotate) in all_pipelines(&y, n, d) {
                let mut s = steps(center.clone(), rotate.clone(), &fit, n, d);
                let mut f = frames[0].clone();
                run(&mut s, &mut f); // the continuous stage keeps its first frame
                let before = ts::allocations();
                for frame in &frames[1..] {
                    f.copy_from_slice(frame);
                    run(&mut s, &mut f);
                }
                let made = ts::allocations() - before;
                assert_eq!(made, 0, "{center:?} {rotate:?} d = {d}");
            }
        }
    }
    // The counter works: Dyn (here 4-D) kernels may and do allocate.
    let fit = Fit::all(10);
    let mut s = steps(
        CenterKind::Com,
        RotateKind::Principal(SignRule::Skew),
        &fit,
        10,
        4,
    );
    let mut f = ts::random_frame(&mut rng, 10, 4, 1.0);
    let before = ts::allocations();
    run(&mut s, &mut f);
    assert!(ts::allocations() > before);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A frame of `n × d` values `m · 10^e` with `m` in ±[0, 10) and `e` in `exps`.
    fn frame(n: usize, d: usize, exps: std::ops::Range<i32>) -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec((-10.0f64..10.0, exps), n * d)
            .prop_map(|v| v.into_iter().map(|(m, e)| m * 10f64.powi(e)).collect())
    }

    fn case() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<f64>)> {
        (2usize..6, 1usize..12, -300i32..290, 1i32..12).prop_flat_map(|(d, n, lo, span)| {
            let exps = lo..lo + span;
            (
                Just(d),
                Just(n),
                frame(n, d, exps.clone()),
                frame(n, d, exps),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Finite frames of any magnitude mix give finite output and proper rotations through
        /// every pipeline.
        #[test]
        fn finite_in_finite_out((d, n, x, yraw) in case()) {
            let fit = Fit::all(n);
            let y = center_reference(yraw, d, &CenterKind::Com, &fit, false, "p".into()).coords;
            for (center, rotate) in all_pipelines_any(&y, n, d) {
                let mut out = x.clone();
                let f = run(&mut steps(center.clone(), rotate.clone(), &fit, n, d), &mut out);
                prop_assert!(out.iter().all(|v| v.is_finite()), "{:?} {:?}", center, rotate);
                prop_assert!(!f.nonfinite_output);
                if let Some(r) = f.rotation {
                    let m = nalgebra::Matrix3::from_fn(|a, b| r[a][b]);
                    prop_assert!((m.determinant() - 1.0).abs() < 1e-9);
                    prop_assert!((m * m.transpose() - nalgebra::Matrix3::identity()).amax() < 1e-9);
                }
            }
        }

        /// Fused COM stages equal COM then the rotation, for any well-scaled frame.
        #[test]
        fn fused_equals_unfused((d, n, x, yraw) in case().prop_filter("scale", |c| c.1 > c.0)) {
            let fit = Fit::all(n);
            let x: Vec<f64> = x.iter().map(|v| v / crate::kernels::max_abs(&x).max(1e-300)).collect();
            let y = center_reference(yraw, d, &CenterKind::Com, &fit, false, "p".into()).coords;
            for rotate in [RotateKind::Principal(SignRule::Skew), kabsch_plan(y, vec![0.0; d], false)] {
                let (mut a, mut b) = (x.clone(), x.clone());
                let fa = run(&mut steps(CenterKind::Com, rotate.clone(), &fit, n, d), &mut a);
                let mut two = match d {
                    2 => unfused(Const::<2>, &fit, &rotate),
                    3 => unfused(Const::<3>, &fit, &rotate),
                    _ => unfused(Dyn(d), &fit, &rotate),
                };
                let fb = run(&mut two, &mut b);
                // Nearly degenerate frames may fall either side of the tolerance.
                if !fa.degenerate && !fb.degenerate && fa.angle_deg.is_finite() {
                    prop_assert!(ts::max_diff(&a, &b) < 1e-9, "{:?}", rotate);
                }
            }
        }
    }

    /// [`all_pipelines`] without its `n > d` requirement (point-vector only when possible).
    fn all_pipelines_any(y: &[f64], n: usize, d: usize) -> Vec<(CenterKind, RotateKind)> {
        let mut v = vec![
            (CenterKind::Com, RotateKind::None),
            (CenterKind::Point(0), RotateKind::None),
            (CenterKind::None, RotateKind::Principal(SignRule::Skew)),
            (CenterKind::Com, RotateKind::Principal(SignRule::Skew)),
            (CenterKind::Com, RotateKind::Principal(SignRule::Continuous)),
            (
                CenterKind::None,
                kabsch_plan(y.to_vec(), vec![0.0; d], false),
            ),
            (CenterKind::Com, kabsch_plan(y.to_vec(), vec![0.0; d], true)),
        ];
        if n >= d {
            v.push((
                CenterKind::Point(0),
                RotateKind::PointVector((0..d).collect()),
            ));
        }
        v
    }
}
