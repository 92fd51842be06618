//! Opening a run's training and test splits from its configuration, with label noise
//! injected into the training split. `afcn train`, `afcn eval` and `afcn data inspect` all
//! open datasets here: SynthFER (and its identity set) from its generator, the formats on disk through
//! [`afcn_data::DatasetSource`].

use afcn_data::{DatasetSource, FerDataset, LoadOptions, NoisyLabels, Relabeled, Split};

use afcn_synthfer::{SynthFer, SynthFerIdentities};

use crate::config::{DataConfig, DatasetKind};

/// A split shared between the decoding threads.
pub type SharedDataset = Box<dyn FerDataset>;

/// The splits of a run.
pub struct RunData {
    /// The training split, its labels replaced by the noisy ones when noise is injected.
    pub train: SharedDataset,
    /// The test split, with its clean labels.
    pub test: SharedDataset,
    /// The injected noise (`None` when the rate is 0).
    pub noise: Option<NoisyLabels>,
}

/// The load options a configuration asks for: bad entries stop the run unless
/// `data.skip_bad`.
pub fn load_options(config: &DataConfig) -> LoadOptions {
    LoadOptions {
        skip_bad: config.skip_bad,
        ..LoadOptions::default()
    }
}

/// The splits the configured dataset has.
pub fn splits(config: &DataConfig) -> Vec<Split> {
    match (config.dataset.format(), &config.root) {
        (Some(format), Some(root)) => format.splits(root),
        _ => vec![Split::Train, Split::Test],
    }
}

/// Opens `split` of the dataset `config` names, reading files under `options`.
pub fn open_split(
    config: &DataConfig,
    split: Split,
    options: &LoadOptions,
) -> anyhow::Result<SharedDataset> {
    let Some(format) = config.dataset.format() else {
        let faces = config.synthfer.clone();
        return Ok(match config.dataset {
            DatasetKind::SynthferIdentities => Box::new(SynthFerIdentities::new(
                faces,
                config.identities.clone(),
                split,
            )?),
            _ => Box::new(SynthFer::new(faces, split)?),
        });
    };
    let root = config
        .root
        .clone()
        .ok_or_else(|| anyhow::anyhow!("dataset `{}` needs --root DIR", config.dataset))?;
    let source = DatasetSource {
        format,
        root,
        classes: config.classes,
        train_labels: config.train_labels.clone(),
    };
    Ok(source.open(split, options)?)
}

/// Opens the training and test splits and injects the configured noise into the first.
pub fn open(config: &DataConfig) -> anyhow::Result<RunData> {
    let options = load_options(config);
    let train = open_split(config, Split::Train, &options)?;
    let test = open_split(config, Split::Test, &options)?;
    anyhow::ensure!(
        train.class_names() == test.class_names(),
        "the train and test splits name different classes: {:?} and {:?}",
        train.class_names(),
        test.class_names()
    );
    if config.noise.rate == 0.0 {
        return Ok(RunData {
            train,
            test,
            noise: None,
        });
    }
    let (noisy, report) = Relabeled::with_noise(train, &config.noise)?;
    Ok(RunData {
        train: Box::new(noisy),
        test,
        noise: Some(report),
    })
}
