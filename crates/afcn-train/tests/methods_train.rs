//! Every method of the registry, and every combination of AFCN's five switches, trains two
//! epochs on a tiny SynthFER split: finite losses, the loss parts each method has, and a
//! label store that only relabelling methods change. Relabelling is made eager (from epoch 1,
//! no margin) so that an untrained network's predictions do relabel.

use afcn_backbone::Arch;
use afcn_certainty::LabelStore;
use afcn_train::{
    config::{Preset, TrainConfig},
    data,
    distributed::{DataParallel, RunningStats},
    methods::{MethodKind, RelabelTiming},
    model::FerModel,
    optim,
    run_dir::RunDir,
    step::{self, Step},
    trainer::Trainer,
};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Distribution, Tensor};

type B = Autodiff<Flex>;

/// The `synthfer` preset shrunk to 16 training and 8 test images of 32 x 32, batches of 8,
/// two epochs, no noise, and relabelling from epoch 1 with no margin.
fn tiny(method: MethodKind) -> TrainConfig {
    let mut config = Preset::Synthfer.config();
    config.method = method;
    config.epochs = 2;
    config.batch_size = 8;
    config.arch = Arch::ResNetNarrow;
    config.overlays = 0;
    config.data.noise.rate = 0.0;
    config.data.synthfer.train_size = 16;
    config.data.synthfer.test_size = 8;
    config.data.synthfer.image_size = 32;
    config.augment.image_size = 32;
    let afcn = &mut config.methods.afcn;
    (afcn.warmup_epochs, afcn.correct_from_epoch) = (1, 1);
    (afcn.tau, afcn.delta) = (1.0, 0.0);
    let scn = &mut config.methods.scn;
    (scn.relabel_from_epoch, scn.relabel_margin) = (1, 0.0);
    config.validate().expect("the tiny configuration is valid");
    config
}

/// Trains `config` to the end in a fresh run directory; returns the trainer.
fn train(config: TrainConfig) -> (Trainer<B>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    let data = data::open(&config.data).unwrap();
    let mut trainer = Trainer::<B>::new(config, data, Default::default()).unwrap();
    trainer.train(&run, |_| Ok(())).unwrap();
    (trainer, dir)
}

/// What a method's second loss term must be in every epoch.
#[derive(Clone, Copy, Debug)]
enum Term {
    /// The method has none.
    Zero,
    /// Always there (EAC's and AFCN's consistency).
    Positive,
    /// There, and 0 when satisfied (SCN's rank regularisation past its margin).
    NonNegative,
}

/// Checks a finished run: finite losses, the second term as `term` says, and labels changed
/// exactly when `relabels`.
fn check(name: &str, trainer: &Trainer<B>, term: Term, relabels: bool) {
    let history = trainer.history();
    assert_eq!(history.len(), 2, "{name}: epochs trained");
    for m in history {
        assert!(
            m.loss.is_finite() && m.loss > 0.0,
            "{name}: loss {}",
            m.loss
        );
        assert!(
            m.cross_entropy.is_finite() && m.cross_entropy > 0.0,
            "{name}: {m:?}"
        );
        let ok = match term {
            Term::Zero => m.auxiliary == 0.0,
            Term::Positive => m.auxiliary > 0.0 && m.auxiliary.is_finite(),
            Term::NonNegative => m.auxiliary >= 0.0 && m.auxiliary.is_finite(),
        };
        assert!(
            ok,
            "{name}: second term {} in epoch {}, expected {term:?}",
            m.auxiliary, m.epoch
        );
    }
    let labels = trainer.labels();
    let changed = labels.changes().len();
    if relabels {
        assert!(changed > 0, "{name}: no label changed");
        assert_eq!(
            history[0].corrections, 0,
            "{name}: relabelled before epoch 1"
        );
        assert_eq!(history[1].corrections, changed, "{name}: changes logged");
        assert!(labels.current() != labels.given(), "{name}");
    } else {
        assert_eq!(changed, 0, "{name}: labels changed");
        assert_eq!(labels.current(), labels.given(), "{name}");
    }
}

#[test]
fn every_method_trains_two_epochs_and_resumes() {
    for &method in MethodKind::ALL {
        let config = tiny(method);
        let (term, relabels) = match method {
            MethodKind::Baseline | MethodKind::Rul => (Term::Zero, false),
            MethodKind::Scn => (Term::NonNegative, true),
            MethodKind::Eac => (Term::Positive, false),
            MethodKind::Afcn => (Term::Positive, true),
        };
        let (trainer, dir) = train(config.clone());
        check(method.name(), &trainer, term, relabels);
        // The checkpoint (backbone, heads, optimizer, labels) loads into a fresh model.
        let run = RunDir::create(dir.path()).unwrap();
        let checkpoint = run.latest_checkpoint().unwrap().expect("a checkpoint");
        let data = data::open(&config.data).unwrap();
        let resumed = Trainer::<B>::new(config, data, Default::default())
            .unwrap()
            .resume(&checkpoint)
            .unwrap();
        assert_eq!(resumed.history().len(), 2, "{method}");
        assert_eq!(
            resumed.labels().current(),
            trainer.labels().current(),
            "{method}"
        );
        assert_eq!(resumed.model().heads.kind(), method);
        assert_eq!(
            non_leaves(resumed.model()),
            0,
            "{method}: tensors of the resumed model are inside an autodiff graph"
        );
    }
}

