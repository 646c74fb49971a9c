//! Intermediate capture for teaching: a [`CaptureRequest`] names what one inference should
//! record (attention weights of one module in one block, the MSA and pair representations after
//! each Evoformer block, each recycling iteration's outputs, the structure module's frames after
//! each layer), and [`with_capture`] runs the inference with a recorder that the model's modules
//! consult through a thread-local flag. Nothing is recorded, and nothing but one flag read is
//! spent, unless a capture is active; the forward signatures carry no capture arguments.
//!
//! What is recorded follows the tensors of Jumper et al. (2021): the attention weights are the
//! softmax of Suppl. Alg. 7 line 5 (MSA row attention with pair bias), Alg. 8 line 4 (MSA column
//! attention), Alg. 13 line 5 / Alg. 14 line 5 (triangle attention around the starting / ending
//! node, also used by the template pair stack, Alg. 16); the block outputs are `m` and `z` of
//! Alg. 6; the per-recycle values are `m_1i` (first MSA row), `s_i` and `z_ij` of Alg. 2 and
//! the final Cα positions; the structure trajectory is `T_i` after each layer of Alg. 20.
//!
//! The recorder lives on the thread that calls [`with_capture`]: a model run on other threads
//! (parallel layouts) records nothing.
use crate::geometry::rigid::Rigid;
use std::cell::{Cell, RefCell};
use std::fmt;
use tch::{Device, Kind, Tensor};

/// A stack of blocks whose attention can be captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// `evoformer_iteration` (Alg. 6).
    Evoformer,
    /// `extra_msa_stack` (Alg. 18).
    ExtraMsa,
    /// `template_pair_stack` (Alg. 16), all templates averaged.
    TemplatePair,
}

impl Stack {
    /// The command-language names, in the order of [`Self::ALL`].
    pub const NAMES: [&'static str; 3] = ["evoformer", "extra_msa", "template"];

    /// Every stack with its command-language name.
    pub const ALL: [(Stack, &'static str); 3] =
        [(Stack::Evoformer, Self::NAMES[0]), (Stack::ExtraMsa, Self::NAMES[1]), (Stack::TemplatePair, Self::NAMES[2])];

    pub fn name(self) -> &'static str {
        Stack::ALL.iter().find(|(s, _)| *s == self).map_or("?", |(_, n)| n)
    }
}

/// An attention module of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionModule {
    /// Alg. 7: row `s` of the MSA attends over residues, `[H, N_res, N_res]`.
    MsaRow,
    /// Alg. 8: column (residue) `i` attends over sequences, `[H, N_seq, N_seq]`.
    MsaColumn,
    /// Alg. 13: pair row `i`, edge `ij` attends over edges `ik`, `[H, N_res, N_res]`.
    TriangleStart,
    /// Alg. 14: pair column `j`, edge `ij` attends over edges `kj`, `[H, N_res, N_res]`.
    TriangleEnd,
}

impl AttentionModule {
    /// The command-language names, in the order of [`Self::ALL`].
    pub const NAMES: [&'static str; 4] = ["msa_row", "msa_col", "tri_start", "tri_end"];

    /// Every module with its command-language name.
    pub const ALL: [(AttentionModule, &'static str); 4] = [
        (AttentionModule::MsaRow, Self::NAMES[0]),
        (AttentionModule::MsaColumn, Self::NAMES[1]),
        (AttentionModule::TriangleStart, Self::NAMES[2]),
        (AttentionModule::TriangleEnd, Self::NAMES[3]),
    ];

    pub fn name(self) -> &'static str {
        AttentionModule::ALL.iter().find(|(m, _)| *m == self).map_or("?", |(_, n)| n)
    }

    /// The module's name in the paper, for titles.
    pub fn title(self) -> &'static str {
        match self {
            AttentionModule::MsaRow => "MSA row attention",
            AttentionModule::MsaColumn => "MSA column attention",
            AttentionModule::TriangleStart => "Triangle attention (starting node)",
            AttentionModule::TriangleEnd => "Triangle attention (ending node)",
        }
    }

    /// What the chosen index selects: a sequence row, a residue column, a pair row or column.
    pub fn index_key(self) -> &'static str {
        match self {
            AttentionModule::MsaRow | AttentionModule::TriangleStart => "row",
            AttentionModule::MsaColumn | AttentionModule::TriangleEnd => "col",
        }
    }

    /// Whether the module exists in blocks of `stack`.
    pub fn in_stack(self, stack: Stack) -> bool {
        match stack {
            Stack::Evoformer => true,
            Stack::ExtraMsa => self != AttentionModule::MsaColumn,
            Stack::TemplatePair => matches!(self, AttentionModule::TriangleStart | AttentionModule::TriangleEnd),
        }
    }
}

