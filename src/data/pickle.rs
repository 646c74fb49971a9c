//! Reader for AlphaFold's raw feature files, `features.pkl` and `features.pkl.gz`: Python
//! pickles (protocols 2 to 5) of a `dict` from feature name to NumPy array, as DeepMind's
//! `run_alphafold.py` and HelixFold's data pipeline write them.
//!
//! Only the part of the pickle virtual machine (CPython `Lib/pickle.py`, `Lib/pickletools.py`)
//! that such files use is implemented: containers, ints, floats, strings, bytes, the memo, and
//! the few globals NumPy's `ndarray.__reduce__` emits (`numpy.core.multiarray._reconstruct`,
//! `numpy.ndarray`, `numpy.dtype`, `numpy.core.multiarray.scalar`, their `numpy._core` twins of
//! NumPy 2, and `_codecs.encode`, which protocol 2 uses for `bytes`). An array's state is
//! `(version, shape, dtype, is_fortran, data)` where `data` is the raw element bytes, or a list
//! of Python objects for `dtype=object` arrays (`sequence`, `domain_name`, ...). Nothing is ever
//! executed: any other opcode or global is an error naming the file and the byte offset.
use super::array::{ArrayData, FeatureDict, NpArray};
use super::npy_dtype::{fortran_to_c_order, Dtype, ElementKind};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Reads a feature pickle, gunzipping it first when it starts with gzip's magic bytes.
pub fn read_feature_pickle(path: &Path) -> Result<FeatureDict> {
    let name = path.display().to_string();
    let raw = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
    let bytes = maybe_gunzip(raw, &name)?;
    parse_feature_pickle(&bytes, &name)
}

/// Parses a pickled `dict[str, numpy.ndarray]`; `name` labels errors. Top-level Python scalars,
/// strings and flat lists of them become 0-d or 1-d arrays.
pub fn parse_feature_pickle(bytes: &[u8], name: &str) -> Result<FeatureDict> {
    let mut machine = Machine::new(bytes, name);
    let root = machine.run()?;
    let Value::Dict(entries) = &machine.objects[root] else {
        bail!(
            "{name}: the pickle holds {}, not a dict",
            machine.objects[root].type_name()
        );
    };
    let mut features = FeatureDict::new();
    for &(key, value) in entries {
        let key = match &machine.objects[key] {
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            other => bail!("{name}: a dict key is {}, not a string", other.type_name()),
        };
        let array = machine
            .to_array(value)
            .with_context(|| format!("{name}: feature {key:?}"))?;
        features.insert(key, array);
    }
    Ok(features)
}

/// Parses a pickle whose top object is one NumPy array (how `.npy` stores object arrays).
pub fn parse_array_pickle(bytes: &[u8], name: &str) -> Result<NpArray> {
    let mut machine = Machine::new(bytes, name);
    let root = machine.run()?;
    machine
        .to_array(root)
        .with_context(|| format!("{name}: pickled array"))
}

/// Gunzips `raw` when it starts with the gzip magic bytes `1f 8b`; otherwise returns it as is.
pub fn maybe_gunzip(raw: Vec<u8>, name: &str) -> Result<Vec<u8>> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .with_context(|| format!("{name}: corrupt gzip stream"))?;
    Ok(out)
}

/// Python callables the reader knows how to apply (and nothing else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    /// `numpy.core.multiarray._reconstruct(cls, shape, dtype_char)`: an empty array to be filled
    /// by its `__setstate__`.
    Reconstruct,
    /// `numpy.ndarray`, passed to `_reconstruct`.
    NdarrayClass,
    /// `numpy.dtype(type_string, align, copy)`.
    DtypeClass,
    /// `numpy.core.multiarray.scalar(dtype, raw_bytes)`: a NumPy scalar.
    Scalar,
    /// `_codecs.encode(text, "latin1")`: how protocol 2 spells `bytes`.
    CodecsEncode,
}

impl Global {
    fn resolve(module: &str, name: &str) -> Option<Self> {
        let numpy_multiarray = matches!(module, "numpy.core.multiarray" | "numpy._core.multiarray");
        match (module, name) {
            (_, "_reconstruct") if numpy_multiarray => Some(Global::Reconstruct),
            (_, "scalar") if numpy_multiarray => Some(Global::Scalar),
            ("numpy", "ndarray") => Some(Global::NdarrayClass),
            ("numpy", "dtype") => Some(Global::DtypeClass),
            ("_codecs", "encode") => Some(Global::CodecsEncode),
            _ => None,
        }
    }
}

