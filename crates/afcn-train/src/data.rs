//! Opening a run's training and test splits from its configuration, with label noise
//! injected into the training split.

use afcn_data::{
    AffectNetClasses, FerDataset, FerPlusClasses, LoadOptions, NoisyLabels, Relabeled, Split,
    open_affectnet, open_ferplus, open_folder, open_rafdb, synthfer::SynthFer,
};

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

/// Opens `split` of the dataset `config` names.
pub fn open_split(config: &DataConfig, split: Split) -> anyhow::Result<SharedDataset> {
    let options = LoadOptions {
        skip_bad: config.skip_bad,
        ..LoadOptions::default()
    };
    let root = || {
        config
            .root
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("dataset `{}` needs --root DIR", config.dataset))
    };
    let classes_8 = config.classes == 8;
    Ok(match config.dataset {
        DatasetKind::Synthfer => Box::new(SynthFer::new(config.synthfer.clone(), split)?),
        DatasetKind::Rafdb => Box::new(open_rafdb(root()?, split, None, &options)?),
        DatasetKind::Ferplus => {
            let classes = if classes_8 {
                FerPlusClasses::Eight
            } else {
                FerPlusClasses::Seven
            };
            Box::new(open_ferplus(root()?, split, classes, config.skip_bad)?)
        }
        DatasetKind::Affectnet => {
            let classes = if classes_8 {
                AffectNetClasses::Eight
            } else {
                AffectNetClasses::Seven
            };
            Box::new(open_affectnet(root()?, split, classes, &options)?)
        }
        DatasetKind::Folder => Box::new(open_folder(root()?, split, &options)?),
    })
}

/// Opens the training and test splits and injects the configured noise into the first.
pub fn open(config: &DataConfig) -> anyhow::Result<RunData> {
    let train = open_split(config, Split::Train)?;
    let test = open_split(config, Split::Test)?;
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