impl fmt::Display for AttentionModule {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Attention weights to record: all heads of `module` in block `block` of `stack`, for one
/// query row/column `index` (a sequence for MSA row attention, a residue for column attention,
/// a pair row `i` for the starting node, a pair column `j` for the ending node) or averaged over
/// all of them when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionRequest {
    pub stack: Stack,
    pub module: AttentionModule,
    pub block: i64,
    pub index: Option<i64>,
}

/// What one inference records. Per-iteration items (attention, blocks, structure layers) come
/// from recycling iteration `recycle` (0-based), or from the last iteration when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureRequest {
    pub attention: Option<AttentionRequest>,
    /// MSA and pair representations after each Evoformer block.
    pub evoformer_blocks: bool,
    /// Each recycling iteration's pair, single, first MSA row and Cα positions.
    pub recycles: bool,
    /// Backbone frames after each structure-module layer.
    pub structure_layers: bool,
    pub recycle: Option<i64>,
}

/// One Evoformer block's outputs (fp32, CPU).
#[derive(Debug)]
pub struct BlockCapture {
    /// `[N_seq, N_res, c_m]` (template torsion rows included).
    pub msa: Tensor,
    /// `[N_res, N_res, c_z]`
    pub pair: Tensor,
}

/// One recycling iteration's outputs (fp32, CPU).
#[derive(Debug)]
pub struct RecycleCapture {
    /// `[N_res, N_res, c_z]`
    pub pair: Tensor,
    /// `[N_res, c_s]`
    pub single: Tensor,
    /// `[N_res, c_m]`
    pub msa_first_row: Tensor,
    /// `[N_res, 3]` Cα positions, Å.
    pub ca_positions: Tensor,
}

/// The structure module's trajectory (fp32, CPU).
#[derive(Debug)]
pub struct StructureLayers {
    /// `[L, N_res, 7]` backbone frames after each layer (quaternion, translation in Å).
    pub frames: Tensor,
    /// `[L, N_res, 3]` Cα positions after each layer (the frames' origins), Å.
    pub ca_positions: Tensor,
}

/// Everything one captured inference recorded.
#[derive(Debug, Default)]
pub struct Captured {
    /// `[H, Q, K]` attention probabilities (fp32, CPU) of the requested module.
    pub attention: Option<Tensor>,
    /// Outputs of every Evoformer block, in order.
    pub evoformer_blocks: Vec<BlockCapture>,
    /// Every recycling iteration, in order.
    pub recycles: Vec<RecycleCapture>,
    pub structure_layers: Option<StructureLayers>,
}

/// Where the model currently is.
#[derive(Debug, Clone, Copy)]
struct Position {
    recycle: i64,
    stack: Option<Stack>,
    block: i64,
}

struct Recorder {
    request: CaptureRequest,
    position: Position,
    captured: Captured,
}

impl Recorder {
    fn in_requested_recycle(&self) -> bool {
        self.request.recycle.is_none_or(|r| r == self.position.recycle)
    }
}

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Runs `f` (an inference) with `request` active on this thread and returns its result with
/// what was recorded. Captures do not nest: an inner call replaces nothing and records its own.
pub fn with_capture<T>(request: &CaptureRequest, f: impl FnOnce() -> T) -> (T, Captured) {
    struct Reset(Option<Recorder>, bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            RECORDER.with(|r| *r.borrow_mut() = self.0.take());
            ACTIVE.with(|a| a.set(self.1));
        }
    }
    let recorder = Recorder {
        request: *request,
        position: Position { recycle: 0, stack: None, block: 0 },
        captured: Captured::default(),
    };
    let outer = RECORDER.with(|r| r.borrow_mut().replace(recorder));
    let reset = Reset(outer, ACTIVE.with(|a| a.replace(true)));
    let value = f();
    let captured = RECORDER.with(|r| r.borrow_mut().take()).map(|r| r.captured).unwrap_or_default();
    drop(reset);
    (value, captured)
}

/// Whether a capture is active on this thread (one flag read).
fn active() -> bool {
    ACTIVE.with(Cell::get)
}

fn with_recorder<T>(f: impl FnOnce(&mut Recorder) -> T) -> Option<T> {
    if !active() {
        return None;
    }
    RECORDER.with(|r| r.borrow_mut().as_mut().map(f))
}

fn stored(t: &Tensor) -> Tensor {
    t.detach().to_kind(Kind::Float).to_device(Device::Cpu)
}