/// Index of an object in the machine's arena; the stack and the memo hold these, so an object
/// mutated after it was memoized (a list being appended to, an array receiving its state) is
/// seen the same way through every reference, as in Python.
type ObjectId = usize;

#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<ObjectId>),
    Tuple(Vec<ObjectId>),
    Dict(Vec<(ObjectId, ObjectId)>),
    Global(Global),
    Dtype(Dtype),
    /// An array made by `_reconstruct` that has not received its state yet.
    EmptyArray,
    Array(NpArray),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Str(_) => "a str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "a list",
            Value::Tuple(_) => "a tuple",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a global",
            Value::Dtype(_) => "a dtype",
            Value::EmptyArray => "an array without state",
            Value::Array(_) => "an array",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Mark,
    Object(ObjectId),
}

struct Machine<'a> {
    bytes: &'a [u8],
    name: &'a str,
    position: usize,
    /// Offset of the opcode being executed, for error messages.
    opcode_offset: usize,
    objects: Vec<Value>,
    stack: Vec<Slot>,
    memo: HashMap<u32, ObjectId>,
}

impl<'a> Machine<'a> {
    fn new(bytes: &'a [u8], name: &'a str) -> Self {
        Self {
            bytes,
            name,
            position: 0,
            opcode_offset: 0,
            objects: Vec::new(),
            stack: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}: byte {}: {message}", self.name, self.opcode_offset)
    }

    /// Executes opcodes until `STOP`; returns the object on top of the stack.
    fn run(&mut self) -> Result<ObjectId> {
        if self.bytes.is_empty() {
            bail!("{}: empty file, not a pickle", self.name);
        }
        loop {
            self.opcode_offset = self.position;
            let opcode = self.take(1)?[0];
            if opcode == b'.' {
                return self.pop_object();
            }
            self.step(opcode)?;
        }
    }

