//! Pickled dicts of numpy arrays (`.pkl`): the format of the VGGFace2 authors' ResNet-50
//! (`resnet50_ft_weight.pkl`, EAC's backbone), written by Python 2 and read in Python 3 with
//! `pickle.load(f, encoding='latin1')`.
//!
//! The pickle is decoded by `serde-pickle` into plain values; each numpy array comes out as
//! the state numpy's `ndarray.__reduce__` pickles, `(version, shape, dtype, fortran, bytes)`.
//! serde-pickle keeps a reduced object's state and drops its constructor's arguments, so the
//! dtype of the first array of each type arrives as its state (`(3, '<', ...)`, which carries
//! no type name) and the later ones as the constructor's arguments (`('f4', False, True)`).
//! A named dtype is read by name; an unnamed one is the floating-point type of the array's
//! element size (a weight file holds floats: 2, 4 or 8 bytes are f16, f32, f64).

use std::path::Path;

use burn::{
    module::ParamId,
    tensor::{DType, TensorData},
};
use burn_store::TensorSnapshot;
use serde_pickle::{DeOptions, HashableValue, Value};

use crate::weights::WeightsError;

/// Reads every array of a pickled `{name: numpy array}` dict, in the dict's key order.
pub(crate) fn read_numpy_pickle(path: &Path) -> Result<Vec<TensorSnapshot>, WeightsError> {
    let bytes = std::fs::read(path).map_err(|err| WeightsError::Read {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    let options = DeOptions::new()
        .replace_unresolved_globals()
        .keep_restore_state();
    let value: Value =
        serde_pickle::value_from_slice(&bytes, options).map_err(|err| WeightsError::Read {
            path: path.to_path_buf(),
            message: format!("not a readable pickle ({err}); is the file truncated?"),
        })?;
    let Value::Dict(entries) = value else {
        return Err(WeightsError::NotArrayDict {
            path: path.to_path_buf(),
            key: None,
            message: format!("the pickle holds {}, not a dict", kind(&value)),
        });
    };
    entries
        .into_iter()
        .map(|(key, value)| {
            let key = key_name(&key).ok_or_else(|| WeightsError::NotArrayDict {
                path: path.to_path_buf(),
                key: None,
                message: format!("a key is {key:?}, not a string"),
            })?;
            let data = array(&value).map_err(|message| WeightsError::NotArrayDict {
                path: path.to_path_buf(),
                key: Some(key.clone()),
                message,
            })?;
            let path_stack = key.split('.').map(str::to_string).collect();
            Ok(TensorSnapshot::from_data(
                data,
                path_stack,
                Vec::new(),
                ParamId::new(),
            ))
        })
        .collect()
}

/// A dict key as text: Python 3 `str`, or Python 2 `str` (bytes, decoded as latin-1).
fn key_name(key: &HashableValue) -> Option<String> {
    match key {
        HashableValue::String(s) => Some(s.clone()),
        HashableValue::Bytes(b) => Some(latin1(b)),
        _ => None,
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text of a pickled Python 2 or 3 string.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bytes(b) => Some(latin1(b)),
        _ => None,
    }
}

/// A short description of a value's type, for errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::I64(_) | Value::Int(_) => "an int",
        Value::F64(_) => "a float",
        Value::Bytes(_) | Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Tuple(_) => "a tuple that is not a numpy array",
        Value::Set(_) | Value::FrozenSet(_) => "a set",
        Value::Dict(_) => "a dict",
    }
}

/// The tensor data of one pickled numpy array (`ndarray.__reduce__`'s state).
fn array(value: &Value) -> Result<TensorData, String> {
    let not_array = || format!("is {}, not a numpy array", kind(value));
    let Value::Tuple(state) = value else {
        return Err(not_array());
    };
    let [
        _version,
        Value::Tuple(shape),
        dtype,
        Value::Bool(fortran),
        data,
    ] = state.as_slice()
    else {
        return Err(not_array());
    };
    let shape = shape
        .iter()
        .map(|d| match d {
            Value::I64(d) => usize::try_from(*d).ok(),
            _ => None,
        })
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(not_array)?;
    let bytes = match data {
        Value::Bytes(bytes) => bytes.clone(),
        // Python 2 `str` read as Python 3 `str` (one char per byte, latin-1).
        Value::String(s) => s
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(not_array)?,
        _ => return Err(not_array()),
    };
    let elements: usize = shape.iter().product();
    if elements == 0 || bytes.len() % elements != 0 {
        return Err(format!(
            "holds {} bytes for shape {shape:?}: the array is damaged",
            bytes.len()
        ));
    }
    let dtype = dtype_of(dtype, bytes.len() / elements)?;
    if *fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err("is a Fortran-ordered array; save it C-contiguous".into());
    }
    Ok(TensorData::from_bytes_vec(bytes, shape, dtype))
}

/// The Burn type of a pickled numpy dtype, given the array's element size.
fn dtype_of(dtype: &Value, element_size: usize) -> Result<DType, String> {
    let Value::Tuple(parts) = dtype else {
        return Err("has no numpy dtype".into());
    };
    // Constructor arguments `('f4', False, True)`: the type by name.
    if let Some(name) = parts.first().and_then(text) {
        let dtype = match name.trim_start_matches(['<', '=', '|']) {
            "f2" => DType::F16,
            "f4" => DType::F32,
            "f8" => DType::F64,
            "i8" => DType::I64,
            "i4" => DType::I32,
            "u1" => DType::U8,
            other => {
                return Err(format!(
                    "has the numpy type `{other}`, which afcn does not read"
                ));
            }
        };
        return if dtype.size() == element_size {
            Ok(dtype)
        } else {
            Err(format!(
                "is `{name}` but holds {element_size} bytes per element: the array is damaged"
            ))
        };
    }
    // Its state `(3, '<', ...)`: the byte order only.
    if parts.get(1).and_then(text).as_deref() == Some(">") {
        return Err("is a big-endian array; save it little-endian".into());
    }
    match element_size {
        2 => Ok(DType::F16),
        4 => Ok(DType::F32),
        8 => Ok(DType::F64),
        size => Err(format!(
            "has {size}-byte elements of an unnamed numpy type, not a float"
        )),
    }
}