/// The model starts recycling iteration `recycle`. With no recycle requested, each iteration's
/// per-iteration captures replace the previous one's, so the last iteration's remain.
pub fn enter_recycle(recycle: i64) {
    with_recorder(|rec| {
        rec.position = Position { recycle, stack: None, block: 0 };
        if rec.request.recycle.is_none() {
            rec.captured.attention = None;
            rec.captured.evoformer_blocks.clear();
            rec.captured.structure_layers = None;
        }
    });
}

/// The model enters block `block` of `stack`.
pub fn enter_block(stack: Stack, block: i64) {
    with_recorder(|rec| {
        rec.position.stack = Some(stack);
        rec.position.block = block;
    });
}

/// The query index (`Some(None)` for all) when the current block's `module` is the one whose
/// attention is requested; `None` otherwise (and always when no capture is active).
pub fn attention_wanted(module: AttentionModule) -> Option<Option<i64>> {
    with_recorder(|rec| {
        let a = rec.request.attention?;
        let here = rec.position.stack == Some(a.stack) && rec.position.block == a.block && a.module == module;
        (here && rec.in_requested_recycle()).then_some(a.index)
    })
    .flatten()
}

/// `t` narrowed to the chosen query `index` along `dim` (all of it for `None`); `None` when the
/// index is out of range, so a bad request records nothing instead of failing the inference.
pub fn queries(t: &Tensor, dim: i64, index: Option<i64>) -> Option<Tensor> {
    let dims = t.dim() as i64;
    let axis = if dim < 0 { dims + dim } else { dim };
    let size = *t.size().get(usize::try_from(axis).ok()?)?;
    match index {
        Some(i) if (0..size).contains(&i) => Some(t.narrow(axis, i, 1)),
        Some(_) => None,
        None => Some(t.shallow_clone()),
    }
}

/// Records attention probabilities `[*, H, Q, K]`, averaged over the leading axes.
pub fn record_attention(weights: &Tensor) {
    with_recorder(|rec| {
        let w = stored(weights);
        let w = if w.dim() > 3 { w.flatten(0, w.dim() as i64 - 4).mean_dim(0, false, Kind::Float) } else { w };
        rec.captured.attention = Some(w);
    });
}

/// Records the outputs `msa [N_seq, N_res, c_m]`, `pair [N_res, N_res, c_z]` of an Evoformer block.
pub fn record_evoformer_block(msa: &Tensor, pair: &Tensor) {
    with_recorder(|rec| {
        if rec.request.evoformer_blocks && rec.in_requested_recycle() {
            rec.captured.evoformer_blocks.push(BlockCapture { msa: stored(msa), pair: stored(pair) });
        }
    });
}

/// Records the structure module's backbone `frames` after each layer (batch `[L, N_res]`).
pub fn record_structure_layers(frames: &Rigid) {
    with_recorder(|rec| {
        if rec.request.structure_layers && rec.in_requested_recycle() {
            rec.captured.structure_layers = Some(StructureLayers {
                frames: stored(&frames.to_tensor_7()),
                ca_positions: stored(frames.translation()),
            });
        }
    });
}

/// Records one recycling iteration's outputs; `final_atom_positions [N_res, 37, 3]` gives Cα
/// (atom37 index 1).
pub fn record_recycle(pair: &Tensor, single: &Tensor, msa_first_row: &Tensor, final_atom_positions: &Tensor) {
    with_recorder(|rec| {
        if rec.request.recycles {
            rec.captured.recycles.push(RecycleCapture {
                pair: stored(pair),
                single: stored(single),
                msa_first_row: stored(msa_first_row),
                ca_positions: stored(&final_atom_positions.select(-2, 1)),
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_recorded_without_an_active_capture() {
        enter_block(Stack::Evoformer, 0);
        assert_eq!(attention_wanted(AttentionModule::MsaRow), None);
        assert!(!active());
    }

    #[test]
    fn attention_is_wanted_only_at_the_requested_site() {
        let request = CaptureRequest {
            attention: Some(AttentionRequest {
                stack: Stack::Evoformer,
                module: AttentionModule::TriangleEnd,
                block: 1,
                index: Some(3),
            }),
            ..Default::default()
        };
        let (wanted, captured) = with_capture(&request, || {
            enter_recycle(0);
            enter_block(Stack::Evoformer, 0);
            let first = attention_wanted(AttentionModule::TriangleEnd);
            enter_block(Stack::Evoformer, 1);
            let other_module = attention_wanted(AttentionModule::MsaRow);
            let here = attention_wanted(AttentionModule::TriangleEnd);
            record_attention(&Tensor::ones([2, 4, 5, 5], (Kind::Float, Device::Cpu)));
            (first, other_module, here)
        });
        assert_eq!(wanted, (None, None, Some(Some(3))));
        assert_eq!(captured.attention.unwrap().size(), [4, 5, 5]);
        assert!(!active());
    }
}