    fn step(&mut self, opcode: u8) -> Result<()> {
        match opcode {
            // PROTO: version byte.
            0x80 => {
                let version = self.take(1)?[0];
                if !(2..=5).contains(&version) {
                    return Err(self.error(format!("pickle protocol {version} is not supported")));
                }
            }
            // FRAME: an 8-byte length hint; the frame's contents follow inline.
            0x95 => {
                self.take(8)?;
            }
            b'(' => self.stack.push(Slot::Mark),
            b'N' => self.push(Value::None),
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'J' => {
                let v = i32::from_le_bytes(self.take_array()?);
                self.push(Value::Int(v as i64));
            }
            b'K' => {
                let v = self.take(1)?[0];
                self.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = u16::from_le_bytes(self.take_array()?);
                self.push(Value::Int(v as i64));
            }
            // LONG1 / LONG4: little-endian two's complement of a given length.
            0x8a => {
                let n = self.take(1)?[0] as usize;
                self.push_long(n)?;
            }
            0x8b => {
                let n = self.take_len4()?;
                self.push_long(n)?;
            }
            b'G' => {
                let v = f64::from_be_bytes(self.take_array()?);
                self.push(Value::Float(v));
            }
            // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8.
            0x8c => {
                let n = self.take(1)?[0] as usize;
                self.push_str(n)?;
            }
            b'X' => {
                let n = self.take_len4()?;
                self.push_str(n)?;
            }
            0x8d => {
                let n = self.take_len8()?;
                self.push_str(n)?;
            }
            // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8, and protocol-2 strings
            // (SHORT_BINSTRING, BINSTRING), which Python 2 used for raw array data.
            0x43 | b'U' => {
                let n = self.take(1)?[0] as usize;
                self.push_bytes(n)?;
            }
            b'B' | b'T' => {
                let n = self.take_len4()?;
                self.push_bytes(n)?;
            }
            0x8e | 0x96 => {
                let n = self.take_len8()?;
                self.push_bytes(n)?;
            }
            b'}' => self.push(Value::Dict(Vec::new())),
            b']' => self.push(Value::List(Vec::new())),
            b')' => self.push(Value::Tuple(Vec::new())),
            b't' => {
                let items = self.pop_to_mark()?;
                self.push(Value::Tuple(items));
            }
            b'l' => {
                let items = self.pop_to_mark()?;
                self.push(Value::List(items));
            }
            b'd' => {
                let items = self.pop_to_mark()?;
                let pairs = self.pairs(items)?;
                self.push(Value::Dict(pairs));
            }
            0x85..=0x87 => {
                let n = (opcode - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop_object()?);
                }
                items.reverse();
                self.push(Value::Tuple(items));
            }
            b'a' => {
                let item = self.pop_object()?;
                let list = self.top_object()?;
                self.extend_list(list, vec![item])?;
            }
            b'e' => {
                let items = self.pop_to_mark()?;
                let list = self.top_object()?;
                self.extend_list(list, items)?;
            }
            b's' => {
                let value = self.pop_object()?;
                let key = self.pop_object()?;
                let dict = self.top_object()?;
                self.extend_dict(dict, vec![(key, value)])?;
            }
            b'u' => {
                let items = self.pop_to_mark()?;
                let pairs = self.pairs(items)?;
                let dict = self.top_object()?;
                self.extend_dict(dict, pairs)?;
            }
            b'0' => {
                self.stack
                    .pop()
                    .ok_or_else(|| self.error("POP on an empty stack"))?;
            }
            b'1' => {
                self.pop_to_mark()?;
            }
            b'2' => {
                let top = *self
                    .stack
                    .last()
                    .ok_or_else(|| self.error("DUP on an empty stack"))?;
                self.stack.push(top);
            }
            // MEMOIZE, BINPUT, LONG_BINPUT.
            0x94 => {
                let index = self.memo.len() as u32;
                self.memoize(index)?;
            }
            b'q' => {
                let index = self.take(1)?[0] as u32;
                self.memoize(index)?;
            }
            b'r' => {
                let index = u32::from_le_bytes(self.take_array()?);
                self.memoize(index)?;
            }
            // BINGET, LONG_BINGET.
            b'h' => {
                let index = self.take(1)?[0] as u32;
                self.memo_get(index)?;
            }
            b'j' => {
                let index = u32::from_le_bytes(self.take_array()?);
                self.memo_get(index)?;
            }
            // GLOBAL: "module\nname\n" inline.
            b'c' => {
                let module = self.take_line()?;
                let name = self.take_line()?;
                self.push_global(&module, &name)?;
            }
            0x93 => {
                let name = self.pop_object()?;
                let module = self.pop_object()?;
                let (Value::Str(module), Value::Str(name)) =
                    (&self.objects[module], &self.objects[name])
                else {
                    return Err(self.error("STACK_GLOBAL needs two strings"));
                };
                let (module, name) = (module.clone(), name.clone());
                self.push_global(&module, &name)?;
            }
            b'R' => {
                let args = self.pop_object()?;
                let callable = self.pop_object()?;
                let result = self.call(callable, args)?;
                self.push(result);
            }
            b'b' => {
                let state = self.pop_object()?;
                let target = self.top_object()?;
                self.build(target, state)?;
            }
            other => {
                return Err(self.error(format!(
                    "unsupported pickle opcode {other:#04x} ({:?})",
                    other as char
                )))
            }
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .position
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(format!(
                "truncated: needs {n} more bytes, the file ends at byte {}",
                self.bytes.len()
            )));
        };
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn take_len4(&mut self) -> Result<usize> {
        Ok(u32::from_le_bytes(self.take_array()?) as usize)
    }

    fn take_len8(&mut self) -> Result<usize> {
        let n = u64::from_le_bytes(self.take_array()?);
        usize::try_from(n).map_err(|_| self.error(format!("length {n} is too large")))
    }

    fn take_line(&mut self) -> Result<String> {
        let rest = &self.bytes[self.position..];
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
            return Err(self.error("truncated: GLOBAL line has no newline"));
        };
        let line = String::from_utf8_lossy(&rest[..newline]).into_owned();
        self.position += newline + 1;
        Ok(line)
    }

    fn push(&mut self, value: Value) {
        self.objects.push(value);
        self.stack.push(Slot::Object(self.objects.len() - 1));
    }

    fn push_long(&mut self, n: usize) -> Result<()> {
        let raw = self.take(n)?;
        if n > 8 {
            return Err(self.error(format!("integer of {n} bytes does not fit in 64 bits")));
        }
        let negative = raw.last().is_some_and(|&b| b & 0x80 != 0);
        let mut bytes = [if negative { 0xff } else { 0 }; 8];
        bytes[..n].copy_from_slice(raw);
        self.push(Value::Int(i64::from_le_bytes(bytes)));
        Ok(())
    }

    fn push_str(&mut self, n: usize) -> Result<()> {
        let raw = self.take(n)?;
        let text = std::str::from_utf8(raw)
            .map_err(|e| self.error(format!("string is not UTF-8: {e}")))?;
        self.push(Value::Str(text.to_owned()));
        Ok(())
    }

    fn push_bytes(&mut self, n: usize) -> Result<()> {
        let raw = self.take(n)?.to_vec();
        self.push(Value::Bytes(raw));
        Ok(())
    }

    fn push_global(&mut self, module: &str, name: &str) -> Result<()> {
        let global = Global::resolve(module, name)
            .ok_or_else(|| self.error(format!("unsupported global {module}.{name}")))?;
        self.push(Value::Global(global));
        Ok(())
    }

    fn pop_object(&mut self) -> Result<ObjectId> {
        match self.stack.pop() {
            Some(Slot::Object(id)) => Ok(id),
            Some(Slot::Mark) => Err(self.error("found a MARK where an object was expected")),
            None => Err(self.error("stack underflow")),
        }
    }

    fn top_object(&self) -> Result<ObjectId> {
        match self.stack.last() {
            Some(Slot::Object(id)) => Ok(*id),
            _ => Err(self.error("no object on top of the stack")),
        }
    }

    fn pop_to_mark(&mut self) -> Result<Vec<ObjectId>> {
        let mut items = Vec::new();
        loop {
            match self.stack.pop() {
                Some(Slot::Object(id)) => items.push(id),
                Some(Slot::Mark) => break,
                None => return Err(self.error("no MARK on the stack")),
            }
        }
        items.reverse();
        Ok(items)
    }

    fn pairs(&self, items: Vec<ObjectId>) -> Result<Vec<(ObjectId, ObjectId)>> {
        if items.len() % 2 != 0 {
            return Err(self.error("odd number of items for a dict"));
        }
        Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
    }

    fn extend_list(&mut self, list: ObjectId, items: Vec<ObjectId>) -> Result<()> {
        match &mut self.objects[list] {
            Value::List(existing) => {
                existing.extend(items);
                Ok(())
            }
            other => {
                let kind = other.type_name();
                Err(self.error(format!("APPEND to {kind}")))
            }
        }
    }

    fn extend_dict(&mut self, dict: ObjectId, pairs: Vec<(ObjectId, ObjectId)>) -> Result<()> {
        match &mut self.objects[dict] {
            Value::Dict(existing) => {
                existing.extend(pairs);
                Ok(())
            }
            other => {
                let kind = other.type_name();
                Err(self.error(format!("SETITEM on {kind}")))
            }
        }
    }

    fn memoize(&mut self, index: u32) -> Result<()> {
        let top = self.top_object()?;
        self.memo.insert(index, top);
        Ok(())
    }

    fn memo_get(&mut self, index: u32) -> Result<()> {
        let id = *self
            .memo
            .get(&index)
            .ok_or_else(|| self.error(format!("memo entry {index} was never stored")))?;
        self.stack.push(Slot::Object(id));
        Ok(())
    }

    fn tuple_items(&self, id: ObjectId) -> Result<&[ObjectId]> {
        match &self.objects[id] {
            Value::Tuple(items) => Ok(items),
            other => Err(self.error(format!("expected a tuple, found {}", other.type_name()))),
        }
    }

    fn str_value(&self, id: ObjectId) -> Result<&str> {
        match &self.objects[id] {
            Value::Str(s) => Ok(s),
            other => Err(self.error(format!("expected a str, found {}", other.type_name()))),
        }
    }

    fn int_value(&self, id: ObjectId) -> Result<i64> {
        match &self.objects[id] {
            Value::Int(v) => Ok(*v),
            Value::Bool(b) => Ok(*b as i64),
            other => Err(self.error(format!("expected an int, found {}", other.type_name()))),
        }
    }

    /// REDUCE: applies one of the known callables.
    fn call(&self, callable: ObjectId, args: ObjectId) -> Result<Value> {
        let Value::Global(global) = self.objects[callable] else {
            return Err(self.error(format!(
                "cannot call {}",
                self.objects[callable].type_name()
            )));
        };
        let args = self.tuple_items(args)?;
        match global {
            Global::Reconstruct => match args.first().map(|&a| &self.objects[a]) {
                Some(Value::Global(Global::NdarrayClass)) => Ok(Value::EmptyArray),
                _ => Err(self.error("_reconstruct of something other than numpy.ndarray")),
            },
            Global::DtypeClass => {
                let type_string = args
                    .first()
                    .ok_or_else(|| self.error("numpy.dtype() without arguments"))?;
                let type_string = self.str_value(*type_string)?;
                Dtype::parse(type_string)
                    .map(Value::Dtype)
                    .map_err(|e| self.error(e))
            }
            Global::Scalar => {
                let [dtype, raw] = args else {
                    return Err(self.error("numpy scalar() needs (dtype, bytes)"));
                };
                let Value::Dtype(dtype) = self.objects[*dtype] else {
                    return Err(self.error("numpy scalar() without a dtype"));
                };
                let Value::Bytes(raw) = &self.objects[*raw] else {
                    return Err(self.error("numpy scalar() without raw bytes"));
                };
                let data = dtype.decode(raw, 1).map_err(|e| self.error(e))?;
                Ok(Value::Array(
                    NpArray::scalar(data).map_err(|e| self.error(e))?,
                ))
            }
            Global::CodecsEncode => {
                let text = args
                    .first()
                    .ok_or_else(|| self.error("_codecs.encode() without arguments"))?;
                let text = self.str_value(*text)?;
                // Protocol 2 writes bytes as their Latin-1 decoding: every char is one byte.
                let bytes = text
                    .chars()
                    .map(|c| u8::try_from(c as u32))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| self.error("_codecs.encode of a non-Latin-1 string"))?;
                Ok(Value::Bytes(bytes))
            }
            Global::NdarrayClass => Err(self.error("numpy.ndarray cannot be called directly")),
        }
    }

    /// BUILD: `__setstate__` of an array or a dtype.
    fn build(&mut self, target: ObjectId, state: ObjectId) -> Result<()> {
        match self.objects[target] {
            Value::Dtype(dtype) => {
                // (version, byte_order, subdtype, names, fields, elsize, alignment, flags[, meta])
                let items = self.tuple_items(state)?;
                let order = items
                    .get(1)
                    .ok_or_else(|| self.error("dtype state without a byte order"))?;
                let big_endian = self.str_value(*order)? == ">";
                self.objects[target] = Value::Dtype(Dtype {
                    big_endian,
                    ..dtype
                });
                Ok(())
            }
            Value::EmptyArray => {
                let array = self.array_from_state(state)?;
                self.objects[target] = Value::Array(array);
                Ok(())
            }
            ref other => Err(self.error(format!("BUILD on {}", other.type_name()))),
        }
    }

    /// `ndarray.__setstate__((version, shape, dtype, is_fortran, data))` (or without version).
    fn array_from_state(&self, state: ObjectId) -> Result<NpArray> {
        let items = self.tuple_items(state)?;
        let (shape, dtype, is_fortran, data) = match items {
            [_, shape, dtype, fortran, data] | [shape, dtype, fortran, data] => {
                (*shape, *dtype, *fortran, *data)
            }
            _ => return Err(self.error(format!("array state has {} items", items.len()))),
        };
        let shape = self
            .tuple_items(shape)?
            .iter()
            .map(|&d| {
                let d = self.int_value(d)?;
                usize::try_from(d).map_err(|_| self.error(format!("negative dimension {d}")))
            })
            .collect::<Result<Vec<usize>>>()?;
        let Value::Dtype(dtype) = self.objects[dtype] else {
            return Err(self.error("array state without a dtype"));
        };
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| self.error("array size overflows"))?;
        let data = match (&self.objects[data], dtype.kind) {
            (Value::List(items), ElementKind::Object) => {
                ArrayData::Bytes(self.object_strings(items)?)
            }
            (Value::Bytes(raw), kind) if kind != ElementKind::Object => {
                dtype.decode(raw, count).map_err(|e| self.error(e))?
            }
            (other, _) => {
                return Err(self.error(format!(
                    "array data of dtype {} given as {}",
                    dtype.descr(),
                    other.type_name()
                )))
            }
        };
        let array = NpArray::new(shape, data).map_err(|e| self.error(e))?;
        let fortran = self.objects[is_fortran].clone();
        Ok(if matches!(fortran, Value::Bool(true)) {
            fortran_to_c_order(array)
        } else {
            array
        })
    }

    /// Elements of an object array: byte strings or str (kept as UTF-8 bytes).
    fn object_strings(&self, items: &[ObjectId]) -> Result<Vec<Vec<u8>>> {
        items
            .iter()
            .map(|&id| match &self.objects[id] {
                Value::Bytes(b) => Ok(b.clone()),
                Value::Str(s) => Ok(s.clone().into_bytes()),
                other => Err(self.error(format!(
                    "object array element is {}; only strings and bytes are supported",
                    other.type_name()
                ))),
            })
            .collect()
    }

    /// Converts a finished object into an array (Python scalars and flat lists included).
    fn to_array(&self, id: ObjectId) -> Result<NpArray> {
        match &self.objects[id] {
            Value::Array(array) => Ok(array.clone()),
            Value::List(items) | Value::Tuple(items) => {
                let scalars = items
                    .iter()
                    .map(|&item| self.to_array(item))
                    .collect::<Result<Vec<NpArray>>>()?;
                stack_scalars(&scalars)
            }
            Value::Int(v) => NpArray::scalar(ArrayData::I64(vec![*v])),
            Value::Bool(v) => NpArray::scalar(ArrayData::Bool(vec![*v])),
            Value::Float(v) => NpArray::scalar(ArrayData::F64(vec![*v])),
            Value::Str(s) => NpArray::scalar(ArrayData::Bytes(vec![s.clone().into_bytes()])),
            Value::Bytes(b) => NpArray::scalar(ArrayData::Bytes(vec![b.clone()])),
            other => bail!("{} is not an array", other.type_name()),
        }
    }
}