/// How many float tensors of `model` (parameters and running states) are not leaves of the
/// autodiff graph, i.e. results of recorded operations: a running statistic that is one
/// extends the graph at every step, never freed, and each step is slower than the last.
/// (Burn panics when asked to make such a tensor require a gradient.)
fn non_leaves(model: &FerModel<B>) -> usize {
    struct Count(usize);
    impl ModuleVisitor<B> for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let tensor = param.val();
            let make_leaf = std::panic::AssertUnwindSafe(move || tensor.require_grad());
            let leaf = std::panic::catch_unwind(make_leaf).is_ok();
            self.0 += usize::from(!leaf);
        }
    }
    let mut count = Count(0);
    model.visit(&mut count);
    count.0
}

#[test]
fn every_combination_of_afcns_switches_trains() {
    for bits in 0u32..32 {
        let on = |i: u32| bits & (1 << i) != 0;
        let mut config = tiny(MethodKind::Afcn);
        let afcn = &mut config.methods.afcn;
        afcn.label_correction = on(0);
        afcn.certainty_weighting = on(1);
        afcn.gradcam_attention = on(2);
        afcn.attention_fusion = on(3);
        afcn.consistency = on(4);
        let name = format!("{:?}", config.methods.afcn);
        let consistency = config.methods.afcn.consistency;
        let correction = config.methods.afcn.label_correction;
        let (trainer, _dir) = train(config);
        let term = if consistency {
            Term::Positive
        } else {
            Term::Zero
        };
        check(&name, &trainer, term, correction);
    }
}

/// One step at a relabelling epoch on random images: the labels the loss used, against the
/// store's labels before and after.
fn relabelling_step(method: MethodKind) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let config = tiny(method);
    let device = Default::default();
    let n = 8;
    let model = FerModel::<B>::new(method, &config.methods, config.arch, 7, 32, &device);
    let given: Vec<usize> = (0..n).map(|i| i % 7).collect();
    let mut labels = LabelStore::new(given.clone(), 7).unwrap();
    let indices: Vec<usize> = (0..n).collect();
    let mut step = Step {
        config: &config,
        labels: &mut labels,
    };
    let views = step.views();
    let images = Tensor::<B, 4>::random(
        [views.count() * n, 3, 32, 32],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let features = step::forward(&model, images);
    let mut running = RunningStats::begin(&DataParallel::solo(), &model);
    let out = step
        .loss(
            &model,
            vec![(features, 0..n)],
            &indices,
            1,
            &device,
            &mut running,
        )
        .unwrap();
    assert!(out.corrections > 0, "{method}: nothing relabelled");
    (given, out.trained_on, labels.current().to_vec())
}

#[test]
fn scn_learns_from_the_old_labels_and_afcn_from_the_corrected_ones() {
    let configs = tiny(MethodKind::Scn).methods;
    let timing = |m: MethodKind| m.relabelling(&configs, 1).map(|r| r.timing);
    assert_eq!(timing(MethodKind::Scn), Some(RelabelTiming::LaterSteps));
    assert_eq!(timing(MethodKind::Afcn), Some(RelabelTiming::ThisStep));
    assert_eq!(timing(MethodKind::Baseline), None);

    let (given, trained_on, after) = relabelling_step(MethodKind::Scn);
    assert_eq!(
        trained_on, given,
        "SCN's loss uses the labels before relabelling"
    );
    assert_ne!(after, given, "SCN's new labels are stored for later epochs");

    let (given, trained_on, after) = relabelling_step(MethodKind::Afcn);
    assert_eq!(trained_on, after, "AFCN's loss uses the corrected labels");
    assert_ne!(after, given);
}

/// The largest absolute change between two versions of a parameter.
fn max_change<const D: usize>(before: Tensor<B, D>, after: Tensor<B, D>) -> f32 {
    (after - before).abs().max().into_scalar()
}

#[test]
fn rul_heads_learn_at_ten_times_the_backbones_rate() {
    let config = tiny(MethodKind::Rul);
    assert_eq!(MethodKind::Rul.head_lr_factor(&config.methods), 10.0);
    assert_eq!(MethodKind::Afcn.head_lr_factor(&config.methods), 1.0);
    let device = Default::default();
    let n = 8;
    let model = FerModel::<B>::new(
        MethodKind::Rul,
        &config.methods,
        config.arch,
        7,
        32,
        &device,
    );
    let images = Tensor::<B, 4>::random([n, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let indices: Vec<usize> = (0..n).collect();
    let lr = 1e-3;
    // Adam's first step moves every parameter with a gradient by about the learning rate.
    let changes = |head_lr: f64| {
        let mut labels = LabelStore::new((0..n).map(|i| i % 7).collect(), 7).unwrap();
        let mut step = Step {
            config: &config,
            labels: &mut labels,
        };
        let features = step::forward(&model, images.clone());
        let mut running = RunningStats::begin(&DataParallel::solo(), &model);
        let out = step
            .loss(
                &model,
                vec![(features, 0..n)],
                &indices,
                0,
                &device,
                &mut running,
            )
            .unwrap();
        let mut optimizer = optim::optimizer::<B>(&config);
        let after = optim::update(
            &mut optimizer,
            model.clone(),
            out.loss.backward(),
            [lr, head_lr],
        );
        let heads = |m: &FerModel<B>| match &m.heads {
            afcn_train::methods::MethodHeads::Rul(h) => h.classifier.weight.val(),
            _ => unreachable!("a RUL model"),
        };
        (
            max_change(heads(&model), heads(&after)),
            max_change(
                model.backbone.conv1.weight.val(),
                after.backbone.conv1.weight.val(),
            ),
        )
    };
    let (head_same, backbone_same) = changes(lr);
    let (head_fast, backbone_fast) = changes(10.0 * lr);
    let ratio = head_fast / head_same;
    assert!(
        (9.0..=11.0).contains(&ratio),
        "heads moved {ratio} times as far"
    );
    assert!(
        (backbone_fast / backbone_same - 1.0).abs() < 0.1,
        "{backbone_fast} vs {backbone_same}"
    );
}