/// A 1-d array from 0-d arrays that all share one dtype.
fn stack_scalars(scalars: &[NpArray]) -> Result<NpArray> {
    let Some(first) = scalars.first() else {
        return NpArray::new(vec![0], ArrayData::F64(Vec::new()));
    };
    let mut data = first.data.clone();
    for s in &scalars[1..] {
        if !s.shape.is_empty() {
            bail!("a list of arrays is not supported, only a list of scalars");
        }
        match (&mut data, &s.data) {
            (ArrayData::I64(a), ArrayData::I64(b)) => a.extend(b),
            (ArrayData::F64(a), ArrayData::F64(b)) => a.extend(b),
            (ArrayData::Bool(a), ArrayData::Bool(b)) => a.extend(b),
            (ArrayData::Bytes(a), ArrayData::Bytes(b)) => a.extend(b.iter().cloned()),
            _ => bail!("a list mixing element types is not supported"),
        }
    }
    if !first.shape.is_empty() {
        bail!("a list of arrays is not supported, only a list of scalars");
    }
    NpArray::new(vec![scalars.len()], data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    fn i32_values(array: &NpArray) -> &[i32] {
        match &array.data {
            ArrayData::I32(v) => v,
            other => panic!("expected int32, found {}", other.dtype_name()),
        }
    }

    fn f32_values(array: &NpArray) -> &[f32] {
        match &array.data {
            ArrayData::F32(v) => v,
            other => panic!("expected float32, found {}", other.dtype_name()),
        }
    }

    fn bytes_values(array: &NpArray) -> &[Vec<u8>] {
        match &array.data {
            ArrayData::Bytes(v) => v,
            other => panic!("expected bytes, found {}", other.dtype_name()),
        }
    }

    /// Reference values printed by
    /// `.venv/bin/python -c "import pickle; d = pickle.load(open('.../T1026/features.pkl', 'rb'));
    /// print({k: (v.shape, v.dtype, v.flat[0]) for k, v in d.items()})"`.
    #[test]
    fn reads_casp14_t1026_features() {
        let Some(path) = shared_data("casp14_demo/T1026/features.pkl") else {
            return;
        };
        let features = read_feature_pickle(&path).unwrap();
        let shapes: Vec<(&str, Vec<usize>, &str)> = features
            .iter()
            .map(|(k, v)| (k.as_str(), v.shape.clone(), v.dtype_name()))
            .collect();
        let expected: Vec<(&str, Vec<usize>, &str)> = vec![
            ("aatype", vec![172, 21], "int32"),
            ("between_segment_residues", vec![172], "int32"),
            ("deletion_matrix_int", vec![22, 172], "int32"),
            ("domain_name", vec![1], "bytes"),
            ("msa", vec![22, 172], "int32"),
            ("msa_species_identifiers", vec![22], "bytes"),
            ("num_alignments", vec![172], "int32"),
            ("residue_index", vec![172], "int32"),
            ("seq_length", vec![172], "int32"),
            ("sequence", vec![1], "bytes"),
            ("template_aatype", vec![8, 172, 22], "float32"),
            ("template_all_atom_masks", vec![8, 172, 37], "float32"),
            (
                "template_all_atom_positions",
                vec![8, 172, 37, 3],
                "float32",
            ),
            ("template_domain_names", vec![8], "bytes"),
            ("template_sequence", vec![8], "bytes"),
            ("template_sum_probs", vec![8, 1], "float32"),
        ];
        assert_eq!(shapes, expected);
        let sequence = &bytes_values(&features["sequence"])[0];
        assert_eq!(sequence.len(), 172);
        assert!(sequence.starts_with(b"MVSNWNWSGKKGRRTPRRGY"));
        assert_eq!(
            bytes_values(&features["domain_name"])[0],
            b"T1026 FBNSV, , 172 residues|"
        );
        assert_eq!(
            bytes_values(&features["template_domain_names"])[0],
            b"6f2s_I"
        );
        assert_eq!(i32_values(&features["seq_length"])[0], 172);
        assert_eq!(i32_values(&features["num_alignments"])[0], 22);
        // HHblits alphabet: M = 10.
        assert_eq!(i32_values(&features["msa"])[0], 10);
        let sum_probs = f32_values(&features["template_sum_probs"]);
        assert_eq!(sum_probs[0], 74.8);
    }

    #[test]
    fn reads_gzipped_helixfold_training_features() {
        let Some(path) = shared_data("helixfold_train_demo/features/102l_A/features.pkl.gz") else {
            return;
        };
        let features = read_feature_pickle(&path).unwrap();
        // Shapes printed by `.venv/bin/python -c "import gzip, pickle; d =
        // pickle.load(gzip.open('.../102l_A/features.pkl.gz')); print(d['msa'].shape, ...)"`.
        assert_eq!(features["msa"].shape, vec![3015, 165]);
        assert_eq!(features["deletion_matrix_int"].shape, vec![3015, 165]);
        assert_eq!(
            features["template_all_atom_positions"].shape,
            vec![20, 165, 37, 3]
        );
        assert_eq!(bytes_values(&features["domain_name"])[0], b"102l_A");
        let positions = f32_values(&features["template_all_atom_positions"]);
        assert_eq!(positions[0], 54.465);
        assert_eq!(f32_values(&features["template_sum_probs"])[0], 141.0);
    }

    /// MSA and template counts printed by `.venv/bin/python -c "import glob, gzip, pickle; [print(f,
    /// d['msa'].shape, d['template_aatype'].shape) for f in sorted(glob.glob('.../**/features.pkl.gz',
    /// recursive=True)) for d in [pickle.load(gzip.open(f))]]"`, and the same for T1037.
    #[test]
    fn reads_every_demo_feature_file() {
        let files: [(&str, usize, usize, usize); 9] = [
            ("casp14_demo/T1037/features.pkl", 123, 404, 4),
            (
                "helixfold_train_demo/distill/distill_features/X8FLY0/features.pkl.gz",
                5541,
                143,
                20,
            ),
            (
                "helixfold_train_demo/distill/distill_features/X8FMJ8/features.pkl.gz",
                848,
                291,
                20,
            ),
            (
                "helixfold_train_demo/distill/distill_features/X8K8S1/features.pkl.gz",
                5681,
                212,
                20,
            ),
            (
                "helixfold_train_demo/distill/distill_features/Y0KK22/features.pkl.gz",
                3509,
                653,
                20,
            ),
            (
                "helixfold_train_demo/distill/distill_features/Z4X8S6/features.pkl.gz",
                5034,
                289,
                20,
            ),
            (
                "helixfold_train_demo/distill/distill_features/Z4YNJ9/features.pkl.gz",
                5272,
                359,
                2,
            ),
            (
                "helixfold_train_demo/features/102l_A/features.pkl.gz",
                3015,
                165,
                20,
            ),
            (
                "helixfold_train_demo/features/150l_D/features.pkl.gz",
                2963,
                164,
                20,
            ),
        ];
        for (file, num_seq, num_res, num_templates) in files {
            let Some(path) = shared_data(file) else {
                return;
            };
            let features = read_feature_pickle(&path).unwrap();
            assert_eq!(features["msa"].shape, vec![num_seq, num_res], "{file}");
            assert_eq!(features["seq_length"].shape, vec![num_res], "{file}");
            assert_eq!(
                i32_values(&features["seq_length"])[0],
                num_res as i32,
                "{file}"
            );
            assert_eq!(
                features["template_all_atom_positions"].shape,
                vec![num_templates, num_res, 37, 3],
                "{file}"
            );
            assert_eq!(
                bytes_values(&features["sequence"])[0].len(),
                num_res,
                "{file}"
            );
        }
    }

    /// A protocol-4 pickle (NumPy 2.4, so `numpy._core` names) of `{'x': np.array([[1., 2.], [3., 4.]], dtype='>f8', order='F'),
    /// 'n': 7, 's': 'hi'}`, written by `.venv/bin/python -c "import pickle, numpy as np;
    /// print(pickle.dumps({...}, protocol=4))"` and kept as bytes here.
    const SMALL_PICKLE: &[u8] = b"\x80\x04\x95\xc2\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01x\x94\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01K\x02K\x02\x86\x94h\x05\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01>\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x88C ?\xf0\x00\x00\x00\x00\x00\x00@\x08\x00\x00\x00\x00\x00\x00@\x00\x00\x00\x00\x00\x00\x00@\x10\x00\x00\x00\x00\x00\x00\x94t\x94b\x8c\x01n\x94K\x07\x8c\x01s\x94\x8c\x02hi\x94u.";

    #[test]
    fn reads_big_endian_fortran_arrays_and_python_scalars() {
        let features = parse_feature_pickle(SMALL_PICKLE, "small.pkl").unwrap();
        let x = &features["x"];
        assert_eq!(x.shape, vec![2, 2]);
        assert_eq!(x.data, ArrayData::F64(vec![1.0, 2.0, 3.0, 4.0]));
        assert_eq!(features["n"].data, ArrayData::I64(vec![7]));
        assert_eq!(features["s"].data, ArrayData::Bytes(vec![b"hi".to_vec()]));
    }

    /// Every prefix and many single-byte corruptions of a valid pickle give a value or an error,
    /// never a panic.
    #[test]
    fn corrupted_pickles_never_panic() {
        use rand::{Rng, SeedableRng};
        for end in 0..SMALL_PICKLE.len() {
            assert!(parse_feature_pickle(&SMALL_PICKLE[..end], "prefix.pkl").is_err());
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for _ in 0..2000 {
            let mut bytes = SMALL_PICKLE.to_vec();
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = rng.gen();
            let _ = parse_feature_pickle(&bytes, "flipped.pkl");
        }
    }

    #[test]
    fn broken_inputs_are_errors_naming_the_file() {
        let empty = parse_feature_pickle(b"", "empty.pkl").unwrap_err();
        assert!(empty.to_string().contains("empty.pkl"), "{empty}");

        let truncated = &SMALL_PICKLE[..SMALL_PICKLE.len() / 2];
        let err = parse_feature_pickle(truncated, "cut.pkl").unwrap_err();
        assert!(err.to_string().contains("cut.pkl: byte"), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");

        let err = parse_feature_pickle(b"\x80\x04\xffgarbage", "junk.pkl").unwrap_err();
        assert_eq!(
            err.to_string(),
            "junk.pkl: byte 2: unsupported pickle opcode 0xff ('ÿ')"
        );

        // pickle.dumps(os.system, protocol=4): a global that would run code.
        let evil = b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94.";
        let err = parse_feature_pickle(evil, "evil.pkl").unwrap_err();
        assert!(
            err.to_string()
                .contains("evil.pkl: byte 28: unsupported global posix.system"),
            "{err}"
        );

        let not_dict = b"\x80\x04K\x05.";
        let err = parse_feature_pickle(not_dict, "int.pkl").unwrap_err();
        assert!(
            err.to_string().contains("int.pkl: the pickle holds an int"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let gzipped = dir.path().join("cut.pkl.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, SMALL_PICKLE).unwrap();
        let compressed = encoder.finish().unwrap();
        std::fs::write(&gzipped, &compressed[..compressed.len() - 12]).unwrap();
        let err = read_feature_pickle(&gzipped).unwrap_err();
        assert!(
            format!("{err:#}").contains("cut.pkl.gz: corrupt gzip"),
            "{err:#}"
        );
        std::fs::write(&gzipped, &compressed).unwrap();
        assert_eq!(read_feature_pickle(&gzipped).unwrap().len(), 3);

        let bad_gzip = maybe_gunzip(vec![0x1f, 0x8b, 0, 1, 2], "bad.pkl.gz").unwrap_err();
        assert!(
            bad_gzip.to_string().contains("bad.pkl.gz: corrupt gzip"),
            "{bad_gzip}"
        );
    }
}
